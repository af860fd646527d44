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
import { hostErr, statFromHost, type HostBackend } from './host-backend';
import { DirFile, FileDescription, SeekableFile } from '../../vfs/file';
import { stableIds, stableIno } from '../../../src/determinism/stable-ids';

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
    this.rootInode = this.intern('', st);
  }

  /**
   * One HostInode per host file, keyed by its host (device, inode number): every lookup,
   * hard link and path of one file gives the same object, so locks, inotify watches and
   * mmap coherence (all keyed on the inode) are shared by every process. Weak: an inode
   * nobody holds is collected and its entry dropped.
   */
  private readonly byId = new Map<string, WeakRef<HostInode>>();
  /** byId's size after the last sweep of collected entries (swept when it doubles). */
  private swept = 1024;

  /** The inode of the host file st describes (st.dev: the host's device), found at rel. */
  intern(rel: string, st: Stat): HostInode {
    const k = `${st.dev}:${st.ino}`;
    st.dev = this.dev;
    const old = this.byId.get(k)?.deref();
    // Same number, other type or birth time: the host reused a freed inode number.
    if (old !== undefined && (old.mode & S_IFMT) === (st.mode & S_IFMT) &&
        (old.cached === null || old.cached.btimeSec === st.btimeSec && old.cached.btimeNsec === st.btimeNsec)) {
      old.rel = rel;
      old.mode = st.mode;
      old.uid = st.uid;
      old.gid = st.gid;
      old.cached = st;
      return old;
    }
    const i = new HostInode(this, rel, stableIds.active ? stableIno(this.dev, st.ino) : st.ino, st.mode, st.uid, st.gid);
    i.cached = st;
    i.idKey = k;
    this.byId.set(k, new WeakRef(i));
    if (this.byId.size > 2 * this.swept) {
      // Amortised O(1): cheaper than a FinalizationRegistry entry per inode.
      for (const [key, w] of this.byId) if (w.deref() === undefined) this.byId.delete(key);
      this.swept = Math.max(1024, this.byId.size);
    }
    return i;
  }

  /** Pins every open file (a directory moved: paths below it changed). */
  pinAll(): void {
    for (const w of this.byId.values()) {
      const i = w.deref();
      if (i !== undefined && i.slots.some((sl) => sl !== null && sl.users > 0)) i.pinned = true;
    }
  }

  /** The interned inode of the host file now at rel, if one is alive (no new object made). */
  existing(rel: string): HostInode | null {
    const st = this.backend.lstat(rel);
    return typeof st === 'number' ? null : this.existingFor(st);
  }

  /** The interned inode of the host file a backend lstat described, if alive. */
  existingFor(st: Stat): HostInode | null {
    return this.byId.get(`${st.dev}:${st.ino}`)?.deref() ?? null;
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
  /** `hostdev:ino`, this inode's key in HostFs's identity table. */
  idKey = '';
  /** Host fds of this file, one per access mode, shared by its open descriptions. */
  readonly slots: Array<HostFdSlot | null> = [null, null, null];
  /**
   * Set once a name of this file was unlinked or replaced through the sandbox: its
   * fds are never evicted, since re-opening by path could no longer reach it.
   */
  pinned = false;

  constructor(
    readonly fs: HostFs,
    /**
     * Path below the mount's host root ('' = root), built from looked-up components:
     * the name this file was last found or moved under.
     */
    public rel: string,
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
    if (c !== null && this.fs.readonly) return this.shown({ ...c });
    let st = this.be.lstat(this.rel);
    if (typeof st === 'number') {
      // Unlinked or moved on the host while open: the open fd still knows it.
      const f = this.fstatOpen();
      if (f === null) return st;
      st = f;
    }
    st.dev = this.fs.dev;
    this.mode = st.mode;
    this.uid = st.uid;
    this.gid = st.gid;
    this.cached = st;
    return this.shown({ ...st });
  }

  /** --deterministic: the inode number shown is a stable one (src/determinism/stable-ids.ts). */
  private shown(st: Stat): Stat {
    if (stableIds.active) st.ino = stableIno(this.fs.dev, st.ino);
    return st;
  }

  private made(p: string, st: Stat): HostInode {
    return this.fs.intern(p, st);
  }

  /** fstat through one of this file's open host fds, or null when none is open. */
  private fstatOpen(): Stat | null {
    for (const s of this.slots) {
      if (s === null || s.fd < 0) continue;
      try {
        return statFromHost(nfs.fstatSync(s.fd, { bigint: true }), 0);
      } catch {
        /* try the next */
      }
    }
    return null;
  }

  /** The shared host fd slot for an access mode (O_RDONLY/O_WRONLY/O_RDWR). */
  slot(acc: number): HostFdSlot {
    return (this.slots[acc] ??= new HostFdSlot(this, acc));
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
    if (!stableIds.active) return r.map((e) => ({ name: e.name, ino: e.ino, type: (e.mode & S_IFMT) >>> 12 }));
    // --deterministic: sorted by name (not the host's order), stable inode numbers.
    const dev = this.fs.dev;
    return r.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((e) => ({ name: e.name, ino: stableIno(dev, e.ino), type: (e.mode & S_IFMT) >>> 12 }));
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
    const slot = this.slot(acc === O_WRONLY || acc === O_RDWR ? acc : O_RDONLY);
    const r = slot.open((flags & O_TRUNC) !== 0 && acc !== O_RDONLY);
    if (r < 0) return r;
    return new HostFsFile(this, flags, slot);
  }

  /** Opens this file on the host again (an evicted fd): -ESTALE if rel now names another file. */
  reopen(acc: number, trunc: boolean): number {
    let hf = acc === O_WRONLY ? nfs.constants.O_WRONLY : acc === O_RDWR ? nfs.constants.O_RDWR : nfs.constants.O_RDONLY;
    if (trunc) hf |= nfs.constants.O_TRUNC;
    const fd = this.be.open(this.rel, hf, 0);
    if (fd < 0 || this.idKey === '') return fd;
    try {
      const s = nfs.fstatSync(fd, { bigint: true });
      const [dev, ino] = this.idKey.split(':');
      if (`${s.ino}` === ino && (dev === '0' || `${s.dev}` === dev)) return fd;
    } catch {
      /* fall through */
    }
    nfs.closeSync(fd);
    return -E.ESTALE;
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
    const victim = this.fs.existingFor(st);
    const r = this.be.unlink(p);
    if (r === 0 && victim !== null) victim.pinned = true;
    return r;
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
    const src = this.child(oldName);
    const moved = this.fs.existing(src);
    const replaced = this.fs.existing(dst);
    const r = this.be.rename(src, dst);
    if (r < 0) return r;
    if (replaced !== null && replaced !== moved) replaced.pinned = true;
    if (moved !== null) {
      moved.rel = dst;
      // Open files below a moved directory could not be re-opened by their old paths.
      if (moved.isDir) this.fs.pinAll();
    }
    return 0;
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

/**
 * The host fds of host files, bounded (as gVisor's gofer keeps a bounded set): guest fds
 * do not cost host fds one for one. Every open description of one file and access mode
 * shares one host fd (HostFdSlot); past `capacity` open fds the least recently used is
 * closed and re-opened through the backend (the Gofer) by path when next used, checked
 * to still be the same (dev, ino). Files whose name was unlinked or replaced through the
 * sandbox are pinned (never evicted). The cache's order is a Map's insertion order.
 */
export class HostFdCache {
  private readonly lru = new Map<HostFdSlot, true>();
  /** The most recently used slot (already last in the order: touching it again is free). */
  private last: HostFdSlot | null = null;
  constructor(public capacity: number) {}
  get size(): number {
    return this.lru.size;
  }
  touch(s: HostFdSlot): void {
    if (s === this.last) return;
    this.lru.delete(s);
    this.lru.set(s, true);
    this.last = s;
  }
  add(s: HostFdSlot): void {
    this.lru.set(s, true);
    this.last = s;
    if (this.lru.size <= this.capacity) return;
    for (const v of this.lru.keys()) {
      if (this.lru.size <= this.capacity) break;
      if (v === s || v.inode.pinned) continue;
      v.evict();
    }
  }
  remove(s: HostFdSlot): void {
    this.lru.delete(s);
    if (this.last === s) this.last = null;
  }
}

/** Soft RLIMIT_NOFILE of the Sentry (Node raises it to the hard limit at start-up). */
function sentryNofile(): number {
  try {
    const m = /Max open files\s+(\d+)/.exec(nfs.readFileSync('/proc/self/limits', 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    /* no /proc */
  }
  return 1024;
}

/** A quarter of the Sentry's fd limit (the rest: pipes, sockets, memfds, stubs), 64..4096. */
export const hostFdCache = new HostFdCache(Math.max(64, Math.min(4096, Math.floor(sentryNofile() / 4))));

/** One host fd of a host file for one access mode, shared by its open descriptions. */
export class HostFdSlot {
  fd = -1;
  /** Open descriptions using it. */
  users = 0;
  constructor(readonly inode: HostInode, readonly acc: number) {}

  /** A new description: opens (or truncates through) the host fd. */
  open(trunc: boolean): number {
    if (this.fd < 0) {
      const fd = this.inode.reopen(this.acc, trunc);
      if (fd < 0) return fd;
      this.fd = fd;
      hostFdCache.add(this);
    } else if (trunc) {
      try {
        nfs.ftruncateSync(this.fd, 0);
      } catch (e) {
        return hostErr(e);
      }
    }
    this.users++;
    return 0;
  }

  /** The fd (re-opened if it was evicted) or -errno. */
  get(): number {
    if (this.fd >= 0) {
      hostFdCache.touch(this);
      return this.fd;
    }
    const fd = this.inode.reopen(this.acc, false);
    if (fd < 0) return fd;
    this.fd = fd;
    hostFdCache.add(this);
    return fd;
  }

  evict(): void {
    hostFdCache.remove(this);
    const fd = this.fd;
    this.fd = -1;
    if (fd >= 0) {
      try {
        nfs.closeSync(fd);
      } catch {
        /* gone */
      }
    }
  }

  /** A description closed: the last one closes the host fd. */
  put(): void {
    if (--this.users === 0) this.evict();
  }
}

/**
 * An open host regular file: pread/pwrite on the host fd of its HostFdSlot (shared with
 * the file's other descriptions of the same access mode; re-opened if evicted).
 */
export class HostFsFile extends SeekableFile {
  constructor(
    inode: HostInode,
    flags: number,
    readonly slot: HostFdSlot,
  ) {
    super(inode, flags);
  }
  /** The host fd (for direct reads and mmap), or -errno if it cannot be re-opened. */
  get hostFd(): number {
    return this.slot.get();
  }
  size(): number {
    const fd = this.slot.get();
    if (fd < 0) return 0;
    try {
      return nfs.fstatSync(fd).size;
    } catch {
      return 0;
    }
  }
  override pread(buf: Uint8Array, pos: number): number {
    if (pos < 0) return -E.EINVAL;
    const fd = this.slot.get();
    if (fd < 0) return fd;
    try {
      return nfs.readSync(fd, buf, 0, buf.length, pos);
    } catch (e) {
      return hostErr(e);
    }
  }
  override pwrite(buf: Uint8Array, pos: number): number {
    if (pos < 0) return -E.EINVAL;
    const fd = this.slot.get();
    if (fd < 0) return fd;
    try {
      return nfs.writeSync(fd, buf, 0, buf.length, pos);
    } catch (e) {
      return hostErr(e);
    }
  }
  override truncate(len: number): number {
    const fd = this.slot.get();
    if (fd < 0) return fd;
    try {
      nfs.ftruncateSync(fd, len);
      return 0;
    } catch (e) {
      return hostErr(e);
    }
  }
  override fsync(): number {
    const fd = this.slot.get();
    if (fd < 0) return fd;
    try {
      nfs.fsyncSync(fd);
      return 0;
    } catch (e) {
      return hostErr(e);
    }
  }
  protected override release(): void {
    this.slot.put();
  }
}
