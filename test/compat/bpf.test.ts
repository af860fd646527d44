/**
 * bpf(2) cgroup device programs (issue 15), what runc's device filter needs:
 * cp_bpf_devcg: load, attach/detach/query (multi, replace, ENOSPC), get-fd-by-id, info,
 * and the check at open and mknod in the group, against Linux (natively as root in a
 * mount namespace of the test's own, where the guest mounts cgroup2 and removes the group
 * it made). runc.test.ts runs the real user of all this.
 */
import * as nfs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileGuest, LINKAGES } from '../helpers/build';
import { GUESTS_DIR } from '../helpers/paths';
import { explain, runNative, runSandbox } from '../helpers/run';

const SRC = path.join(__dirname, 'guests');
const UNSHARE = '/usr/bin/unshare';
const root = process.getuid?.() === 0;

describe.skipIf(!root || !nfs.existsSync(UNSHARE))('bpf(2): cgroup device programs', () => {
  for (const l of LINKAGES) {
    it(`cp_bpf_devcg (${l}): load, attach, query, detach, enforcement at open and mknod, as Linux`, async () => {
      const bin = compileGuest('cp_bpf_devcg', l, { srcDir: SRC, flags: ['-I', GUESTS_DIR] });
      const [native, sandbox] = await Promise.all([
        runNative([UNSHARE, '-m', '--propagation', 'private', bin], { timeoutMs: 25_000 }),
        runSandbox([bin], { timeoutMs: 25_000 }),
      ]);
      expect(native.code, explain(native)).toBe(0);
      expect(native.stdout).toContain('  open /dev/zero r: -1 EPERM');
      expect(sandbox.stdout, explain(sandbox)).toBe(native.stdout);
      expect(sandbox.code, explain(sandbox)).toBe(0);
    }, 40_000);
  }
});
