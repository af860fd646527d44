/**
 * The gofer (src/gofer): runs only where the native support is built (the addon
 * exports goferCall/openat2, or TSSANDBOX_GOFER_ADDON names a build that does).
 */
import { describe, it, expect } from 'vitest';
import * as nfs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { goferNative } from '../../src/gofer/native';
import { spawnGofer } from '../../src/gofer/client';
import { GoferBackend } from '../../fs/fsimpl/hostfs/gofer-backend';
import { DirectBackend } from '../../fs/fsimpl/hostfs/host-backend';
import { readStat } from '../../fs/fsimpl/hostfs/cache';
import { createVfs } from '../../fs/rootfs/create';
import { fakeTask } from './fake-task';
import { O_RDONLY, O_CREAT, O_WRONLY } from '../../src/abi/fs';
import * as E from '../../src/abi/errno';

const have = goferNative() !== null;

describe.skipIf(!have)('gofer', () => {
  it('answers like direct host access, inside its root only', () => {
    const root = nfs.mkdtempSync(path.join(os.tmpdir(), 'tss-gofer-'));
    nfs.mkdirSync(path.join(root, 'd'));
    nfs.writeFileSync(path.join(root, 'd/f'), 'data');
    nfs.symlinkSync('/etc/passwd', path.join(root, 'abs'));
    nfs.symlinkSync('../../../../etc', path.join(root, 'd/up'));
    const c = spawnGofer([root])!;
    expect(c).not.toBeNull();
    const g = new GoferBackend(c, 0, root);
    const d = new DirectBackend(root);
    expect(g.lstat('d/f')).toEqual(d.lstat('d/f'));
    // Readdir-plus: the same names, types and attributes (the Gofer's left unparsed).
    const norm = (r: ReturnType<DirectBackend['readdir']>) => typeof r === 'number' ? r
      : r.map((e) => ({ name: e.name, ino: e.ino, mode: e.mode, st: e.st ?? (e.raw ? readStat(e.raw, e.rawOff ?? 0) : null) }))
        .sort((x, y) => (x.name < y.name ? -1 : 1));
    expect(norm(g.readdir('d'))).toEqual(norm(d.readdir('d')));
    expect(g.readlink('abs')).toBe('/etc/passwd');
    // Symlinks are never followed by the gofer: the VFS resolves them inside the sandbox.
    expect(g.open('abs', 0, 0)).toBe(-E.ELOOP);
    expect(g.lstat('d/up/passwd')).toBe(-E.ELOOP);
    expect(g.lstat('../etc/passwd')).toBe(-E.EINVAL);
    const fd = g.open('d/f', 0, 0);
    expect(fd).toBeGreaterThanOrEqual(0);
    expect(nfs.readFileSync(fd, 'utf8')).toBe('data');
    nfs.closeSync(fd);
    expect(g.mkdir('d/new', 0o755)).toBe(0);
    expect(nfs.statSync(path.join(root, 'd/new')).isDirectory()).toBe(true);
    expect(g.rename('d/new', 'renamed')).toBe(0);
    expect(g.rmdir('renamed')).toBe(0);
    expect(g.symlink('x', 'd/l')).toBe(0);
    expect(nfs.readlinkSync(path.join(root, 'd/l'))).toBe('x');
    expect(g.unlink('d/l')).toBe(0);
    // A dead gofer: EIO, not a crash.
    process.kill(c.pid, 'SIGKILL');
    expect(g.lstat('d/f')).toBe(-E.EIO);
    expect(g.lstat('d')).toBe(-E.EIO);
  });

  it('serves the VFS root and rw binds', () => {
    const bind = nfs.mkdtempSync(path.join(os.tmpdir(), 'tss-gbind-'));
    const vfs = createVfs({ root: '/', bare: true, mounts: [{ src: bind, dst: '/mnt/b', readonly: false }] });
    expect(vfs.gofer).not.toBeNull();
    const t = fakeTask(vfs);
    const f = vfs.open(t, -100, '/etc/passwd', O_RDONLY, 0);
    if (typeof f === 'number') throw new Error(String(f));
    const b = Buffer.alloc(65536);
    expect(b.subarray(0, f.read(b)).toString()).toBe(nfs.readFileSync('/etc/passwd', 'utf8'));
    const w = vfs.open(t, -100, '/mnt/b/out', O_CREAT | O_WRONLY, 0o644);
    if (typeof w === 'number') throw new Error(String(w));
    w.write(Buffer.from('via gofer'));
    expect(nfs.readFileSync(path.join(bind, 'out'), 'utf8')).toBe('via gofer');
  });
});
