/** Extended attributes: (l|f)getxattr, (l|f)setxattr, (l|f)listxattr, (l|f)removexattr. */
import * as E from '../src/abi/errno';
import type { Task } from '../src/kernel/task';
import { AT_FDCWD } from '../src/abi/fs';
import { EFAULT, fileOf } from './fs-common';

const XATTR_NAME_MAX = 255;
const XATTR_SIZE_MAX = 65536;

function xattrName(t: Task, addr: number): string | number {
  const n = t.mem.readCString(addr, XATTR_NAME_MAX + 1);
  if (n === null) return EFAULT;
  if (n.length === 0 || Buffer.byteLength(n) > XATTR_NAME_MAX) return -E.ERANGE;
  if (!/^(user|trusted|security|system)\./.test(n)) return -E.EOPNOTSUPP;
  return n;
}

type XTarget = { inode: import('../fs/vfs/inode').Inode };
function xPath(t: Task, path: number, follow: boolean): XTarget | number {
  const p = t.mem.readPath(path);
  if (typeof p === 'number') return p;
  const d = t.kernel.vfs.lookup(t, AT_FDCWD, p, follow);
  return typeof d === 'number' ? d : d;
}
function xFd(t: Task, fd: number): XTarget | number {
  const f = fileOf(t, fd);
  if (!f || f.isPath) return -E.EBADF;
  return { inode: f.dentry?.inode ?? f.inode };
}

function getx(t: Task, tg: XTarget | number, name: number, value: number, size: number): number {
  if (typeof tg === 'number') return tg;
  const n = xattrName(t, name);
  if (typeof n === 'number') return n;
  const v = tg.inode.getxattr(n);
  if (typeof v === 'number') return v;
  if ((size >>> 0) === 0) return v.length;
  if ((size >>> 0) < v.length) return -E.ERANGE;
  return t.mem.write(value, v) ? v.length : EFAULT;
}
function setx(t: Task, tg: XTarget | number, name: number, value: number, size: number, flags: number): number {
  if (typeof tg === 'number') return tg;
  if (flags & ~3) return -E.EINVAL;
  const n = xattrName(t, name);
  if (typeof n === 'number') return n;
  if ((size >>> 0) > XATTR_SIZE_MAX) return -E.E2BIG;
  const v = t.mem.read(value, size >>> 0);
  if (v === null) return EFAULT;
  if (tg.inode.fs.readonly) return -E.EROFS;
  if (t.creds.fsuid !== 0 && t.creds.fsuid !== tg.inode.uid) return -E.EPERM;
  return tg.inode.setxattr(n, v, flags);
}
function listx(t: Task, tg: XTarget | number, list: number, size: number): number {
  if (typeof tg === 'number') return tg;
  const names = tg.inode.listxattr();
  if (typeof names === 'number') return names;
  const b = Buffer.from(names.map((n) => n + '\0').join(''));
  if ((size >>> 0) === 0) return b.length;
  if ((size >>> 0) < b.length) return -E.ERANGE;
  return t.mem.write(list, b) ? b.length : EFAULT;
}
function removex(t: Task, tg: XTarget | number, name: number): number {
  if (typeof tg === 'number') return tg;
  const n = xattrName(t, name);
  if (typeof n === 'number') return n;
  if (tg.inode.fs.readonly) return -E.EROFS;
  return tg.inode.removexattr(n);
}

export const getxattr = (t: Task, p: number, n: number, v: number, s: number) => getx(t, xPath(t, p, true), n, v, s);
export const lgetxattr = (t: Task, p: number, n: number, v: number, s: number) => getx(t, xPath(t, p, false), n, v, s);
export const fgetxattr = (t: Task, fd: number, n: number, v: number, s: number) => getx(t, xFd(t, fd), n, v, s);
export const setxattr = (t: Task, p: number, n: number, v: number, s: number, f: number) => setx(t, xPath(t, p, true), n, v, s, f);
export const lsetxattr = (t: Task, p: number, n: number, v: number, s: number, f: number) => setx(t, xPath(t, p, false), n, v, s, f);
export const fsetxattr = (t: Task, fd: number, n: number, v: number, s: number, f: number) => setx(t, xFd(t, fd), n, v, s, f);
export const listxattr = (t: Task, p: number, l: number, s: number) => listx(t, xPath(t, p, true), l, s);
export const llistxattr = (t: Task, p: number, l: number, s: number) => listx(t, xPath(t, p, false), l, s);
export const flistxattr = (t: Task, fd: number, l: number, s: number) => listx(t, xFd(t, fd), l, s);
export const removexattr = (t: Task, p: number, n: number) => removex(t, xPath(t, p, true), n);
export const lremovexattr = (t: Task, p: number, n: number) => removex(t, xPath(t, p, false), n);
export const fremovexattr = (t: Task, fd: number, n: number) => removex(t, xFd(t, fd), n);
