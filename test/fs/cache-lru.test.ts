/** The bound on cached names per host tree (fs/fsimpl/hostfs/cache.ts: DirCacheLru). */
import { describe, expect, it } from 'vitest';
import { DirCacheLru } from '../../fs/fsimpl/hostfs/cache';

class Dir {
  dropped = false;
  constructor(readonly name: string) {}
  dropDirCache(): void {
    this.dropped = true;
  }
}

describe('DirCacheLru', () => {
  it('past the bound, the least recently used directories forget their names, never the one just filled', () => {
    const lru = new DirCacheLru<Dir>(100);
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => new Dir(n));
    lru.touch(a, 40);
    lru.touch(b, 40);
    lru.touch(a, 40); // a used again: b is now the oldest
    lru.touch(c, 40);
    expect([a.dropped, b.dropped, c.dropped]).toEqual([false, true, false]);
    lru.touch(d, 500); // bigger than the bound alone: everything else goes, d stays
    expect([a.dropped, c.dropped, d.dropped]).toEqual([true, true, false]);
  });
});
