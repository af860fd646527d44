/**
 * tmpfs: an in-memory filesystem. Also the overlay's upper layer (whiteouts and opaque
 * directories are kept as sets on the directory, never as visible entries), the backing
 * of /dev (device nodes dispatch on rdev), /dev/shm, /tmp and memfd.
 */
import * as nfs from 'fs';
import * as os from 'os';
import * as E from '../../../src/abi/errno';
import type { Credentials } from '../../../src/auth/credentials';
import {
  S_IFMT, S_IFDIR, S_IFREG, S_IFLNK, S_IFIFO, S_IFCHR, S_IFBLK, S_IFSOCK, S_ISGID,
  RENAME_NOREPLACE, RENAME_EXCHANGE, O_TRUNC, O_ACCMODE, O_RDONLY,
} from '../../../src/abi/fs';
import { FileSystem, Inode, nowTs, emptyStat, type Stat, type DirEntry, type SetAttr, type TimeSpec } from '../../vfs/inode';
import { DirFile, FileDescription } from '../../vfs/file';
import { Pipe } from '../pipefs/pipe';
import { tmpfsBudget, pageUp } from '../../vfs/space-budget';
import { parseTmpfsOptions, showTmpfsOptions } from './options';
import { hostBacked, hostBlocks, hostMemoryFile, MAX_GROWN_HOST_FILES, registerHostFd } from './host-memory';
import { TmpfsFile } from './file';
import { applyAccessAcl } from './acl';

export { MAX_GROWN_HOST_FILES } from './host-memory';
export { TmpfsFile, SEAL_SEAL, SEAL_SHRINK, SEAL_GROW, SEAL_WRITE } from './file';

export const TMPFS_MAGIC = 0x01021994;
/** tmpfs inode numbers start high so they rarely collide with host inode numbers under the overlay. */
let nextIno = 0x10000000;

/** Largest file whose bytes may live on the Sentry's heap (a Buffer's limit). */
const MAX_HEAP_FILE = 2 ** 31;
/** A file's first data buffer when its first write ends within it (a pool slice). */
const SMALL_FILE = 256;
/** Largest tmpfs file (Linux: MAX_LFS_FILESIZE; here the largest exact offset). */
const MAX_FILE = Number.MAX_SAFE_INTEGER;
/**
 * Files that grow past this move to a host memory file (as mmapped files do): their bytes
 * then live in host shared memory, not on the Sentry's heap, so the Sentry stays small
 * however much the guest writes to /tmp (bounded by the tmpfs budget).
 */
export const HOST_BACKED_MIN = 1 << 20;

export class Tmpfs extends FileSystem {
  readonly magic = TMPFS_MAGIC;
  readonly type: string;
  private readonly rootInode: TmpfsInode;
  /**
   * Opens a character-device node by rdev. Registered by fs/rootfs with the Sentry's
   * devices (fs/fsimpl/dev), which sit above tmpfs; none: ENXIO.
   */
  /** The memory the guest sees (size=N% is a share of it; half its pages: the default nr_inodes). Set by fs/rootfs. */
  static ramBytes: () => number = () => os.totalmem();
  static deviceOpener: (inode: TmpfsInode, rdev: number, flags: number) => FileDescription | number = () => -E.ENXIO;

  /**
   * size= / nr_inodes= limits in pages and inodes (Infinity: unlimited, size=0); null:
   * none of its own (the sandbox's budget alone bounds it, statfs shows that budget).
   */
  maxBlocks: number | null = null;
  maxInodes: number | null = null;
  /** Pages its files' data hold, and inodes (the root's included, as Linux counts). */
  usedBlocks = 0;
  usedInodes = 1;
  /** nr_inodes and size Linux picks when none is given (half the RAM's pages each): not shown, even when given (size=50%). */
  private defaultInodes: number | null = null;
  private defaultBlocks: number | null = null;
  /** Made by mount(2): its options are shown as Linux shows a tmpfs's. */
  private shown = false;
  private readonly rootMode: number;

  constructor(opts: { type?: string; mode?: number; source?: string; uid?: number; gid?: number } = {}) {
    super();
    this.type = opts.type ?? 'tmpfs';
    this.source = opts.source ?? this.type;
    this.rootMode = opts.mode ?? 0o1777;
    this.rootInode = new TmpfsInode(this, S_IFDIR | this.rootMode, opts.uid ?? 0, opts.gid ?? 0);
  }

