import { describe, it, expect } from 'vitest';
import * as nfs from 'fs';
import * as path from 'path';
import { createVfs } from '../../fs/rootfs/create';
import { fakeTask } from './fake-task';
import { O_RDONLY, O_RDWR, O_CREAT, O_WRONLY, O_TRUNC, O_DIRECTORY } from '../../src/abi/fs';
import * as E from '../../src/abi/errno';
import { tmpDirs } from '../helpers/tmp';

const mkTmp = tmpDirs();

/** A private host tree as the lower layer, so the test controls its content. */
function hostTree(): string {
  const root = mkTmp('tss-ovl-');
  nfs.mkdirSync(path.join(root, 'd/sub'), { recursive: true });
  nfs.writeFileSync(path.join(root, 'd/a'), 'lower-a');
  nfs.writeFileSync(path.join(root, 'd/sub/b'), 'lower-b');
  nfs.symlinkSync('d/a', path.join(root, 'link'));
  nfs.symlinkSync('../../../../../../etc/passwd', path.join(root, 'escape'));
  return root;
}

function names(vfs: ReturnType<typeof createVfs>, t: ReturnType<typeof fakeTask>, p: string): string[] {
  const f = vfs.open(t, -100, p, O_RDONLY | O_DIRECTORY, 0);
  if (typeof f === 'number') throw new Error(`open ${p}: ${f}`);
  return f.readdirEntries()!.map((e) => e.name).filter((n) => n !== '.' && n !== '..').sort();
}

function readAll(vfs: ReturnType<typeof createVfs>, t: ReturnType<typeof fakeTask>, p: string): string | number {
  const f = vfs.open(t, -100, p, O_RDONLY, 0);
  if (typeof f === 'number') return f;
  const b = Buffer.alloc(4096);
  return b.subarray(0, f.read(b)).toString();
}

