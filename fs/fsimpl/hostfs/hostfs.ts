/**
 * The host filesystem layer: a host directory tree exposed read-only (the overlay's lower
 * layer) or read-write (rw bind mounts). Paths are composed here from components the VFS
 * already looked up one by one with lstat, so no guest-controlled path is ever handed to
 * the host as a whole and no symlink is followed on the host (the VFS resolves symlinks
 * inside the sandbox). The Gofer replaces these direct calls with fds it resolved under
 * RESOLVE_IN_ROOT (see fs/README.md).
 */
import * as nfs from 'fs';
import * as E from '../../../src/abi/errno';
import type { Credentials } from '../../../src/auth/credentials';
import {
  S_IFMT, S_IFDIR, S_IFREG, O_ACCMODE, O_RDONLY, O_TRUNC, O_WRONLY, O_RDWR,
  RENAME_NOREPLACE,
} from '../../../src/abi/fs';
import { FileSystem, Inode, type Stat, type DirEntry, type SetAttr, nowTs } from '../../vfs/inode';
import { hostErr, type HostBackend } from './host-backend';
import { DirFile, FileDescription, SeekableFile } from '../../vfs/file';

export { hostErr, statFromHost } from './host-backend';

export class HostFs extends FileSystem {
  readonly magic = 0x01021997; // V9FS_MAGIC, as gVisor's gofer mounts report
  readonly type: string;
  private readonly rootInode: HostInode;

  /**
   * backend.root must be an absolute, already-resolved host directory (the CLI realpaths
   * it once). Throws if it is not a directory (start-up error, not a guest error).
   */
  constructor(
    readonly backend: HostBackend,
    readonly: boolean,
    type = '9p',
  ) {
    super();
    this.readonly = readonly;
    this.hostReadonly = readonly;
    // Bind mounts are shared with the host, which may change them at any time: no
    // dentry caching (the overlay's lower layer is cached by the overlay itself).
    this.cacheable = false;
    this.type = type;
    this.source = backend.root;
    const st = backend.lstat('');
    if (typeof st === 'number') throw new Error(`cannot stat ${backend.root}: errno ${-st}`);
    if ((st.mode & S_IFMT) !== S_IFDIR) throw new Error(`${backend.root} is not a directory`);
    this.rootInode = new HostInode(this, '', st.ino, st.mode, st.uid, st.gid);
  }
  get hostRoot(): string {
    return this.backend.root;
  }
  root(): HostInode {
    return this.rootInode;
  }
  override statfsNumbers(): number[] {
    const r = this.backend.statfs();
    return typeof r === 'number' ? super.statfsNumbers() : r;
  }
}

export class HostInode extends Inode {
  /**
   * Attributes from the lookup. On a read-only tree (the overlay's lower layer) they are
   * served from here: the host tree is not expected to change under a running sandbox,
   * and with the gofer every host lstat is a round trip.
   */
  cached: Stat | null = null;

  constructor(
    readonly fs: HostFs,
    /** Path below the mount's host root ('' = root), built from looked-up components. */
    readonly rel: string,
    readonly ino: number,
    public mode: number,
    public uid: number,
    public gid: number,
  ) {
    super();
  }

  private child(name: string): string {
    return this.rel === '' ? name : this.rel + '/' + name;
  }
  private get be(): HostBackend {
    return this.fs.backend;
  }

  stat(): Stat | number {
    const c = this.cached;
    if (c !== null && this.fs.readonly) return { ...c };
    const st = this.be.lstat(this.rel);
    if (typeof st === 'number') return st;
    st.dev = this.fs.dev;
    this.mode = st.mode;
    this.uid = st.uid;
    this.gid = st.gid;
    this.cached = st;
    return { ...st };
  }

  private made(p: string, st: Stat): HostInode {
    const i = new HostInode(this.fs, p, st.ino, st.mode, st.uid, st.gid);
    st.dev = this.fs.dev;
    i.cached = st;
    return i;
  }

  override lookup(name: string): Inode | number {
    if (!this.isDir) return -E.ENOTDIR;
    const p = this.child(name);
    const st = this.be.lstat(p);
    if (typeof st === 'number') return st;
    return this.made(p, st);
  }

  override readdir(): DirEntry[] | number {
    const r = this.be.readdir(this.rel);
    if (typeof r === 'number') return r;
    return r.map((e) => ({ name: e.name, ino: e.ino, type: (e.mode & S_IFMT) >>> 12 }));
  }