  /** A tmpfs made by mount(2) with its data string (Linux's options), or -EINVAL. */
  static fromMountData(source: string, data: string | null): Tmpfs | number {
    const ramBytes = Tmpfs.ramBytes();
    const o = parseTmpfsOptions(data, ramBytes);
    if (typeof o === 'number') return o;
    const fs = new Tmpfs({ mode: o.mode ?? 0o1777, source, uid: o.uid, gid: o.gid });
    fs.shown = true;
    fs.defaultInodes = Math.floor(ramBytes / 4096 / 2);
    fs.defaultBlocks = fs.defaultInodes;
    fs.maxBlocks = o.blocks ?? null;
    fs.maxInodes = o.inodes ?? fs.defaultInodes;
    if (o.readonly === true) fs.readonly = true;
    return fs;
  }

  /** Remount with options (shmem_reconfigure): limits change, never below what is used. */
  override reconfigure(data: string | null): number {
    const o = parseTmpfsOptions(data, Tmpfs.ramBytes());
    if (typeof o === 'number') return o;
    if (o.blocks !== undefined && o.blocks !== Infinity) {
      // "Cannot retroactively limit size", "Too small size for current use".
      if (this.maxBlocks === Infinity || this.usedBlocks > o.blocks) return -E.EINVAL;
    }
    if (o.inodes !== undefined && o.inodes !== Infinity) {
      if (this.maxInodes === Infinity || this.usedInodes > o.inodes) return -E.EINVAL;
    }
    if (o.blocks !== undefined) this.maxBlocks = o.blocks;
    if (o.inodes !== undefined) this.maxInodes = o.inodes;
    return 0;
  }

  override superOptions(): string | null {
    if (!this.shown) return null;
    const inodes = this.maxInodes === this.defaultInodes ? null : this.maxInodes;
    const blocks = this.maxBlocks === this.defaultBlocks ? null : this.maxBlocks;
    return showTmpfsOptions({ blocks, inodes, mode: this.rootMode, uid: this.rootInode.uid, gid: this.rootInode.gid });
  }

  /** One more inode (a new file, a hard link); false past nr_inodes. */
  reserveInode(): boolean {
    if (this.maxInodes !== null && this.usedInodes >= this.maxInodes) return false;
    this.usedInodes++;
    return true;
  }
  freeInode(): void {
    if (this.usedInodes > 0) this.usedInodes--;
  }

  /** Bytes of data it may still take (its own size= and the sandbox's budget). */
  roomBytes(): number {
    const own = this.maxBlocks === null || this.maxBlocks === Infinity ? Infinity : (this.maxBlocks - this.usedBlocks) * 4096;
    return Math.max(0, Math.min(own, tmpfsBudget.limit - tmpfsBudget.used));
  }
  root(): TmpfsInode {
    return this.rootInode;
  }
  /**
   * Unmounted for good: its files' pages go back to the sandbox's budget (files still
   * open keep their data, uncounted, as an unlinked open file's is).
   */
  override unmounted(): void {
    const todo: TmpfsInode[] = [this.rootInode];
    while (todo.length > 0) {
      const i = todo.pop()!;
      i.releaseFrom(0);
      if (i.children !== null) for (const c of i.children.values()) todo.push(c);
    }
  }
  override statfsNumbers(): number[] {
    // Size: its size= (0: unlimited, as Linux shows it), else the sandbox's tmpfs budget
    // (4 GiB shown when unlimited) and its pages.
    let blocks: number, free: number;
    if (this.maxBlocks !== null) {
      blocks = this.maxBlocks === Infinity ? 0 : this.maxBlocks;
      free = this.maxBlocks === Infinity ? 0 : Math.max(0, blocks - this.usedBlocks);
    } else {
      const b = tmpfsBudget;
      blocks = b.limit === Infinity ? 1 << 20 : Math.floor(b.limit / 4096);
      free = Math.max(0, blocks - Math.ceil(b.used / 4096));
    }
    if (this.maxInodes === null) return [4096, blocks, free, free, 1 << 20, 1 << 20];
    if (this.maxInodes === Infinity) return [4096, blocks, free, free, 0, 0];
    return [4096, blocks, free, free, this.maxInodes, Math.max(0, this.maxInodes - this.usedInodes)];
  }
}