describe('overlay', () => {
  it('whiteouts hide lower entries; re-created directories are opaque', () => {
    const root = hostTree();
    const vfs = createVfs({ root, bare: true });
    const t = fakeTask(vfs);
    expect(vfs.rmdir(t, -100, '/d/sub')).toBe(-E.ENOTEMPTY);
    expect(vfs.unlink(t, -100, '/d/sub/b')).toBe(0);
    expect(names(vfs, t, '/d/sub')).toEqual([]);
    expect(vfs.rmdir(t, -100, '/d/sub')).toBe(0);
    expect(names(vfs, t, '/d')).toEqual(['a']);
    expect(vfs.mkdir(t, -100, '/d/sub', 0o755)).toBe(0);
    expect(names(vfs, t, '/d/sub')).toEqual([]);
    expect(vfs.stat(t, -100, '/d/sub/b', false)).toBe(-E.ENOENT);
    // the host is untouched
    expect(nfs.readFileSync(path.join(root, 'd/sub/b'), 'utf8')).toBe('lower-b');
  });

  it('copy-up keeps content, inode number and mode', () => {
    const root = hostTree();
    const vfs = createVfs({ root, bare: true });
    const t = fakeTask(vfs);
    const before = vfs.stat(t, -100, '/d/a', false);
    const f = vfs.open(t, -100, '/d/a', O_RDWR, 0);
    if (typeof f === 'number') throw new Error(String(f));
    f.pwrite(Buffer.from('U'), 0);
    expect(readAll(vfs, t, '/d/a')).toBe('Uower-a');
    const after = vfs.stat(t, -100, '/d/a', false);
    if (typeof before === 'number' || typeof after === 'number') throw new Error();
    expect(after.ino).toBe(before.ino);
    expect(after.mode).toBe(before.mode);
    expect(nfs.readFileSync(path.join(root, 'd/a'), 'utf8')).toBe('lower-a');
    // O_TRUNC copy-up
    const g = vfs.open(t, -100, '/d/sub/b', O_WRONLY | O_TRUNC, 0);
    expect(typeof g).toBe('object');
    expect(readAll(vfs, t, '/d/sub/b')).toBe('');
  });

  it('symlinks resolve inside the sandbox root', () => {
    const root = hostTree();
    const vfs = createVfs({ root, bare: true });
    const t = fakeTask(vfs);
    expect(readAll(vfs, t, '/link')).toBe('lower-a');
    expect(vfs.stat(t, -100, '/escape', true)).toBe(-E.ENOENT);
    expect(vfs.readlink(t, -100, '/link')).toBe('d/a');
  });

  it('rename of a lower file leaves a whiteout; rename over an existing name replaces it', () => {
    const root = hostTree();
    const vfs = createVfs({ root, bare: true });
    const t = fakeTask(vfs);
    expect(vfs.rename(t, -100, '/d/a', -100, '/d/sub/a2', 0)).toBe(0);
    expect(names(vfs, t, '/d')).toEqual(['sub']);
    expect(names(vfs, t, '/d/sub')).toEqual(['a2', 'b']);
    expect(vfs.rename(t, -100, '/d/sub/a2', -100, '/d/sub/b', 0)).toBe(0);
    expect(readAll(vfs, t, '/d/sub/b')).toBe('lower-a');
    expect(vfs.rename(t, -100, '/d/sub/b', -100, '/d/sub/c', 1 /* NOREPLACE */)).toBe(0);
    const f = vfs.open(t, -100, '/d/x', O_CREAT | O_RDWR, 0o644);
    expect(typeof f).toBe('object');
    expect(vfs.rename(t, -100, '/d/x', -100, '/d/sub/c', 1)).toBe(-E.EEXIST);
    expect(vfs.rename(t, -100, '/d/x', -100, '/d/sub/c', 2 /* EXCHANGE */)).toBe(0);
    expect(readAll(vfs, t, '/d/x')).toBe('lower-a');
  });

  it('rw and ro bind mounts', () => {
    const root = hostTree();
    const bind = mkTmp('tss-bind-');
    nfs.writeFileSync(path.join(bind, 'f'), 'host');
    const vfs = createVfs({ root, bare: true, mounts: [{ src: bind, dst: '/rw', readonly: false }, { src: bind, dst: '/ro', readonly: true }] });
    const t = fakeTask(vfs);
    expect(readAll(vfs, t, '/ro/f')).toBe('host');
    expect(vfs.open(t, -100, '/ro/f', O_WRONLY, 0)).toBe(-E.EROFS);
    expect(vfs.mkdir(t, -100, '/ro/d', 0o755)).toBe(-E.EROFS);
    const f = vfs.open(t, -100, '/rw/new', O_CREAT | O_WRONLY, 0o644);
    if (typeof f === 'number') throw new Error(String(f));
    f.write(Buffer.from('written'));
    f.decRef();
    expect(nfs.readFileSync(path.join(bind, 'new'), 'utf8')).toBe('written');
    expect(vfs.unlink(t, -100, '/rw/new')).toBe(0);
    // A file the sandbox made is unlinked write-behind: the host has it once the Gofer is
    // asked anything (here the lookup: absence is never trusted in a shared tree), or within 20 ms.
    expect(vfs.stat(t, -100, '/rw/new', false)).toBe(-E.ENOENT);
    expect(nfs.existsSync(path.join(bind, 'new'))).toBe(false);
    expect(vfs.rename(t, -100, '/rw/f', -100, '/tmpx', 0)).toBe(-E.EXDEV);
    // mount points were created in the overlay only
    expect(nfs.existsSync(path.join(root, 'rw'))).toBe(false);
  });
});

/** fn() until it gives want (polled every 10 ms, for at most 10 s): its last answer. */
function eventually<T>(fn: () => T, want: T): T {
  const sab = new Int32Array(new SharedArrayBuffer(4));
  let v = fn();
  for (let i = 0; i < 1000 && v !== want; i++) {
    Atomics.wait(sab, 0, 0, 10);
    v = fn();
  }
  return v;
}

describe('bind mounts see the host live', () => {
  it('host-side changes show up; mounts inside a bind stay visible', () => {
    const bind = mkTmp('tss-live-');
    nfs.mkdirSync(path.join(bind, 'sub'));
    const vfs = createVfs({ root: hostTree(), bare: true, mounts: [{ src: bind, dst: '/data', readonly: false }], tmpfs: ['/data/sub'] });
    const t = fakeTask(vfs);
    expect(vfs.stat(t, -100, '/data/late', false)).toBe(-E.ENOENT);
    // A shared bind trusts what it saw for a bounded time (fs/fsimpl/hostfs/cache.ts):
    // the change shows up once that has passed.
    nfs.writeFileSync(path.join(bind, 'late'), 'appeared');
    expect(eventually(() => readAll(vfs, t, '/data/late'), 'appeared')).toBe('appeared');
    nfs.unlinkSync(path.join(bind, 'late'));
    expect(eventually(() => vfs.stat(t, -100, '/data/late', false), -E.ENOENT)).toBe(-E.ENOENT);
    const f = vfs.open(t, -100, '/data/sub/x', O_CREAT | O_WRONLY, 0o644);
    expect(typeof f).toBe('object');
    expect(nfs.existsSync(path.join(bind, 'sub', 'x'))).toBe(false);
    expect(names(vfs, t, '/data/sub')).toEqual(['x']);
  });
});
