/** The host tree cache's policy in unit form (fs/fsimpl/hostfs/cache.ts). */
import { describe, expect, it } from 'vitest';
import * as nfs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as E from '../../src/abi/errno';
import { DirCacheLru, JUDGE_AFTER } from '../../fs/fsimpl/hostfs/cache';
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

/** A DirectBackend that counts what it is asked. */
class Counting extends DirectBackend {
  lstats = 0;
  listings = 0;
  override lstat(rel: string) {
    this.lstats++;
    return super.lstat(rel);
  }
  override readdir(rel: string) {
    this.listings++;
    return super.readdir(rel);
  }
}

describe('listings fetched for lookups (ListingUse)', () => {
  it('a walk that looks at every file lists small directories at their first miss; a sparse one stops that', () => {
    // On a tmpfs when there is one: 1 440 creates on a busy ext4 took seconds.
    const dir = nfs.mkdtempSync(path.join(nfs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'tss-listuse-'));
    try {
      const dirs = 54 + JUDGE_AFTER + 20;
      for (let i = 0; i < dirs; i++) {
        nfs.mkdirSync(path.join(dir, `d${i}`));
        for (let j = 0; j < 24; j++) nfs.writeFileSync(path.join(dir, `d${i}`, `f${j}`), `${i} ${j}`);
      }
      const big = dirs; // past the eager size (st_size > 8 KiB on ext4 and tmpfs alike)
      nfs.mkdirSync(path.join(dir, `d${big}`));
      for (let j = 0; j < 600; j++) nfs.writeFileSync(path.join(dir, `d${big}`, `f${j}`), `${big} ${j}`);
      expect(nfs.statSync(path.join(dir, `d${big}`)).size).toBeGreaterThan(8192);
      for (const mode of ['shared', 'exclusive'] as const) {
        const be = new Counting(dir);
        const fs = new HostFs(be, false, '9p', mode);
        // A shared tree whose facts last the whole test: what is counted is the policy, not a busy machine's pace.
        (fs.policy as { boundMs: number }).boundMs = 600_000;
        /** Lookups of the first n files of directory i: [lstats, listings] they cost. */
        const visit = (i: number, n: number): [number, number] => {
          const d = fs.root().lookup(`d${i}`);
          if (typeof d === 'number') throw new Error(`d${i}: ${d}`);
          const [l0, r0] = [be.lstats, be.listings];
          for (let j = 0; j < n; j++) {
            const f = d.lookup(`f${j}`);
            const st = typeof f === 'number' ? f : f.stat();
            expect(typeof st === 'number' ? st : st.size, `${mode} d${i}/f${j}`).toBe(`${i} ${j}`.length);
          }
          return [be.lstats - l0, be.listings - r0];
        };
        // Every file of the first directories: listed after several misses at first,
        // then at the first (the root's own listing answers d{i}).
        const first = visit(0, 24);
        expect(first[1], mode).toBe(1);
        expect(first[0], mode).toBeGreaterThanOrEqual(4);
        for (let i = 1; i < 4; i++) visit(i, 24);
        for (let i = 4; i < 10; i++) expect(visit(i, 24), `${mode} d${i}`).toEqual([0, 1]);
        // A big directory keeps the usual thresholds (a wrong guess there costs more).
        expect(visit(big, 40)[0], mode).toBeGreaterThanOrEqual(4);
        // Then two files a directory: listing those is waste, and soon stops.
        const sparse: Array<[number, number]> = [];
        const end = dirs - 10;
        for (let i = 10; i < end; i++) sparse.push(visit(i, 2));
        expect(sparse.slice(-10), mode).toEqual(new Array(10).fill([2, 0]));
        // A whole walk again turns it back on.
        for (let i = end; i < end + 4; i++) visit(i, 24);
        for (let i = end + 4; i < dirs; i++) expect(visit(i, 24), `${mode} d${i} again`).toEqual([0, 1]);
      }
    } finally {
      nfs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
