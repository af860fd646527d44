/**
 * The VFS's changes of names (mkdir, mknod, symlink, link, unlink, rmdir, rename): Linux's
 * checks in Linux's order, then the filesystem's inode operation, the dentry cache and
 * inotify kept right. Vfs's methods of the same names call these.
 */
import * as E from '../../src/abi/errno';
import { capable, capableWrt, CAP_FOWNER } from '../../src/auth/capabilities';
import type { Credentials } from '../../src/auth/credentials';
import {
  S_IFMT, S_IFREG, S_IFDIR, S_IFIFO, S_IFCHR, S_IFBLK, S_IFSOCK, RENAME_EXCHANGE, RENAME_NOREPLACE, RENAME_WHITEOUT,
  devMajor, devMinor,
} from '../../src/abi/fs';
import type { Dentry } from './dentry';
import type { Inode } from './inode';
import type { ParentResult } from './path-walk';
import { MAY_EXEC, MAY_READ, MAY_WRITE, mayAccess, mayDeleteSticky } from './perm';
import * as notify from './inotify';
import type { FsCaller } from './caller';
import type { Vfs } from './vfs';

export const isDot = (n: string): boolean => n === '.' || n === '..';

const CAP_MKNOD = 27;

/**
 * may_linkat with fs.protected_hardlinks 1 (Debian's and the sandbox's setting): the
 * owner (or CAP_FOWNER) links anything; anyone else only a regular file that is not
 * set-user-ID or executable set-group-ID and that they may read and write.
 */
function mayLinkSource(cr: Credentials, inode: Inode): boolean {
  if (cr.fsuid === inode.uid || capableWrt(cr, CAP_FOWNER, inode.uid, inode.gid)) return true;
  const mode = inode.mode;
  if ((mode & S_IFMT) !== S_IFREG || (mode & 0o4000) !== 0 || (mode & 0o2010) === 0o2010) return false;
  return mayAccess(inode, cr, MAY_READ | MAY_WRITE);
}

/** Writes through d are refused: its filesystem or the mount it is seen through is read-only. */
export function readOnly(d: Dentry): boolean {
  return d.inode.fs.readonly || (d.mnt !== null && d.mnt.readonly);
}

/**
 * Whether a one-request change of name in dir (a filesystem's create/unlink that skips
 * the lookup, and so the usual path's checks) may run: the mount and filesystem are
 * writable, no cached dentry (a mount point) sits on the name, the caller may write and
 * search dir. Else the usual path runs and gives the errno in Linux's order.
 */
export function mayChangeQuickly(c: FsCaller, dir: Dentry, name: string): boolean {
  return !readOnly(dir) && dir.children?.has(name) !== true && mayAccess(dir.inode, c.creds, MAY_WRITE | MAY_EXEC);
}

/** Shared checks of every creating call: the name is free and the directory writable. */
function prepareCreate(c: FsCaller, p: ParentResult, quick = false): number {
  if (isDot(p.name)) return -E.EEXIST;
  const dir = p.dir.inode;
  // The create itself answers EEXIST (hostfs: one Gofer round trip, not a lookup first),
  // where the caller may create and no mount sits on the name.
  if (quick && dir.answersExisting?.() === true && mayChangeQuickly(c, p.dir, p.name)) return 0;
  const ex = p.dir.child(p.name);
  if (typeof ex !== 'number') return -E.EEXIST;
  if (ex !== -E.ENOENT) return ex;
  if (!mayAccess(p.dir.inode, c.creds, MAY_WRITE | MAY_EXEC)) return -E.EACCES;
  if (readOnly(p.dir)) return -E.EROFS;
  return 0;
}

export function mkdirAt(vfs: Vfs, c: FsCaller, dirfd: number, path: string, mode: number): number {
  const p = vfs.lookupParent(c, dirfd, path);
  if (typeof p === 'number') return p;
  const r = prepareCreate(c, p, true);
  if (r < 0) return r;
  const ino = p.dir.inode.mkdir(p.name, mode & ~c.fsCtx.umask & 0o7777, c.creds);
  if (typeof ino === 'number') return ino;
  p.dir.added(p.name, ino);
  notify.notifyChild(p.dir, p.name, null, notify.IN_CREATE | notify.IN_ISDIR);
  return 0;
}

