/**
 * The host filesystem layer: a host directory tree exposed read-only (the overlay's lower
 * layer) or read-write (rw bind mounts). Paths are composed here from components the VFS
 * already looked up one by one with lstat, so no guest-controlled path is ever handed to
 * the host as a whole and no symlink is followed on the host (the VFS resolves symlinks
 * inside the sandbox). The Gofer replaces these direct calls with fds it resolved under
 * RESOLVE_IN_ROOT (see fs/README.md).
 */
import { S_IFMT, S_IFDIR } from '../../../src/abi/fs';
import { FileSystem, Inode, type Stat } from '../../vfs/inode';
import type { HostBackend } from './host-backend';
import { stableIds, stableIno } from '../../../src/determinism/stable-ids';
import { DirPrefetch } from './prefetch';
import { IdentityTable } from './identity';
import { GoferBackend } from './gofer-backend';
import { HostWatch } from './host-watch';
import { CachePolicy, DirCacheLru, ListingUse, now, type CacheMode } from './cache';
import { HostInode } from './host-inode';

export { hostErr, statFromHost } from './host-backend';
export { HostFdCache, HostFdSlot, hostFdCache } from './fd-cache';
export { HostFsFile } from './file';
export { HostInode } from './host-inode';

/** Interns between two collects of a tree's identity table (HostFs.collect). */
export const COLLECT_EVERY = 8192;
/** Collects a file the sandbox made stays through, unreferenced (its unlink may go write-behind). */
const MADE_KEPT = 16;

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

