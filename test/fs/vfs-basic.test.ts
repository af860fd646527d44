import { describe, it, expect } from 'vitest';
import * as nfs from 'fs';
import { createVfs } from '../../fs/rootfs/create';
import { fakeTask } from './fake-task';
import { O_RDONLY, O_RDWR, O_CREAT, O_WRONLY, O_TRUNC } from '../../src/abi/fs';

describe('vfs basics', () => {
  const vfs = createVfs({ root: '/' });
  const t = fakeTask(vfs);

  it('stats host files like lstat', () => {
    const st = vfs.stat(t, -100, '/etc/passwd', false);
    const h = nfs.lstatSync('/etc/passwd');
    expect(typeof st).toBe('object');
    if (typeof st === 'number') return;
    expect(st.ino).toBe(h.ino);
    expect(st.size).toBe(h.size);
    expect(st.mode).toBe(h.mode);
    expect(st.mtimeSec).toBe(Math.floor(h.mtimeMs / 1000));
  });

  it('reads a host file', () => {
    const f = vfs.open(t, -100, '/etc/passwd', O_RDONLY, 0);
    expect(typeof f).toBe('object');
    if (typeof f === 'number') return;
    const b = Buffer.alloc(100000);
    const n = f.read(b);
    expect(b.subarray(0, n).toString()).toBe(nfs.readFileSync('/etc/passwd', 'utf8'));
    f.decRef();
  });

  it('copies up on write and never touches the host', () => {
    const before = nfs.readFileSync('/etc/hostname', 'utf8');
    const f = vfs.open(t, -100, '/etc/hostname', O_WRONLY | O_TRUNC, 0);
    if (typeof f === 'number') throw new Error('open ' + f);
    f.write(Buffer.from('sandboxed\n'));
    f.decRef();
    const g = vfs.open(t, -100, '/etc/hostname', O_RDONLY, 0);
    if (typeof g === 'number') throw new Error('open ' + g);
    const b = Buffer.alloc(100);
    expect(b.subarray(0, g.read(b)).toString()).toBe('sandboxed\n');
    expect(nfs.readFileSync('/etc/hostname', 'utf8')).toBe(before);
  });

  it('creates, lists, unlinks with whiteouts', () => {
    expect(vfs.mkdir(t, -100, '/etc/newdir', 0o755)).toBe(0);
    const f = vfs.open(t, -100, '/etc/newdir/x', O_CREAT | O_RDWR, 0o644);
    expect(typeof f).toBe('object');
    expect(vfs.unlink(t, -100, '/etc/passwd')).toBe(0);
    expect(vfs.stat(t, -100, '/etc/passwd', false)).toBe(-2);
    const d = vfs.open(t, -100, '/etc', O_RDONLY, 0);
    if (typeof d === 'number') throw new Error();
    const names = d.readdirEntries()!.map((e) => e.name);
    expect(names).toContain('newdir');
    expect(names).not.toContain('passwd');
    expect(names).toContain('group');
    expect(nfs.existsSync('/etc/passwd')).toBe(true);
  });

  it('path walk errors', () => {
    expect(vfs.stat(t, -100, '/etc/group/x', false)).toBe(-20);
    expect(vfs.stat(t, -100, '/../../etc/group', false)).not.toBe(-2);
    expect(vfs.stat(t, -100, '/nonexistent', false)).toBe(-2);
    expect(vfs.stat(t, -100, '/' + 'a'.repeat(256), false)).toBe(-36);
    expect(vfs.symlink(t, '/loop2', -100, '/loop1')).toBe(0);
    expect(vfs.symlink(t, '/loop1', -100, '/loop2')).toBe(0);
    expect(vfs.stat(t, -100, '/loop1', true)).toBe(-40);
  });

  it('/proc and /dev exist', () => {
    const st = vfs.stat(t, -100, '/dev/null', true);
    expect(typeof st).toBe('object');
    const f = vfs.open(t, -100, '/proc/cpuinfo', O_RDONLY, 0);
    expect(typeof f).toBe('object');
  });
});
