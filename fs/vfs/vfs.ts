/**
 * The VFS: the mount namespace plus every path-based operation, independent of the
 * syscall ABI. the fs handlers in syscalls/ decode arguments and calls these; the rest of the Sentry
 * uses openExec() and rootContext().
 *
 * Every method returns a negative errno on failure and never throws.
 */
import { forgetPropagation } from './propagation';
import { capableWrt, CAP_CHOWN, CAP_FOWNER, CAP_FSETID } from '../../src/auth/capabilities';
import * as E from '../../src/abi/errno';
import type { Credentials } from '../../src/auth/credentials';
import {
  AT_FDCWD, O_ACCMODE, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_PATH, O_RDONLY, O_TRUNC, O_TMPFILE,
  O_WRONLY, O_RDWR, S_IFMT, S_IFREG, S_IFDIR, S_IFCHR, S_IFBLK, S_IFLNK,
  W_OK, R_OK, X_OK, RESOLVE_BENEATH, RESOLVE_IN_ROOT,
  devMajor, devMinor,
} from '../../src/abi/fs';
import { Dentry } from './dentry';
import { FileSystem, Inode, type Stat, type SetAttr } from './inode';
import { FileDescription, PathFile } from './file';
import { FdTable } from './fdtable';
import { FsContext } from './context';
import { walk, type ParentResult } from './path-walk';
import { MAY_EXEC, MAY_READ, MAY_WRITE, mayAccess, permitted } from './perm';
import { Mount } from './mount';
import type { GoferClient } from '../../src/gofer/client';
import * as notify from './inotify';
import { isDot, linkAt, mayChangeQuickly, mkdirAt, mknodAt, readOnly, renameAt, rmdirAt, symlinkAt, unlinkAt } from './name-ops';
import { setCurrentCaller, type FsCaller } from './caller';
import { randomBytes } from '../../src/determinism/entropy';

export type { FsCaller };
export { readOnly } from './name-ops';

/** access: BPF_DEVCG_ACC_MKNOD (1), _READ (2), _WRITE (4). */
export type DeviceCheck = (c: FsCaller, isBlock: boolean, major: number, minor: number, access: number) => boolean;

/** Makes a new instance of a filesystem type for mount(2): the source argument in, -errno out. */
/** Makes a filesystem for mount(2): its source and data string (the options; null: none). */
export type FsFactory = (source: string, data?: string | null) => FileSystem | number;

export class Vfs {
  readonly rootDentry: Dentry;
  readonly mounts: Mount[] = [];

  /** Filesystem types mount(2) may create, registered by whoever assembles the tree (fs/rootfs). */
  readonly fsTypes = new Map<string, FsFactory>();
  /**
   * The device cgroup's check at open and mknod of a device node (src/kernel/cgroup-bpf.ts
   * sets it once a program is attached): false is EPERM, as Linux's devcgroup.
   */
  deviceCheck: DeviceCheck | null = null;

  /** rootFs is the tree at "/"; gofer, when set, serves its host trees. */
  constructor(
    readonly rootFs: FileSystem,
    readonly gofer: GoferClient | null,
  ) {
    this.rootDentry = new Dentry('/', null, rootFs.root());
    const m = new Mount(rootFs, this.rootDentry, null, '/', 1, '');
    this.rootDentry.mnt = m;
    this.mounts.push(m);
  }

  /** The fs context of the first task: root and cwd at the sandbox root, umask 022. */
  rootContext(): FsContext {
    return new FsContext(this.rootDentry, this.rootDentry, 0o022);
  }

