/**
 * UDP-Lite (issue 15) on the sandbox's loopback, compared with Linux run in a network
 * namespace of the test's own (lo up), so no host address is used.
 */
import * as nfs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileGuest, LINKAGES } from '../helpers/build';
import { GUESTS_DIR } from '../helpers/paths';
import { explain, runNative, runSandbox } from '../helpers/run';

const SRC = path.join(__dirname, 'guests');
const hasIp = nfs.existsSync('/usr/sbin/ip') || nfs.existsSync('/sbin/ip');

describe.skipIf(process.getuid?.() !== 0 || !nfs.existsSync('/usr/bin/unshare') || !hasIp)('UDP-Lite', () => {
  for (const l of LINKAGES) {
    it(`cp_udplite (${l}): sockets, their own ports, coverage options, the receive rule`, async () => {
      const bin = compileGuest('cp_udplite', l, { srcDir: SRC, flags: ['-I', GUESTS_DIR] });
      const [native, sandbox] = await Promise.all([
        runNative(['/usr/bin/unshare', '-n', '/bin/sh', '-c', `ip link set lo up && exec ${bin}`], { timeoutMs: 25_000 }),
        runSandbox([bin], { timeoutMs: 25_000 }),
      ]);
      expect(native.code, explain(native)).toBe(0);
      expect(native.stdout).toContain('coverage 20 = required 20: 30 bytes');
      expect(sandbox.stdout, explain(sandbox)).toBe(native.stdout);
    }, 40_000);
  }
});
