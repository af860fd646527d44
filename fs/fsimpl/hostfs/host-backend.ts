/**
 * How HostFs reaches the host: paths are relative to the mount's host root ('' = the
 * root), made of components the VFS already looked up one by one. Two implementations:
 * DirectBackend (Node's sync fs calls from the Sentry) and GoferBackend (every call
 * served by the gofer process, fs/gofer-backend.ts). All return -errno on failure.
 */
import * as nfs from 'fs';
import * as E from '../../../src/abi/errno';
import { UTIME_NOW, UTIME_OMIT } from '../../../src/abi/fs';
import { emptyStat, type Stat } from '../../vfs/inode';

/** Owner of a node the sandbox makes: [uid, gid], -1 for the host's choice. */
export type Owner = readonly [number, number];

export interface HostDirent {
  name: string;
  ino: number;
  mode: number;
  /** Its attributes (readdir-plus: st.dev is the host's), when the backend had them. */
  st?: Stat | null;
  /**
   * Or the same unparsed: a STAT payload at raw[rawOff] (a Gofer reply page, parsed only
   * when a lookup or stat needs it: a walk of 100 000 names looks at few).
   */
  raw?: Buffer | null;
  rawOff?: number;
  /** A lite listing's non-directory: type and inode number only, a lookup asks the rest. */
  lazy?: boolean;
  /** A symlink's target, when the listing carried it. */
  target?: string | null;
}

/** A listing that is not the whole directory (too many names for the backend). */
export type PartialListing = HostDirent[] & { partial?: boolean };

export interface HostBackend {
  readonly root: string;
  lstat(rel: string): Stat | number;
  readdir(rel: string): HostDirent[] | number;
  /**
   * Whole listings of several children of directory rel, in as few round trips as fit
   * (optional: a backend without it lists on demand). One result per name reached, in
   * order; names after the last result were not reached. deep: then, as many as fit,
   * results for directories further down, named by their path below rel ("a/b").
   */
  readdirMany?(rel: string, names: string[], lite?: boolean, deep?: boolean): Array<{ name: string; ents: HostDirent[] | number }> | number;
  readlink(rel: string): string | number;
  /** Opens a regular file or directory (Node fs.constants flags; O_NOFOLLOW is implied). */
  open(rel: string, flags: number, mode: number): number;
  /**
   * Attributes that came with the last successful open (of the opened file),
   * mkdir/createExcl/symlink (of the new node), createExcl's EEXIST (of the name that
   * exists) or unlink (of what it removed), when the backend had them (host st.dev).
   */
  readonly lastStat: Stat | null;
  /** The O_WRONLY fd of the file the last createExcl made (the caller's now), or -1. */
  takeCreatedFd(): number;
  /** owner: the new node's [uid, gid] (-1: as the host makes it), when the sandbox names one. */
  mkdir(rel: string, mode: number, owner?: Owner): number;
  createExcl(rel: string, mode: number, owner?: Owner): number;
  symlink(target: string, rel: string, owner?: Owner): number;
  link(oldRel: string, newRel: string): number;
  unlink(rel: string): number;
  rmdir(rel: string): number;
  rename(oldRel: string, newRel: string): number;
  chmod(rel: string, mode: number): number;
  lchown(rel: string, uid: number, gid: number): number;
  truncate(rel: string, size: number): number;
  /** Times as (sec, nsec), nsec possibly UTIME_NOW or UTIME_OMIT (utimensat's). */
  lutimes(rel: string, atime: readonly [number, number], mtime: readonly [number, number]): number;
  statfs(): number[] | number;
  /**
   * Write-behind (optional): whether a setattr of a file the sandbox made may go with
   * the next round trip instead of its own (the Gofer may set any owner, mode and times,
   * and no host watch waits for its echo); then the deferred calls, which return the
   * generation that must be sent before the host shows the change (`sent(gen)`), and
   * `flush` to send it now. `failed` hears of a deferred call the host refused.
   */
  writesBehind?(rel: string): boolean;
  deferChmod?(rel: string, mode: number, failed: (res: number) => void): number;
  deferChown?(rel: string, uid: number, gid: number, failed: (res: number) => void): number;
  deferUtimes?(rel: string, atime: readonly [number, number], mtime: readonly [number, number], failed: (res: number) => void): number;
  /** Write-behind unlink of a file the sandbox made (hostfs.ts unlink): the write-behind generation. */
  deferUnlink?(rel: string, failed: (res: number) => void): number;
  sent?(gen: number): boolean;
  flush?(): void;
  /** True once the backend can no longer serve (gofer died): every call gives EIO. */
  readonly dead: boolean;
}

