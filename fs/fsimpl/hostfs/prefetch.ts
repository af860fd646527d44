/**
 * Directory read-ahead. A guest walking a tree (find, tar, git status, du, cp -r) reads
 * each directory after its parent. Once it reads a directory whose parent it read too,
 * the listings of all that directory's subdirectories are fetched in batches (the
 * Gofer's READDIR_BATCH: many whole listings a round trip) and kept until they are
 * read, so a walk costs a round trip per few dozen directories instead of one each.
 * A prefetched listing obeys the tree's cache policy (its `at`), and the sandbox's own
 * changes drop what they could make wrong.
 *
 * Lite listings: a walk that looks at no file's attributes (find: getdents' types tell
 * it the directories) need not have the Gofer statx every file. Read-ahead starts with
 * whole attributes; once 2 048 files came so and fewer than one in 16 was looked up,
 * it asks lite listings (READDIR_LITE_FILES: directories with attributes, files with
 * type and inode number only); the first lookup of a lite listing's file turns it back
 * (and drops the lite listings held), as tar, du and git status look at every file.
 *
 * Deep read-ahead (exclusive trees: the root): a batch also brings, after each name,
 * the listings below it, depth first by name (the walk's own order), as many as fit a
 * reply (READDIR_DEEP); the names it did not reach, and the subdirectories of a
 * directory read outside a walk, wait in `pending` for the guest's first read of one.
 * `find /usr`: 252 round trips, where one batch per directory with subdirectories made
 * 6 363.
 */
import { S_IFDIR, S_IFMT } from '../../../src/abi/fs';
import * as E from '../../../src/abi/errno';
import { fsStats, now, type CachePolicy, type DirCache } from './cache';
import type { HostBackend, HostDirent } from './host-backend';

/** Room for a batch's names in one request (the paths of a request are ~8 KiB). */
const NAMES_MAX = 7000;
/** Entries held at most (a walk that stops early leaves some behind). */
const HELD_MAX = 100_000;

const childOf = (rel: string, name: string): string => (rel === '' ? name : `${rel}/${name}`);

export class DirPrefetch {
  /** Directories read (by path below the tree's root) since the last reset. */
  private readonly read = new Set<string>();
  private readonly ready = new Map<string, { ents: HostDirent[]; at: number; lite: boolean }>();
  private held = 0;
  /**
   * Deep read-ahead: by directory, the subdirectories a batch did not reach (its reply
   * was full of the listings below the first ones); the walk's first miss among them
   * fetches them, that one first.
   */
  private readonly pending = new Map<string, string[]>();
  /** Read-ahead asks lite listings (the walk looks at no file's attributes). */
  private lite = false;
  /** Files read ahead with attributes since the last decision, and lookups of files since. */
  private filesListed = 0;
  private filesUsed = 0;

  constructor(
    private readonly be: HostBackend,
    private readonly policy: CachePolicy,
  ) {}

  /** The read-ahead listing of rel, if there is one still fresh (served once). */
  take(rel: string): { ents: HostDirent[]; at: number } | null {
    let r = this.ready.get(rel);
    if (r === undefined && rel !== '') {
      const cut = rel.lastIndexOf('/');
      const parent = cut < 0 ? '' : rel.slice(0, cut);
      const left = this.pending.get(parent);
      const k = left === undefined ? -1 : left.indexOf(rel.slice(cut + 1));
      if (k < 0) return null;
      this.pending.delete(parent);
      this.fetch(parent, [left![k], ...left!.slice(k + 1), ...left!.slice(0, k)], this.policy.mode === 'exclusive', true);
      r = this.ready.get(rel);
    }
    if (r === undefined) return null;
    this.ready.delete(rel);
    this.held -= r.ents.length;
    return this.policy.fresh(r.at) ? r : null;
  }

  /** A lookup found a file with its attributes in a listing. */
  fileUsed(): void {
    this.filesUsed++;
  }