export class TmpfsInode extends Inode {
  readonly ino = nextIno++;
  /**
   * Overlay upper only: the inode number the overlay shows for this file, the lower
   * file's when it was copied up (so every hard link made of it later keeps it); 0: ino.
   */
  overlayIno = 0;
  nlink = 1;
  /** Bytes of the sandbox's tmpfs budget this file's data holds (whole pages). */
  private charged = 0;
  rdev = 0;
  atimeSec = 0; atimeNsec = 0; mtimeSec = 0; mtimeNsec = 0; ctimeSec = 0; ctimeNsec = 0;
  btimeSec = 0; btimeNsec = 0;
  /** Regular files: bytes [0, capacity); size may exceed data.length (a sparse tail of zeros). */
  data: Buffer | null = null;
  size = 0;
  children: Map<string, TmpfsInode> | null = null;
  /** Overlay upper only: names deleted from the lower layer. */
  whiteouts: Set<string> | null = null;
  /** Overlay upper only: the lower directory is hidden entirely. */
  opaque = false;
  target = '';
  xattrs: Map<string, Buffer> | null = null;
  /** FIFO: the pipe shared by every open of this node. */
  fifo: Pipe | null = null;
  /** memfd seals (F_ADD_SEALS). */
  seals = 0;
  /** Host memory file holding the data once the file was mapped (then `data` is null). */
  hostFd = -1;

  constructor(
    readonly fs: Tmpfs,
    public mode: number,
    public uid: number,
    public gid: number,
  ) {
    super();
    const [s, ns] = nowTs();
    this.atimeSec = this.mtimeSec = this.ctimeSec = this.btimeSec = s;
    this.atimeNsec = this.mtimeNsec = this.ctimeNsec = this.btimeNsec = ns;
    if ((mode & S_IFMT) === S_IFDIR) {
      this.children = new Map();
      this.nlink = 2;
    }
  }

  stat(): Stat {
    const st = emptyStat();
    st.dev = this.fs.dev;
    st.ino = this.ino;
    st.mode = this.mode;
    st.nlink = this.nlink;
    st.uid = this.uid;
    st.gid = this.gid;
    st.rdev = this.rdev;
    st.size = this.isDir ? 4096 : (this.mode & S_IFMT) === S_IFLNK ? this.target.length : this.size;
    st.blocks = this.data ? Math.ceil(Math.min(this.size, this.data.length) / 4096) * 8 : this.hostFd >= 0 ? hostBlocks(this.hostFd) : 0;
    st.atimeSec = this.atimeSec; st.atimeNsec = this.atimeNsec;
    st.mtimeSec = this.mtimeSec; st.mtimeNsec = this.mtimeNsec;
    st.ctimeSec = this.ctimeSec; st.ctimeNsec = this.ctimeNsec;
    st.btimeSec = this.btimeSec; st.btimeNsec = this.btimeNsec;
    return st;
  }

  touch(m: boolean, c: boolean): void {
    const [s, ns] = nowTs();
    if (m) { this.mtimeSec = s; this.mtimeNsec = ns; }
    if (c) { this.ctimeSec = s; this.ctimeNsec = ns; }
  }

