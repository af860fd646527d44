/**
 * Inode attributes: chmod, fchmod(at), chown, lchown, fchown(at), umask, truncate,
 * ftruncate, fallocate, utimensat, futimesat, utimes, utime (RLIMIT_FSIZE on size changes).
 */
import * as E from '../src/abi/errno';
import { toKid } from '../src/auth/userns';
import type { Task } from '../src/kernel/task';
import { MAX_FILE_OFFSET, type FileDescription } from '../fs/vfs/file';
import type { Dentry } from '../fs/vfs/dentry';
import type { SetAttr, TimeSpec } from '../fs/vfs/inode';
import { limitsOf, RLIMIT_FSIZE } from '../src/kernel/limits';
import { AT_FDCWD, AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, S_IFMT, S_IFREG, S_IFDIR, S_IFIFO } from '../src/abi/fs';
import { EFAULT, fileOf, readPath } from './fs-common';

/** The dentry an fd names (fchmod, fchown, futimens...). */
function fdTarget(t: Task, fd: number): Dentry | FileDescription | number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  return f.dentry ?? f;
}
function setattrOn(t: Task, target: Dentry | FileDescription, a: SetAttr, viaFile = false): number {
  if ('inode' in target && 'flags' in target) return t.kernel.vfs.setattr(t, target.inode, a, viaFile);
  return t.kernel.vfs.setattr(t, target as Dentry, a, viaFile);
}
function pathTarget(t: Task, dirfd: number, path: number, follow: boolean, emptyOk: boolean): Dentry | FileDescription | number {
  const p = readPath(t, path, emptyOk);
  if (typeof p === 'number') return p;
  if (p.length === 0) return (dirfd | 0) === AT_FDCWD ? t.fsCtx.cwd : fdTarget(t, dirfd);
  return t.kernel.vfs.lookup(t, dirfd | 0, p, follow);
}

export function chmod(t: Task, path: number, mode: number): number {
  return fchmodat(t, AT_FDCWD, path, mode);
}
export function fchmod(t: Task, fd: number, mode: number): number {
  const d = fdTarget(t, fd);
  if (typeof d === 'number') return d;
  if ('flags' in d && (d as FileDescription).isPath) return -E.EBADF;
  return setattrOn(t, d, { mode: mode & 0o7777 });
}
export function fchmodat(t: Task, dirfd: number, path: number, mode: number): number {
  const d = pathTarget(t, dirfd, path, true, false);
  if (typeof d === 'number') return d;
  return setattrOn(t, d, { mode: mode & 0o7777 });
}

export function chown(t: Task, path: number, uid: number, gid: number): number {
  return fchownat(t, AT_FDCWD, path, uid, gid, 0);
}
export function lchown(t: Task, path: number, uid: number, gid: number): number {
  return fchownat(t, AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW);
}
/** chown's ids as initial-namespace ids (-1: unchanged); null when the caller's namespace does not map one. */
function chownIds(t: Task, uid: number, gid: number): { uid: number; gid: number } | null {
  const ns = t.creds.userns;
  if (ns === null || ((uid | 0) === -1 && (gid | 0) === -1)) return { uid: uid | 0, gid: gid | 0 };
  const u = (uid | 0) === -1 ? -1 : toKid(ns, uid >>> 0);
  const g = (gid | 0) === -1 ? -1 : toKid(ns, gid >>> 0, true);
  if (((uid | 0) !== -1 && u < 0) || ((gid | 0) !== -1 && g < 0)) return null;
  return { uid: u | 0, gid: g | 0 };
}

export function fchown(t: Task, fd: number, uid: number, gid: number): number {
  const d = fdTarget(t, fd);
  if (typeof d === 'number') return d;
  const ids = chownIds(t, uid, gid);
  return ids === null ? -E.EINVAL : setattrOn(t, d, ids);
}
export function fchownat(t: Task, dirfd: number, path: number, uid: number, gid: number, flags: number): number {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -E.EINVAL;
  const d = pathTarget(t, dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) === 0, (flags & AT_EMPTY_PATH) !== 0);
  if (typeof d === 'number') return d;
  const ids = chownIds(t, uid, gid);
  return ids === null ? -E.EINVAL : setattrOn(t, d, ids);
}

export function umask(t: Task, mask: number): number {
  const old = t.fsCtx.umask;
  t.fsCtx.umask = mask & 0o777;
  return old;
}

/** RLIMIT_FSIZE for size changes: SIGXFSZ and EFBIG past the limit, as Linux's inode_newsize_ok. */
function fsizeOk(t: Task, len: number): number {
  if (len > limitsOf(t.tg).soft(RLIMIT_FSIZE)) {
    t.sendSignalSelf(25);
    return -E.EFBIG;
  }
  // Past the Sentry's s_maxbytes: EFBIG without a signal.
  return len > MAX_FILE_OFFSET ? -E.EFBIG : 0;
}

export function truncate(t: Task, path: number, len: number): number {
  if (len < 0) return -E.EINVAL;
  const lim = fsizeOk(t, len);
  if (lim < 0) return lim;
  const d = pathTarget(t, AT_FDCWD, path, true, false);
  if (typeof d === 'number') return d;
  return setattrOn(t, d, { size: len });
}