  /** A lookup asked for a lite listing's file: the walk looks at files after all. */
  lazyAsked(): void {
    this.filesListed = this.filesUsed = 0;
    if (!this.lite) return;
    this.lite = false;
    for (const [rel, r] of this.ready) if (r.lite) this.drop(rel);
  }

  /** The sandbox changed directory rel's entries: its read-ahead listing is stale. */
  drop(rel: string): void {
    this.pending.delete(rel);
    const r = this.ready.get(rel);
    if (r === undefined) return;
    this.ready.delete(rel);
    this.held -= r.ents.length;
  }

  /** The sandbox moved or removed a directory: paths below it may now name others. */
  dropAll(): void {
    this.ready.clear();
    this.pending.clear();
    this.held = 0;
  }

  /**
   * The guest read directory rel (its children in dc): read ahead below it in a walk
   * (deep where facts never expire: a shared tree's would go stale before the walk
   * reached the last of them); else (or when its listing was cached) its
   * subdirectories wait for the guest's first read of one, which brings its siblings
   * too, a reply's worth (git status's second pass reads a shared tree's directories
   * one after another, each listing expired since its first).
   */
  readDir(rel: string, dc: DirCache, cached = false): void {
    const cut = rel.lastIndexOf('/');
    const walk = !cached && rel !== '' && this.read.has(cut < 0 ? '' : rel.slice(0, cut));
    if (this.read.size > 65536) this.read.clear();
    this.read.add(rel);
    if (this.be.readdirMany === undefined) return;
    const deep = this.policy.mode === 'exclusive';
    const names: string[] = [];
    for (const [name, c] of dc.names) {
      if (c.exists && (c.mode & S_IFMT) === S_IFDIR && !this.ready.has(childOf(rel, name))) names.push(name);
    }
    if (walk) this.fetch(rel, names, deep);
    else if (names.length > 0) this.wait(rel, names); // (fetched if the guest goes on to read one)
  }

  private wait(rel: string, names: string[]): void {
    if (this.pending.size >= 4096) this.pending.clear();
    this.pending.set(rel, names);
  }

  /**
   * once: one round trip, the rest left waiting (a deep batch's reply is full of the
   * first names' subtrees; a shared tree's listings would go stale before their turn).
   */
  private fetch(rel: string, names: string[], deep: boolean, once = deep): void {
    for (let i = 0; i < names.length; ) {
      let j = i;
      let len = rel.length;
      while (j < names.length && len + names[j].length + 1 < NAMES_MAX) len += names[j++].length + 1;
      if (j === i) {
        i++; // a name too long for a batch: read on demand
        continue;
      }
      if (!this.lite && this.filesListed >= 2048) {
        this.lite = this.filesUsed * 16 < this.filesListed;
        this.filesListed = this.filesUsed = 0;
      }
      const lite = this.lite;
      const at = now();
      fsStats.readdirTrips++;
      const r = this.be.readdirMany!(rel, names.slice(i, j), lite, deep);
      if (typeof r === 'number' || r.length === 0) return;
      let reached = 0;
      for (const { name, ents } of r) {
        const top = name.indexOf('/') < 0; // (deep records name a path below rel)
        // A listing too big for what was left of the reply: it and the rest wait.
        if (top && once && reached > 0 && ents === -E.E2BIG) break;
        if (top) reached++;
        if (typeof ents === 'number') continue; // too big or unreadable: on demand
        if (this.ready.has(childOf(rel, name))) continue; // (read ahead by an earlier batch)
        this.ready.set(childOf(rel, name), { ents, at, lite });
        this.held += ents.length;
        if (!lite) for (const e of ents) if ((e.mode & S_IFMT) !== S_IFDIR) this.filesListed++;
        fsStats.readdirPrefetched++;
        if (lite) fsStats.readdirLite++;
      }
      if (reached === 0) return;
      i += reached;
      if (this.held > HELD_MAX) {
        this.dropAll();
        return;
      }
      if (once && i < names.length) {
        // The rest when the walk gets there: fetched now, a reply full of the first
        // names' subtrees each would hold the whole tree before the walk reads it.
        this.wait(rel, names.slice(i));
        return;
      }
    }
  }
}