  // ---- directory operations ----
  override lookup(name: string): Inode | number {
    if (this.children === null) return -E.ENOTDIR;
    return this.children.get(name) ?? -E.ENOENT;
  }
  override readdir(): DirEntry[] | number {
    if (this.children === null) return -E.ENOTDIR;
    const out: DirEntry[] = [];
    for (const [name, c] of this.children) out.push({ name, ino: c.ino, type: c.dtype });
    return out;
  }
  private newChild(name: string, mode: number, creds: Credentials): TmpfsInode | number {
    const ch = this.children;
    if (ch === null) return -E.ENOTDIR;
    if (ch.has(name)) return -E.EEXIST;
    // A setgid directory passes its group (and, for directories, the bit) down.
    let gid = creds.fsgid;
    if (this.mode & S_ISGID) {
      gid = this.gid;
      if ((mode & S_IFMT) === S_IFDIR) mode |= S_ISGID;
    }
    if (!this.fs.reserveInode()) return -E.ENOSPC;
    const n = new TmpfsInode(this.fs, mode, creds.fsuid, gid);
    ch.set(name, n);
    this.whiteouts?.delete(name);
    this.touch(true, true);
    return n;
  }
  override mknod(name: string, mode: number, creds: Credentials, rdev: number): Inode | number {
    const t = mode & S_IFMT;
    if (t !== S_IFREG && t !== S_IFIFO && t !== S_IFCHR && t !== S_IFBLK && t !== S_IFSOCK) return -E.EINVAL;
    const n = this.newChild(name, mode, creds);
    if (typeof n !== 'number') n.rdev = rdev;
    return n;
  }
  override mkdir(name: string, mode: number, creds: Credentials): Inode | number {
    const n = this.newChild(name, S_IFDIR | (mode & 0o7777), creds);
    if (typeof n !== 'number') this.nlink++;
    return n;
  }
  override symlink(name: string, target: string, creds: Credentials): Inode | number {
    const n = this.newChild(name, S_IFLNK | 0o777, creds);
    if (typeof n !== 'number') {
      n.target = target;
      n.size = target.length;
    }
    return n;
  }
  override link(name: string, target: Inode): number {
    const ch = this.children;
    if (ch === null) return -E.ENOTDIR;
    if (!(target instanceof TmpfsInode) || target.fs !== this.fs) return -E.EXDEV;
    if (ch.has(name)) return -E.EEXIST;
    // Each link takes an inode of nr_inodes (Linux since 6.1), but a first one of an O_TMPFILE.
    if (target.nlink > 0 && !this.fs.reserveInode()) return -E.ENOSPC;
    ch.set(name, target);
    this.whiteouts?.delete(name);
    target.nlink++;
    target.touch(false, true);
    this.touch(true, true);
    return 0;
  }
  override unlink(name: string): number {
    const ch = this.children;
    if (ch === null) return -E.ENOTDIR;
    const c = ch.get(name);
    if (!c) return -E.ENOENT;
    if (c.isDir) return -E.EISDIR;
    ch.delete(name);
    c.nlink--;
    this.fs.freeInode();
    if (c.nlink === 0) c.releaseFrom(0);
    c.touch(false, true);
    this.touch(true, true);
    return 0;
  }
  override rmdir(name: string): number {
    const ch = this.children;
    if (ch === null) return -E.ENOTDIR;
    const c = ch.get(name);
    if (!c) return -E.ENOENT;
    if (!c.isDir) return -E.ENOTDIR;
    if (c.children!.size > 0) return -E.ENOTEMPTY;
    ch.delete(name);
    c.nlink = 0;
    this.fs.freeInode();
    this.nlink--;
    this.touch(true, true);
    return 0;
  }
  override rename(oldName: string, newDirI: Inode, newName: string, flags: number): number {
    const ch = this.children;
    if (ch === null) return -E.ENOTDIR;
    if (!(newDirI instanceof TmpfsInode) || newDirI.fs !== this.fs) return -E.EXDEV;
    const nch = newDirI.children;
    if (nch === null) return -E.ENOTDIR;
    const src = ch.get(oldName);
    if (!src) return -E.ENOENT;
    const dst = nch.get(newName);
    if (flags & RENAME_EXCHANGE) {
      if (!dst) return -E.ENOENT;
      ch.set(oldName, dst);
      nch.set(newName, src);
      if (src.isDir !== dst.isDir && this !== newDirI) {
        const d = src.isDir ? 1 : -1;
        this.nlink -= d;
        newDirI.nlink += d;
      }
      this.touch(true, true);
      newDirI.touch(true, true);
      return 0;
    }
    if (dst) {
      if (flags & RENAME_NOREPLACE) return -E.EEXIST;
      if (dst === src) return 0;
      if (src.isDir) {
        if (!dst.isDir) return -E.ENOTDIR;
        if (dst.children!.size > 0) return -E.ENOTEMPTY;
        newDirI.nlink--;
        dst.nlink = 0;
        this.fs.freeInode();
      } else {
        if (dst.isDir) return -E.EISDIR;
        dst.nlink--;
        this.fs.freeInode();
        if (dst.nlink === 0) dst.releaseFrom(0);
        dst.touch(false, true);
      }
    }
    ch.delete(oldName);
    nch.set(newName, src);
    newDirI.whiteouts?.delete(newName);
    if (src.isDir && this !== newDirI) {
      this.nlink--;
      newDirI.nlink++;
    }
    src.touch(false, true);
    this.touch(true, true);
    newDirI.touch(true, true);
    return 0;
  }

