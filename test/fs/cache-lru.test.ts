/** The host tree cache's policy in unit form (fs/fsimpl/hostfs/cache.ts). */
import { describe, expect, it } from 'vitest';
import * as nfs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as E from '../../src/abi/errno';
import { DirCacheLru } from '../../fs/fsimpl/hostfs/cache';
import { HostFs } from '../../fs/fsimpl/hostfs/hostfs';
import { DirectBackend } from '../../fs/fsimpl/hostfs/host-backend';

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

describe('shared trees trust only what exists', () => {
  it('a file the host makes right after the directory was listed is found at once', () => {
    const dir = nfs.mkdtempSync(path.join(os.tmpdir(), 'tss-positive-'));
    try {
      for (let i = 0; i < 20; i++) nfs.writeFileSync(path.join(dir, `f${i}`), '');
      const fs = new HostFs(new DirectBackend(dir), false); // rw: shared
      for (let i = 0; i < 20; i++) expect(typeof fs.root().lookup(`f${i}`)).toBe('object'); // listed by now
      expect(fs.root().lookup('late')).toBe(-E.ENOENT);
      nfs.writeFileSync(path.join(dir, 'late'), '');
      expect(typeof fs.root().lookup('late')).toBe('object');
      // Exclusive: the listing answers, absence included (nothing else changes the tree).
      const ex = new HostFs(new DirectBackend(dir), false, '9p', 'exclusive');
      for (let i = 0; i < 20; i++) ex.root().lookup(`f${i}`);
      expect(ex.root().lookup('later')).toBe(-E.ENOENT);
      nfs.writeFileSync(path.join(dir, 'later'), '');
      expect(ex.root().lookup('later')).toBe(-E.ENOENT);
    } finally {
      nfs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
