/**
 * The dentry and attribute cache of a host tree, and its policy (gVisor's cache modes):
 *
 * - exclusive: nothing but the sandbox changes the tree (the read-only host root). What
 *   a lookup, a listing or a stat brought back stays true until the sandbox changes it
 *   itself, and those changes update or drop the entries they touch.
 * - shared: the host may change the tree too (binds, the default for --mount). A fact is
 *   trusted for SHARED_BOUND_MS after the Gofer gave it, then asked again; stat of a
 *   file the sandbox has open asks its host fd (no round trip, never stale).
 *
 * Every fact carries the time it came from the host (`at`, ms of performance.now());
 * -1 marks one the sandbox's own change made unknown.
 */
import { writeSync } from 'fs';
import { S_IFMT } from '../../../src/abi/fs';
import { goferCalls } from '../../../src/gofer/client';
import { goferNative } from '../../../src/gofer/native';
import { FIELDS } from '../../../src/gofer/protocol';
import { emptyStat, type DirEntry, type Stat } from '../../vfs/inode';
import type { PartialListing } from './host-backend';
import { identityStats } from './identity';

export type CacheMode = 'exclusive' | 'shared';

/** How long a shared tree's lookups, listings and attributes are trusted (ms). */
export const SHARED_BOUND_MS = 100;

export const now = (): number => performance.now();

export class CachePolicy {
  constructor(
    readonly mode: CacheMode,
    /** The backend: once it is dead (the Gofer died) nothing cached is served either. */
    private readonly source: { readonly dead: boolean },
    readonly boundMs = SHARED_BOUND_MS,
  ) {}
  fresh(at: number): boolean {
    return at >= 0 && (this.mode === 'exclusive' || now() - at <= this.boundMs) && !this.source.dead;
  }
}

/**
 * A name in a directory as the host last told it. A class (one shape) that is also the
 * backend's parsed listing entry (HostDirent) and the getdents entry (DirEntry): a
 * listing read from the Gofer becomes the cache as parsed, and a directory read hands
 * the same objects out, so a walk of /usr (138 000 names) makes one object a name, not
 * three (the cache's survive every young-generation GC: fewer made, less copied).
 * Never changed once listed but for attrsOf's parse (a getdents snapshot may hold it).
 * It holds no inode: the tree's identity table keeps those (hostfs collect).
 */
export class CachedName {
  constructor(
    readonly name: string,
    /** False: the host said it is absent. */
    readonly exists: boolean,
    /** Small integers (Smis) where they fit: a double field would box every entry's. */
    readonly ino: number,
    readonly mode: number,
    /** Host attributes (st.dev is the host's), once parsed (attrsOf), else null. */
    public st: Stat | null,
    /** Unparsed attributes (a readdir-plus page), or null. */
    public raw: Buffer | null,
    public rawOff: number,
    /** A lite listing's file (type and inode number only: prefetch.ts). */
    readonly lazy: boolean,
    /** A symlink's target, when the listing carried it (for the inode a lookup makes). */
    readonly target: string | null,
    /** When the host said so: shared by a listing's entries (set by the cache that takes it). */
    public stamp: Stamp = NO_STAMP,
  ) {
    this.type = (mode & S_IFMT) >>> 12;
    // Listed, but only a lookup may say more (a mount the Gofer does not serve, a lite file).
    this.ask = exists && st === null && raw === null;
  }
  /** DT_* (DirEntry; a field, not a getter: a copy of the entry keeps it). */
  readonly type: number;
  ask: boolean;
  get at(): number {
    return this.stamp.at;
  }
}

/** A time from the host, one object per listing (a number field per entry would be a heap number each). */
export interface Stamp {
  readonly at: number;
}
const NO_STAMP: Stamp = { at: -1 };

/** v as a small integer when it is one (a value read as a double stays a heap number otherwise). */
export function smi(v: number): number {
  const i = v | 0;
  return i === v ? i : v;
}

/** A STAT payload (FIELDS order) at p[off]. */
export function readStat(p: Buffer, off: number): Stat {
  const st = emptyStat();
  // (Small integers, as the values mostly are: a cached Stat is then no 20 heap numbers.)
  for (let i = 0; i < FIELDS.length; i++) st[FIELDS[i]] = smi(p.readDoubleLE(off + i * 8));
  return st;
}

/** The host attributes of an existing cached name (null: only a lookup may say). */
export function attrsOf(c: CachedName): Stat | null {
  if (c.st === null && c.raw !== null) {
    c.st = readStat(c.raw, c.rawOff);
    c.raw = null;
  }
  return c.st;
}