/**
 * Whether the Sentry's own fstat shows host owners: not in a user namespace of its own
 * (the launcher's, where host root and every other unmapped id read as 65534). Read at
 * start-up, before the Sentry confines itself.
 */
export const sentrySeesHostIds: boolean = (() => {
  try {
    return /^\s*0\s+0\s+4294967295\s*$/.test(nfs.readFileSync('/proc/self/uid_map', 'utf8'));
  } catch {
    return false;
  }
})();

/** Node's fs errors carry the negative errno in .errno on Linux. */
export function hostErr(e: unknown): number {
  const n = (e as { errno?: unknown }).errno;
  return typeof n === 'number' && n < 0 ? n : -E.EIO;
}

const NS = 1000000000n;

export function statFromHost(s: nfs.BigIntStats, dev: number): Stat {
  const st = emptyStat();
  st.dev = dev;
  st.ino = Number(s.ino);
  st.mode = Number(s.mode);
  st.nlink = Number(s.nlink);
  st.uid = Number(s.uid);
  st.gid = Number(s.gid);
  st.rdev = Number(s.rdev);
  st.size = Number(s.size);
  st.blksize = Number(s.blksize);
  st.blocks = Number(s.blocks);
  st.atimeSec = Number(s.atimeNs / NS); st.atimeNsec = Number(s.atimeNs % NS);
  st.mtimeSec = Number(s.mtimeNs / NS); st.mtimeNsec = Number(s.mtimeNs % NS);
  st.ctimeSec = Number(s.ctimeNs / NS); st.ctimeNsec = Number(s.ctimeNs % NS);
  st.btimeSec = Number(s.birthtimeNs / NS); st.btimeNsec = Number(s.birthtimeNs % NS);
  return st;
}

const LSTAT_OPTS = { bigint: true, throwIfNoEntry: false } as const;

/**
 * Node fs calls on root + rel. Shared by the Sentry (before a gofer exists) and by the
 * gofer process itself (with root = /proc/self/fd/<dir fd resolved by openat2>).
 */
export class DirectBackend implements HostBackend {
  readonly dead = false;
  lastStat: Stat | null = null;
  takeCreatedFd(): number {
    return -1;
  }
  constructor(readonly root: string) {}

  /**
   * The host path of rel, as bytes: the root is a host (UTF-8) string, rel a VFS path
   * (latin1: one char per guest byte), so non-UTF-8 names reach the host unchanged.
   */
  path(rel: string): Buffer {
    if (rel === '') return Buffer.from(this.root);
    return Buffer.concat([Buffer.from(this.root === '/' ? '/' : this.root + '/'), Buffer.from(rel, 'latin1')]);
  }
  private run(f: () => void): number {
    try {
      f();
      return 0;
    } catch (e) {
      return hostErr(e);
    }
  }

