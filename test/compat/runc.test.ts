/**
 * A real runc inside the sandbox (issue 15), on a busybox bundle made by `runc spec`:
 * - as root: its device filter (bpf(2) cgroup device program) loads, attaches and is
 *   enforced (runc's rules let any device node be made but only listed ones open: 1:1
 *   opens with EPERM, 1:3 opens), and its jail (pivot_root(".", "."), then
 *   umount2(".", MNT_DETACH) at the old root's fd) succeeds;
 * - rootless (`runc spec --rootless`, run as uid 1000 in the sandbox): its maps written
 *   as C strings, /dev a tmpfs the container's root owns, the same jail;
 * - podman run --rootfs with runc as its runtime (conmon's fchmod of its socket, runc's
 *   masks of directories with /dev/null falling back to a tmpfs on ENOTDIR).
 */
import * as nfs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { explain, runNative, runSandbox } from '../helpers/run';

const RUNC = '/usr/sbin/runc';
const BUSYBOX = '/bin/busybox';
const SETPRIV = '/usr/bin/setpriv';
const PODMAN = '/usr/bin/podman';
const root = process.getuid?.() === 0;

/** A bundle in a new temporary directory: rootfs with busybox, config.json from `runc spec` edited by `edit`. */
async function bundle(rootless: boolean, edit: (config: any) => void): Promise<string> {
  const dir = nfs.mkdtempSync(path.join(os.tmpdir(), 'tss-runc-'));
  const rootfs = path.join(dir, 'rootfs');
  nfs.mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
  nfs.copyFileSync(BUSYBOX, path.join(rootfs, 'bin', 'busybox'));
  nfs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
  nfs.symlinkSync('busybox', path.join(rootfs, 'bin', 'sh'));
  const spec = await runNative([RUNC, 'spec', '--bundle', dir, ...(rootless ? ['--rootless'] : [])]);
  expect(spec.code, explain(spec)).toBe(0);
  const config = JSON.parse(nfs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  config.process.terminal = false;
  edit(config);
  nfs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

describe.skipIf(!root || !nfs.existsSync(RUNC) || !nfs.existsSync(BUSYBOX))('runc run inside the sandbox', () => {
  it('as root: the device filter enforced, the old root detached', async () => {
    const dir = await bundle(false, (config) => {
      config.process.args = ['/bin/busybox', 'sh', '-c',
        'echo in; /bin/busybox mknod /dev/m1 c 1 1 && echo made; /bin/busybox head -c 1 /dev/m1 || echo denied; ' +
        '/bin/busybox mknod /dev/n3 c 1 3 && echo x > /dev/n3 && echo null ok; /bin/busybox ls /'];
      // CAP_MKNOD, so that runc's device rules are what decides.
      for (const set of ['bounding', 'effective', 'permitted']) config.process.capabilities[set].push('CAP_MKNOD');
    });
    try {
      const r = await runSandbox([RUNC, 'run', '--bundle', dir, `tss-compat-${process.pid}`], { timeoutMs: 60_000 });
      expect(r.code, explain(r)).toBe(0);
      expect(r.stdout, explain(r)).toBe('in\nmade\ndenied\nnull ok\nbin\ndev\nproc\nsys\n');
      expect(r.stderr).toContain('Operation not permitted');
    } finally {
      nfs.rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it.skipIf(!nfs.existsSync(SETPRIV))('rootless, as uid 1000: its user namespace, /dev/pts on its own /dev, the jail', async () => {
    const dir = await bundle(true, (config) => {
      config.process.args = ['/bin/busybox', 'sh', '-c', 'echo in; /bin/busybox id; /bin/busybox ls /dev/pts >/dev/null && echo pts; /bin/busybox ls /'];
      // Container root is uid/gid 1000 of the sandbox (`runc spec` wrote the ids it ran as).
      config.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
      config.linux.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
    });
    try {
      // The bundle is the user's, as rootless runc needs (it makes mount points in the rootfs).
      for (const p of [dir, path.join(dir, 'rootfs'), path.join(dir, 'rootfs', 'bin'), path.join(dir, 'config.json')]) nfs.chownSync(p, 1000, 1000);
      nfs.lchownSync(path.join(dir, 'rootfs', 'bin', 'sh'), 1000, 1000);
      nfs.chownSync(path.join(dir, 'rootfs', 'bin', 'busybox'), 1000, 1000);
      const state = path.join(dir, 'state');
      const r = await runSandbox([SETPRIV, '--reuid=1000', '--regid=1000', '--clear-groups', '/usr/bin/env', `XDG_RUNTIME_DIR=${state}`,
        `HOME=${dir}`, RUNC, '--root', state, 'run', '--bundle', dir, `tss-rootless-${process.pid}`], { timeoutMs: 60_000 });
      expect(r.code, explain(r)).toBe(0);
      expect(r.stdout, explain(r)).toBe('in\nuid=0 gid=0\npts\nbin\ndev\nproc\nsys\n');
    } finally {
      nfs.rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it.skipIf(!nfs.existsSync(PODMAN) || !nfs.existsSync('/usr/bin/conmon'))('podman run --rootfs, with runc', async () => {
    const dir = await bundle(false, () => undefined);
    try {
      const r = await runSandbox([PODMAN, '--cgroup-manager=cgroupfs', '--events-backend=file', '--runtime', RUNC, '--storage-driver', 'vfs',
        '--root', path.join(dir, 'store'), '--runroot', path.join(dir, 'run'), 'run', '--rm', '--ulimit', 'nofile=1024:1024',
        '--ulimit', 'nproc=4096:4096', '--network', 'none', '--rootfs', path.join(dir, 'rootfs'),
        '/bin/busybox', 'sh', '-c', 'echo in podman; /bin/busybox cat /proc/self/cgroup | /bin/busybox grep -c libpod'],
      { timeoutMs: 150_000 });
      expect(r.code, explain(r)).toBe(0);
      expect(r.stdout, explain(r)).toBe('in podman\n1\n');
    } finally {
      nfs.rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
