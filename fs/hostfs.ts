/**
 * The host filesystem layer: a host directory tree exposed read-only (the overlay's lower
 * layer) or read-write (rw bind mounts). Paths are composed here from components the VFS
 * already looked up one by one with lstat, so no guest-controlled path is ever handed to
 * the host as a whole and no symlink is followed on the host (the VFS resolves symlinks
 * inside the sandbox). The Gofer replaces these direct calls with fds it resolved under
 * RESOLVE_IN_ROOT (see fs/README.md).
 */
import * as nfs from 'fs';
import * as E from '../src/kernel/errno';
import type { Credentials } from '../src/kernel/credentials';
import {
  S_IFMT, S_IFDIR, S_IFREG, S_IFLNK, O_ACCMODE, O_RDONLY, O_TRUNC, O_NOFOLLOW, O_WRONLY, O_RDWR,
  RENAME_NOREPLACE,
} from './constants';
import { FileSystem, Inode, emptyStat, type Stat, type DirEntry, type SetAttr, nowTs } from './inode';
import { DirFile, FileDescription, SeekableFile } from './file';

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

export class HostFs extends FileSystem {
  readonly magic = 0x01021997; // V9FS_MAGIC, as gVisor's gofer mounts report
  readonly type: string;
  private readonly rootInode: HostInode;

  /** hostRoot must be an absolute, already-resolved host directory (the CLI realpaths it once). */
  constructor(
    readonly hostRoot: string,
    readonly: boolean,
    type = '9p',
  ) {
    super();
    this.readonly = readonly;
    this.type = type;
    this.source = hostRoot;
    const s = nfs.statSync(hostRoot, { bigint: true });
    this.rootInode = new HostInode(this, hostRoot, Number(s.ino), Number(s.mode), Number(s.uid), Number(s.gid));
  }
  root(): HostInode {
    return this.rootInode;
  }
  override statfsNumbers(): number[] {
    try {
      const s = nfs.statfsSync(this.hostRoot);
      return [s.bsize, s.blocks, s.bfree, s.bavail, s.files, s.ffree];
    } catch {
      return super.statfsNumbers();
    }
  }
}

export class HostInode extends Inode {
  constructor(
    readonly fs: HostFs,
    /** Host path, composed only of components looked up with lstat. */
    readonly hostPath: string,
    readonly ino: number,
    public mode: number,
    public uid: number,
    public gid: number,
  ) {
    super();
  }

  private childPath(name: string): string {
    return this.hostPath === '/' ? '/' + name : this.hostPath + '/' + name;
  }

  stat(): Stat | number {
    try {
      const s = nfs.lstatSync(this.hostPath, LSTAT_OPTS);
      if (!s) return -E.ENOENT;
      const st = statFromHost(s, this.fs.dev);
      this.mode = st.mode;
      this.uid = st.uid;
      this.gid = st.gid;
      return st;
    } catch (e) {
      return hostErr(e);
    }
  }

  override lookup(name: string): Inode | number {
    if (!this.isDir) return -E.ENOTDIR;
    const p = this.childPath(name);
    try {
      const s = nfs.lstatSync(p, LSTAT_OPTS);
      if (!s) return -E.ENOENT;
      return new HostInode(this.fs, p, Number(s.ino), Number(s.mode), Number(s.uid), Number(s.gid));
    } catch (e) {
      return hostErr(e);
    }
  }

  override readdir(): DirEntry[] | number {
    try {
      const names = nfs.readdirSync(this.hostPath);
      const out: DirEntry[] = [];
      for (const name of names) {
        const s = nfs.lstatSync(this.childPath(name), LSTAT_OPTS);
        if (!s) continue; // vanished meanwhile
        out.push({ name, ino: Number(s.ino), type: (Number(s.mode) & S_IFMT) >>> 12 });
      }
      return out;
    } catch (e) {
      return hostErr(e);
    }
  }

  override readlink(): string | number {
    if (!this.isSymlink) return -E.EINVAL;
    try {
      return nfs.readlinkSync(this.hostPath);
    } catch (e) {
      return hostErr(e);
    }
  }

  override open(flags: number): FileDescription | number {
    const t = this.mode & S_IFMT;
    if (t === S_IFDIR) return new DirFile(this, flags);
    // Host FIFOs, sockets and devices are never opened from the Sentry: opening a FIFO
    // would block the whole Sentry, and devices are served by /dev.
    if (t !== S_IFREG) return -E.ENXIO;
    const acc = flags & O_ACCMODE;
    if (acc !== O_RDONLY && this.fs.readonly) return -E.EROFS;
    let hf = acc === O_WRONLY ? nfs.constants.O_WRONLY : acc === O_RDWR ? nfs.constants.O_RDWR : nfs.constants.O_RDONLY;
    hf |= nfs.constants.O_NOFOLLOW;
    if (flags & O_TRUNC && acc !== O_RDONLY) hf |= nfs.constants.O_TRUNC;
    try {
      const fd = nfs.openSync(this.hostPath, hf);
      return new HostFsFile(this, flags, fd);
    } catch (e) {
      return hostErr(e);
    }
  }