  // ---- attributes ----
  override readlink(): string | number {
    return this.isSymlink ? this.target : -E.EINVAL;
  }
  override setattr(a: SetAttr): number {
    if (a.size !== undefined) {
      if (this.isDir) return -E.EISDIR;
      if ((this.mode & S_IFMT) !== S_IFREG) return -E.EINVAL;
      const r = this.truncate(a.size);
      if (r < 0) return r;
    }
    if (a.mode !== undefined) this.mode = (this.mode & S_IFMT) | (a.mode & 0o7777);
    if (a.uid !== undefined && a.uid !== -1) this.uid = a.uid;
    if (a.gid !== undefined && a.gid !== -1) this.gid = a.gid;
    if (a.atime !== undefined) [this.atimeSec, this.atimeNsec] = resolveTime(a.atime);
    if (a.mtime !== undefined) [this.mtimeSec, this.mtimeNsec] = resolveTime(a.mtime);
    this.touch(false, true);
    return 0;
  }
  /** Moves the data to a host memory file (for mmap); returns its fd or -errno. */
  hostBacking(): number {
    if (this.hostFd >= 0) return this.hostFd;
    const fd = hostMemoryFile();
    if (fd < 0) return fd;
    try {
      nfs.ftruncateSync(fd, this.size);
      const d = this.data;
      if (d !== null) nfs.writeSync(fd, d, 0, Math.min(d.length, this.size), 0);
    } catch (e) {
      nfs.closeSync(fd);
      return -E.ENOMEM;
    }
    this.data = null;
    this.hostFd = fd;
    registerHostFd(this, fd);
    return fd;
  }

  truncate(len: number): number {
    if (len < 0) return -E.EINVAL;
    if (len > MAX_FILE) return -E.EFBIG;
    if (this.hostFd < 0 && len > HOST_BACKED_MIN && (hostBacked.n >= MAX_GROWN_HOST_FILES || this.hostBacking() < 0) &&
        len > MAX_HEAP_FILE) return -E.EFBIG;
    if (this.hostFd >= 0) {
      try {
        nfs.ftruncateSync(this.hostFd, len);
      } catch {
        return -E.ENOSPC;
      }
    }
    if (this.data !== null && len < this.data.length) this.data.fill(0, len);
    this.releaseFrom(len);
    this.size = len;
    this.touch(true, true);
    return 0;
  }

  // ---- data ----
  readData(buf: Uint8Array, pos: number): number {
    if (pos >= this.size) return 0;
    const n = Math.min(buf.length, this.size - pos);
    if (this.hostFd >= 0) {
      try {
        return nfs.readSync(this.hostFd, buf, 0, n, pos);
      } catch {
        return -E.EIO;
      }
    }
    const d = this.data;
    const have = d === null ? 0 : Math.max(0, Math.min(n, d.length - pos));
    if (have > 0) buf.set(d!.subarray(pos, pos + have), 0);
    if (have < n) buf.fill(0, Math.max(have, 0), n);
    return n;
  }
  /** Grows this file's share of the budget to cover [0, end); false when it is spent. */
  private chargeUpTo(end: number): boolean {
    const want = pageUp(end);
    if (want <= this.charged) return true;
    const pages = (want - this.charged) / 4096;
    const fs = this.fs;
    if (fs.maxBlocks !== null && fs.usedBlocks + pages > fs.maxBlocks) return false;
    if (!tmpfsBudget.take(want - this.charged)) return false;
    fs.usedBlocks += pages;
    this.charged = want;
    return true;
  }

