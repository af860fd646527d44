/**
 * HostFs's identity table: one live object per host file, keyed by the host's
 * (st_dev, st_ino). Two levels of number-keyed maps, so a lookup builds no key string
 * (it runs on every path component of a host tree). Weak: an object nobody holds is
 * collected; its entry is swept when the table has doubled since the last sweep.
 */
export class IdentityTable<T extends object> {
  private readonly byDev = new Map<number, Map<number, WeakRef<T>>>();
  private count = 0;
  /** count after the last sweep. */
  private swept = 1024;

  get(dev: number, ino: number): T | undefined {
    return this.byDev.get(dev)?.get(ino)?.deref();
  }

  set(dev: number, ino: number, v: T): void {
    let m = this.byDev.get(dev);
    if (m === undefined) this.byDev.set(dev, (m = new Map()));
    const had = m.has(ino);
    m.set(ino, new WeakRef(v));
    if (!had && ++this.count > 2 * this.swept) this.sweep();
  }

  /** Drops collected entries (amortised O(1): cheaper than a FinalizationRegistry entry each). */
  private sweep(): void {
    for (const m of this.byDev.values()) {
      for (const [ino, w] of m) {
        if (w.deref() === undefined) {
          m.delete(ino);
          this.count--;
        }
      }
    }
    this.swept = Math.max(1024, this.count);
  }

  /** Every live object. */
  *values(): IterableIterator<T> {
    for (const m of this.byDev.values()) {
      for (const w of m.values()) {
        const v = w.deref();
        if (v !== undefined) yield v;
      }
    }
  }
}
