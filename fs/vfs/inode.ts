/**
 * The filesystem-independent inode interface. Each filesystem (tmpfs, host, overlay,
 * proc, dev, pipe...) subclasses Inode and overrides what it supports; the defaults
 * return the errno Linux gives for an object that lacks the operation.
 * Every method returns a negative errno on failure and never throws.
 */
import * as E from '../../src/abi/errno';
import type { Credentials } from '../../src/auth/credentials';
import { S_IFMT, S_IFDIR, S_IFLNK, dtype, makedev } from '../../src/abi/fs';
import type { FileDescription } from './file';
import { virtualClock, virtualWallTs } from '../../src/determinism/virtual-clock';

export interface Stat {
  dev: number;
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  size: number;
  blksize: number;
  blocks: number;
  atimeSec: number;
  atimeNsec: number;
  mtimeSec: number;
  mtimeNsec: number;
  ctimeSec: number;
  ctimeNsec: number;
  btimeSec: number;
  btimeNsec: number;
}

export interface DirEntry {
  name: string;
  ino: number;
  /** DT_* value. */
  type: number;
}

/** A timestamp to set: [sec, nsec], or 'now'. */
export type TimeSpec = readonly [number, number] | 'now';

export interface SetAttr {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  atime?: TimeSpec;
  mtime?: TimeSpec;
}

/** Current wall time as [sec, nsec] (sub-millisecond part from the monotonic clock). */
export function nowTs(): [number, number] {
  if (virtualClock.active) return virtualWallTs();
  const ms = performance.timeOrigin + performance.now();
  const sec = Math.floor(ms / 1000);
  return [sec, Math.floor((ms - sec * 1000) * 1e6) % 1e9];
}

let nextAnonDev = 0x20;
/** An anonymous device number (major 0), one per filesystem instance, like Linux's get_anon_bdev. */
export function allocAnonDev(): number {
  return makedev(0, nextAnonDev++);
}

/** One mounted filesystem instance. */
export abstract class FileSystem {
  readonly dev = allocAnonDev();
  /**
   * inotify (inotify.ts): the first guest watch on inode was added (true) or its last
   * removed (false). A filesystem the host may change under the sandbox (hostfs, a
   * shared bind) watches the host too. Optional.
   */
  watchChanged?(inode: Inode, watched: boolean): void;
  /** statfs f_type magic. */
  abstract readonly magic: number;
  /** Name in /proc/mounts ("tmpfs", "proc", "overlay"...). */
  abstract readonly type: string;
  /** True: every write returns EROFS. */
  readonly = false;
  /** True for a host tree given read-only: no remount makes it writable. */
  hostReadonly = false;
  /** True when lookups may be cached in dentries (false for synthesized trees like /proc). */
  cacheable = true;
  /** Source column of /proc/mounts. */
  source = 'none';
  abstract root(): Inode;
  /** Its last mount is gone (umount, a dead mount namespace): a tmpfs gives its pages back. */
  unmounted(): void {}
  /** mount(2) with MS_REMOUNT and a data string: the filesystem's own options (tmpfs: size=). */
  reconfigure(_data: string | null): number {
    return 0;
  }
  /** Its options as /proc/PID/mountinfo shows them after "-" (null: the mount's own string). */
  superOptions(): string | null {
    return null;
  }
  /** statfs numbers: [bsize, blocks, bfree, bavail, files, ffree]. */
  statfsNumbers(): number[] {
    return [4096, 0, 0, 0, 0, 0];
  }
}

const ENOTDIR = -E.ENOTDIR;

export abstract class Inode {
  /**
   * Bumped at each change of a directory's names through the VFS: dentries of it made
   * through another mount (a bind) see their cached children are stale (dentry.ts).
   */
  dirGen = 0;
  /**
   * What refers to this inode beyond a path walk under way: open descriptions (file.ts),
   * inotify watches and fanotify marks, a process's root or cwd (context.ts), mounts and
   * the dentries pinned on the way to them (vfs.ts, mount.ts). A filesystem whose inodes
   * are not kept in dentries (a host tree) collects an inode nobody holds, and keeps one
   * object per file while anything does (hostfs identity). Never decremented below what
   * was added; a holder that goes without saying so (a process's context at its exit)
   * keeps its inode alive, the safe side.
   */
  holds = 0;
  abstract readonly fs: FileSystem;
  abstract readonly ino: number;
  /** File type and permission bits. Cheap (no host call). */
  abstract get mode(): number;
  abstract get uid(): number;
  abstract get gid(): number;
  abstract stat(): Stat | number;

