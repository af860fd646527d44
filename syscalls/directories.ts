/**
 * The namespace of names: getdents, getdents64, getcwd, chdir, fchdir, chroot, mkdir(at),
 * mknod(at), rmdir, unlink(at), rename(at/at2), link(at), symlink(at), readlink(at).
 */
import { capable, CAP_SYS_CHROOT } from '../src/auth/capabilities';
import * as E from '../src/abi/errno';
import type { Task } from '../src/kernel/task';
import { packDirents } from '../fs/vfs/stat-layout';
import { mayExec } from '../fs/vfs/perm';
import { AT_FDCWD, AT_EMPTY_PATH, AT_SYMLINK_FOLLOW, AT_REMOVEDIR } from '../src/abi/fs';
import { EFAULT, CHUNK, stage, fileOf, readPath } from './fs-common';

function getdentsCommon(t: Task, fd: number, dirp: number, count: number, old: boolean): number {
  const f = fileOf(t, fd);
  if (!f || f.isPath) return -E.EBADF;
  const ents = f.readdirEntries();
  if (ents === null) return -E.ENOTDIR;
  count = Math.min(count >>> 0, CHUNK);
  const b = stage(count).subarray(0, count);
  const [n, next] = packDirents(ents, f.pos, b, old);
  if (n < 0) return -E.EINVAL;
  if (n > 0 && !t.mem.write(dirp, b.subarray(0, n))) return EFAULT;
  f.pos = next;
  return n;
}
export function getdents64(t: Task, fd: number, dirp: number, count: number): number {
  return getdentsCommon(t, fd, dirp, count, false);
}
export function getdents(t: Task, fd: number, dirp: number, count: number): number {
  return getdentsCommon(t, fd, dirp, count, true);
}

export function getcwd(t: Task, buf: number, size: number): number {
  const p = t.kernel.vfs.getcwd(t);
  if (typeof p === 'number') return p;
  const b = Buffer.from(p + '\0', 'latin1'); // VFS paths are latin1: their bytes
  if ((size >>> 0) < b.length) return -E.ERANGE;
  return t.mem.write(buf, b) ? b.length : EFAULT;
}

export function chdir(t: Task, path: number): number {
  const p = t.mem.readPath(path);
  if (typeof p === 'number') return p;
  const d = t.kernel.vfs.lookup(t, AT_FDCWD, p, true);
  return typeof d === 'number' ? d : t.kernel.vfs.chdir(t, d);
}

export function fchdir(t: Task, fd: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (!f.dentry) return -E.ENOTDIR;
  return t.kernel.vfs.chdir(t, f.dentry);
}

export function chroot(t: Task, path: number): number {
  const p = t.mem.readPath(path);
  if (typeof p === 'number') return p;
  const d = t.kernel.vfs.lookup(t, AT_FDCWD, p, true);
  if (typeof d === 'number') return d;
  if (!d.inode.isDir) return -E.ENOTDIR;
  // path_permission(MAY_EXEC | MAY_CHDIR) before the capability, as Linux's chroot.
  if (!mayExec(d.inode, t.creds)) return -E.EACCES;
  if (!capable(t.creds, CAP_SYS_CHROOT)) return -E.EPERM;
  t.fsCtx.root = d;
  return 0;
}

export function mkdir(t: Task, path: number, mode: number): number {
  return mkdirat(t, AT_FDCWD, path, mode);
}
export function mkdirat(t: Task, dirfd: number, path: number, mode: number): number {
  const p = t.mem.readPath(path);
  if (typeof p === 'number') return p;
  return t.kernel.vfs.mkdir(t, dirfd | 0, p, mode & 0o7777);
}

export function mknod(t: Task, path: number, mode: number, dev: number): number {
  return mknodat(t, AT_FDCWD, path, mode, dev);
}
export function mknodat(t: Task, dirfd: number, path: number, mode: number, dev: number): number {
  const p = t.mem.readPath(path);
  if (typeof p === 'number') return p;
  return t.kernel.vfs.mknod(t, dirfd | 0, p, mode >>> 0, dev >>> 0);
}