  // ---- writes (rw bind mounts only; the overlay's lower layer is read-only) ----
  private guard(): number {
    if (this.fs.readonly) return -E.EROFS;
    if (!this.isDir) return -E.ENOTDIR;
    return 0;
  }
  private adopt(p: string): Inode | number {
    const s = nfs.lstatSync(p, LSTAT_OPTS);
    if (!s) return -E.ENOENT;
    return new HostInode(this.fs, p, Number(s.ino), Number(s.mode), Number(s.uid), Number(s.gid));
  }
  override mknod(name: string, mode: number, _creds: Credentials, _rdev: number): Inode | number {
    const g = this.guard();
    if (g) return g;
    if ((mode & S_IFMT) !== S_IFREG) return -E.EPERM; // no FIFOs/devices on the host
    const p = this.childPath(name);
    try {
      nfs.closeSync(nfs.openSync(p, nfs.constants.O_CREAT | nfs.constants.O_EXCL | nfs.constants.O_WRONLY | O_NOFOLLOW, mode & 0o7777));
      return this.adopt(p);
    } catch (e) {
      return hostErr(e);
    }
  }
  override mkdir(name: string, mode: number): Inode | number {
    const g = this.guard();
    if (g) return g;
    const p = this.childPath(name);
    try {
      nfs.mkdirSync(p, { mode: mode & 0o7777 });
      return this.adopt(p);
    } catch (e) {
      return hostErr(e);
    }
  }
  override symlink(name: string, target: string): Inode | number {
    const g = this.guard();
    if (g) return g;
    const p = this.childPath(name);
    try {
      nfs.symlinkSync(target, p);
      return this.adopt(p);
    } catch (e) {
      return hostErr(e);
    }
  }
  override link(name: string, target: Inode): number {
    const g = this.guard();
    if (g) return g;
    if (!(target instanceof HostInode) || target.fs !== this.fs) return -E.EXDEV;
    try {
      nfs.linkSync(target.hostPath, this.childPath(name));
      return 0;
    } catch (e) {
      return hostErr(e);
    }
  }
  override unlink(name: string): number {
    const g = this.guard();
    if (g) return g;
    const p = this.childPath(name);
    const s = nfs.lstatSync(p, LSTAT_OPTS);
    if (!s) return -E.ENOENT;
    if ((Number(s.mode) & S_IFMT) === S_IFDIR) return -E.EISDIR;
    try {
      nfs.unlinkSync(p);
      return 0;
    } catch (e) {
      return hostErr(e);
    }
  }
  override rmdir(name: string): number {
    const g = this.guard();
    if (g) return g;
    try {
      nfs.rmdirSync(this.childPath(name));
      return 0;
    } catch (e) {
      return hostErr(e);
    }
  }
  override rename(oldName: string, newDir: Inode, newName: string, flags: number): number {
    const g = this.guard();
    if (g) return g;
    if (!(newDir instanceof HostInode) || newDir.fs !== this.fs) return -E.EXDEV;
    const dst = newDir.childPath(newName);
    if (flags & ~RENAME_NOREPLACE) return -E.EINVAL;
    if (flags & RENAME_NOREPLACE && nfs.lstatSync(dst, LSTAT_OPTS)) return -E.EEXIST;
    try {
      nfs.renameSync(this.childPath(oldName), dst);
      return 0;
    } catch (e) {
      return hostErr(e);
    }
  }
  override setattr(a: SetAttr): number {
    if (this.fs.readonly) return -E.EROFS;
    try {
      if (a.size !== undefined) {
        if (this.isDir) return -E.EISDIR;
        nfs.truncateSync(this.hostPath, a.size);
      }
      if (a.mode !== undefined && !this.isSymlink) nfs.chmodSync(this.hostPath, a.mode & 0o7777);
      if (a.uid !== undefined || a.gid !== undefined) {
        nfs.lchownSync(this.hostPath, a.uid ?? -1, a.gid ?? -1);
      }
      if (a.atime !== undefined || a.mtime !== undefined) {
        const st = this.stat();
        if (typeof st === 'number') return st;
        const toSec = (t: typeof a.atime, s: number, ns: number): number => {
          if (t === undefined) return s + ns / 1e9;
          const v = t === 'now' ? nowTs() : t;
          return v[0] + v[1] / 1e9;
        };
        nfs.lutimesSync(this.hostPath, toSec(a.atime, st.atimeSec, st.atimeNsec), toSec(a.mtime, st.mtimeSec, st.mtimeNsec));
      }
      return 0;
    } catch (e) {
      return hostErr(e);
    }
  }
}

/** An open host regular file: the Sentry holds the host fd and uses pread/pwrite on it. */
export class HostFsFile extends SeekableFile {
  constructor(
    inode: HostInode,
    flags: number,
    readonly hostFd: number,
  ) {
    super(inode, flags);
  }
  size(): number {
    try {
      return nfs.fstatSync(this.hostFd).size;
    } catch {
      return 0;
    }
  }
  override pread(buf: Uint8Array, pos: number): number {
    if (pos < 0) return -E.EINVAL;
    try {
      return nfs.readSync(this.hostFd, buf, 0, buf.length, pos);
    } catch (e) {
      return hostErr(e);
    }
  }
  override pwrite(buf: Uint8Array, pos: number): number {
    if (pos < 0) return -E.EINVAL;
    try {
      return nfs.writeSync(this.hostFd, buf, 0, buf.length, pos);
    } catch (e) {
      return hostErr(e);
    }
  }
  override truncate(len: number): number {
    try {
      nfs.ftruncateSync(this.hostFd, len);
      return 0;
    } catch (e) {
      return hostErr(e);
    }
  }
  override fsync(): number {
    try {
      nfs.fsyncSync(this.hostFd);
      return 0;
    } catch (e) {
      return hostErr(e);
    }
  }
  protected override release(): void {
    try {
      nfs.closeSync(this.hostFd);
    } catch {
      /* already gone */
    }
  }
}