  /** Asked only when the mode bits refuse: access the inode grants anyway (proc_fd_permission: a process to its own fd directories). */
  grantsAccess(): boolean {
    return false;
  }

  get isDir(): boolean {
    return (this.mode & S_IFMT) === S_IFDIR;
  }
  get isSymlink(): boolean {
    return (this.mode & S_IFMT) === S_IFLNK;
  }
  get dtype(): number {
    return dtype(this.mode);
  }

  // ---- directories ----
  lookup(_name: string): Inode | number {
    return ENOTDIR;
  }
  /** Entries other than "." and "..". */
  readdir(): DirEntry[] | number {
    return ENOTDIR;
  }
  /** Creates a non-directory, non-symlink node (regular, fifo, socket, device). */
  mknod(_name: string, _mode: number, _creds: Credentials, _rdev: number): Inode | number {
    return this.isDir ? -E.EPERM : ENOTDIR;
  }
  /**
   * open(O_CREAT) of a name the caller may create: makes the regular file if the name
   * is absent, in one step with the lookup (hostfs: one Gofer round trip, not a
   * negative lookup then a create). The new inode, or null: not made (it exists, or
   * anything else), and the VFS then looks up and creates as usual. Optional.
   */
  createIfAbsent?(name: string, mode: number, creds: Credentials): Inode | null;
  /**
   * unlink of a name the VFS need not look at first (the caller may write the
   * directory, it is not sticky, no mount on the name, nobody watches): removes it in
   * one step (hostfs: one Gofer round trip, not a lookup then an unlink; a directory
   * is EISDIR). 0 or -errno; null: take the usual path. Optional.
   */
  unlinkQuick?(name: string): number | null;
  /**
   * mkdir and symlink here answer EEXIST themselves, exactly (hostfs: the host's own
   * mkdirat/symlinkat): the VFS need not look the name up first where it may create.
   * Optional.
   */
  answersExisting?(): boolean;
  mkdir(_name: string, _mode: number, _creds: Credentials): Inode | number {
    return this.isDir ? -E.EPERM : ENOTDIR;
  }
  symlink(_name: string, _target: string, _creds: Credentials): Inode | number {
    return this.isDir ? -E.EPERM : ENOTDIR;
  }
  link(_name: string, _target: Inode): number {
    return this.isDir ? -E.EPERM : ENOTDIR;
  }
  unlink(_name: string): number {
    return this.isDir ? -E.EPERM : ENOTDIR;
  }
  rmdir(_name: string): number {
    return this.isDir ? -E.EPERM : ENOTDIR;
  }
  /** Renames oldName in this dir to newName in newDir (same filesystem). flags: RENAME_*. */
  rename(_oldName: string, _newDir: Inode, _newName: string, _flags: number): number {
    return -E.EPERM;
  }

  // ---- everything ----
  readlink(): string | number {
    return -E.EINVAL;
  }
  setattr(_a: SetAttr): number {
    return -E.EPERM;
  }
  /** Opens a description; flags are the open(2) flags (O_CREAT etc. already handled by the VFS). */
  open(_flags: number): FileDescription | number {
    return -E.ENXIO;
  }
  getxattr(_name: string): Buffer | number {
    return -E.EOPNOTSUPP;
  }
  setxattr(_name: string, _value: Buffer, _flags: number): number {
    return -E.EOPNOTSUPP;
  }
  listxattr(): string[] | number {
    return [];
  }
  removexattr(_name: string): number {
    return -E.EOPNOTSUPP;
  }
}

/** A Stat with every field zero; filesystems fill what they know. */
export function emptyStat(): Stat {
  return {
    dev: 0, ino: 0, mode: 0, nlink: 1, uid: 0, gid: 0, rdev: 0, size: 0, blksize: 4096, blocks: 0,
    atimeSec: 0, atimeNsec: 0, mtimeSec: 0, mtimeNsec: 0, ctimeSec: 0, ctimeNsec: 0, btimeSec: 0, btimeNsec: 0,
  };
}