export function ftruncate(t: Task, fd: number, len: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (len < 0) return -E.EINVAL;
  if (!f.writable) return -E.EINVAL;
  const ino = f.dentry?.inode ?? f.inode;
  if ((ino.mode & S_IFMT) !== S_IFREG) return -E.EINVAL;
  const lim = fsizeOk(t, len);
  if (lim < 0) return lim;
  return f.truncate(len);
}

const FALLOC_FL_KEEP_SIZE = 1, FALLOC_FL_PUNCH_HOLE = 2;

/**
 * FALLOC_FL_PUNCH_HOLE: the range within the file becomes zeros (the size stays). Written
 * as zeros, so the pages stay allocated: what readers and mappings see is Linux's.
 */
function punchHole(f: FileDescription, off: number, len: number): number {
  const st = f.stat();
  if (typeof st === 'number') return st;
  const end = Math.min(st.size, off + len);
  const zeros = Buffer.alloc(Math.min(1 << 20, Math.max(0, end - off)));
  for (let p = off; p < end; ) {
    const n = f.pwrite(zeros.subarray(0, Math.min(zeros.length, end - p)), p);
    if (n < 0) return n;
    if (n === 0) return -E.EIO;
    p += n;
  }
  return 0;
}
export function fallocate(t: Task, fd: number, mode: number, off: number, len: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (off < 0 || len <= 0) return -E.EINVAL;
  if (!f.writable) return -E.EBADF;
  const ino = f.dentry?.inode ?? f.inode;
  const type = ino.mode & S_IFMT;
  if (type === S_IFIFO) return -E.ESPIPE;
  if (type === S_IFDIR) return -E.EISDIR;
  if (type !== S_IFREG) return -E.ENODEV;
  // vfs_fallocate: the end past s_maxbytes (or wrapping) is EFBIG, whatever the mode.
  if (off + len > MAX_FILE_OFFSET) return -E.EFBIG;
  if (mode & FALLOC_FL_PUNCH_HOLE) {
    // Only with KEEP_SIZE (Linux's rule); the range reads as zeros afterwards.
    if (mode !== (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)) return -E.EOPNOTSUPP;
    return punchHole(f, off, len);
  }
  if (mode & ~FALLOC_FL_KEEP_SIZE) return -E.EOPNOTSUPP;
  if (mode & FALLOC_FL_KEEP_SIZE) return 0;
  const lim = fsizeOk(t, off + len);
  if (lim < 0) return lim;
  return f.allocate(off, len);
}

const UTIME_NOW = 0x3fffffff;
const UTIME_OMIT = 0x3ffffffe;

/** Reads two struct timespec (or timeval when usec) into setattr times; null ptr = now. */
function readTimes(t: Task, addr: number, usec: boolean): SetAttr | number {
  if (addr === 0) return { atime: 'now', mtime: 'now' };
  const b = t.mem.read(addr, 32);
  if (b === null) return EFAULT;
  const one = (off: number): TimeSpec | undefined | number => {
    const sec = Number(b.readBigInt64LE(off));
    const sub = Number(b.readBigInt64LE(off + 8));
    if (usec) {
      if (sub < 0 || sub >= 1000000) return -E.EINVAL;
      return [sec, sub * 1000];
    }
    if (sub === UTIME_NOW) return 'now';
    if (sub === UTIME_OMIT) return undefined;
    if (sub < 0 || sub >= 1e9) return -E.EINVAL;
    return [sec, sub];
  };
  const a = one(0);
  const m = one(16);
  if (typeof a === 'number') return a;
  if (typeof m === 'number') return m;
  return { atime: a, mtime: m };
}

export function utimensat(t: Task, dirfd: number, path: number, times: number, flags: number): number {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -E.EINVAL;
  const a = readTimes(t, times, false);
  if (typeof a === 'number') return a;
  if (a.atime === undefined && a.mtime === undefined) return 0;
  let d: Dentry | FileDescription | number;
  if (path === 0) d = (dirfd | 0) === AT_FDCWD ? -E.EFAULT : fdTarget(t, dirfd);
  else d = pathTarget(t, dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) === 0, (flags & AT_EMPTY_PATH) !== 0);
  if (typeof d === 'number') return d;
  return setattrOn(t, d, a);
}

export function futimesat(t: Task, dirfd: number, path: number, times: number): number {
  const a = readTimes(t, times, true);
  if (typeof a === 'number') return a;
  const d = path === 0 ? fdTarget(t, dirfd) : pathTarget(t, dirfd, path, true, false);
  if (typeof d === 'number') return d;
  return setattrOn(t, d, a);
}
export function utimes(t: Task, path: number, times: number): number {
  return futimesat(t, AT_FDCWD, path, times);
}
export function utime(t: Task, path: number, buf: number): number {
  let a: SetAttr = { atime: 'now', mtime: 'now' };
  if (buf !== 0) {
    const b = t.mem.read(buf, 16);
    if (b === null) return EFAULT;
    a = { atime: [Number(b.readBigInt64LE(0)), 0], mtime: [Number(b.readBigInt64LE(8)), 0] };
  }
  const d = pathTarget(t, AT_FDCWD, path, true, false);
  if (typeof d === 'number') return d;
  return setattrOn(t, d, a);
}
