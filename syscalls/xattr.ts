/**
 * Extended attributes: (l|f)getxattr, (l|f)setxattr, (l|f)listxattr, (l|f)removexattr,
 * with fs/xattr.c's checks in its order: flags, the name (EFAULT, ERANGE), the size, then
 * xattr_permission per namespace (user.* only on regular files and directories and by
 * file permission, a sticky directory's only by its owner; trusted.* for CAP_SYS_ADMIN,
 * hidden from others; security.* writes for CAP_SYS_ADMIN, as commoncap), then the
 * namespace's handler (none: EOPNOTSUPP; a bare prefix: EINVAL) and CREATE/REPLACE.
 */
import * as E from '../src/abi/errno';
import type { Task } from '../src/kernel/task';
import { AT_FDCWD, S_IFMT, S_IFREG, S_IFDIR, S_ISVTX } from '../src/abi/fs';
import { capable, capableWrt, CAP_FOWNER, CAP_SYS_ADMIN } from '../src/auth/capabilities';
import { mayAccess, MAY_READ, MAY_WRITE } from '../fs/vfs/perm';
import type { Inode } from '../fs/vfs/inode';
import { EFAULT, fileOf } from './fs-common';

const XATTR_NAME_MAX = 255;
const XATTR_SIZE_MAX = 65536;
const XATTR_CREATE = 1;
const XATTR_REPLACE = 2;
const PREFIXES = ['user.', 'trusted.', 'security.'];
const ACL_NAMES = ['system.posix_acl_access', 'system.posix_acl_default'];

function xattrName(t: Task, addr: number): string | number {
  const n = t.mem.readCString(addr, XATTR_NAME_MAX);
  if (n === null) {
    // Longer than the limit (strncpy_from_user filled the buffer): ERANGE; unreadable: EFAULT.
    const b = t.mem.read(addr, XATTR_NAME_MAX + 1);
    return b !== null && !b.includes(0) ? -E.ERANGE : EFAULT;
  }
  return n.length === 0 ? -E.ERANGE : n;
}

/** xattr_permission: 0, or the errno for this access to this name. */
function permission(t: Task, inode: Inode, n: string, mask: number): number {
  if (n.startsWith('security.') || n.startsWith('system.')) return 0;
  if (n.startsWith('trusted.')) return capable(t.creds, CAP_SYS_ADMIN) ? 0 : mask & MAY_WRITE ? -E.EPERM : -E.ENODATA;
  const type = inode.mode & S_IFMT;
  if (n.startsWith('user.')) {
    if (type !== S_IFREG && type !== S_IFDIR) return mask & MAY_WRITE ? -E.EPERM : -E.ENODATA;
    if (type === S_IFDIR && (inode.mode & S_ISVTX) !== 0 && mask & MAY_WRITE && !ownerOrCapable(t, inode)) return -E.EPERM;
  }
  return mayAccess(inode, t.creds, mask) ? 0 : -E.EACCES;
}

const ownerOrCapable = (t: Task, inode: Inode): boolean => t.creds.fsuid === inode.uid || capableWrt(t.creds, CAP_FOWNER, inode.uid, inode.gid);

/** xattr_resolve_name: 0 when a handler takes the name; EOPNOTSUPP for none, EINVAL for a bare prefix. */
function handler(n: string): number {
  if (ACL_NAMES.includes(n)) return 0;
  const p = PREFIXES.find((x) => n.startsWith(x));
  if (p === undefined) return -E.EOPNOTSUPP;
  return n.length === p.length ? -E.EINVAL : 0;
}

/** The security module's word on a write (cap_inode_setxattr/removexattr, posix_acl's owner rule). */
function writeAllowed(t: Task, inode: Inode, n: string): number {
  if (n.startsWith('security.') && !capable(t.creds, CAP_SYS_ADMIN)) return -E.EPERM;
  if (ACL_NAMES.includes(n) && !ownerOrCapable(t, inode)) return -E.EPERM;
  return 0;
}

type XTarget = { inode: Inode };
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
  const e = permission(t, tg.inode, n, MAY_READ) || handler(n);
  if (e !== 0) return e;
  const v = tg.inode.getxattr(n);
  if (typeof v === 'number') return v;
  if ((size >>> 0) === 0) return v.length;
  if ((size >>> 0) < v.length) return -E.ERANGE;
  return t.mem.write(value, v) ? v.length : EFAULT;
}
function setx(t: Task, tg: XTarget | number, name: number, value: number, size: number, flags: number): number {
  if (typeof tg === 'number') return tg;
  if (flags & ~(XATTR_CREATE | XATTR_REPLACE)) return -E.EINVAL;
  const n = xattrName(t, name);
  if (typeof n === 'number') return n;
  if ((size >>> 0) > XATTR_SIZE_MAX) return -E.E2BIG;
  const v = t.mem.read(value, size >>> 0);
  if (v === null) return EFAULT;
  if (tg.inode.fs.readonly) return -E.EROFS;
  const e = permission(t, tg.inode, n, MAY_WRITE) || writeAllowed(t, tg.inode, n) || handler(n);
  if (e !== 0) return e;
  if (flags !== 0) {
    // Both flags: whichever the attribute's presence breaks (the filesystems' order).
    const had = typeof tg.inode.getxattr(n) !== 'number';
    if (had && flags & XATTR_CREATE) return -E.EEXIST;
    if (!had && flags & XATTR_REPLACE) return -E.ENODATA;
  }
  return tg.inode.setxattr(n, v, flags);
}
function listx(t: Task, tg: XTarget | number, list: number, size: number): number {
  if (typeof tg === 'number') return tg;
  let names = tg.inode.listxattr();
  if (typeof names === 'number') return names;
  // trusted.* names are listed only to CAP_SYS_ADMIN (as the filesystems' list functions).
  if (!capable(t.creds, CAP_SYS_ADMIN)) names = names.filter((n) => !n.startsWith('trusted.'));
  const b = Buffer.from(names.map((n) => n + '\0').join(''), 'latin1');
  if ((size >>> 0) === 0) return b.length;
  if ((size >>> 0) < b.length) return -E.ERANGE;
  return t.mem.write(list, b) ? b.length : EFAULT;
}
function removex(t: Task, tg: XTarget | number, name: number): number {
  if (typeof tg === 'number') return tg;
  const n = xattrName(t, name);
  if (typeof n === 'number') return n;
  if (tg.inode.fs.readonly) return -E.EROFS;
  const e = permission(t, tg.inode, n, MAY_WRITE) || writeAllowed(t, tg.inode, n) || handler(n);
  return e !== 0 ? e : tg.inode.removexattr(n);
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