/** Names cached in all directories of one tree at most (~150 bytes each). */
export const CACHE_NAMES_MAX = 256 * 1024;

/**
 * The directories of one tree holding cached names, least recently filled or read
 * first: past CACHE_NAMES_MAX names the oldest directories forget theirs (a walk of a
 * tree bigger than that keeps its recent part, as gVisor's bounded dentry cache).
 */
export class DirCacheLru<K extends { dropDirCache(): void }> {
  private readonly order = new Map<K, number>();
  private total = 0;
  constructor(private readonly max = CACHE_NAMES_MAX) {}
  /** k's cache now holds n names (and was just used). */
  touch(k: K, n: number): void {
    this.total += n - (this.order.get(k) ?? 0);
    this.order.delete(k);
    this.order.set(k, n);
    if (this.total <= this.max) return;
    for (const [old, m] of this.order) {
      if (this.total <= this.max || old === k) break;
      this.order.delete(old);
      this.total -= m;
      old.dropDirCache();
    }
  }
}

/** One directory's cached children. */
export class DirCache {
  names = new Map<string, CachedName>();
  /** When `names` was filled from a whole listing (then every child is in it), or -1. */
  listedAt = -1;
  /** Lookups that had to ask the host since the last listing. */
  misses = 0;
  /** Entries of the last listing. */
  count = 0;
  /** Entries of the last listing that came without attributes (a lite read-ahead listing: prefetch.ts). */
  lazy = 0;
  /** Lookups answered here since the last listing. */
  used = 0;
  /** Listings so far (ListingUse tells one from the next). */
  fills = 0;

  /** A listing (readdir-plus) replaces what was known; complete unless marked partial. */
  fill(ents: PartialListing, at: number): void {
    this.used = 0;
    this.fills++;
    const m = new Map<string, CachedName>();
    const stamp: Stamp = { at };
    let lazy = 0;
    for (const e of ents) {
      // The Gofer's parsed entries are taken as they are (each is in one listing only).
      const c = e instanceof CachedName ? e : new CachedName(e.name, true, smi(e.ino), e.mode, e.st ?? null, e.raw ?? null, e.rawOff ?? 0, e.lazy === true, e.target ?? null);
      c.stamp = stamp;
      if (c.lazy) lazy++;
      m.set(c.name, c);
    }
    this.names = m;
    this.listedAt = ents.partial ? -1 : at;
    this.misses = 0;
    this.count = ents.length;
    this.lazy = lazy;
  }
  /** The host said name is st (or absent): the entry. */
  set(name: string, st: Stat | null, at: number): CachedName {
    // Names met one by one (negative lookups of many names) are bounded too.
    if (this.names.size >= 4096 + 2 * this.count) this.unknownAll();
    const c = new CachedName(name, st !== null, smi(st?.ino ?? 0), st?.mode ?? 0, st, null, 0, false, null, { at });
    this.names.set(name, c);
    return c;
  }
  /** The sandbox removed name. */
  absent(name: string, at: number): void {
    this.set(name, null, at);
  }
  private unknownAll(): void {
    this.names = new Map();
    this.listedAt = -1;
    this.lazy = 0;
  }
  /** The sandbox changed name in a way it does not know the outcome of: ask next time. */
  unknown(name: string): void {
    this.names.delete(name);
    this.listedAt = -1;
  }
  /** The listing, from the cache (entries the host listed or the sandbox made): the entries themselves. */
  entries(): DirEntry[] {
    const out: DirEntry[] = [];
    for (const c of this.names.values()) if (c.exists) out.push(c);
    return out;
  }
}

/**
 * Uncached lookups in one directory after which fetching its whole listing (one
 * readdir-plus round trip per ~800 entries, and the Gofer's statx of each) is cheaper
 * than asking name by name: at least 4, more for big directories (st_size ~ 32 bytes
 * per entry on ext4; a listing costs the Gofer ~1.5 µs an entry, a lookup ~30 µs).
 * A sixteenth of the last listing's entries at least (about where its statx work costs
 * what the lookups cost): a directory whose listing expired (shared trees: 100 ms) is
 * listed again after a few of its names are asked, not half of them (git status after
 * its first pass). A directory the sandbox fills is not listed again and again for
 * it: creates begin with no lookup (hostfs createIfAbsent), and in a shared tree only
 * names found count as misses (an exclusive one, once listed, stays listed).
 */
export function listAfter(dirSize: number, lastCount: number, eager = false): number {
  if (eager && dirSize <= EAGER_DIR_BYTES && lastCount <= EAGER_NAMES) return 0;
  return Math.max(4, Math.floor(dirSize / 512), lastCount >> 4);
}