  /**
   * Mounts fs at an absolute guest path, creating the directory (in the overlay) if
   * missing. rootInode (default fs.root()) may be a non-directory: a bind of one file,
   * whose mount point is then a file (created empty if missing), as mount --bind FILE.
   */
  mountAt(path: string, fs: FileSystem, options: string, rootInode: Inode = fs.root()): number {
    const root = this.rootDentry;
    const creds = ROOT_CREDS;
    let cur = root;
    const names = path.split('/').filter((c) => c.length > 0);
    for (const [i, name] of names.entries()) {
      const last = i === names.length - 1;
      let next = cur.child(name);
      if (next === -E.ENOENT && last && !rootInode.isDir) {
        const made = cur.inode.mknod(name, 0o100644, creds, 0);
        if (typeof made === 'number') return made;
        next = cur.added(name, made);
        cur = next;
        break;
      }
      if (typeof next !== 'number' && last && !rootInode.isDir) {
        if (next.inode.isDir) return -E.ENOTDIR;
        cur = next.top();
        break;
      }
      if (next === -E.ENOENT) {
        const made = cur.inode.mkdir(name, 0o755, creds);
        if (typeof made === 'number') return made;
        next = cur.added(name, made);
      }
      if (typeof next === 'number') return next;
      if (!next.inode.isDir && next.mounted === null) return -E.ENOTDIR;
      cur = next.top();
    }
    const norm = '/' + names.join('/');
    this.attach(cur, fs, rootInode, norm, options);
    return 0;
  }

  /** Stacks a filesystem (rootInode: its root, or a bind's directory) on the uncovered dentry `at`. */
  attach(at: Dentry, fs: FileSystem, rootInode: Inode, path: string, options: string): Mount {
    const r = new Dentry(at.name, null, rootInode);
    const m = new Mount(fs, r, null, path, at.mnt?.id ?? 1, options);
    r.mnt = m;
    this.linkMount(m, at);
    this.mounts.push(m);
    return m;
  }

  /** Puts mount m (not on any dentry) on top of the uncovered dentry `at`. */
  linkMount(m: Mount, at: Dentry): void {
    m.root.mountpoint = at;
    m.mountpoint = at;
    at.mounted = m.root;
    // (Held for good, as the dentries pinned below: see Inode.holds.)
    at.inode.holds++;
    // Pin the covered dentry so later lookups find the mount even on uncached filesystems.
    if (at.parent !== null) (at.parent.children ??= new Map()).set(at.name, at);
    // And the directories above it inside an uncached filesystem, so the walk reaches it.
    for (let x = at.parent; x !== null && x.parent !== null && !x.inode.fs.cacheable && !x.onMountPath; x = x.parent) {
      x.onMountPath = true;
      x.inode.holds++;
      (x.parent.children ??= new Map()).set(x.name, x);
    }
  }

  /** Takes mount m off the dentry it covers; what was stacked on it then covers that dentry. */
  unlinkMount(m: Mount): void {
    const root = m.root;
    const at = root.mountpoint;
    if (at === null) return;
    at.mounted = root.mounted;
    if (root.mounted !== null) {
      root.mounted.mountpoint = at;
      if (root.mounted.mnt !== null) root.mounted.mnt.mountpoint = at;
    }
    root.mounted = null;
    root.mountpoint = null;
    m.mountpoint = null;
  }

  /** Removes the mount whose root dentry is `root` (umount). */
  detach(root: Dentry): number {
    const m = this.mounts.find((x) => x.root === root);
    if (m === undefined || root.mountpoint === null) return -E.EINVAL;
    this.drop(m, true);
    return 0;
  }

  /**
   * Forgets a mount: off its dentry when `unlink` (else left on a detached tree,
   * reachable only through open files), out of the table; its filesystem is told when
   * that was its last mount.
   */
  drop(m: Mount, unlink = false): void {
    if (unlink) this.unlinkMount(m);
    forgetPropagation(m);
    const i = this.mounts.indexOf(m);
    if (i >= 0) this.mounts.splice(i, 1);
    if (!this.mounts.some((x) => x.fs === m.fs)) m.fs.unmounted();
  }

  // ---------------------------------------------------------------- lookups

  /** The directory a *at() call starts from: cwd for AT_FDCWD, else the fd's dentry. */
  startDir(c: FsCaller, dirfd: number, path: string, rflags = 0): Dentry | number {
    setCurrentCaller(c);
    // RESOLVE_BENEATH/IN_ROOT judge even absolute paths against dirfd.
    if (path.length > 0 && path.charCodeAt(0) === 47 && (rflags & (RESOLVE_BENEATH | RESOLVE_IN_ROOT)) === 0) {
      return c.fsCtx.root;
    }
    if (dirfd === AT_FDCWD) return c.fsCtx.cwd;
    const f = c.fdTable.get(dirfd);
    if (f === undefined) return -E.EBADF;
    if (f.dentry === null || !f.dentry.inode.isDir) return -E.ENOTDIR;
    return f.dentry;
  }

