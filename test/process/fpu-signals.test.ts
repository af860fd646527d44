/**
 * Vector and FP registers across signals (test/process/guests/pr_fpsig.c), compared with a
 * native run line for line: ymm/zmm/k/MXCSR/x87 kept across handlers that clobber them, the
 * XSAVE image in the ucontext as Linux writes it, a handler's edits to it loaded by
 * sigreturn, broken magic words restoring the legacy area only, and frames on alternate
 * stacks (AT_MINSIGSTKSZ fits; 2048 bytes overflows: SIGSEGV).
 * On kvm the guest's CPU may have fewer registers than the host's: both sides then run at
 * the level the guest sees (`pr_fpsig level` inside tells it).
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileGuests, LINKAGES } from '../helpers/build';
import { GUESTS_DIR } from '../helpers/paths';
import { explain, runNative, runSandbox, status } from '../helpers/run';

const SRC = path.join(path.dirname(fileURLToPath(import.meta.url)), 'guests');

let bins: Record<string, string> = {};

beforeAll(async () => {
  bins = await compileGuests(['pr_fpsig'], { srcDir: SRC, flags: ['-I', GUESTS_DIR] });
}, 120_000);

describe('vector registers across signals', () => {
  for (const l of LINKAGES) {
    it(`${l}: as on Linux`, async () => {
      const bin = bins[`pr_fpsig.${l}`];
      const argv = [bin];
      if (process.env.TSSANDBOX_PLATFORM === 'kvm') {
        const probe = await runSandbox([bin, 'level']);
        expect(status(probe), explain(probe)).toBe(0);
        argv.push(probe.stdout.trim());
      }
      const [native, sandbox] = await Promise.all([runNative(argv, { timeoutMs: 60_000 }), runSandbox(argv, { timeoutMs: 60_000 })]);
      expect(native.stdout, 'native reference must finish').toMatch(/done\n$/);
      expect(sandbox.stdout, explain(sandbox)).toBe(native.stdout);
      expect(status(sandbox), explain(sandbox)).toBe(status(native));
    }, 90_000);
  }
});
