/**
 * Lite read-ahead listings (fs/fsimpl/hostfs/prefetch.ts, the Gofer's READDIR_LITE_FILES):
 * a walk that looks at no file's attributes (find) turns the read-ahead to listings
 * whose files carry type and inode number only; what the guest then sees (names, types,
 * and the attributes of files looked up afterwards) is what Linux shows, and a walk that
 * stats every file is never turned lite. Counted with the fs-stats debug line, never timed.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain, runSandbox } from '../helpers/run';

function stats(stderr: string): Record<string, number> {
  const m = /fs-stats (.*)/.exec(stderr);
  if (!m) throw new Error(`no fs-stats line in:\n${stderr}`);
  return Object.fromEntries(m[1].trim().split(/\s+/).map((kv) => { const [k, v] = kv.split('='); return [k, Number(v)]; }));
}

// Every file's path, type, size, mode, link count, inode and symlink target.
const PRINTF = '%p %y %s %m %n %i %l\\n';
const lines = (s: string, root: string) => s.split('\n').filter(Boolean).map((l) => l.split(root).join('/w')).sort();

describe('lite read-ahead listings', () => {
  let d = '';
  beforeAll(() => {
    // 6 x 20 directories of 30 names: past the 2 048 files after which a walk that
    // looked at none of them reads ahead lite.
    d = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-lite-'));
    for (let i = 0; i < 6; i++) {
      for (let j = 0; j < 20; j++) {
        const sub = path.join(d, `t${i}`, `s${j}`);
        fs.mkdirSync(path.join(sub, 'empty'), { recursive: true });
        for (let k = 0; k < 26; k++) fs.writeFileSync(path.join(sub, `f${k}`), 'x'.repeat(k));
        fs.chmodSync(path.join(sub, 'f3'), 0o741);
        fs.linkSync(path.join(sub, 'f1'), path.join(sub, 'hard'));
        fs.symlinkSync(`../s${j}/f2`, path.join(sub, 'link'));
        execFileSync('mkfifo', [path.join(sub, 'fifo')]);
      }
    }
  });
  afterAll(() => fs.rmSync(d, { recursive: true, force: true }));

  it('a name-only walk reads ahead lite; files looked up afterwards show what Linux shows', async () => {
    const native = lines(execFileSync('find', [d, '-printf', PRINTF], { encoding: 'utf8' }), d);
    const nativeTypes = lines(execFileSync('find', [d, '-type', 'l', '-o', '-type', 'p'], { encoding: 'utf8' }), d);
    // The first find looks at no file (d_type); the second at every one, in the listings the first left.
    const r = await runSandbox(['--mount', `${d}:/w:ro:cache=exclusive`, '/bin/sh', '-c',
      `find /w -type l -o -type p > /tmp/types && find /w -printf '${PRINTF}' && echo --- && cat /tmp/types`], { env: { TSSANDBOX_FS_STATS: '1' }, timeoutMs: 110_000 });
    expect(r.code, explain(r)).toBe(0);
    const [all, types] = r.stdout.split('---\n');
    expect(lines(all, '/w')).toEqual(native);
    expect(lines(types, '/w')).toEqual(nativeTypes);
    const s = stats(r.stderr);
    expect(s.readdir_lite, r.stderr).toBeGreaterThanOrEqual(20);
  }, 120_000);

  it('a walk that stats every file keeps its read-ahead whole (never lite)', async () => {
    const native = lines(execFileSync('find', [d, '-printf', PRINTF], { encoding: 'utf8' }), d);
    const r = await runSandbox(['--mount', `${d}:/w:ro:cache=exclusive`, '/usr/bin/find', '/w', '-printf', PRINTF], { env: { TSSANDBOX_FS_STATS: '1' }, timeoutMs: 110_000 });
    expect(r.code, explain(r)).toBe(0);
    expect(lines(r.stdout, '/w')).toEqual(native);
    const s = stats(r.stderr);
    expect(s.readdir_lite, r.stderr).toBe(0);
    expect(s.readdir_prefetched, r.stderr).toBeGreaterThanOrEqual(100);
  }, 120_000);

  it('a shared bind: a lite listing still sees a host-side change to a file', async () => {
    // After a name-only walk, the host changes a file of a directory read ahead lite;
    // the guest's stat of it (its attributes never cached) shows the new size.
    const f = path.join(d, 't5', 's19', 'f7');
    const before = fs.readFileSync(f);
    try {
      let finished = false;
      const run = runSandbox(['--mount', `${d}:/w:rw`, '/bin/sh', '-c',
        'find /w > /dev/null && touch /w/.walked && while [ ! -e /w/.changed ]; do sleep 0.02; done; stat -c %s /w/t5/s19/f7'],
      { env: { TSSANDBOX_FS_STATS: '1' }, timeoutMs: 110_000 }).finally(() => { finished = true; });
      const host = (async () => {
        while (!fs.existsSync(path.join(d, '.walked')) && !finished) await new Promise((res) => setTimeout(res, 10));
        fs.writeFileSync(f, 'y'.repeat(1234));
        fs.writeFileSync(path.join(d, '.changed'), '');
      })();
      const [r] = await Promise.all([run, host]);
      expect(r.code, explain(r)).toBe(0);
      expect(r.stdout.trim()).toBe('1234');
      expect(stats(r.stderr).readdir_lite, r.stderr).toBeGreaterThanOrEqual(20);
    } finally {
      fs.writeFileSync(f, before);
      fs.rmSync(path.join(d, '.walked'), { force: true });
      fs.rmSync(path.join(d, '.changed'), { force: true });
    }
  }, 120_000);
});