  lstat(rel: string): Stat | number {
    try {
      const s = nfs.lstatSync(this.path(rel), LSTAT_OPTS);
      return s ? statFromHost(s, Number(s.dev)) : -E.ENOENT;
    } catch (e) {
      return hostErr(e);
    }
  }
  readdir(rel: string): HostDirent[] | number {
    try {
      const dir = this.path(rel);
      const out: HostDirent[] = [];
      const slash = Buffer.from('/');
      for (const name of nfs.readdirSync(dir, { encoding: 'buffer' })) {
        const s = nfs.lstatSync(Buffer.concat(dir.length === 1 ? [slash, name] : [dir, slash, name]), LSTAT_OPTS);
        if (s) out.push({ name: name.toString('latin1'), ino: Number(s.ino), mode: Number(s.mode), st: statFromHost(s, Number(s.dev)) });
      }
      return out;
    } catch (e) {
      return hostErr(e);
    }
  }
  readlink(rel: string): string | number {
    try {
      return nfs.readlinkSync(this.path(rel), { encoding: 'buffer' }).toString('latin1');
    } catch (e) {
      return hostErr(e);
    }
  }
  // lastStat answers the call just made: the calls that do not fill it in clear it.
  open(rel: string, flags: number, mode: number): number {
    this.lastStat = null;
    try {
      return nfs.openSync(this.path(rel), flags | nfs.constants.O_NOFOLLOW, mode);
    } catch (e) {
      return hostErr(e);
    }
  }
  mkdir(rel: string, mode: number): number {
    this.lastStat = null;
    return this.run(() => nfs.mkdirSync(this.path(rel), { mode }));
  }
  createExcl(rel: string, mode: number): number {
    const c = nfs.constants;
    this.lastStat = null;
    const r = this.run(() => nfs.closeSync(nfs.openSync(this.path(rel), c.O_CREAT | c.O_EXCL | c.O_WRONLY | c.O_NOFOLLOW, mode)));
    const st = r === 0 || r === -E.EEXIST ? this.lstat(rel) : -E.ENOENT;
    if (typeof st !== 'number') this.lastStat = st;
    return r;
  }
  symlink(target: string, rel: string): number {
    this.lastStat = null;
    return this.run(() => nfs.symlinkSync(Buffer.from(target, 'latin1'), this.path(rel)));
  }
  link(oldRel: string, newRel: string): number {
    return this.run(() => nfs.linkSync(this.path(oldRel), this.path(newRel)));
  }
  unlink(rel: string): number {
    const st = this.lstat(rel);
    this.lastStat = typeof st === 'number' ? null : st;
    return this.run(() => nfs.unlinkSync(this.path(rel)));
  }
  rmdir(rel: string): number {
    return this.run(() => nfs.rmdirSync(this.path(rel)));
  }
  rename(oldRel: string, newRel: string): number {
    return this.run(() => nfs.renameSync(this.path(oldRel), this.path(newRel)));
  }
  chmod(rel: string, mode: number): number {
    // chmod follows symlinks; a symlink's own mode cannot change on Linux anyway.
    const st = this.lstat(rel);
    if (typeof st === 'number') return st;
    if ((st.mode & 0o170000) === 0o120000) return -E.EOPNOTSUPP;
    return this.run(() => nfs.chmodSync(this.path(rel), mode));
  }
  lchown(rel: string, uid: number, gid: number): number {
    return this.run(() => nfs.lchownSync(this.path(rel), uid, gid));
  }
  truncate(rel: string, size: number): number {
    const c = nfs.constants;
    return this.run(() => {
      const fd = nfs.openSync(this.path(rel), c.O_WRONLY | c.O_NOFOLLOW);
      try {
        nfs.ftruncateSync(fd, size);
      } finally {
        nfs.closeSync(fd);
      }
    });
  }
  lutimes(rel: string, atime: readonly [number, number], mtime: readonly [number, number]): number {
    // Node takes float seconds (sub-microsecond precision lost; this backend is the
    // fallback without the Gofer): OMIT is the current value, NOW the host's clock.
    const st = this.lstat(rel);
    if (typeof st === 'number') return st;
    const sec = (t: readonly [number, number], s: number, ns: number): number =>
      t[1] === UTIME_OMIT ? s + ns / 1e9 : t[1] === UTIME_NOW ? Date.now() / 1000 : t[0] + t[1] / 1e9;
    return this.run(() => nfs.lutimesSync(this.path(rel), sec(atime, st.atimeSec, st.atimeNsec), sec(mtime, st.mtimeSec, st.mtimeNsec)));
  }
  statfs(): number[] | number {
    try {
      const s = nfs.statfsSync(this.root);
      return [s.bsize, s.blocks, s.bfree, s.bavail, s.files, s.ffree];
    } catch (e) {
      return hostErr(e);
    }
  }
}

