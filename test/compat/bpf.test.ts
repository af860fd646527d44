/**
 * bpf(2) cgroup device programs (issue 15), what runc's device filter needs:
 * - cp_bpf_devcg: load, attach/detach/query (multi, replace, ENOSPC), get-fd-by-id, info,
 *   and the check at open and mknod in the group, against Linux (natively as root in a
 *   mount namespace of the test's own, where the guest mounts cgroup2 and removes the
 *   group it made);
 * - a real `runc run` inside the sandbox, as root: its device filter loads, attaches and is
 *   enforced (a device node its rules leave out can be made but not opened: EPERM; one they
 *   allow opens), and pivot_root + umount2(".", MNT_DETACH) at the old root's fd succeed.
 */
import * as nfs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileGuest, LINKAGES } from '../helpers/build';
import { GUESTS_DIR } from '../helpers/paths';
import { explain, runNative, runSandbox } from '../helpers/run';

const SRC = path.join(__dirname, 'guests');
const UNSHARE = '/usr/bin/unshare';
const RUNC = '/usr/sbin/runc';
const BUSYBOX = '/bin/busybox';
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

describe.skipIf(!root || !nfs.existsSync(RUNC) || !nfs.existsSync(BUSYBOX))('runc run inside the sandbox', () => {
  it('runs a busybox container: the device filter enforced, the old root detached', async () => {
    const dir = nfs.mkdtempSync(path.join(os.tmpdir(), 'tss-runc-'));
    try {
      const rootfs = path.join(dir, 'rootfs');
      nfs.mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
      nfs.copyFileSync(BUSYBOX, path.join(rootfs, 'bin', 'busybox'));
      nfs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
      nfs.symlinkSync('busybox', path.join(rootfs, 'bin', 'sh'));
      const spec = await runNative([RUNC, 'spec', '--bundle', dir]);
      expect(spec.code, explain(spec)).toBe(0);
      const config = JSON.parse(nfs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
      config.process.terminal = false;
      // runc's rules let any device node be made (mknod "m" for c *:*) but opened only if
      // listed: 1:1 (/dev/mem) is not, 1:3 (/dev/null) is. CAP_MKNOD to make them.
      config.process.args = ['/bin/busybox', 'sh', '-c',
        'echo in; /bin/busybox mknod /dev/m1 c 1 1 && echo made; /bin/busybox head -c 1 /dev/m1 || echo denied; ' +
        '/bin/busybox mknod /dev/n3 c 1 3 && echo x > /dev/n3 && echo null ok; /bin/busybox ls /'];
      for (const set of ['bounding', 'effective', 'permitted']) config.process.capabilities[set].push('CAP_MKNOD');
      nfs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
      const id = `tss-compat-${process.pid}`;
      const r = await runSandbox([RUNC, 'run', '--bundle', dir, id], { timeoutMs: 60_000 });
      expect(r.code, explain(r)).toBe(0);
      expect(r.stdout, explain(r)).toBe('in\nmade\ndenied\nnull ok\nbin\ndev\nproc\nsys\n');
      expect(r.stderr).toContain('Operation not permitted');
    } finally {
      nfs.rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