export function mknodAt(vfs: Vfs, c: FsCaller, dirfd: number, path: string, mode: number, rdev: number): number {
  let type = mode & S_IFMT;
  if (type === 0) type = S_IFREG;
  if (type === S_IFDIR) return -E.EPERM;
  if (type !== S_IFREG && type !== S_IFIFO && type !== S_IFCHR && type !== S_IFBLK && type !== S_IFSOCK) return -E.EINVAL;
  const p = vfs.lookupParent(c, dirfd, path);
  if (typeof p === 'number') return p;
  if (p.trailingSlash) return -E.ENOENT;
  const r = prepareCreate(c, p);
  if (r < 0) return r;
  // vfs_mknod: CAP_MKNOD (of the initial namespace) after the directory's own checks.
  if ((type === S_IFCHR || type === S_IFBLK) && !capable(c.creds, CAP_MKNOD)) return -E.EPERM;
  // devcgroup_inode_mknod (a whiteout, char 0:0, is never refused).
  if ((type === S_IFCHR || type === S_IFBLK) && vfs.deviceCheck !== null && !(type === S_IFCHR && rdev === 0) &&
    !vfs.deviceCheck(c, type === S_IFBLK, devMajor(rdev), devMinor(rdev), 1)) return -E.EPERM;
  const ino = p.dir.inode.mknod(p.name, type | (mode & ~c.fsCtx.umask & 0o7777), c.creds, rdev);
  if (typeof ino === 'number') return ino;
  p.dir.added(p.name, ino);
  notify.notifyChild(p.dir, p.name, null, notify.IN_CREATE);
  return 0;
}

export function symlinkAt(vfs: Vfs, c: FsCaller, target: string, dirfd: number, path: string): number {
  if (target.length === 0) return -E.ENOENT;
  const p = vfs.lookupParent(c, dirfd, path);
  if (typeof p === 'number') return p;
  if (p.trailingSlash) return -E.ENOENT;
  const r = prepareCreate(c, p, true);
  if (r < 0) return r;
  const ino = p.dir.inode.symlink(p.name, target, c.creds);
  if (typeof ino === 'number') return ino;
  p.dir.added(p.name, ino);
  notify.notifyChild(p.dir, p.name, null, notify.IN_CREATE);
  return 0;
}

export function linkAt(vfs: Vfs, c: FsCaller, olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags: number): number {
  const src = vfs.lookupAt(c, olddirfd, oldpath, (flags & 0x400) !== 0, (flags & 0x1000) !== 0);
  if (typeof src === 'number') return src;
  if (src.inode.isDir) return -E.EPERM;
  const p = vfs.lookupParent(c, newdirfd, newpath);
  if (typeof p === 'number') return p;
  if (p.trailingSlash) return -E.ENOENT;
  // Linux's order: the new name (EEXIST), the mount (EXDEV), may_linkat (EPERM), then may_create (EACCES).
  const r = prepareCreate(c, p);
  if (r < 0 && r !== -E.EACCES) return r;
  if (p.dir.inode.fs !== src.inode.fs || p.dir.mnt !== src.mnt) return -E.EXDEV;
  if (!mayLinkSource(c.creds, src.inode)) return -E.EPERM;
  if (r < 0) return r;
  const rr = p.dir.inode.link(p.name, src.inode);
  if (rr < 0) return rr;
  p.dir.touched();
  p.dir.children?.delete(p.name);
  notify.notifyChild(p.dir, p.name, null, notify.IN_CREATE);
  notify.notifyDentry(null, src.inode, notify.IN_ATTRIB);
  return 0;
}

export function unlinkAt(vfs: Vfs, c: FsCaller, dirfd: number, path: string): number {
  const p = vfs.lookupParent(c, dirfd, path);
  if (typeof p === 'number') return p;
  if (isDot(p.name)) return p.name === '.' && p.trailingSlash ? -E.EISDIR : -E.EISDIR;
  const dir = p.dir.inode;
  if (dir.unlinkQuick !== undefined && !p.trailingSlash && (dir.mode & 0o1000) === 0 && !notify.watching() &&
      mayChangeQuickly(c, p.dir, p.name)) {
    const q = dir.unlinkQuick(p.name);
    if (q !== null) {
      if (q === 0) p.dir.removed(p.name);
      return q;
    }
  }
  const ch = p.dir.child(p.name);
  if (typeof ch === 'number') return ch;
  if (ch.inode.isDir) return -E.EISDIR;
  if (p.trailingSlash) return -E.ENOTDIR;
  const r = mayDelete(c, p.dir, ch);
  if (r < 0) return r;
  const rr = p.dir.inode.unlink(p.name);
  if (rr < 0) return rr;
  p.dir.removed(p.name);
  if (notify.watching()) {
    const st = ch.inode.stat();
    notify.notifyDelete(p.dir, p.name, ch.inode, typeof st === 'number' || st.nlink === 0);
  }
  return 0;
}

