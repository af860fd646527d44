/**
 * The Sentry's fast paths (src/kernel/README.md, "Per-syscall cost") give what Linux
 * gives: guest path strings read a short piece of a page first, the host tree's inode
 * identity table is keyed by numbers, cache entries keep the inodes they made. The guest
 * (test/fs/guests/hot_paths.c) runs natively and in the sandbox, on the overlay's /tmp
 * and on a rw bind of a host directory; the outputs must match.
 */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compileGuest, LINKAGES } from '../helpers/build';
import { expectSameAsNative, runNative, runSandbox, explain } from '../helpers/run';

const SRC = path.join(__dirname, 'guests');

describe('hot paths match Linux', () => {
  for (const l of LINKAGES) {
    it(`hot_paths on /tmp (${l})`, async () => {
      const bin = compileGuest('hot_paths', l, { srcDir: SRC });
      await expectSameAsNative([bin], { timeoutMs: 25_000 });
    });
  }

  // --deterministic too: its listings are renumbered copies of the cache's entries (d_type kept).
  for (const flags of [[], ['--deterministic']]) {
    it(`hot_paths on a rw bind (host tree, shared cache)${flags.length ? ', --deterministic' : ''}`, async () => {
      const bin = compileGuest('hot_paths', 'static', { srcDir: SRC });
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-hot-bind-'));
      try {
        const native = await runNative([bin, dir], { timeoutMs: 25_000 });
        expect(native.code, explain(native)).toBe(0);
        const sandbox = await runSandbox([...flags, '--mount', `${dir}:${dir}:rw`, bin, dir], { timeoutMs: 25_000 });
        expect(sandbox.stdout, explain(sandbox)).toBe(native.stdout);
        expect(sandbox.code, explain(sandbox)).toBe(0);
        expect(fs.readdirSync(dir)).toEqual([]);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
