/**
 * HostFs's identity table: one live object per host file, keyed by the host's
 * (st_dev, st_ino). Two levels of number-keyed maps, so a lookup builds no key string
 * (it runs on every path component of a host tree).
 *
 * Strong, and collected by its owner (HostFs.collect): a WeakRef table is no bound
 * here, since V8 keeps every WeakRef target dereferenced or made during a job alive to
 * the job's end, and the Sentry's run is one job. `sweep` drops the objects its caller
 * says nothing refers to any more.
 */
export class IdentityTable<T extends object> {
  private readonly byDev = new Map<number, Map<number, T>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(dev: number, ino: number): T | undefined {
    return this.byDev.get(dev)?.get(ino);
  }

  /** v is the object of (dev, ino) from now on (a reused inode number replaces the old one). */
  set(dev: number, ino: number, v: T): void {
    let m = this.byDev.get(dev);
    if (m === undefined) this.byDev.set(dev, (m = new Map()));
    const had = m.has(ino);
    m.set(ino, v);
    if (!had) {
      this.count++;
      identityStats.live++;
      if (identityStats.live > identityStats.peak) identityStats.peak = identityStats.live;
    }
  }

  /** Drops every object `keep` refuses: how many went. */
  sweep(keep: (v: T) => boolean): number {
    let n = 0;
    for (const m of this.byDev.values()) {
      for (const [ino, v] of m) {
        if (keep(v)) continue;
        m.delete(ino);
        n++;
      }
    }
    this.count -= n;
    identityStats.live -= n;
    return n;
  }

  /** Every live object. */
  values(): IterableIterator<T> {
    return (function* (byDev) {
      for (const m of byDev.values()) yield* m.values();
    })(this.byDev);
  }
}

/** Objects in every identity table of the Sentry now, and at most so far (a debug counter: TSSANDBOX_FS_STATS). */
export const identityStats = { live: 0, peak: 0 };
