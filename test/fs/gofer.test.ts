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
import { Op } from '../../src/gofer/protocol';
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
    nfs.rmSync(root, { recursive: true, force: true });
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
    nfs.rmSync(bind, { recursive: true, force: true });
  });

  it('pages a big directory from one listing, and lists anew one that changed between pages', () => {
    const root = nfs.mkdtempSync(path.join(os.tmpdir(), 'tss-gofer-pages-'));
    try {
      const names = Array.from({ length: 3000 }, (_, i) => `file-${String(i).padStart(4, '0')}`);
      for (const n of names) nfs.writeFileSync(path.join(root, n), n);
      const c = spawnGofer([root])!;
      const g = new GoferBackend(c, 0, root);
      const all = g.readdir('');
      expect(typeof all).not.toBe('number');
      const got = (all as Array<{ name: string; raw?: Buffer; rawOff?: number }>).map((e) => e.name);
      expect(got.length).toBe(names.length); // each exactly once
      expect([...got].sort()).toEqual(names);
      const last = (all as Array<{ name: string; raw?: Buffer; rawOff?: number }>).find((e) => e.name === names[2999])!;
      expect(readStat(last.raw!, last.rawOff ?? 0).size).toBe(names[2999].length);
      // By hand: the first page, then the directory changes on the host, then the rest.
      const r1 = c.call(Op.Readdir, 0, '', '', 0, 0, 0, 0);
      expect(r1).toBeGreaterThan(0);
      const next = c.payload.readUInt32LE(0);
      expect(next).toBeLessThan(names.length);
      nfs.writeFileSync(path.join(root, 'zzz-new'), 'x');
      const t = new Date(Date.now() + 10_000); // (its mtime surely moves: the clock's tick is coarse)
      nfs.utimesSync(root, t, t);
      let seen = false;
      for (let at = next; ;) {
        const r = c.call(Op.Readdir, 0, '', '', 0, 0, 0, at);
        expect(r).toBeGreaterThanOrEqual(0);
        if (c.payload.includes(Buffer.from('zzz-new'))) seen = true;
        const n = c.payload.readUInt32LE(0);
        const total = c.payload.readUInt32LE(4) & 0x7fffffff;
        expect(total).toBe(names.length + 1);
        if (n >= total) break;
        at = n;
      }
      expect(seen).toBe(true);
      c.dead = true;
      process.kill(c.pid, 'SIGKILL');
    } finally {
      nfs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('deep batches: the listings below each name, depth first, never behind a symlink, whole or not at all', () => {
    const root = nfs.mkdtempSync(path.join(os.tmpdir(), 'tss-gofer-'));
    try {
      for (const p of ['a/b/c', 'a/b/d', 'a/e', 'z']) nfs.mkdirSync(path.join(root, p), { recursive: true });
      nfs.writeFileSync(path.join(root, 'a/b/c/f'), 'x');
      nfs.symlinkSync('/etc', path.join(root, 'a/up')); // a directory outside, by a symlink
      nfs.symlinkSync('../../z', path.join(root, 'a/b/side'));
      const c = spawnGofer([root])!;
      const g = new GoferBackend(c, 0, root);
      const d = new DirectBackend(root);
      const names = (r: ReturnType<DirectBackend['readdir']>) => (typeof r === 'number' ? r : r.map((e) => e.name).sort());
      const r = g.readdirMany('', ['a', 'z'], true, true);
      if (typeof r === 'number') throw new Error(`readdirMany: ${r}`);
      // a, then what is below it by name, then z: the order a walk reads them in.
      expect(r.map((x) => x.name)).toEqual(['a', 'a/b', 'a/b/c', 'a/b/d', 'a/e', 'z']);
      for (const x of r) expect(typeof x.ents === 'number' ? x.ents : x.ents.map((e) => e.name).sort(), x.name).toEqual(names(d.readdir(x.name)));
      // Without the flag: the names asked only.
      const flat = g.readdirMany('', ['a', 'z'], true, false);
      expect(typeof flat === 'number' ? flat : flat.map((x) => x.name)).toEqual(['a', 'z']);
      // A reply full of the first name's subtree: the next name is not reached (asked
      // again), not refused; every listing sent is whole.
      for (let i = 0; i < 40; i++) for (let j = 0; j < 30; j++) nfs.mkdirSync(path.join(root, `big/s${i}/t${j}`), { recursive: true });
      const full = g.readdirMany('', ['big', 'z'], true, true);
      if (typeof full === 'number') throw new Error(`readdirMany: ${full}`);
      expect(full.map((x) => x.name)).not.toContain('z');
      expect(full.length).toBeGreaterThan(2);
      for (const x of full) expect(typeof x.ents === 'number' ? x.ents : x.ents.length, x.name).toBe((names(d.readdir(x.name)) as string[]).length);
      process.kill(c.pid, 'SIGKILL');
    } finally {
      nfs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('serves deferred requests in order ahead of the next, each with its own checks', () => {
    const root = nfs.mkdtempSync(path.join(os.tmpdir(), 'tss-gofer-batch-'));
    const ro = nfs.mkdtempSync(path.join(os.tmpdir(), 'tss-gofer-batch-ro-'));
    try {
      nfs.writeFileSync(path.join(root, 'f'), 'data');
      nfs.writeFileSync(path.join(ro, 'r'), 'data');
      const c = spawnGofer([root, { path: ro, readonly: true }])!;
      const failed: Array<[string, number]> = [];
      const tell = (what: string) => (res: number) => failed.push([what, res]);
      c.defer(Op.Chmod, 0, 'f', '', 0, 0o600, 0, 0, 0, 0, 0, tell('chmod f'));
      c.defer(Op.Utimes, 0, 'f', '', 0, 0, 0, 1_000_000_000, 5, 1_000_000_000, 6, tell('utimes f'));
      c.defer(Op.Chmod, 0, 'missing', '', 0, 0o600, 0, 0, 0, 0, 0, tell('chmod missing'));
      c.defer(Op.Chmod, 1, 'r', '', 0, 0o600, 0, 0, 0, 0, 0, tell('chmod read-only'));
      c.defer(Op.Chmod, 0, '../f', '', 0, 0o600, 0, 0, 0, 0, 0, tell('chmod ..'));
      c.defer(Op.Chmod, 0, 'f', '', 0, 0o640, 0, 0, 0, 0, 0, tell('chmod f again'));
      expect(c.pending).toBe(6);
      // Nothing reached the host yet; the next request carries them, and answers itself.
      expect(nfs.statSync(path.join(root, 'f')).mode & 0o777).toBe(0o644);
      const g = new GoferBackend(c, 0, root);
      const st = g.lstat('f');
      expect(c.pending).toBe(0);
      expect(typeof st).not.toBe('number');
      const s = st as { mode: number; mtimeSec: number; mtimeNsec: number };
      expect(s.mode & 0o777).toBe(0o640); // in order: the last chmod wins
      expect([s.mtimeSec, s.mtimeNsec]).toEqual([1_000_000_000, 6]);
      expect(failed).toEqual([['chmod missing', -E.ENOENT], ['chmod read-only', -E.EROFS], ['chmod ..', -E.EINVAL]]);
      expect(nfs.statSync(path.join(ro, 'r')).mode & 0o777).toBe(0o644);
      // flush alone sends them (its last one as the request waited for).
      c.defer(Op.Chmod, 0, 'f', '', 0, 0o600, 0, 0, 0, 0, 0, tell('chmod f 600'));
      c.defer(Op.Chmod, 0, 'nope', '', 0, 0o600, 0, 0, 0, 0, 0, tell('chmod nope'));
      c.flush();
      expect(c.pending).toBe(0);
      expect(nfs.statSync(path.join(root, 'f')).mode & 0o777).toBe(0o600);
      expect(failed.at(-1)).toEqual(['chmod nope', -E.ENOENT]);
      c.dead = true;
      process.kill(c.pid, 'SIGKILL');
    } finally {
      nfs.rmSync(root, { recursive: true, force: true });
      nfs.rmSync(ro, { recursive: true, force: true });
    }
  });
});