  override readlink(): string | number {
    if (!this.isSymlink) return -E.EINVAL;
    return this.be.readlink(this.rel);
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
    if (flags & O_TRUNC && acc !== O_RDONLY) hf |= nfs.constants.O_TRUNC;
    const fd = this.be.open(this.rel, hf, 0);
    if (fd < 0) return fd;
    return new HostFsFile(this, flags, fd);
  }

  // ---- writes (rw bind mounts only; the overlay's lower layer is read-only) ----
  private guard(): number {
    if (this.fs.readonly) return -E.EROFS;
    if (!this.isDir) return -E.ENOTDIR;
    return 0;
  }
  private adopt(p: string): Inode | number {
    const st = this.be.lstat(p);
    if (typeof st === 'number') return st;
    return this.made(p, st);
  }
  override mknod(name: string, mode: number, _creds: Credentials, _rdev: number): Inode | number {
    const g = this.guard();
    if (g) return g;
    if ((mode & S_IFMT) !== S_IFREG) return -E.EPERM; // no FIFOs/devices on the host
    const p = this.child(name);
    const r = this.be.createExcl(p, mode & 0o7777);
    return r < 0 ? r : this.adopt(p);
  }
  override mkdir(name: string, mode: number): Inode | number {
    const g = this.guard();
    if (g) return g;
    const p = this.child(name);
    const r = this.be.mkdir(p, mode & 0o7777);
    return r < 0 ? r : this.adopt(p);
  }
  override symlink(name: string, target: string): Inode | number {
    const g = this.guard();
    if (g) return g;
    const p = this.child(name);
    const r = this.be.symlink(target, p);
    return r < 0 ? r : this.adopt(p);
  }
  override link(name: string, target: Inode): number {
    const g = this.guard();
    if (g) return g;
    if (!(target instanceof HostInode) || target.fs !== this.fs) return -E.EXDEV;
    return this.be.link(target.rel, this.child(name));
  }
  override unlink(name: string): number {
    const g = this.guard();
    if (g) return g;
    const p = this.child(name);
    const st = this.be.lstat(p);
    if (typeof st === 'number') return st;
    if ((st.mode & S_IFMT) === S_IFDIR) return -E.EISDIR;
    return this.be.unlink(p);
  }
  override rmdir(name: string): number {
    const g = this.guard();
    return g ? g : this.be.rmdir(this.child(name));
  }
  override rename(oldName: string, newDir: Inode, newName: string, flags: number): number {
    const g = this.guard();
    if (g) return g;
    if (!(newDir instanceof HostInode) || newDir.fs !== this.fs) return -E.EXDEV;
    const dst = newDir.child(newName);
    if (flags & ~RENAME_NOREPLACE) return -E.EINVAL;
    if (flags & RENAME_NOREPLACE && typeof this.be.lstat(dst) !== 'number') return -E.EEXIST;
    return this.be.rename(this.child(oldName), dst);
  }
  override setattr(a: SetAttr): number {
    if (this.fs.readonly) return -E.EROFS;
    const be = this.be;
    let r = 0;
    if (a.size !== undefined) {
      if (this.isDir) return -E.EISDIR;
      r = be.truncate(this.rel, a.size);
      if (r < 0) return r;
    }
    if (a.mode !== undefined && !this.isSymlink) {
      r = be.chmod(this.rel, a.mode & 0o7777);
      if (r < 0) return r;
    }
    if ((a.uid !== undefined && a.uid !== -1) || (a.gid !== undefined && a.gid !== -1)) {
      r = be.lchown(this.rel, a.uid ?? -1, a.gid ?? -1);
      if (r < 0) return r;
    }
    if (a.atime !== undefined || a.mtime !== undefined) {
      const st = this.stat();
      if (typeof st === 'number') return st;
      const toSec = (t: typeof a.atime, s: number, ns: number): number => {
        if (t === undefined) return s + ns / 1e9;
        const v = t === 'now' ? nowTs() : t;
        return v[0] + v[1] / 1e9;
      };
      r = be.lutimes(this.rel, toSec(a.atime, st.atimeSec, st.atimeNsec), toSec(a.mtime, st.mtimeSec, st.mtimeNsec));
    }
    return r;
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
