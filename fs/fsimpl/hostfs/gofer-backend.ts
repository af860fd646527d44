/**
 * HostBackend over the gofer: the Sentry asks, the gofer process opens and answers
 * (src/gofer/). A dead gofer makes every call fail with EIO. No failure of the gofer
 * or of its transport surfaces as an exception: every call goes through `call`, which
 * turns anything thrown into EIO, and every reply's payload is checked before it is
 * parsed (a short or garbled reply is EIO, never a RangeError).
 */
import * as nfs from 'fs';
import * as E from '../../../src/abi/errno';
import { Confined, GoferClient } from '../../../src/gofer/client';
import { Op, FIELDS, READDIR_DEEP, READDIR_LITE_FILES, READDIR_WITH_TARGETS, STAT_BYTES } from '../../../src/gofer/protocol';
import { emptyStat, type Stat } from '../../vfs/inode';
import type { HostBackend, HostDirent, Owner, PartialListing } from './host-backend';
import { CachedName, readStat, smi } from './cache';

export class GoferBackend implements HostBackend {
  constructor(
    private readonly c: GoferClient,
    /** Index of this root in the gofer's mount list. */
    private readonly mount: number,
    readonly root: string,
  ) {}

  lastStat: Stat | null = null;
  /**
   * Set while guests watch this tree on the host (host-watch.ts): every request that
   * may change the host runs inside it, so the host's echo of it is not delivered twice.
   */
  around: { readonly active: boolean; own<T>(f: () => T): T } | null = null;

  get dead(): boolean {
    return this.c.dead;
  }

  /** Room for the two NUL-terminated paths in one request (the client's buffer). */
  private static readonly PATHS_MAX = 2 * 4096 + 16 - 2;

  /**
   * One request: -ENAMETOOLONG when the paths do not fit a request (they would be cut
   * short, naming another file), -EIO for anything the transport throws.
   */
  private call(op: Op, p1: string, p2 = '', flags = 0, mode = 0, aux = 0, a = 0, b = 0, c = 0, d = 0): number {
    if (p1.length + p2.length > GoferBackend.PATHS_MAX) return -E.ENAMETOOLONG; // latin1: a char a byte
    const w = this.around;
    if (w !== null && w.active && CHANGES.has(op) && (op !== Op.Open || (flags & OPEN_CHANGES) !== 0)) {
      return w.own(() => this.send(op, p1, p2, flags, mode, aux, a, b, c, d));
    }
    return this.send(op, p1, p2, flags, mode, aux, a, b, c, d);
  }
  private send(op: Op, p1: string, p2: string, flags: number, mode: number, aux: number, a: number, b: number, c: number, d: number): number {
    try {
      const r = this.c.call(op, this.mount, p1, p2, flags, mode, aux, a, b, c, d);
      // An fd only rides with a successful Open, CreateExcl or Watch: any other is closed.
      if (this.c.fd >= 0 && ((op !== Op.Open && op !== Op.CreateExcl && op !== Op.Watch) || r < 0)) {
        try { nfs.closeSync(this.c.fd); } catch { /* gone */ }
        this.c.fd = -1;
      }
      return Number.isInteger(r) ? r : -E.EIO;
    } catch {
      return -E.EIO;
    }
  }

  private simple(op: Op, rel: string, p2 = '', mode = 0, aux = 0, a = 0, b = 0, c = 0, d = 0): number {
    const r = this.call(op, rel, p2, 0, mode, aux, a, b, c, d);
    return r < 0 ? r : 0;
  }