  /** Resolves a path to a dentry. */
  lookup(c: FsCaller, dirfd: number, path: string, follow: boolean, rflags = 0): Dentry | number {
    const start = this.startDir(c, dirfd, path, rflags);
    if (typeof start === 'number') return start;
    return walk(c.fsCtx.root, c.creds, start, path, follow, false, rflags);
  }

  /** Resolves all but the last component. */
  lookupParent(c: FsCaller, dirfd: number, path: string, rflags = 0): ParentResult | number {
    const start = this.startDir(c, dirfd, path, rflags);
    if (typeof start === 'number') return start;
    return walk(c.fsCtx.root, c.creds, start, path, false, true, rflags);
  }

  /** The dentry named by dirfd itself (AT_EMPTY_PATH), or the path. */
  lookupAt(c: FsCaller, dirfd: number, path: string, follow: boolean, emptyPath: boolean): Dentry | number {
    if (path.length === 0 && emptyPath) {
      if (dirfd === AT_FDCWD) return c.fsCtx.cwd;
      const f = c.fdTable.get(dirfd);
      if (f === undefined) return -E.EBADF;
      return f.dentry ?? new Dentry(f.anonName() ?? 'anon', null, f.inode);
    }
    return this.lookup(c, dirfd, path, follow);
  }

  /** Guest-visible absolute path of a dentry for this caller (getcwd, /proc/pid/fd). */
  pathOf(root: Dentry, d: Dentry): string {
    // Unnamed files (memfd, O_TMPFILE) have orphan dentries: Linux shows "/name".
    if (d.parent === null && d.mountpoint === null && d !== this.rootDentry) return '/' + d.name;
    return d.pathFrom(root) ?? d.absolutePath();
  }

  // ---------------------------------------------------------------- open

  /** Whether the last open() made its file (read right after it by the CI watcher: one syscall at a time). */
  lastOpenCreated = false;

  open(c: FsCaller, dirfd: number, path: string, flags: number, mode: number, rflags = 0): FileDescription | number {
    if ((flags & O_TMPFILE) === O_TMPFILE) return this.openTmpfile(c, dirfd, path, flags, mode);
    if (flags & O_PATH) flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | 0o2000000 /* O_CLOEXEC */;
    const follow = (flags & O_NOFOLLOW) === 0;
    let d: Dentry;
    let created = false;
    this.lastOpenCreated = false;
    if (flags & O_CREAT && !(flags & O_PATH)) {
      if (flags & O_DIRECTORY) return -E.EINVAL;
      const p0 = this.lookupParent(c, dirfd, path, rflags);
      if (typeof p0 === 'number') return p0;
      let p: ParentResult = p0;
      if (p.trailingSlash || isDot(p.name)) return -E.EISDIR;
      // A final symlink is followed, and a dangling one creates its target (as Linux does).
      for (let links = 0; ; links++) {
        const quick = this.createIfAbsent(c, p.dir, p.name, mode);
        const ch = quick === null ? p.dir.child(p.name) : -E.ENOENT;
        if (typeof ch === 'number') {
          if (ch !== -E.ENOENT) return ch;
          if (!mayAccess(p.dir.inode, c.creds, MAY_WRITE | MAY_EXEC)) return -E.EACCES;
          if (readOnly(p.dir)) return -E.EROFS;
          const ino = quick ?? p.dir.inode.mknod(p.name, S_IFREG | (mode & ~c.fsCtx.umask & 0o7777), c.creds, 0);
          if (typeof ino === 'number') return ino;
          d = p.dir.added(p.name, ino);
          created = true;
          this.lastOpenCreated = true;
          notify.notifyChild(p.dir, p.name, null, notify.IN_CREATE);
          break;
        }
        if (flags & O_EXCL) return -E.EEXIST;
        const top = ch.top();
        if (!top.inode.isSymlink) {
          d = top;
          break;
        }
        if (!follow) return -E.ELOOP;
        if (links >= 40) return -E.ELOOP;
        const r = walk(c.fsCtx.root, c.creds, p.dir, p.name, true, false, rflags);
        if (typeof r !== 'number') {
          d = r;
          break;
        }
        if (r !== -E.ENOENT) return r;
        const target = top.inode.readlink();
        if (typeof target === 'number') return target;
        const np = walk(c.fsCtx.root, c.creds, p.dir, target, false, true, rflags);
        if (typeof np === 'number') return np;
        if (np.trailingSlash || isDot(np.name)) return -E.EISDIR;
        p = np;
      }
    } else {
      const r = this.lookup(c, dirfd, path, follow, rflags);
      if (typeof r === 'number') return r;
      d = r;
    }
    return this.openDentry(c, d, flags, created);
  }

