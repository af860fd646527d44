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
import { FileSystem, Inode, type Stat, type DirEntry, type SetAttr } from '../../vfs/inode';
import { sentrySeesHostIds, statFromHost, type HostBackend, type Owner } from './host-backend';
import { DirFile, FileDescription } from '../../vfs/file';
import { stableIds, stableIno } from '../../../src/determinism/stable-ids';
import { DirPrefetch } from './prefetch';
import { IdentityTable } from './identity';
import { GoferBackend } from './gofer-backend';
import { goferNative } from '../../../src/gofer/native';
import { HostWatch } from './host-watch';
import { HostFdSlot } from './fd-cache';
import { HostFsFile } from './file';
import { setattrHost } from './setattr';
import { notifyInode, IN_Q_OVERFLOW } from '../../vfs/inotify';
import { CachePolicy, DirCache, DirCacheLru, ListingUse, attrsOf, CachedName, fsStats, listAfter, now, relistLiteAfter, type CacheMode } from './cache';

/** A name a complete, fresh listing does not have. */
const ABSENT = new CachedName('', false, 0, 0, null, null, 0, false, null);

export { hostErr, statFromHost } from './host-backend';
export { HostFdCache, HostFdSlot, hostFdCache } from './fd-cache';
export { HostFsFile } from './file';

