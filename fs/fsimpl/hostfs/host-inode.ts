/**
 * A file of a host tree (HostInode): its lookups, listings and attributes through the
 * tree's cache (cache.ts), its opens through shared host fds (fd-cache.ts), and on a
 * rw bind the changes of names the Sentry's VFS asks for (create, mkdir, symlink, link,
 * unlink, rename), each one Gofer request where Linux's answer allows (README.md).
 */
import * as nfs from 'fs';
import * as E from '../../../src/abi/errno';
import type { Credentials } from '../../../src/auth/credentials';
import {
  S_IFMT, S_IFDIR, S_IFREG, O_ACCMODE, O_RDONLY, O_TRUNC, O_WRONLY, O_RDWR,
  RENAME_NOREPLACE,
} from '../../../src/abi/fs';
import { Inode, type Stat, type DirEntry, type SetAttr } from '../../vfs/inode';
import { sentrySeesHostIds, statFromHost, type HostBackend, type Owner } from './host-backend';
import { DirFile, FileDescription } from '../../vfs/file';
import { stableIds, stableIno } from '../../../src/determinism/stable-ids';
import { goferNative } from '../../../src/gofer/native';
import { HostFdSlot } from './fd-cache';
import { HostFsFile } from './file';
import { setattrHost } from './setattr';
import { notifyInode, IN_Q_OVERFLOW } from '../../vfs/inotify';
import { DirCache, attrsOf, CachedName, fsStats, listAfter, now, relistLiteAfter } from './cache';

import type { HostFs } from './hostfs';

/** A name a complete, fresh listing does not have. */
const ABSENT = new CachedName('', false, 0, 0, null, null, 0, false, null);

/** --deterministic: a listing sorted by name (not the host's order), with stable inode numbers. */
function shownEntries(dev: number, es: DirEntry[]): DirEntry[] {
  if (!stableIds.active) return es;
  return es.map((e) => ({ name: e.name, ino: stableIno(dev, e.ino), type: e.type })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

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