  /**
   * The filesystem's one-step create of an absent name (Inode.createIfAbsent), where
   * the usual path would end in a create too: a directory the caller may write, no
   * mount on the name. Null: take the usual path.
   */
  private createIfAbsent(c: FsCaller, dir: Dentry, name: string, mode: number): Inode | null {
    const ino = dir.inode;
    if (ino.createIfAbsent === undefined || !mayChangeQuickly(c, dir, name)) return null;
    return ino.createIfAbsent(name, S_IFREG | (mode & ~c.fsCtx.umask & 0o7777), c.creds);
  }

  /** Opens an already-resolved dentry (also used for /proc/pid/fd reopen and exec). */
  openDentry(c: FsCaller, d: Dentry, flags: number, created = false): FileDescription | number {
    const inode = d.inode;
    if (flags & O_PATH) {
      if (flags & O_DIRECTORY && !inode.isDir) return -E.ENOTDIR;
      const f = new PathFile(inode, flags);
      f.dentry = d;
      return f;
    }
    const type = inode.mode & S_IFMT;
    if (type === S_IFLNK) return -E.ELOOP;
    if (flags & O_DIRECTORY && type !== S_IFDIR) return -E.ENOTDIR;
    // Access mode 3 is Linux's "ioctl only" open: neither read nor write, but both checked.
    const acc = flags & O_ACCMODE;
    const wantsWrite = acc === O_WRONLY || acc === O_RDWR || acc === 3 || (flags & O_TRUNC) !== 0;
    if (type === S_IFDIR && (acc !== O_RDONLY || flags & O_CREAT)) return -E.EISDIR;
    if (!created) {
      let mask = 0;
      if (acc === O_RDONLY || acc === O_RDWR || acc === 3) mask |= MAY_READ;
      if (wantsWrite) mask |= MAY_WRITE;
      if (mask !== 0 && !mayAccess(inode, c.creds, mask)) return -E.EACCES;
    }
    if (wantsWrite && (type === S_IFREG || type === S_IFDIR) && readOnly(d)) return -E.EROFS;
    // nodev: device files on this mount do not open.
    if ((type === S_IFCHR || type === S_IFBLK) && d.mnt !== null && d.mnt.nodev) return -E.EACCES;
    if ((type === S_IFCHR || type === S_IFBLK) && this.deviceCheck !== null) {
      const st = inode.stat();
      const access = (acc === O_RDONLY || acc === O_RDWR || acc === 3 ? 2 : 0) | (wantsWrite ? 4 : 0);
      if (typeof st !== 'number' && !this.deviceCheck(c, type === S_IFBLK, devMajor(st.rdev), devMinor(st.rdev), access)) return -E.EPERM;
    }
    const f = inode.open(flags);
    if (typeof f === 'number') return f;
    f.dentry = d;
    notify.notifyDentry(d, inode, notify.IN_OPEN, c, f);
    return f;
  }

  private openTmpfile(c: FsCaller, dirfd: number, path: string, flags: number, mode: number): FileDescription | number {
    const acc = flags & O_ACCMODE;
    if (acc !== O_WRONLY && acc !== O_RDWR) return -E.EINVAL;
    const d = this.lookup(c, dirfd, path, true);
    if (typeof d === 'number') return d;
    if (!d.inode.isDir) return -E.ENOTDIR;
    if (!mayAccess(d.inode, c.creds, MAY_WRITE | MAY_EXEC)) return -E.EACCES;
    // An unnamed file: create under a private name and unlink at once (tmpfs and overlay only).
    const name = `.tmpfile-${randomBytes(8).toString('hex')}`;
    const ino = d.inode.mknod(name, S_IFREG | (mode & ~c.fsCtx.umask & 0o7777), c.creds, 0);
    if (typeof ino === 'number') return ino === -E.EPERM ? -E.EOPNOTSUPP : ino;
    const f = ino.open((flags & ~(O_TMPFILE | O_CREAT)) | O_RDWR);
    d.inode.unlink(name);
    if (typeof f === 'number') return f;
    const dd = new Dentry(name, d, ino);
    dd.deleted = true;
    f.dentry = dd;
    return f;
  }