export function rmdir(t: Task, path: number): number {
  const p = t.mem.readPath(path);
  if (typeof p === 'number') return p;
  return removed(t, AT_FDCWD, p, t.kernel.vfs.rmdir(t, AT_FDCWD, p));
}

export function unlink(t: Task, path: number): number {
  const p = t.mem.readPath(path);
  if (typeof p === 'number') return p;
  t.kernel.hooks?.removing(t, AT_FDCWD, p);
  return removed(t, AT_FDCWD, p, t.kernel.vfs.unlink(t, AT_FDCWD, p));
}

export function unlinkat(t: Task, dirfd: number, path: number, flags: number): number {
  if (flags & ~AT_REMOVEDIR) return -E.EINVAL;
  const p = t.mem.readPath(path);
  if (typeof p === 'number') return p;
  if (!(flags & AT_REMOVEDIR)) t.kernel.hooks?.removing(t, dirfd | 0, p);
  return removed(t, dirfd | 0, p, flags & AT_REMOVEDIR ? t.kernel.vfs.rmdir(t, dirfd | 0, p) : t.kernel.vfs.unlink(t, dirfd | 0, p));
}

/** Tells the watcher (src/kernel/sandbox-hooks.ts) what was removed. */
function removed(t: Task, dirfd: number, p: string, r: number): number {
  t.kernel.hooks?.removed(t, dirfd, p, r);
  return r;
}

function renameCommon(t: Task, od: number, op: number, nd: number, np: number, flags: number): number {
  const a = t.mem.readPath(op);
  if (typeof a === 'number') return a;
  const b = t.mem.readPath(np);
  if (typeof b === 'number') return b;
  t.kernel.hooks?.removing(t, nd, b); // a file renamed onto goes: the watcher hashes what was written to it
  return t.kernel.vfs.rename(t, od, a, nd, b, flags);
}
export function rename(t: Task, oldp: number, newp: number): number {
  return renameCommon(t, AT_FDCWD, oldp, AT_FDCWD, newp, 0);
}
export function renameat(t: Task, od: number, oldp: number, nd: number, newp: number): number {
  return renameCommon(t, od | 0, oldp, nd | 0, newp, 0);
}
export function renameat2(t: Task, od: number, oldp: number, nd: number, newp: number, flags: number): number {
  return renameCommon(t, od | 0, oldp, nd | 0, newp, flags >>> 0);
}

export function link(t: Task, oldp: number, newp: number): number {
  return linkat(t, AT_FDCWD, oldp, AT_FDCWD, newp, 0);
}
export function linkat(t: Task, od: number, oldp: number, nd: number, newp: number, flags: number): number {
  if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) return -E.EINVAL;
  const a = readPath(t, oldp, (flags & AT_EMPTY_PATH) !== 0);
  if (typeof a === 'number') return a;
  const b = t.mem.readPath(newp);
  if (typeof b === 'number') return b;
  return t.kernel.vfs.link(t, od | 0, a, nd | 0, b, flags);
}

export function symlink(t: Task, target: number, linkpath: number): number {
  return symlinkat(t, target, AT_FDCWD, linkpath);
}
export function symlinkat(t: Task, target: number, dirfd: number, linkpath: number): number {
  const tg = t.mem.readPath(target);
  if (typeof tg === 'number') return tg;
  const p = t.mem.readPath(linkpath);
  if (typeof p === 'number') return p;
  return t.kernel.vfs.symlink(t, tg, dirfd | 0, p);
}

export function readlink(t: Task, path: number, buf: number, size: number): number {
  return readlinkat(t, AT_FDCWD, path, buf, size);
}
export function readlinkat(t: Task, dirfd: number, path: number, buf: number, size: number): number {
  if ((size | 0) <= 0) return -E.EINVAL;
  const p = readPath(t, path, true);
  if (typeof p === 'number') return p;
  const r = t.kernel.vfs.readlink(t, dirfd | 0, p, true);
  if (typeof r === 'number') return r;
  const b = Buffer.from(r, 'latin1');
  const n = Math.min(b.length, size | 0);
  return t.mem.write(buf, b.subarray(0, n)) ? n : EFAULT;
}
