/**
 * Write-behind unlink (fs/fsimpl/hostfs/README.md): an unlink of a file the sandbox made,
 * known by that name within the tree's cache rule, goes to the host with the next Gofer
 * request instead of a round trip of its own. What the guest sees after it (lookups,
 * the same name made again, an open fd's fstat, hard links, renames, rmdir of the
 * emptied directory, a listing) is Linux's in both cache modes (test/fs/guests/
 * unlink_behind.c, run natively and in the sandbox, both ways a run starts); the host
 * has every unlink once the run is over. Round trips counted (TSSANDBOX_FS_STATS), never
 * timed, with create_unlink.c's "many N" (create N files, then unlink them).
 */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileGuest } from '../helpers/build';
import { explain } from '../helpers/run';
import { sameAsNativeInBind, scratch, WAYS } from './rw-bind';

const SRC = path.join(__dirname, 'guests');

function stat(stderr: string, name: string): number {
  const m = new RegExp(`fs-stats .*\\b${name}=(\\d+)`).exec(stderr);
  if (!m) throw new Error(`no ${name} in the fs-stats line of:\n${stderr}`);
  return Number(m[1]);
}

describe('write-behind unlink on a rw bind', () => {
  const bin = () => compileGuest('unlink_behind', 'static', { srcDir: SRC });

  it('answers as Linux does (shared, the default)', async () => {
    await sameAsNativeInBind(bin(), 'tss-unlink-behind-');
  });

  it('answers as Linux does (cache=exclusive)', async () => {
    await sameAsNativeInBind(bin(), 'tss-unlink-behind-', 30_000, ':cache=exclusive');
  });

  for (const [way, run] of WAYS) {
    it(`sends the unlinks of files it made with other requests (cache=exclusive), ${way}`, async () => {
      const b = compileGuest('create_unlink', 'static', { srcDir: SRC });
      const d = scratch('tss-unlink-behind-');
      const n = 300;
      const env = { TSSANDBOX_FS_STATS: '1' };
      const mount = ['--mount', `${d}:/w:rw:cache=exclusive`];
      try {
        const base = await run([...mount, b, '/w', 'many', '0'], { env, timeoutMs: 30_000 });
        expect(base.code, explain(base)).toBe(0);
        const r = await run([...mount, b, '/w', 'many', String(n)], { env, timeoutMs: 60_000 });
        expect(r.stdout, explain(r)).toBe(`made and removed ${n}\n`);
        expect(r.code, explain(r)).toBe(0);
        // Every unlink rode along; the creates are a round trip each (and a batch of
        // unlinks one, 256 a batch at most).
        expect(stat(r.stderr, 'written_behind') - stat(base.stderr, 'written_behind')).toBeGreaterThanOrEqual(n);
        expect(stat(r.stderr, 'gofer_calls') - stat(base.stderr, 'gofer_calls')).toBeLessThanOrEqual(1.1 * n);
        // The host has them all (sent at the latest when the Sentry exits).
        expect(fs.readdirSync(d)).toEqual([]);
      } finally {
        fs.rmSync(d, { recursive: true, force: true });
      }
    });
  }
});
