/** stat, lstat, fstat, newfstatat, statx, access, faccessat, faccessat2, statfs, fstatfs. */
import * as E from '../src/abi/errno';
import type { Task } from '../src/kernel/task';
import type { FileDescription } from '../fs/vfs/file';
import type { Dentry } from '../fs/vfs/dentry';
import { encodeStat, encodeStatx, encodeStatfs } from '../fs/vfs/stat-layout';
import { AT_FDCWD, AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, AT_EACCESS, AT_NO_AUTOMOUNT, AT_STATX_SYNC_TYPE } from '../src/abi/fs';
import { EFAULT, fileOf, readPath } from './fs-common';
import { seenGid, seenUid } from '../src/auth/userns';

/** Owner and group as the caller's user namespace sees them (65534 when unmapped). */
function seen<S extends { uid: number; gid: number }>(t: Task, st: S): S {
  const ns = t.creds.userns;
  return ns === null ? st : { ...st, uid: seenUid(ns, st.uid), gid: seenGid(ns, st.gid) };
}

function writeStat(t: Task, addr: number, st: ReturnType<FileDescription['stat']>): number {
  if (typeof st === 'number') return st;
  return t.mem.write(addr, encodeStat(seen(t, st))) ? 0 : EFAULT;
}

export function stat(t: Task, path: number, buf: number): number {
  const p = t.mem.readPath(path);
  if (typeof p === 'number') return p;
  return writeStat(t, buf, t.kernel.vfs.stat(t, AT_FDCWD, p, true));
}

export function lstat(t: Task, path: number, buf: number): number {
  const p = t.mem.readPath(path);
  if (typeof p === 'number') return p;
  return writeStat(t, buf, t.kernel.vfs.stat(t, AT_FDCWD, p, false));
}

export function fstat(t: Task, fd: number, buf: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  return writeStat(t, buf, f.stat());
}

export function newfstatat(t: Task, dirfd: number, path: number, buf: number, flags: number): number {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT)) return -E.EINVAL;
  const p = readPath(t, path, (flags & AT_EMPTY_PATH) !== 0);
  if (typeof p === 'number') return p;
  if (p.length === 0) {
    if ((dirfd | 0) === AT_FDCWD) return writeStat(t, buf, t.fsCtx.cwd.inode.stat());
    const f = fileOf(t, dirfd);
    return f ? writeStat(t, buf, f.stat()) : -E.EBADF;
  }
  return writeStat(t, buf, t.kernel.vfs.stat(t, dirfd | 0, p, (flags & AT_SYMLINK_NOFOLLOW) === 0));
}

export function statx(t: Task, dirfd: number, path: number, flags: number, mask: number, buf: number): number {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE)) return -E.EINVAL;
  if ((flags & AT_STATX_SYNC_TYPE) === AT_STATX_SYNC_TYPE) return -E.EINVAL;
  if (mask & 0x80000000) return -E.EINVAL; // STATX__RESERVED
  const p = readPath(t, path, (flags & AT_EMPTY_PATH) !== 0);
  if (typeof p === 'number') return p;
  let st;
  if (p.length === 0) {
    if ((dirfd | 0) === AT_FDCWD) st = t.fsCtx.cwd.inode.stat();
    else {
      const f = fileOf(t, dirfd);
      if (!f) return -E.EBADF;
      st = f.stat();
    }
  } else {
    st = t.kernel.vfs.stat(t, dirfd | 0, p, (flags & AT_SYMLINK_NOFOLLOW) === 0);
  }
  if (typeof st === 'number') return st;
  return t.mem.write(buf, encodeStatx(seen(t, st), 20)) ? 0 : EFAULT;
}

function accessCommon(t: Task, dirfd: number, path: number, mode: number, flags: number): number {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EACCESS | AT_EMPTY_PATH)) return -E.EINVAL;
  const p = readPath(t, path, (flags & AT_EMPTY_PATH) !== 0);
  if (typeof p === 'number') return p;
  return t.kernel.vfs.access(t, dirfd, p, mode, flags);
}
export function access(t: Task, path: number, mode: number): number {
  return accessCommon(t, AT_FDCWD, path, mode | 0, 0);
}
export function faccessat(t: Task, dirfd: number, path: number, mode: number): number {
  return accessCommon(t, dirfd | 0, path, mode | 0, 0);
}
export function faccessat2(t: Task, dirfd: number, path: number, mode: number, flags: number): number {
  return accessCommon(t, dirfd | 0, path, mode | 0, flags | 0);
}

function writeStatfs(t: Task, d: Dentry, buf: number): number {
  const s = t.kernel.vfs.statfs(d);
  return t.mem.write(buf, encodeStatfs(s.magic, s.nums, s.dev, s.readonly)) ? 0 : EFAULT;
}
export function statfs(t: Task, path: number, buf: number): number {
  const p = t.mem.readPath(path);
  if (typeof p === 'number') return p;
  const d = t.kernel.vfs.lookup(t, AT_FDCWD, p, true);
  return typeof d === 'number' ? d : writeStatfs(t, d, buf);
}
export function fstatfs(t: Task, fd: number, buf: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (f.dentry) return writeStatfs(t, f.dentry, buf);
  const fs = f.inode.fs;
  return t.mem.write(buf, encodeStatfs(fs.magic, fs.statfsNumbers(), fs.dev, false)) ? 0 : EFAULT;
}

/**
 * ustat(2): free blocks and inodes of the mounted filesystem whose device number is dev
 * (new_encode_dev, as the call takes it), as statfs gives them; EINVAL when no mounted
 * filesystem has that number (user_get_super). struct ustat: f_tfree (int), f_tinode,
 * f_fname[6], f_fpack[6], zeroed.
 */
export function ustat(t: Task, dev: number, ubuf: number): number {
  dev >>>= 0;
  const decode = (d: number) => [Math.floor(d / 256) & 0xfff, (d & 0xff) | (Math.floor(d / 4096) & 0xfff00)];
  const [maj, min] = decode(dev);
  const m = t.kernel.vfs.mounts.find((x) => {
    const [a, b] = decode(x.fs.dev);
    return a === maj && b === min;
  });
  if (m === undefined) return -E.EINVAL;
  const nums = m.fs.statfsNumbers();
  const b = Buffer.alloc(32);
  b.writeInt32LE(nums[2] | 0, 0);
  b.writeBigUInt64LE(BigInt(Math.max(0, Math.floor(nums[5]))), 8);
  return t.mem.write(ubuf, b) ? 0 : EFAULT;
}
