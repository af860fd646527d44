/**
 * The host tree's dentry and attribute cache (fs/fsimpl/hostfs/cache.ts), end to end:
 * under a shared rw bind every kind of host-side change is seen by a guest that watches
 * for it (it loops; nothing here is timed), the sandbox's own changes are seen at once
 * in either mode, and in exclusive mode the debug counters show the cache answering.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileGuest } from '../helpers/build';
import { explain, runSandbox } from '../helpers/run';

const SRC = path.join(__dirname, 'guests');

function scratch(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tss-cache-'));
}

/** The fs-stats line the Sentry prints at exit (TSSANDBOX_FS_STATS=1). */
function stats(stderr: string): Record<string, number> {
  const m = /fs-stats (.*)/.exec(stderr);
  if (!m) throw new Error(`no fs-stats line in:\n${stderr}`);
  return Object.fromEntries(m[1].trim().split(/\s+/).map((kv) => { const [k, v] = kv.split('='); return [k, Number(v)]; }));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The host side of `cache_watch watch`: waits for each .ready-N, then makes change N. */
async function hostChanges(d: string, done: () => boolean): Promise<number> {
  const changes: Array<() => void> = [
    () => fs.writeFileSync(path.join(d, 'f'), 'new content'),
    () => fs.utimesSync(path.join(d, 'f'), 1000000000, 1000000000),
    () => fs.writeFileSync(path.join(d, 'late'), 'late'),
    () => fs.unlinkSync(path.join(d, 'gone')),
    () => fs.renameSync(path.join(d, 'a'), path.join(d, 'b')),
    () => fs.writeFileSync(path.join(d, 'd', 'x'), ''),
    () => {
      fs.symlinkSync('t2', path.join(d, 'l.new'));
      fs.renameSync(path.join(d, 'l.new'), path.join(d, 'l'));
    },
    () => fs.appendFileSync(path.join(d, 'g'), 'bcd'),
  ];
  let made = 0;
  for (const [i, change] of changes.entries()) {
    while (!fs.existsSync(path.join(d, `.ready-${i + 1}`))) {
      if (done()) return made;
      await sleep(5);
    }
    change();
    made++;
  }
  return made;
}

describe('host tree cache', () => {
  const bin = compileGuest('cache_watch', 'static', { srcDir: SRC });

  it('a shared rw bind sees host-side changes to content, times, names, listings and symlinks', async () => {
    const d = scratch();
    try {
      fs.writeFileSync(path.join(d, 'f'), 'old');
      fs.writeFileSync(path.join(d, 'gone'), '');
      fs.writeFileSync(path.join(d, 'a'), 'A');
      fs.writeFileSync(path.join(d, 'g'), 'a');
      fs.mkdirSync(path.join(d, 'd'));
      fs.symlinkSync('t1', path.join(d, 'l'));
      let finished = false;
      const run = runSandbox(['--mount', `${d}:/w:rw`, bin, 'watch', '/w'], { timeoutMs: 120_000 }).finally(() => { finished = true; });
      const [r, made] = await Promise.all([run, hostChanges(d, () => finished)]);
      expect(r.code, explain(r)).toBe(0);
      expect(made).toBe(8);
      expect(r.stdout.split('\n').filter((l) => l.endsWith(': seen')).length, explain(r)).toBe(8);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  }, 150_000);

  for (const mode of ['shared', 'exclusive']) {
    it(`the sandbox's own changes are seen at once (cache=${mode})`, async () => {
      const d = scratch();
      try {
        const r = await runSandbox(['--mount', `${d}:/w:rw:cache=${mode}`, bin, 'own', '/w']);
        expect(r.code, explain(r)).toBe(0);
        expect(r.stdout).not.toContain('WRONG');
        expect(fs.readdirSync(d)).toEqual([]);
      } finally {
        fs.rmSync(d, { recursive: true, force: true });
      }
    }, 60_000);
  }

  it('exclusive mode answers repeated lookups and stats from the cache', async () => {
    const d = scratch();
    try {
      fs.mkdirSync(path.join(d, 'a', 'b'), { recursive: true });
      fs.writeFileSync(path.join(d, 'a', 'b', 'c'), 'x');
      const n = 2000;
      const env = { TSSANDBOX_FS_STATS: '1' };
      const ex = await runSandbox(['--mount', `${d}:/w:ro:cache=exclusive`, bin, 'stats', '/w/a/b/c', String(n)], { env });
      expect(ex.code, explain(ex)).toBe(0);
      const s = stats(ex.stderr);
      // Every walk of /w/a/b/c after the first: three lookups and a stat, all hits.
      expect(s.lookup_hits).toBeGreaterThanOrEqual(3 * (n - 1));
      expect(s.stat_hits).toBeGreaterThanOrEqual(n - 1);
      expect(s.gofer_calls).toBeLessThan(n / 4);
      // The root (the host's /, exclusive) too: the guest's binary is looked up once.
      const root = await runSandbox([bin, 'stats', bin, String(n)], { env });
      expect(root.code, explain(root)).toBe(0);
      expect(stats(root.stderr).gofer_calls).toBeLessThan(n / 4);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  }, 60_000);

  for (const mode of ['shared', 'exclusive']) {
    it(`directories read ahead for a walk show the sandbox's own changes (cache=${mode})`, async () => {
      const d = scratch();
      try {
        for (const sub of ['a/b', 'a/c', 'a/d/e']) fs.mkdirSync(path.join(d, sub), { recursive: true });
        fs.writeFileSync(path.join(d, 'a/b/old'), '');
        fs.writeFileSync(path.join(d, 'a/c/was'), '');
        fs.unlinkSync(path.join(d, 'a/c/was'));
        const r = await runSandbox(['--mount', `${d}:/w:rw:cache=${mode}`, bin, 'prefetch', '/w'], { env: { TSSANDBOX_FS_STATS: '1' } });
        expect(r.code, explain(r)).toBe(0);
        expect(r.stdout).not.toContain('WRONG');
        expect(stats(r.stderr).readdir_prefetched, r.stderr).toBeGreaterThanOrEqual(3);
      } finally {
        fs.rmSync(d, { recursive: true, force: true });
      }
    }, 60_000);
  }

  it('a walk over a tree read ahead lists what Linux lists, in far fewer round trips', async () => {
    const d = scratch();
    try {
      let dirs = 0;
      for (let i = 0; i < 30; i++) {
        for (let j = 0; j < 10; j++) {
          const sub = path.join(d, `d${i}`, `s${j}`);
          fs.mkdirSync(sub, { recursive: true });
          dirs++;
          for (let k = 0; k < 3; k++) fs.writeFileSync(path.join(sub, `f${k}`), '');
        }
      }
      const native = execFileSync('find', [d], { encoding: 'utf8' }).split('\n').filter(Boolean).map((l) => l.replace(d, '/w')).sort();
      const r = await runSandbox(['--mount', `${d}:/w:ro:cache=exclusive`, '/usr/bin/find', '/w'], { env: { TSSANDBOX_FS_STATS: '1' } });
      expect(r.code, explain(r)).toBe(0);
      expect(r.stdout.split('\n').filter(Boolean).sort()).toEqual(native);
      const s = stats(r.stderr);
      expect(s.readdir_prefetched).toBeGreaterThanOrEqual(dirs);
      expect(s.gofer_calls).toBeLessThan(dirs / 2);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  }, 60_000);

  it('bad cache options are one clear line', async () => {
    const r = await runSandbox(['--mount', '/tmp:/w:rw:cache=sometimes', '/bin/true']);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('cache must be shared or exclusive');
  });
});
