/**
 * podman --runtime tssandbox: storage, run root and tmp dir of the test's own (vfs, so
 * nothing is mounted on the host), an image imported from the busybox rootfs tarball,
 * then run, exec, rm. The ulimits are needed because this machine's root lacks
 * CAP_SYS_RESOURCE (podman would otherwise try to raise them).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNTIME, have, makeRootfs, rootfsTar, tmp, alive, waitFor, spawnAsync } from './helpers';
import { canMakeNetns, cleanupNetns, vethPair, SANDBOX_V4 } from '../net/netns';

const ok = have('podman') && have('conmon');
const IMAGE = 'localhost/tssandbox-busybox:test';
const ULIMITS = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096'];

describe.skipIf(!ok)('podman --runtime tssandbox', () => {
  let dir = '';
  const podman = (args: string[]) => spawnAsync('podman', [
    '--root', path.join(dir, 'storage'), '--runroot', path.join(dir, 'run'), '--tmpdir', path.join(dir, 'tmp'),
    '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', '--runtime', RUNTIME, ...args,
  ], { timeout: 120_000 });

  beforeAll(async () => {
    dir = tmp('podman');
    const rootfs = await makeRootfs(path.join(dir, 'rootfs'));
    const r = await podman(['import', await rootfsTar(rootfs, path.join(dir, 'rootfs.tar')), IMAGE]);
    expect(r.status, r.stderr).toBe(0);
  }, 120_000);

  afterAll(async () => {
    cleanupNetns();
    if (!dir) return;
    await podman(['rm', '-af']);
    await spawnAsync('sh', ['-c', `grep " ${dir}" /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r -n1 umount -l`]);
    fs.rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('run --rm: output and exit status', async () => {
    const r = await podman(['run', '--rm', '--network=none', ...ULIMITS, IMAGE, 'sh', '-c', 'echo hi from podman; uname -r; exit 5']);
    expect(r.stdout).toBe('hi from podman\n6.1.0-tssandbox\n');
    expect(r.status, r.stderr).toBe(5);
  });

  it.skipIf(!canMakeNetns())('--network ns:PATH: the Sentry\'s stack takes the namespace over; TCP served to the peer', async () => {
    // A namespace and veth of the test's own (198.51.100.0/24), handed to podman as is.
    const pair = vethPair();
    const r = await podman(['run', '-d', '--name', 'pn', '--network', `ns:/run/netns/${pair.sandboxNs}`, ...ULIMITS, IMAGE,
      'sh', '-c', 'while true; do echo served-in-podman | nc -l -p 7777; done']);
    expect(r.status, r.stderr).toBe(0);
    const got = await waitFor(async () => {
      const c = await spawnAsync('ip', ['netns', 'exec', pair.peerNs, 'busybox', 'nc', '-w', '2', SANDBOX_V4, '7777'], { input: '', timeout: 10_000 });
      return c.stdout.includes('served-in-podman') ? c.stdout : null;
    }, 100);
    expect(got).toContain('served-in-podman');
    expect((await podman(['exec', 'pn', 'ip', '-4', 'addr'])).stdout).toContain(`${SANDBOX_V4}/24`);
    expect((await podman(['rm', '-f', 'pn'])).status).toBe(0);
  });

  it('run -d, exec, rm -f', async () => {
    const r = await podman(['run', '-d', '--name', 'pd', '--network=none', ...ULIMITS, IMAGE, 'sleep', '1000']);
    expect(r.status, r.stderr).toBe(0);
    const pid = Number((await podman(['inspect', '-f', '{{.State.Pid}}', 'pd'])).stdout.trim());
    expect(alive(pid)).toBe(true);
    const e = await podman(['exec', 'pd', 'sh', '-c', 'echo exec in podman; ps; exit 6']);
    expect(e.stdout).toMatch(/^exec in podman\n/);
    expect(e.stdout).toMatch(/ 1 .*sleep 1000\n/);
    expect(e.status, e.stderr).toBe(6);
    const rm = await podman(['rm', '-f', 'pd']);
    expect(rm.status, rm.stderr).toBe(0);
    await waitFor(() => !alive(pid));
    expect((await podman(['ps', '-aq'])).stdout.trim()).toBe('');
  });
});