  /** Returns what the data beyond len held (truncate), or all of it (last link gone). */
  releaseFrom(len: number): void {
    const keep = pageUp(len);
    if (this.charged > keep) {
      tmpfsBudget.give(this.charged - keep);
      this.fs.usedBlocks -= (this.charged - keep) / 4096;
      this.charged = keep;
    }
  }

  writeData(buf: Uint8Array, pos: number): number {
    let end = pos + buf.length;
    if (end > MAX_FILE) return -E.EFBIG;
    if (this.hostFd < 0 && end > HOST_BACKED_MIN && hostBacked.n < MAX_GROWN_HOST_FILES) this.hostBacking();
    if (this.hostFd < 0 && end > MAX_HEAP_FILE) return -E.EFBIG;
    if (buf.length > 0 && !this.chargeUpTo(end)) {
      // Linux writes the pages that still fit and returns their count: short, not ENOSPC.
      const fits = Math.floor((this.charged + this.fs.roomBytes()) / 4096) * 4096;
      if (fits <= pos || !this.chargeUpTo(fits)) return -E.ENOSPC;
      buf = buf.subarray(0, fits - pos);
      end = fits;
    }
    if (this.hostFd >= 0) {
      try {
        const n = nfs.writeSync(this.hostFd, buf, 0, buf.length, pos);
        if (pos + n > this.size) this.size = pos + n;
        this.touch(true, true);
        return n;
      } catch {
        return -E.ENOSPC;
      }
    }
    let d = this.data;
    if (d === null || d.length < end) {
      // Grow geometrically so appends stay O(n) overall. A first write of a few bytes
      // gets a slice of Node's shared pool (no ArrayBuffer of its own: creating files is
      // a hot path); growing past it follows the 4 KiB sequence (st_blocks reads it).
      const small = d === null && end <= SMALL_FILE;
      const cap = small ? SMALL_FILE : Math.min(MAX_HEAP_FILE, Math.max(end, d ? d.length * 2 : 0, 4096));
      const nd = small ? Buffer.allocUnsafe(cap).fill(0) : Buffer.alloc(cap);
      if (d !== null) d.copy(nd, 0, 0, Math.min(d.length, this.size));
      this.data = d = nd;
    }
    d.set(buf, pos);
    if (end > this.size) this.size = end;
    this.touch(true, true);
    return buf.length;
  }

  override open(flags: number): FileDescription | number {
    switch (this.mode & S_IFMT) {
      case S_IFDIR:
        return new DirFile(this, flags);
      case S_IFREG:
        if (flags & O_TRUNC && (flags & O_ACCMODE) !== O_RDONLY) this.truncate(0);
        return new TmpfsFile(this, flags);
      case S_IFIFO:
        this.fifo ??= new Pipe();
        return this.fifo.openFifo(this, flags);
      case S_IFCHR:
        return Tmpfs.deviceOpener(this, this.rdev, flags);
      case S_IFBLK:
        return -E.ENXIO;
      case S_IFSOCK:
        return -E.ENXIO;
      default:
        return -E.ELOOP;
    }
  }

  override getxattr(name: string): Buffer | number {
    return this.xattrs?.get(name) ?? -E.ENODATA;
  }
  override setxattr(name: string, value: Buffer, flags: number): number {
    if (name === 'system.posix_acl_access') {
      // An access ACL sets the permission bits (tmpfs does POSIX ACLs); one that says no
      // more than the mode is not kept, as Linux's posix_acl_equiv_mode.
      const r = applyAccessAcl(this, value);
      if (r === 0) this.xattrs?.delete(name);
      if (r <= 0) return r;
    }
    const x = (this.xattrs ??= new Map());
    if (flags === 1 /* XATTR_CREATE */ && x.has(name)) return -E.EEXIST;
    if (flags === 2 /* XATTR_REPLACE */ && !x.has(name)) return -E.ENODATA;
    x.set(name, Buffer.from(value));
    this.touch(false, true);
    return 0;
  }
  override listxattr(): string[] {
    return this.xattrs ? [...this.xattrs.keys()] : [];
  }
  override removexattr(name: string): number {
    if (!this.xattrs?.delete(name)) return -E.ENODATA;
    return 0;
  }
}


export function resolveTime(t: TimeSpec): [number, number] {
  return t === 'now' ? nowTs() : [t[0], t[1]];
}
