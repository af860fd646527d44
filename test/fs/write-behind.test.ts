/**
 * Write-behind setattr on a rw bind (fs/fsimpl/hostfs/README.md): the owner, mode and
 * times of a file the sandbox made go with the next Gofer round trip instead of their
 * own. What tar x and cp -a do (test/fs/guests/write_behind.c) must still answer as
 * Linux does in every order that matters, the host must see the result once the
 * sandbox is gone, and a file so made costs one round trip, not four (counted with
 * TSSANDBOX_FS_STATS, never timed). Both ways a run starts: through the launcher
 * (runSandbox, the default user namespace, where the Sentry may not set times on the
 * files itself) and `tssandbox run` directly.
 */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileGuest } from '../helpers/build';
import { explain } from '../helpers/run';
import { sameAsNativeInBind, scratch, WAYS } from './rw-bind';

const SRC = path.join(__dirname, 'guests');

function stats(stderr: string): { calls: number; behind: number } {
  const m = /fs-stats gofer_calls=(\d+).* written_behind=(\d+)/.exec(stderr);
  if (!m) throw new Error(`no fs-stats line in:\n${stderr}`);
  return { calls: Number(m[1]), behind: Number(m[2]) };
}

describe('write-behind setattr on a rw bind', () => {
  const bin = () => compileGuest('write_behind', 'static', { srcDir: SRC });

  it('answers as Linux does', async () => {
    await sameAsNativeInBind(bin(), 'tss-write-behind-', 40_000);
  }, 90_000);

  for (const [way, run] of WAYS) {
    it(`costs one round trip a file as tar x makes it, and the host sees it all, ${way}`, async () => {
      const b = bin();
      const d = scratch('tss-write-behind-');
      const n = 200;
      const env = { TSSANDBOX_FS_STATS: '1' };
      try {
        const base = await run(['--mount', `${d}:/w:rw`, b, '/w', 'many', '0'], { env, timeoutMs: 30_000 });
        expect(base.code, explain(base)).toBe(0);
        const r = await run(['--mount', `${d}:/w:rw`, b, '/w', 'many', String(n)], { env, timeoutMs: 60_000 });
        expect(r.stdout, explain(r)).toBe(`made and checked ${n}\n`);
        expect(r.code, explain(r)).toBe(0);
        const s = stats(r.stderr);
        // The create (with its fd); the times, owner and mode go with the next one. The
        // check's lstat of each file asks the host for its attributes (shared tree: the
        // sandbox changed them). (Slack for anything a slow run asks again.)
        expect(s.calls - stats(base.stderr).calls, explain(r)).toBeLessThanOrEqual(2.2 * n);
        // Owner and mode behind; the times too where the Sentry may not set them itself.
        expect(s.behind, explain(r)).toBeGreaterThanOrEqual(2 * n);
        // What was deferred last, with nothing after it in the sandbox, reaches the host at exit.
        const last = await run(['--mount', `${d}:/w:rw`, '/bin/sh', '-c', 'touch -d @1000000000 /w/last && chmod 600 /w/last'], { timeoutMs: 30_000 });
        expect(last.code, explain(last)).toBe(0);
        const ls = fs.lstatSync(path.join(d, 'last'));
        expect([ls.mtimeMs, ls.mode & 0o7777]).toEqual([1e12, 0o600]);
        // Once the sandbox is gone the host has every attribute set.
        for (let i = 0; i < n; i++) {
          const st = fs.lstatSync(path.join(d, `m${i}`), { bigint: true });
          expect(st.mtimeNs).toBe(BigInt(1_000_000_000 + i) * 1_000_000_000n + 123_456_789n);
          expect(Number(st.mode) & 0o7777).toBe(0o644);
          expect(Number(st.uid)).toBe(0);
        }
      } finally {
        fs.rmSync(d, { recursive: true, force: true });
      }
    }, 120_000);
  }
});