  /**
   * execve's open: a regular file the caller may execute. For execveat pass the dirfd and
   * flags (AT_EMPTY_PATH: the fd itself; AT_SYMLINK_NOFOLLOW: a final symlink is ELOOP).
   */
  openExec(c: FsCaller, path: string, dirfd = AT_FDCWD, flags = 0): { file: FileDescription; path: string; dev: number; ino: number } | number {
    if (flags & ~(0x100 | 0x1000)) return -E.EINVAL;
    const d = this.lookupAt(c, dirfd, path, (flags & 0x100) === 0, (flags & 0x1000) !== 0);
    if (typeof d === 'number') return d;
    if (d.inode.isSymlink) return -E.ELOOP;
    const inode = d.inode;
    if ((inode.mode & S_IFMT) !== S_IFREG) return -E.EACCES;
    if (!mayAccess(inode, c.creds, MAY_EXEC)) return -E.EACCES;
    if (d.mnt !== null && d.mnt.noexec) return -E.EACCES;
    const f = inode.open(O_RDONLY);
    if (typeof f === 'number') return f;
    f.dentry = d;
    // The device and inode its mappings show in /proc/PID/maps, as stat(2) gives them.
    const st = f.stat();
    const [dev, ino] = typeof st === 'number' ? [0, 0] : [st.dev, st.ino];
    return { file: f, path: this.pathOf(c.fsCtx.root, d), dev, ino };
  }

  // ---------------------------------------------------------------- metadata

  stat(c: FsCaller, dirfd: number, path: string, follow: boolean, emptyPath = false): Stat | number {
    const d = this.lookupAt(c, dirfd, path, follow, emptyPath);
    if (typeof d === 'number') return d;
    return d.inode.stat();
  }

  access(c: FsCaller, dirfd: number, path: string, mode: number, flags: number): number {
    if (mode & ~7) return -E.EINVAL;
    const d = this.lookupAt(c, dirfd, path, (flags & 0x100) === 0, (flags & 0x1000) !== 0);
    if (typeof d === 'number') return d;
    if (mode === 0) return 0;
    const i = d.inode;
    const real = (flags & 0x200 /* AT_EACCESS */) === 0;
    let mask = 0;
    if (mode & R_OK) mask |= MAY_READ;
    if (mode & W_OK) mask |= MAY_WRITE;
    if (mode & X_OK) mask |= MAY_EXEC;
    if (!permitted(i.mode, i.uid, i.gid, c.creds, mask, real)) return -E.EACCES;
    const t = i.mode & S_IFMT;
    if (mode & W_OK && readOnly(d) && (t === S_IFREG || t === S_IFDIR || t === S_IFLNK)) return -E.EROFS;
    return 0;
  }