export function rmdirAt(vfs: Vfs, c: FsCaller, dirfd: number, path: string): number {
  const p = vfs.lookupParent(c, dirfd, path);
  if (typeof p === 'number') return p;
  if (p.name === '.') return -E.EINVAL;
  if (p.name === '..') return -E.ENOTEMPTY;
  const ch = p.dir.child(p.name);
  if (typeof ch === 'number') return ch;
  if (!ch.inode.isDir) return -E.ENOTDIR;
  if (ch.mounted !== null || ch === c.fsCtx.root) return -E.EBUSY;
  const r = mayDelete(c, p.dir, ch);
  if (r < 0) return r;
  const rr = p.dir.inode.rmdir(p.name);
  if (rr < 0) return rr;
  p.dir.removed(p.name);
  notify.notifyDelete(p.dir, p.name, ch.inode, true);
  return 0;
}

function mayDelete(c: FsCaller, dir: Dentry, victim: Dentry): number {
  if (!mayAccess(dir.inode, c.creds, MAY_WRITE | MAY_EXEC)) return -E.EACCES;
  if (!mayDeleteSticky(dir.inode, victim.inode, c.creds)) return -E.EPERM;
  if (victim.mounted !== null) return -E.EBUSY;
  if (readOnly(dir)) return -E.EROFS;
  return 0;
}

export function renameAt(vfs: Vfs, c: FsCaller, olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags: number): number {
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) return -E.EINVAL;
  if (flags & RENAME_EXCHANGE && flags & (RENAME_NOREPLACE | RENAME_WHITEOUT)) return -E.EINVAL;
  if (flags & RENAME_WHITEOUT) return -E.EINVAL;
  const op = vfs.lookupParent(c, olddirfd, oldpath);
  if (typeof op === 'number') return op;
  const np = vfs.lookupParent(c, newdirfd, newpath);
  if (typeof np === 'number') return np;
  if (isDot(op.name) || isDot(np.name)) return -E.EBUSY;
  const src = op.dir.child(op.name);
  if (typeof src === 'number') return src;
  const dstR = np.dir.child(np.name);
  if (typeof dstR === 'number' && dstR !== -E.ENOENT) return dstR;
  const dst = typeof dstR === 'number' ? null : dstR;
  if ((op.trailingSlash || np.trailingSlash) && !src.inode.isDir) return -E.ENOTDIR;
  if (op.dir.inode.fs !== np.dir.inode.fs || op.dir.mnt !== np.dir.mnt) return -E.EXDEV;
  if (flags & RENAME_EXCHANGE && dst === null) return -E.ENOENT;
  if (dst !== null && flags & RENAME_NOREPLACE) return -E.EEXIST;
  if (src.mounted !== null || (dst !== null && dst.mounted !== null)) return -E.EBUSY;
  if (dst === src) return 0;
  // A directory may not move into its own subtree.
  if (src.inode.isDir) {
    for (let a: Dentry | null = np.dir; a !== null; a = a.parent) if (a === src) return -E.EINVAL;
  }
  if (dst !== null && dst.inode.isDir && flags & RENAME_EXCHANGE) {
    for (let a: Dentry | null = op.dir; a !== null; a = a.parent) if (a === dst) return -E.EINVAL;
  }
  let r = mayDelete(c, op.dir, src);
  if (r < 0) return r;
  r = mayAccess(np.dir.inode, c.creds, MAY_WRITE | MAY_EXEC) ? 0 : -E.EACCES;
  if (r < 0) return r;
  if (dst !== null && !mayDeleteSticky(np.dir.inode, dst.inode, c.creds)) return -E.EPERM;
  r = op.dir.inode.rename(op.name, np.dir.inode, np.name, flags);
  if (r < 0) return r;
  // Move the cached dentries so cwd and open files keep their (new) paths.
  op.dir.touched();
  if (np.dir !== op.dir) np.dir.touched();
  op.dir.children?.delete(op.name);
  np.dir.children?.delete(np.name);
  if (dst !== null && !(flags & RENAME_EXCHANGE)) dst.deleted = true;
  src.parent = np.dir;
  src.name = np.name;
  if (np.dir.inode.fs.cacheable) (np.dir.children ??= new Map()).set(np.name, src);
  if (dst !== null && flags & RENAME_EXCHANGE) {
    dst.parent = op.dir;
    dst.name = op.name;
    if (op.dir.inode.fs.cacheable) (op.dir.children ??= new Map()).set(op.name, dst);
  }
  notify.notifyRename(op.dir, op.name, np.dir, np.name, src.inode);
  return 0;
}
