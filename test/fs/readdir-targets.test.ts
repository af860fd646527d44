/**
 * Symlink targets carried by a listing (the Gofer's READDIR_WITH_TARGETS): what a guest
 * reads of the symlinks of a listed directory is what Linux shows (short, long, absolute,
 * dangling and odd-byte targets), and reading them makes no round trip each (counted
 * with the fs-stats debug line, never timed). Only read-only trees: a listing of a rw
 * bind reads no symlink (readlink would move its atime on the host).
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

const LINKS = 300;

describe('symlink targets from listings', () => {
  let d = '';
  beforeAll(() => {
    d = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-targets-'));
    for (let i = 0; i < 3; i++) {
      const sub = path.join(d, `s${i}`);
      fs.mkdirSync(sub);
      for (let k = 0; k < LINKS / 3; k++) {
        const target = [`f${k}`, `/abs/${k}/x`, `../s${(i + 1) % 3}/l${k}`, 'x'.repeat(3000 + k), `dangling-\u00e9-${k}`][k % 5];
        fs.symlinkSync(target, path.join(sub, `l${k}`));
        fs.writeFileSync(path.join(sub, `f${k}`), String(k));
      }
    }
  });
  afterAll(() => fs.rmSync(d, { recursive: true, force: true }));

  it('listing a rw bind reads no symlink (its atime stays, as on Linux)', async () => {
    const w = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-targets-rw-'));
    try {
      fs.symlinkSync('somewhere', path.join(w, 'l'));
      // (relatime: a symlink whose atime is not past its mtime is moved by its next readlink.)
      const before = fs.lstatSync(path.join(w, 'l'), { bigint: true }).atimeNs;
      const r = await runSandbox(['--mount', `${w}:/w:rw`, '/bin/sh', '-c', 'ls -a /w && find /w'], { timeoutMs: 110_000 });
      expect(r.code, explain(r)).toBe(0);
      expect(r.stdout).toContain('l');
      expect(fs.lstatSync(path.join(w, 'l'), { bigint: true }).atimeNs).toBe(before);
    } finally {
      fs.rmSync(w, { recursive: true, force: true });
    }
  }, 120_000);

  for (const mode of ['exclusive', 'shared']) {
    it(`find -printf %l and readlink show Linux's targets (cache=${mode})`, async () => {
      const native = execFileSync('find', [d, '-printf', '%p -> %l\\n'], { encoding: 'latin1' }).split(d).join('/w').split('\n').sort();
      const one = execFileSync('readlink', [path.join(d, 's1', 'l3')], { encoding: 'latin1' });
      const r = await runSandbox(['--mount', `${d}:/w:ro:cache=${mode}`, '/bin/sh', '-c', "find /w -printf '%p -> %l\\n' && echo --- && readlink /w/s1/l3"], {
        env: { TSSANDBOX_FS_STATS: '1' }, timeoutMs: 110_000,
      });
      expect(r.code, explain(r)).toBe(0);
      const out = Buffer.from(r.stdout, 'utf8').toString('latin1');
      const [all, rl] = r.stdout.includes('---\n') ? [out.slice(0, out.indexOf('---\n')), out.slice(out.indexOf('---\n') + 4)] : [out, ''];
      expect(all.split('\n').sort()).toEqual(native);
      expect(rl).toBe(one);
      // A listing per directory, not a readlink per symlink.
      expect(stats(r.stderr).gofer_calls, r.stderr).toBeLessThan(LINKS / 2);
    }, 120_000);
  }
});
