/**
 * Read-ahead of siblings and deep read-ahead (fs/fsimpl/hostfs/prefetch.ts, the
 * Gofer's READDIR_DEEP). A shared bind's sibling listings obey its bound. On an
 * exclusive tree a walk's batch brings the listings below the directories it names too,
 * so a walk of a tree several levels deep costs a few round trips, not one per directory
 * with subdirectories; what the guest sees is what Linux shows, also after the sandbox
 * changed directories whose listings were read ahead but not yet read.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { explain, runSandbox } from '../helpers/run';

function stats(stderr: string): Record<string, number> {
  const m = /fs-stats (.*)/.exec(stderr);
  if (!m) throw new Error(`no fs-stats line in:\n${stderr}`);
  return Object.fromEntries(m[1].trim().split(/\s+/).map((kv) => { const [k, v] = kv.split('='); return [k, Number(v)]; }));
}

/** a..c / s0..s5 / t0..t4 / f0..f3 (+ a symlink per leaf): returns the directories that have subdirectories. */
function tree(d: string): number {
  let parents = 1;
  for (const a of ['a', 'b', 'c']) {
    parents++;
    for (let s = 0; s < 6; s++) {
      parents++;
      for (let t = 0; t < 5; t++) {
        const leaf = path.join(d, a, `s${s}`, `t${t}`);
        fs.mkdirSync(leaf, { recursive: true });
        for (let f = 0; f < 4; f++) fs.writeFileSync(path.join(leaf, `f${f}`), `${a}${s}${t}${f}`);
        fs.symlinkSync('f0', path.join(leaf, 'l'));
      }
    }
  }
  return parents;
}

const nativeFind = (d: string): string[] =>
  execFileSync('find', [d, '-printf', '%p %y %s\\n'], { encoding: 'utf8' }).split('\n').filter(Boolean)
    .map((l) => l.replace(d, '/w')).sort();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('deep read-ahead', () => {
  it('a shared bind: siblings read ahead still show a host-side change (within the bound)', async () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-deep-'));
    try {
      for (let i = 0; i < 12; i++) {
        fs.mkdirSync(path.join(d, `d${i}`));
        for (let j = 0; j < 5; j++) fs.writeFileSync(path.join(d, `d${i}`, `f${j}`), '');
      }
      // Reading d0 after the root brings its siblings' listings; the host then adds a
      // file to d5, which the guest's listing of it shows once the bound has passed.
      const script = [
        'ls /w >/dev/null', 'ls /w/d0 >/dev/null', ': > /w/.ready',
        'while [ ! -e /w/.go ]; do sleep 0.02; done',
        // Past the 100 ms bound since d5 was read ahead (before .ready): listed anew.
        'sleep 0.3', 'ls /w/d5; ls /w/d6',
      ].join('; ');
      const run = runSandbox(['--mount', `${d}:/w:rw`, '/bin/sh', '-c', script], { env: { TSSANDBOX_FS_STATS: '1' } });
      for (let k = 0; k < 1000 && !fs.existsSync(path.join(d, '.ready')); k++) await sleep(10);
      fs.writeFileSync(path.join(d, 'd5', 'new'), '');
      fs.writeFileSync(path.join(d, '.go'), '');
      const r = await run;
      expect(r.code, explain(r)).toBe(0);
      expect(r.stdout.split('\n').filter(Boolean)).toEqual(['f0', 'f1', 'f2', 'f3', 'f4', 'new', 'f0', 'f1', 'f2', 'f3', 'f4']);
      expect(stats(r.stderr).readdir_prefetched).toBeGreaterThanOrEqual(11);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  }, 60_000);

  it('a walk of a deep exclusive tree lists what Linux lists in a few round trips', async () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-deep-'));
    try {
      const parents = tree(d);
      const r = await runSandbox(['--mount', `${d}:/w:ro:cache=exclusive`, '/usr/bin/find', '/w', '-printf', '%p %y %s\\n'],
        { env: { TSSANDBOX_FS_STATS: '1' } });
      expect(r.code, explain(r)).toBe(0);
      expect(r.stdout.split('\n').filter(Boolean).sort()).toEqual(nativeFind(d));
      const s = stats(r.stderr);
      expect(s.readdir_prefetched).toBeGreaterThanOrEqual(3 * 6 * 5);
      // One batch per directory with subdirectories (22) without the deep listings.
      expect(s.readdir_trips, r.stderr).toBeLessThan(parents / 4);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  }, 60_000);

  it('changes the sandbox makes below listings read ahead are seen, as on Linux', async () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-deep-'));
    try {
      tree(d);
      // `ls /w/a` after `ls /w` is a walk: a's subtree is read ahead, then changed before it is read.
      const script = [
        'ls /w >/dev/null', 'ls /w/a >/dev/null',
        'mkdir /w/a/s1/t1/new', 'rm -r /w/a/s2/t0', 'echo made > /w/a/s3/t2/made', 'mv /w/a/s4/t3 /w/a/s5/moved',
        'rm /w/a/s0/t4/f1', "find /w -printf '%p %y %s\\n'",
      ].join(' && ');
      const r = await runSandbox(['--mount', `${d}:/w:rw:cache=exclusive`, '/bin/sh', '-c', script]);
      expect(r.code, explain(r)).toBe(0);
      const seen = r.stdout.split('\n').filter(Boolean).sort();
      expect(seen).toEqual(nativeFind(d));
      expect(seen).toContain(`/w/a/s1/t1/new d ${fs.statSync(path.join(d, 'a/s1/t1/new')).size}`);
      expect(seen).toContain(`/w/a/s5/moved d ${fs.statSync(path.join(d, 'a/s5/moved')).size}`);
      expect(seen.some((l) => l.startsWith('/w/a/s2/t0'))).toBe(false);
      expect(seen.some((l) => l.startsWith('/w/a/s4/t3'))).toBe(false);
      expect(seen).toContain('/w/a/s3/t2/made f 5');
      expect(seen.some((l) => l.startsWith('/w/a/s0/t4/f1 '))).toBe(false);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  }, 60_000);
});