/** --deterministic: a listing sorted by name (not the host's order), with stable inode numbers. */
function shownEntries(dev: number, es: DirEntry[]): DirEntry[] {
  if (!stableIds.active) return es;
  return es.map((e) => ({ name: e.name, ino: stableIno(dev, e.ino), type: e.type })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export class HostFs extends FileSystem {
  readonly magic = 0x01021997; // V9FS_MAGIC, as gVisor's gofer mounts report
  readonly type: string;
  private readonly rootInode: HostInode;
  /** What may be cached, and for how long (cache.ts). */
  readonly policy: CachePolicy;
  /** Listings read ahead for a guest walking the tree (prefetch.ts). */
  readonly prefetch: DirPrefetch;
  /** Bounds the names cached in this tree's directories (cache.ts). */
  readonly dirLru = new DirCacheLru<HostInode>();
  /** Whether lookups' listings in this tree pay lately (cache.ts). */
  readonly listings = new ListingUse();
  /**
   * Host owners of files whose times the Sentry's own futimens was refused (EPERM: not
   * the owner outside, as under the launcher run by root): those go to the Gofer at
   * once, without a failing host call and its thrown error (~10 µs) each time.
   */
  readonly futimesRefused = new Set<number>();
  /** Host inotify watches of the directories guests watch (shared trees over the Gofer: host-watch.ts). */
  private hostWatch: HostWatch | null = null;

  /**
   * backend.root must be an absolute, already-resolved host directory (the CLI realpaths
   * it once). Throws if it is not a directory (start-up error, not a guest error).
   * cache: exclusive (only the sandbox changes the tree) by default for a read-only
   * tree, shared (the host may change it) for a read-write one.
   */
  constructor(
    readonly backend: HostBackend,
    readonly: boolean,
    type = '9p',
    cache: CacheMode = readonly ? 'exclusive' : 'shared',
  ) {
    super();
    this.readonly = readonly;
    this.hostReadonly = readonly;
    this.policy = new CachePolicy(cache, backend);
    this.prefetch = new DirPrefetch(backend, this.policy);
    // The VFS's dentries never cache a host tree: HostInode's own cache (cache.ts) does,
    // by this tree's policy (the overlay above the root caches its own inodes too).
    this.cacheable = false;
    this.type = type;
    this.source = backend.root;
    const st = backend.lstat('');
    if (typeof st === 'number') throw new Error(`cannot stat ${backend.root}: errno ${-st}`);
    if ((st.mode & S_IFMT) !== S_IFDIR) throw new Error(`${backend.root} is not a directory`);
    this.rootInode = this.intern('', st);
  }

  /** The interned inode of host file (dev, ino), if one is alive. */
  byKey(dev: number, ino: number): HostInode | null {
    return this.byId.get(dev, ino) ?? null;
  }
  /** Inodes in the identity table now (a debug counter: tests). */
  get live(): number {
    return this.byId.size;
  }

  /**
   * One HostInode per host file, keyed by its host (device, inode number): every lookup,
   * hard link and path of one file gives the same object, so locks, inotify watches and
   * mmap coherence (all keyed on the inode) are shared by every process. An inode nothing
   * refers to any more is dropped from it (collect).
   */
  private readonly byId = new IdentityTable<HostInode>();
  /** intern calls since the last collect, and collects so far (HostInode.seen). */
  private interns = 0;
  epoch = 0;

  /**
   * Drops the inodes nothing refers to any more, every COLLECT_EVERY interns: none held
   * (Inode.holds: an open description, a watch or mark, a process's root or cwd, a
   * mount), no host fd open or kept (its slots), no write-behind pending, no names cached
   * in the tree's bounded listing cache (a directory in dirLru), and not interned since
   * the collect before last. That last rule keeps what a path walk under way holds
   * (its dentries, never cached for a host tree, hold the inodes it went through): one
   * syscall's walk interns far fewer than COLLECT_EVERY, so it sees at most one collect,
   * and everything it interned is recent there. What the sandbox made stays a while
   * longer (MADE_KEPT collects: its unlink may then go write-behind). A file looked up
   * again after it went gets a new object: nothing was keyed on the old one.
   */
  private collect(): void {
    this.interns = 0;
    const recent = this.epoch - 1;
    const made = this.epoch - MADE_KEPT;
    const root = this.rootInode;
    this.byId.sweep((i) => i === root || i.holds > 0 || i.seen >= recent || i.inLru || i.pendingGen >= 0 ||
      i.slots.some((s) => s !== null && (s.users > 0 || s.fd >= 0)) || (i.madeHere && i.seen >= made));
    this.epoch++;
  }

  /**
   * The inode of the host file st describes (st.dev: the host's device; st becomes the
   * inode's cached attributes, shared with the cache entry it came from: never changed,
   * st.dev stays the host's and stat() shows this tree's), found at rel; at: when the
   * host said so.
   */
  intern(rel: string, st: Stat, at = now()): HostInode {
    if (++this.interns >= COLLECT_EVERY) this.collect();
    const old = this.byId.get(st.dev, st.ino);
    // Same number, other type or birth time: the host reused a freed inode number.
    if (old !== undefined && (old.mode & S_IFMT) === (st.mode & S_IFMT) &&
        (old.cached === null || old.cached.btimeSec === st.btimeSec && old.cached.btimeNsec === st.btimeNsec)) {
      old.rel = rel;
      old.seen = this.epoch;
      // Attributes older than the sandbox's last change to the file, or than what the
      // inode has, are not taken (a cache hit then allocates nothing).
      if (at > old.changedAt && at > old.cachedAt) {
        old.mode = st.mode;
        old.uid = st.uid;
        old.gid = st.gid;
        old.cached = st;
        old.cachedAt = at;
      }
      return old;
    }
    const i = new HostInode(this, rel, stableIds.active ? stableIno(this.dev, st.ino) : st.ino, st.mode, st.uid, st.gid);
    i.cached = st;
    i.cachedAt = at;
    i.hostDev = st.dev;
    i.hostIno = st.ino;
    i.seen = this.epoch;
    this.byId.set(st.dev, st.ino, i);
    return i;
  }

  override watchChanged(inode: Inode, watched: boolean): void {
    if (!(inode instanceof HostInode) || inode.fs !== this || !inode.isDir || this.policy.mode !== 'shared') return;
    const be = this.backend;
    if (!(be instanceof GoferBackend)) return; // (Direct: unit tests, no sandbox)
    if (!watched) {
      this.hostWatch?.remove(inode);
      return;
    }
    if (this.hostWatch === null) be.around = this.hostWatch = new HostWatch(be);
    this.hostWatch.add(inode);
  }

  /** f changes the host through a host fd of the Sentry's: the host's echo of it is not delivered again. */
  own<T>(f: () => T): T {
    const w = this.hostWatch;
    return w === null || !w.active ? f() : w.own(f);
  }

  /** Pins every open file (a directory moved: paths below it changed). */
  pinAll(): void {
    for (const i of this.byId.values()) {
      if (i.slots.some((sl) => sl !== null && sl.users > 0)) i.pinned = true;
    }
  }

  /** The interned inode of the host file now at rel, if one is alive (no new object made). */
  existing(rel: string): HostInode | null {
    const st = this.backend.lstat(rel);
    return typeof st === 'number' ? null : this.existingFor(st);
  }

  /** The interned inode of the host file a backend lstat described, if alive. */
  existingFor(st: Stat): HostInode | null {
    return this.byId.get(st.dev, st.ino) ?? null;
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

/** Interns between two collects of a tree's identity table (HostFs.collect). */
export const COLLECT_EVERY = 8192;
/** Collects a file the sandbox made stays through, unreferenced (its unlink may go write-behind). */
const MADE_KEPT = 16;

/** The slots of an inode no one opened (shared, never written). */
const NO_SLOTS: ReadonlyArray<null> = Object.freeze([null, null, null]);

export class HostInode extends Inode {
  /**
   * Attributes from the lookup. On a read-only tree (the overlay's lower layer) they are
   * served from here: the host tree is not expected to change under a running sandbox,
   * and with the gofer every host lstat is a round trip.
   */
  cached: Stat | null = null;
  /** When `cached` came from the host (-1: the sandbox changed the file since). */
  cachedAt = -1;
  /** When the sandbox last changed the file (facts from before then are stale). */
  changedAt = -1;
  /** A directory's cached children (cache.ts). */
  private dc: DirCache | null = null;
  /** Its names count in the tree's bounded listing cache (dirLru): kept while they are. */
  inLru = false;
  /** The tree's collect epoch when last interned (HostFs.collect). */
  seen = 0;
  /** The host's (st_dev, st_ino): this inode's key in HostFs's identity table (-1: none). */
  hostDev = -1;
  hostIno = -1;
  /** Host fds of this file, one per access mode, shared by its open descriptions (NO_SLOTS until one opens). */
  slots: ReadonlyArray<HostFdSlot | null> = NO_SLOTS;
  /**
   * Made by this sandbox (create, mkdir, symlink): its owner, mode and times may be set
   * write-behind (setattr below): no host flag (immutable, append-only) can refuse them.
   */
  madeHere = false;
  /** The write-behind generation holding a setattr of this file not yet sent (-1: none). */
  pendingGen = -1;
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
    const pol = this.fs.policy;
    if (c !== null && pol.fresh(this.cachedAt)) {
      fsStats.statHits++;
      return this.shown(c);
    }
    // Shared: a file the sandbox holds open is asked through its host fd (this very
    // file, exact, no round trip); otherwise the Gofer.
    this.settle();
    // (Not when the Sentry's fstat cannot show host owners: the launcher's namespace.)
    // A file one of whose names went through the sandbox (pinned): its path may name
    // another file now (a rename over it), its open fd is this one.
    let st: Stat | number | null = (pol.mode === 'shared' && sentrySeesHostIds) || this.pinned ? this.fstatOpen() : null;
    if (st === null) {
      fsStats.statMisses++;
      st = this.be.lstat(this.rel);
      if (typeof st === 'number') {
        // Unlinked or moved on the host while open: the open fd still knows it.
        const f = this.fstatOpen();
        if (f === null) return st;
        st = f;
      }
    }
    this.mode = st.mode;
    this.uid = st.uid;
    this.gid = st.gid;
    this.cached = st;
    this.cachedAt = now();
    return this.shown(st);
  }

  /**
   * What stat shows of the host's st (kept unchanged: a copy, on this tree's device;
   * --deterministic: the inode number shown is a stable one, src/determinism/stable-ids.ts).
   */
  private shown(hostSt: Stat): Stat {
    const st = { ...hostSt };
    st.dev = this.fs.dev;
    if (stableIds.active) st.ino = stableIno(this.fs.dev, st.ino);
    return st;
  }

  /**
   * The host reported a change (host-watch.ts): what the cache held of it is dropped,
   * and the guest's watches on this directory are told.
   */
  hostEvent(mask: number, cookie: number, name: string): void {
    const dc = this.dc;
    if (mask & IN_Q_OVERFLOW) {
      this.dc = null;
    } else if (name !== '' && dc !== null) {
      const e = dc.names.get(name);
      if (e !== undefined && e.exists) {
        const st = attrsOf(e);
        (st !== null ? this.fs.existingFor(st) : this.fs.byKey(this.hostDev, e.ino))?.changed();
      }
      dc.unknown(name);
    }
    this.changed();
    notifyInode(this, mask, cookie, name);
  }

  /** The sandbox changed this file (data, size, times, links): ask the host next time. */
  changed(): void {
    this.cachedAt = -1;
    this.changedAt = now();
    if (this.isDir) this.fs.prefetch.drop(this.rel);
  }

  private dcache(): DirCache {
    return (this.dc ??= new DirCache());
  }
  /** The tree's cache bound evicted this directory's names. */
  dropDirCache(): void {
    this.dc = null;
    this.inLru = false;
  }

  /** st: the host's attributes, kept by the inode as they are (never changed). */
  private made(p: string, st: Stat, at?: number): HostInode {
    return this.fs.intern(p, st, at);
  }

  /**
   * What the sandbox set of this file write-behind reaches the host now: before the
   * host is asked about it, or its host fd is used (a write after a deferred utimes
   * must move mtime, a read atime, as they would in that order).
   */
  settle(): void {
    if (this.pendingGen < 0) return;
    const be = this.be;
    if (be.sent !== undefined && !be.sent(this.pendingGen)) be.flush?.();
    this.pendingGen = -1;
  }

  /** fstat through one of this file's open host fds, or null when none is open. */
  private fstatOpen(): Stat | null {
    this.settle();
    for (const s of this.slots) {
      if (s === null || s.fd < 0) continue;
      try {
        const st = statFromHost(nfs.fstatSync(s.fd, { bigint: true }), 0);
        if (!sentrySeesHostIds) {
          st.uid = this.uid; // (what the Gofer last said, or the sandbox set since)
          st.gid = this.gid;
        }
        return st;
      } catch {
        /* try the next */
      }
    }
    return null;
  }

  /**
   * A name of this file went: its open fds are never evicted from now on (re-opening
   * by path could not reach it), and idle ones kept for re-use are closed.
   */
  pin(): void {
    this.pinned = true;
    this.dropWindows();
    for (const sl of this.slots) if (sl !== null && sl.users === 0) sl.evict();
  }

  /**
   * A name of this file was unlinked or it was truncated through the sandbox: the read
   * windows mapping it (native/host_file_read.cc) go, so they keep no deleted file's
   * data or blocks, nor pages past a new end.
   */
  dropWindows(): void {
    if (this.hostIno < 0 || (this.mode & S_IFMT) !== S_IFREG) return;
    goferNative()?.hostFileWindowsDrop?.(this.hostDev, this.hostIno);
  }

  /** The shared host fd slot for an access mode (O_RDONLY/O_WRONLY/O_RDWR). */
  slot(acc: number): HostFdSlot {
    // (Most inodes are only looked up and stat'ed: their slots come with the first open.)
    if (this.slots === NO_SLOTS) this.slots = [null, null, null];
    const slots = this.slots as Array<HostFdSlot | null>;
    return (slots[acc] ??= new HostFdSlot(this, acc));
  }

  override lookup(name: string): Inode | number {
    if (!this.isDir) return -E.ENOTDIR;
    const p = this.child(name);
    const pol = this.fs.policy;
    const dc = this.dcache();
    let e = dc.names.get(name);
    if (e === undefined || !pol.fresh(e.at)) {
      // Not known (or too old): a complete listing may answer, or be worth fetching.
      e = undefined;
      if (!pol.fresh(dc.listedAt) && dc.misses >= listAfter(this.cached?.size ?? 0, dc.count, this.fs.listings.eager)) {
        if (this.list() < 0) dc.misses = 0;
        else this.fs.listings.listed(dc);
      }
      if (pol.fresh(dc.listedAt)) e = dc.names.get(name) ?? ABSENT;
    } else if (e.ask && dc.lazy > 0 && e.exists) {
      // A lite listing's file (no attributes): the walk stats files after all.
      this.fs.prefetch.lazyAsked();
      if (dc.misses >= relistLiteAfter(dc.count) && this.list(true) === 0) e = dc.names.get(name) ?? ABSENT;
    }
    // A shared tree trusts what exists, never what is absent (NFS's lookupcache=positive):
    // a file the host just made is found at once; only attributes and deletions wait
    // for the bound.
    if (e !== undefined && !e.ask && (e.exists || pol.mode === 'exclusive')) {
      fsStats.lookupHits++;
      this.fs.listings.used(dc);
      const st = e.exists ? attrsOf(e) : null;
      if (st === null) return -E.ENOENT;
      if ((e.mode & S_IFMT) !== S_IFDIR) this.fs.prefetch.fileUsed();
      const node = this.made(p, st, e.at);
      if (e.target !== null) node.knowTarget(e.target, e.at);
      return node;
    }
    fsStats.lookupMisses++;
    const at = now();
    const st = this.be.lstat(p);
    // Misses a listing would have answered count towards fetching one.
    if (typeof st !== 'number' || pol.mode === 'exclusive') dc.misses++;
    if (typeof st === 'number') {
      if (st === -E.ENOENT) dc.set(name, null, at);
      return st;
    }
    dc.set(name, st, at);
    return this.made(p, st, at);
  }

  /**
   * Fetches the whole listing with attributes (readdir-plus) into the cache, or takes
   * the one read ahead for a walk: 0 or -errno.
   */
  private list(attrs = false): number {
    const pre = attrs ? null : this.fs.prefetch.take(this.rel);
    if (pre !== null) {
      this.dcache().fill(pre.ents, pre.at);
    } else {
      const at = now();
      fsStats.readdirTrips++;
      const r = this.be.readdir(this.rel);
      if (typeof r === 'number') return r;
      this.dcache().fill(r, at);
    }
    this.fs.dirLru.touch(this, this.dc!.count);
    this.inLru = this.dc !== null;
    return 0;
  }

  override readdir(): DirEntry[] | number {
    const dc = this.dcache();
    if (this.fs.policy.fresh(dc.listedAt)) {
      // Cached: so are (or were) the listings below it; no read-ahead, but a walk
      // going on below it is one (its subdirectories wait: prefetch.ts).
      fsStats.readdirHits++;
      this.fs.prefetch.readDir(this.rel, dc, true);
      return shownEntries(this.fs.dev, dc.entries());
    }
    fsStats.readdirMisses++;
    const r = this.list();
    if (r < 0) return r;
    this.fs.prefetch.readDir(this.rel, this.dc!);
    return shownEntries(this.fs.dev, this.dc!.entries());
  }

  /**
   * A symlink's target, once read (a host symlink never changes: retargeting makes a new
   * one; kept by the tree's policy all the same, in case the host reused the inode).
   */
  private target: string | null = null;
  private targetAt = -1;

  /** The target a listing carried (READDIR_WITH_TARGETS), unless one newer is known. */
  knowTarget(target: string, at: number): void {
    if (this.isSymlink && at > this.targetAt && at > this.changedAt) {
      this.target = target;
      this.targetAt = at;
    }
  }

  override readlink(): string | number {
    if (!this.isSymlink) return -E.EINVAL;
    if (this.target !== null && this.fs.policy.fresh(this.targetAt)) return this.target;
    const at = now();
    const r = this.be.readlink(this.rel);
    if (typeof r === 'string') {
      this.target = r;
      this.targetAt = at;
    }
    return r;
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
    const trunc = (flags & O_TRUNC) !== 0 && acc !== O_RDONLY;
    const r = slot.open(trunc);
    if (r < 0) return r;
    if (trunc) {
      this.changed();
      this.dropWindows();
    }
    return new HostFsFile(this, flags, slot);
  }

  /** Opens this file on the host again (an evicted fd): -ESTALE if rel now names another file. */
  reopen(acc: number, trunc: boolean): number {
    let hf = acc === O_WRONLY ? nfs.constants.O_WRONLY : acc === O_RDWR ? nfs.constants.O_RDWR : nfs.constants.O_RDONLY;
    if (trunc) hf |= nfs.constants.O_TRUNC;
    const at = now();
    const fd = this.be.open(this.rel, hf, 0);
    if (fd < 0 || this.hostIno < 0) return fd;
    const dev = this.hostDev;
    const ino = this.hostIno;
    const got = this.be.lastStat;
    if (got !== null) {
      // The Gofer sent the opened file's attributes: no fstat, and they revalidate ours.
      if (got.ino === ino && (dev === 0 || got.dev === dev)) {
        if (!trunc) {
          this.cached = got;
          this.cachedAt = at;
        }
        return fd;
      }
    } else {
      try {
        const s = nfs.fstatSync(fd, { bigint: true });
        if (Number(s.ino) === ino && (dev === 0 || Number(s.dev) === dev)) return fd;
      } catch {
        /* fall through */
      }
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
  /** A name the sandbox just made here: its attributes, into the cache. */
  private adopt(name: string): Inode | number {
    const p = this.child(name);
    this.changed(); // our mtime, and link count for a directory
    const at = now();
    // The Gofer's reply to the create carried the new node's attributes.
    const st = this.be.lastStat ?? this.be.lstat(p);
    if (typeof st === 'number') {
      this.dcache().unknown(name);
      return st;
    }
    this.dcache().set(name, st, at);
    const made = this.made(p, st, at);
    made.madeHere = true;
    return made;
  }
  /**
   * One round trip for open(O_CREAT) of a name not known here: the Gofer's create
   * answers the lookup too (EEXIST comes with the name's attributes, cached for the
   * VFS's lookup that follows). Null when the name exists or anything failed: the VFS
   * then looks up (a cache hit after EEXIST) and reports exactly as usual.
   */
  override createIfAbsent(name: string, mode: number, creds: Credentials): Inode | null {
    if (!this.isDir || this.fs.readonly || (mode & S_IFMT) !== S_IFREG) return null;
    const dc = this.dcache();
    const e = dc.names.get(name);
    // Known (a lookup would not ask): the usual path.
    if (e !== undefined && this.fs.policy.fresh(e.at) && !e.ask && (e.exists || this.fs.policy.mode === 'exclusive')) return null;
    if (this.fs.policy.fresh(dc.listedAt)) return null;
    const at = now();
    const r = this.be.createExcl(this.child(name), mode & 0o7777, this.ownerFor(creds));
    if (r === -E.EEXIST) {
      const st = this.be.lastStat;
      if (st !== null) dc.set(name, st, at);
      return null;
    }
    if (r < 0) return null;
    const made = this.created(name);
    return typeof made === 'number' ? null : made;
  }
  override mknod(name: string, mode: number, creds: Credentials, _rdev: number): Inode | number {
    const g = this.guard();
    if (g) return g;
    if ((mode & S_IFMT) !== S_IFREG) return -E.EPERM; // no FIFOs/devices on the host
    const r = this.be.createExcl(this.child(name), mode & 0o7777, this.ownerFor(creds));
    return r < 0 ? r : this.created(name);
  }
  /** A regular file createExcl just made: into the cache, with the fd that came with it. */
  private created(name: string): Inode | number {
    const fd = this.be.takeCreatedFd();
    const made = this.adopt(name);
    // The new file's fd, for the open(O_WRONLY) that usually follows a create.
    if (fd >= 0 && (!(made instanceof HostInode) || !made.slot(O_WRONLY).adopt(fd))) nfs.closeSync(fd);
    return made;
  }
  override mkdir(name: string, mode: number, creds: Credentials): Inode | number {
    const g = this.guard();
    if (g) return g;
    const p = this.child(name);
    const r = this.be.mkdir(p, mode & 0o7777, this.ownerFor(creds));
    if (r === -E.EEXIST) this.dcache().unknown(name); // (asked without a lookup: the cache may not know it)
    return r < 0 ? r : this.adopt(name);
  }
  override symlink(name: string, target: string, creds: Credentials): Inode | number {
    const g = this.guard();
    if (g) return g;
    const p = this.child(name);
    const r = this.be.symlink(target, p, this.ownerFor(creds));
    if (r === -E.EEXIST) this.dcache().unknown(name);
    return r < 0 ? r : this.adopt(name);
  }
  override link(name: string, target: Inode): number {
    const g = this.guard();
    if (g) return g;
    if (!(target instanceof HostInode) || target.fs !== this.fs) return -E.EXDEV;
    const r = this.be.link(target.rel, this.child(name));
    this.dcache().unknown(name);
    this.changed();
    target.changed();
    return r;
  }
  override unlink(name: string): number {
    const g = this.guard();
    if (g) return g;
    const p = this.child(name);
    // The victim as the cache knows it (a fresh entry), else as the host says.
    const e = this.dc?.names.get(name);
    const cached = e !== undefined && e.exists && this.fs.policy.fresh(e.at) ? attrsOf(e) : null;
    if (cached !== null && (cached.mode & S_IFMT) === S_IFDIR) return -E.EISDIR;
    const known = cached === null ? null : this.fs.existingFor(cached);
    if (known !== null && this.unlinkBehind(name, p, known)) return 0;
    // The unlink's reply names what it removed (the host says EISDIR for a directory).
    const r = this.be.unlink(p);
    const st = cached ?? this.be.lastStat;
    const victim = known ?? (st === null ? null : this.fs.existingFor(st));
    this.afterRemove(name, r);
    if (r === 0 && victim !== null) {
      victim.pin();
      victim.changed();
    }
    return r;
  }
  /**
   * Write-behind unlink (README.md): a file this sandbox made, known here under this very
   * name, goes with the next round trip (rm -rf of what a build or tar x made: one round
   * trip per batch, not per file). Its success is known as a write-behind setattr's is:
   * the VFS checked the caller's right, and the host made the file for us; should the
   * host refuse after all (it changed the tree meanwhile), what the cache held of the
   * name and the directory is dropped. The host sees the name go when the batch goes:
   * before any other request reaches the Gofer (a listing, a lookup, a create of the
   * same name), within 20 ms (fs/rootfs) and at exit: the bound write-behind setattr
   * keeps (a host process the guest tells at once may see the name for that long).
   */
  private unlinkBehind(name: string, p: string, v: HostInode): boolean {
    const be = this.be;
    if (!v.madeHere || v.isDir || v.rel !== p || be.deferUnlink === undefined || be.writesBehind?.(p) !== true) return false;
    const gen = be.deferUnlink(p, () => {
      this.dcache().unknown(name);
      this.changed();
      v.changed();
    });
    // Its open fds' fstat (nlink) waits for the host to have it (settle).
    v.pendingGen = gen;
    this.afterRemove(name, 0);
    v.pin();
    v.changed();
    return true;
  }
  /**
   * Who owns what the sandbox makes here, as Linux has it: the creator's fsuid, and its
   * fsgid unless this directory is setgid (then the host gives this directory's group).
   * Set by the Gofer in the create request itself.
   */
  private ownerFor(creds: Credentials): Owner {
    return [creds.fsuid, this.mode & 0o2000 ? -1 : creds.fsgid];
  }
  /** mkdirat/symlinkat in the Gofer say EEXIST themselves: the VFS asks no lookup first. */
  override answersExisting(): boolean {
    return true;
  }
  /** The Gofer's unlink names what it removed: no lookup first (the VFS's checks allowed it). */
  override unlinkQuick(name: string): number | null {
    return this.isDir ? this.unlink(name) : null;
  }
  override rmdir(name: string): number {
    const g = this.guard();
    if (g) return g;
    const r = this.be.rmdir(this.child(name));
    this.afterRemove(name, r);
    this.fs.prefetch.dropAll();
    return r;
  }
  private afterRemove(name: string, r: number): void {
    if (r === 0) this.dcache().absent(name, now());
    else this.dcache().unknown(name);
    this.changed();
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
    if (moved === null || moved.isDir) this.fs.prefetch.dropAll();
    this.dcache().unknown(oldName);
    newDir.dcache().unknown(newName);
    this.changed();
    newDir.changed();
    if (r < 0) return r;
    this.dcache().absent(oldName, now());
    replaced?.changed();
    moved?.changed();
    if (replaced !== null && replaced !== moved) replaced.pin();
    if (moved !== null) {
      moved.rel = dst;
      // Open files below a moved directory could not be re-opened by their old paths.
      if (moved.isDir) this.fs.pinAll();
    }
    return 0;
  }
  override setattr(a: SetAttr): number {
    if (this.fs.readonly) return -E.EROFS;
    const { r, behind } = setattrHost(this, a);
    this.changed();
    // Mode and owners decide permission checks: take them from the host now, or, when
    // they went write-behind, as the host will have them (exact: see setattr.ts).
    if (a.mode !== undefined || a.uid !== undefined || a.gid !== undefined) {
      if (!behind) this.stat();
      else {
        if (a.mode !== undefined && !this.isSymlink) this.mode = (this.mode & S_IFMT) | (a.mode & 0o7777);
        if (a.uid !== undefined && a.uid !== -1) this.uid = a.uid;
        if (a.gid !== undefined && a.gid !== -1) this.gid = a.gid;
      }
    }
    return r;
  }
}