  lstat(rel: string): Stat | number {
    const r = this.call(Op.Lstat, rel);
    if (r < 0) return r;
    const p = this.c.payload;
    return p.length < STAT_BYTES ? -E.EIO : readStat(p, 0);
  }
  /** Readdir-plus: names, types and attributes, a reply's worth (~800 entries) per round trip. */
  readdir(rel: string): HostDirent[] | number {
    const out: HostDirent[] = [];
    for (let at = 0; ; ) {
      const r = this.call(Op.Readdir, rel, '', READDIR_WITH_TARGETS, 0, 0, at);
      if (r < 0) return r;
      const p = Buffer.from(this.c.payload); // kept by the entries (unparsed attributes)
      if (p.length < 8) return -E.EIO;
      const next = p.readUInt32LE(0);
      const word = p.readUInt32LE(4);
      const total = word & 0x7fffffff;
      if (word !== total) (out as PartialListing).partial = true;
      if (parseEntries(p, 8, r, out) < 0) return -E.EIO;
      if (next >= total) return out;
      if (next <= at) return -E.EIO; // "more to come" without progress: would loop
      at = next;
    }
  }
  readdirMany(rel: string, names: string[], lite = false, deep = false): Array<{ name: string; ents: HostDirent[] | number }> | number {
    const joined = names.join('/');
    const r = this.call(Op.ReaddirBatch, rel, joined, (lite ? READDIR_LITE_FILES : 0) | READDIR_WITH_TARGETS | (deep ? READDIR_DEEP : 0));
    if (r < 0) return r;
    const p = Buffer.from(this.c.payload); // kept by the entries (unparsed attributes)
    const out: Array<{ name: string; ents: HostDirent[] | number }> = [];
    let off = 0;
    for (let k = 0; k < r; k++) {
      if (off + 10 > p.length) return -E.EIO;
      const nb = p.readUInt16LE(off);
      if (off + 10 + nb > p.length) return -E.EIO;
      const name = p.toString('latin1', off + 2, off + 2 + nb);
      const status = p.readInt32LE(off + 2 + nb);
      const count = p.readUInt32LE(off + 6 + nb);
      off += 10 + nb;
      if (status < 0) {
        out.push({ name, ents: status });
        continue;
      }
      const ents: HostDirent[] = [];
      const o = parseEntries(p, off, count, ents);
      if (o < 0) return o;
      off = o;
      out.push({ name, ents });
    }
    return out;
  }
  readlink(rel: string): string | number {
    const r = this.call(Op.Readlink, rel);
    return r < 0 ? r : this.c.payload.toString('latin1');
  }
  open(rel: string, flags: number, mode: number): number {
    this.lastStat = null;
    const r = this.call(Op.Open, rel, '', flags, mode);
    if (r < 0) return r;
    if (this.c.fd < 0) return -E.EIO;
    this.takeStat();
    return this.c.fd;
  }
  /** The reply's STAT payload, if it has one, as lastStat. */
  private takeStat(): void {
    const p = this.c.payload;
    this.lastStat = p.length >= STAT_BYTES ? readStat(p, 0) : null;
  }
  private make(op: Op, rel: string, p2: string, mode: number, owner?: Owner): number {
    this.lastStat = null;
    const r = Math.min(0, owner === undefined ? this.call(op, rel, p2, 0, mode) : this.call(op, rel, p2, OWNER_GIVEN, mode, 0, owner[0], owner[1]));
    // EEXIST of CreateExcl carries the existing name's attributes (its lookup).
    if (r === 0 || (r === -E.EEXIST && op === Op.CreateExcl)) this.takeStat();
    return r;
  }
  mkdir(rel: string, mode: number, owner?: Owner): number {
    return this.make(Op.Mkdir, rel, '', mode, owner);
  }
  private created = -1;
  createExcl(rel: string, mode: number, owner?: Owner): number {
    const left = this.takeCreatedFd(); // one nobody took: closed, not leaked
    if (left >= 0) {
      try { nfs.closeSync(left); } catch { /* gone */ }
    }
    const r = this.make(Op.CreateExcl, rel, '', mode, owner);
    if (r === 0) this.created = this.c.fd;
    this.c.fd = -1;
    return r;
  }
  takeCreatedFd(): number {
    const fd = this.created;
    this.created = -1;
    return fd;
  }
  symlink(target: string, rel: string, owner?: Owner): number {
    return this.make(Op.Symlink, rel, target, 0, owner);
  }
  link(oldRel: string, newRel: string): number {
    return this.simple(Op.Link, oldRel, newRel);
  }
  unlink(rel: string): number {
    this.lastStat = null;
    const r = this.simple(Op.Unlink, rel);
    if (r === 0) this.takeStat(); // what was removed, when the Gofer said
    return r;
  }
  rmdir(rel: string): number {
    return this.simple(Op.Rmdir, rel);
  }
  rename(oldRel: string, newRel: string): number {
    return this.simple(Op.Rename, oldRel, newRel);
  }
  chmod(rel: string, mode: number): number {
    return this.simple(Op.Chmod, rel, '', mode);
  }
  lchown(rel: string, uid: number, gid: number): number {
    return this.simple(Op.Chown, rel, '', uid, gid);
  }
  truncate(rel: string, size: number): number {
    return this.simple(Op.Truncate, rel, '', 0, 0, size);
  }
  lutimes(rel: string, atime: readonly [number, number], mtime: readonly [number, number]): number {
    return this.simple(Op.Utimes, rel, '', 0, 0, atime[0], atime[1], mtime[0], mtime[1]);
  }
  // ---- write-behind (hostfs setattr of a file the sandbox made) ----
  writesBehind(rel: string): boolean {
    const w = this.around;
    return WRITE_BEHIND && rel.length <= GoferBackend.PATHS_MAX && (this.c.confined & Confined.FileCaps) !== 0 && !this.c.dead && (w === null || !w.active);
  }
  private defer(op: Op, rel: string, mode: number, aux: number, a: number, b: number, c: number, d: number, failed: (res: number) => void): number {
    return this.c.defer(op, this.mount, rel, '', 0, mode, aux, a, b, c, d, failed);
  }
  deferChmod(rel: string, mode: number, failed: (res: number) => void): number {
    return this.defer(Op.Chmod, rel, mode, 0, 0, 0, 0, 0, failed);
  }
  deferChown(rel: string, uid: number, gid: number, failed: (res: number) => void): number {
    return this.defer(Op.Chown, rel, uid, gid, 0, 0, 0, 0, failed);
  }
  deferUtimes(rel: string, atime: readonly [number, number], mtime: readonly [number, number], failed: (res: number) => void): number {
    return this.defer(Op.Utimes, rel, 0, 0, atime[0], atime[1], mtime[0], mtime[1], failed);
  }
  deferUnlink(rel: string, failed: (res: number) => void): number {
    return this.defer(Op.Unlink, rel, 0, 0, 0, 0, 0, 0, failed);
  }
  sent(gen: number): boolean {
    return gen < this.c.gen || this.c.pending === 0;
  }
  flush(): void {
    try {
      this.c.flush();
    } catch {
      /* the transport's failure made the client dead: every call is EIO */
    }
  }