/**
 * A directory listed at its first miss when listings pay (ListingUse): up to ~250
 * names (ext4's st_size ~32 bytes a name), whose statx work in the Gofer (~0.4 ms) a
 * wrong guess costs at most; bigger ones (/usr/include, a compiler's search path) keep
 * the thresholds above.
 */
const EAGER_DIR_BYTES = 8 * 1024;
const EAGER_NAMES = 256;

/** Lookups a listing fetched for lookups must answer to have been worth its statx work. */
export function paysAfter(count: number): number {
  return Math.max(4, count >> 2);
}

/**
 * Whether the listings lookups made in one tree lately were used (a quarter of their
 * names looked up: git status, tar, make, rm -r stat every file of a directory) or not
 * (a program opening a file or two here and there). While they pay, a small directory
 * is listed at its first miss, not its fifth to ninth, and a shared tree's expired
 * listing is fetched again at its first miss rather than after a sixteenth of its
 * names were asked one by one (git status's 20 threads, each in a directory for longer
 * than the 100 ms bound on a busy machine). A listing is judged unused only
 * JUDGE_AFTER listings later (threads walking directories side by side, each listing
 * one as it enters it, each get their turn first: judged 16 later, git status's were
 * taken for unused); one unused counts double, so a sparse pattern turns it off quickly,
 * and a walk that looks at every file again turns it on at its second directory.
 */
export class ListingUse {
  private score = 0;
  private readonly made: Array<{ dc: DirCache; fills: number } | null> = new Array(JUDGE_AFTER).fill(null);
  private next = 0;
  get eager(): boolean {
    return this.score >= 2;
  }
  /** dc was just listed for a lookup. */
  listed(dc: DirCache): void {
    const old = this.made[this.next];
    if (old !== null && old.dc.fills === old.fills && old.dc.used < paysAfter(old.dc.count)) {
      this.score = Math.max(0, this.score - 2);
      // Off: those listed meanwhile had their verdict with it (else they would weigh on the next walk).
      if (this.score < 2) this.made.fill(null);
    }
    this.made[this.next] = { dc, fills: dc.fills };
    this.next = (this.next + 1) % JUDGE_AFTER;
  }
  /** A lookup in dc was answered by its listing: the paysAfter-th since dc was listed for lookups pays for it. */
  used(dc: DirCache): void {
    if (++dc.used === paysAfter(dc.count) && this.score < 4 && this.made.some((m) => m !== null && m.dc === dc && m.fills === dc.fills)) this.score++;
  }
}
export const JUDGE_AFTER = 64;

/**
 * Lookups of a lite listing's files (no attributes: prefetch.ts) after which the listing
 * is fetched again with them: a walk that stats this directory's files asks few names
 * one by one (the read-ahead turns to whole listings for the walk's next directories).
 */
export function relistLiteAfter(lastCount: number): number {
  return Math.max(2, lastCount >> 6);
}

/** Debug counters (TSSANDBOX_FS_STATS=1 prints them at exit; tests read them). */
export const fsStats = {
  lookupHits: 0,
  lookupMisses: 0,
  statHits: 0,
  statMisses: 0,
  readdirHits: 0,
  readdirMisses: 0,
  /** Listings read ahead (prefetch.ts). */
  readdirPrefetched: 0,
  /** Of those, lite listings (files without attributes: prefetch.ts). */
  readdirLite: 0,
  /** Round trips that listed directories (a Readdir call, or a read-ahead batch). */
  readdirTrips: 0,
};

export function fsStatsLine(): string {
  const s = fsStats;
  return `tssandbox: fs-stats gofer_calls=${goferCalls.n} lookup_hits=${s.lookupHits} lookup_misses=${s.lookupMisses} ` +
    `stat_hits=${s.statHits} stat_misses=${s.statMisses} readdir_hits=${s.readdirHits} readdir_misses=${s.readdirMisses} readdir_prefetched=${s.readdirPrefetched} written_behind=${goferCalls.deferred} readdir_lite=${s.readdirLite} readdir_trips=${s.readdirTrips}` +
    ` read_windows=${goferNative()?.hostFileWindows?.() ?? 0} host_inodes=${identityStats.live} host_inodes_peak=${identityStats.peak}`;
}

if (process.env.TSSANDBOX_FS_STATS === '1') {
  process.on('exit', () => {
    try {
      writeSync(2, `${fsStatsLine()}\n`);
    } catch {
      /* stderr gone */
    }
  });
}