  /** chmod/chown/truncate/utimes on a dentry, with Linux's permission rules. */
  setattr(c: FsCaller, d: Dentry | Inode, a: SetAttr, viaFile = false): number {
    const inode = d instanceof Dentry ? d.inode : d;
    const cr = c.creds;
    // Capabilities are checked only where the ids refuse, in setattr_prepare's order
    // (chown_ok, chgrp_ok, inode_owner_or_capable): one not needed is not "used" (acct's ASU).
    const isOwner = cr.fsuid === inode.uid;
    const owner = () => isOwner || capableWrt(cr, CAP_FOWNER, inode.uid, inode.gid);
    const chownCap = () => capableWrt(cr, CAP_CHOWN, inode.uid, inode.gid);
    if (a.uid !== undefined && a.uid !== -1 && !(isOwner && a.uid === inode.uid) && !chownCap()) return -E.EPERM;
    if (a.gid !== undefined && a.gid !== -1 && !(isOwner && (a.gid === inode.gid || cr.inGroup(a.gid))) && !chownCap()) return -E.EPERM;
    if (a.mode !== undefined && !owner()) return -E.EPERM;
    if (a.size !== undefined) {
      if (inode.isDir) return -E.EISDIR;
      if ((inode.mode & S_IFMT) !== S_IFREG) return -E.EINVAL;
      if (!viaFile && !mayAccess(inode, cr, MAY_WRITE)) return -E.EACCES;
    }
    if (a.atime !== undefined || a.mtime !== undefined) {
      const bothNow = (a.atime === undefined || a.atime === 'now') && (a.mtime === undefined || a.mtime === 'now');
      if (!owner() && !(bothNow && mayAccess(inode, cr, MAY_WRITE))) return bothNow ? -E.EACCES : -E.EPERM;
    }
    if (inode.fs.readonly || (d instanceof Dentry && readOnly(d))) return -E.EROFS;
    // A non-root chmod clears S_ISGID when the caller is not in the file's group.
    if (a.mode !== undefined && !cr.inGroup(inode.gid) && !capableWrt(cr, CAP_FSETID, inode.uid, inode.gid)) a.mode &= ~0o2000;
    // chown by anyone clears setuid/setgid on regular files.
    if ((a.uid !== undefined && a.uid !== -1) || (a.gid !== undefined && a.gid !== -1)) {
      if ((inode.mode & S_IFMT) === S_IFREG && a.mode === undefined && inode.mode & 0o6000) {
        a.mode = inode.mode & ~0o6000 & 0o7777;
      }
    }
    const r = inode.setattr(a);
    if (r === 0 && notify.watching()) {
      const onlySize = a.size !== undefined && a.mode === undefined && a.uid === undefined && a.gid === undefined;
      notify.notifyDentry(d instanceof Dentry ? d : null, inode, onlySize ? notify.IN_MODIFY : notify.IN_ATTRIB);
    }
    return r;
  }

  readlink(c: FsCaller, dirfd: number, path: string, emptyPath = false): string | number {
    const d = this.lookupAt(c, dirfd, path, false, emptyPath);
    if (typeof d === 'number') return d;
    if (!d.inode.isSymlink) return -E.EINVAL;
    return d.inode.readlink();
  }

  // ---------------------------------------------------------------- namespace changes (name-ops.ts)

  mkdir(c: FsCaller, dirfd: number, path: string, mode: number): number {
    return mkdirAt(this, c, dirfd, path, mode);
  }
  mknod(c: FsCaller, dirfd: number, path: string, mode: number, rdev: number): number {
    return mknodAt(this, c, dirfd, path, mode, rdev);
  }
  symlink(c: FsCaller, target: string, dirfd: number, path: string): number {
    return symlinkAt(this, c, target, dirfd, path);
  }
  link(c: FsCaller, olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags: number): number {
    return linkAt(this, c, olddirfd, oldpath, newdirfd, newpath, flags);
  }
  unlink(c: FsCaller, dirfd: number, path: string): number {
    return unlinkAt(this, c, dirfd, path);
  }
  rmdir(c: FsCaller, dirfd: number, path: string): number {
    return rmdirAt(this, c, dirfd, path);
  }
  rename(c: FsCaller, olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags: number): number {
    return renameAt(this, c, olddirfd, oldpath, newdirfd, newpath, flags);
  }

  // ---------------------------------------------------------------- process-level

  chdir(c: FsCaller, d: Dentry): number {
    if (!d.inode.isDir) return -E.ENOTDIR;
    if (!mayAccess(d.inode, c.creds, MAY_EXEC)) return -E.EACCES;
    c.fsCtx.cwd = d;
    return 0;
  }

  getcwd(c: FsCaller): string | number {
    const cwd = c.fsCtx.cwd;
    if (cwd.deleted) return -E.ENOENT;
    const p = cwd.pathFrom(c.fsCtx.root);
    return p ?? '(unreachable)' + cwd.absolutePath();
  }

  /** statfs numbers of the filesystem holding d. */
  statfs(d: Dentry): { magic: number; nums: number[]; readonly: boolean; dev: number } {
    const fs = d.inode.fs;
    return { magic: fs.magic, nums: fs.statfsNumbers(), readonly: readOnly(d), dev: fs.dev };
  }
}

const ROOT_CREDS = { uid: 0, gid: 0, euid: 0, egid: 0, fsuid: 0, fsgid: 0, groups: [] as number[], isRoot: true } as unknown as Credentials;