  /** A host inotify watch on directory rel (host-watch.ts). */
  watch(rel: string): { wd: number; fd: number } {
    const r = this.call(Op.Watch, rel);
    const fd = r > 0 ? this.c.fd : -1;
    this.c.fd = -1;
    return { wd: r, fd };
  }
  unwatch(wd: number): void {
    this.call(Op.Unwatch, '', '', 0, 0, wd);
  }
  statfs(): number[] | number {
    const r = this.call(Op.Statfs, '');
    if (r < 0) return r;
    const p = this.c.payload;
    if (p.length < 6 * 8) return -E.EIO;
    return [0, 1, 2, 3, 4, 5].map((i) => p.readDoubleLE(i * 8));
  }
}


/** TSSANDBOX_WRITE_BEHIND=0: every setattr waits for its own round trip (to measure what write-behind saves). */
const WRITE_BEHIND = process.env.TSSANDBOX_WRITE_BEHIND !== '0';

/** CreateExcl/Mkdir/Symlink flag: numbers a, b are the new node's owner (native/gofer_server.cc kOwnerGiven). */
const OWNER_GIVEN = 1;

/** Open flags that change the file (an open alone reports nothing the watches ask for). */
const OPEN_CHANGES = nfs.constants.O_TRUNC | nfs.constants.O_CREAT;

/** Requests that may change the host tree (and so make the host report an event). */
const CHANGES = new Set<Op>([Op.Open, Op.Mkdir, Op.CreateExcl, Op.Unlink, Op.Rmdir, Op.Rename, Op.Symlink, Op.Link,
  Op.Chmod, Op.Chown, Op.Truncate, Op.Utimes]);

/**
 * count READDIR entries at off into out: the offset after them, or -EIO (garbled).
 * Their attributes stay unparsed in p (HostDirent.raw): p must be the caller's own
 * copy of the reply (the client reuses its reply buffer).
 */
function parseEntries(p: Buffer, off: number, count: number, out: HostDirent[]): number {
  for (let k = 0; k < count; k++) {
    if (off + 15 > p.length) return -E.EIO;
    const nb = p.readUInt16LE(off + 12);
    const end = off + 14 + nb;
    if (end + 1 > p.length) return -E.EIO;
    const ino = smi(p.readDoubleLE(off));
    const mode = p.readUInt32LE(off + 8) | 0; // (st_mode: 16 bits)
    const name = p.toString('latin1', off + 14, end);
    const kind = p[end];
    off = end + 1;
    let rawOff = -1;
    let target: string | null = null;
    if (kind === 1 || kind === 3) {
      if (off + STAT_BYTES > p.length) return -E.EIO;
      rawOff = off;
      off += STAT_BYTES;
      if (kind === 3) {
        // A symlink's target (READDIR_WITH_TARGETS).
        if (off + 2 > p.length) return -E.EIO;
        const tl = p.readUInt16LE(off);
        if (off + 2 + tl > p.length) return -E.EIO;
        target = p.toString('latin1', off + 2, off + 2 + tl);
        off += 2 + tl;
      }
    }
    // Already the cache's entry (DirCache.fill takes it as is); kind 2: a lite listing's file.
    out.push(new CachedName(name, true, ino, mode, null, rawOff < 0 ? null : p, rawOff < 0 ? 0 : rawOff, kind === 2, target));
  }
  return off;
}
