/**
 * podman --runtime tssandbox: storage, run root and tmp dir of the test's own (vfs, so
 * nothing is mounted on the host), an image imported from the busybox rootfs tarball,
 * then run, exec, kill, pause/unpause, update, rm. The ulimits are needed because this machine's root lacks
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

  it('kill with a signal, pause/unpause, update', async () => {
    const r = await podman(['run', '-d', '--name', 'pk', '--network=none', '--memory', '128m', ...ULIMITS, IMAGE, 'sh', '-c',
      'trap "echo got-usr1" USR1; echo up; while true; do sleep 0.1; done']);
    expect(r.status, r.stderr).toBe(0);
    await waitFor(async () => (await podman(['logs', 'pk'])).stdout.includes('up\n'));
    expect((await podman(['kill', '-s', 'USR1', 'pk'])).status).toBe(0);
    await waitFor(async () => (await podman(['logs', 'pk'])).stdout.includes('got-usr1\n'));
    const pause = await podman(['pause', 'pk']);
    expect(pause.status, pause.stderr).toBe(0);
    expect((await podman(['inspect', '-f', '{{.State.Status}}', 'pk'])).stdout.trim()).toBe('paused');
    const unpause = await podman(['unpause', 'pk']);
    expect(unpause.status, unpause.stderr).toBe(0);
    expect((await podman(['inspect', '-f', '{{.State.Status}}', 'pk'])).stdout.trim()).toBe('running');
    expect((await podman(['exec', 'pk', 'echo', 'after-unpause'])).stdout).toBe('after-unpause\n');
    // update: podman hands the runtime the new resources (`update --resources`), which
    // rewrites the sandbox's host cgroup (the guest's limit + a quarter + 128 MiB).
    // The Sentry's (the container's pid may be the pool's front, which stays outside).
    const id = (await podman(['inspect', '-f', '{{.Id}}', 'pk'])).stdout.trim();
    const st = JSON.parse(fs.readFileSync(`/run/tssandbox/${id}/state.json`, 'utf8')); // podman gives no --root: the default
    const sentry = st.sentryPid ?? st.pid;
    const line = fs.readFileSync(`/proc/${sentry}/cgroup`, 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes('memory'));
    const memDir = `/sys/fs/cgroup/memory${line?.split(':')[2] ?? ''}`;
    expect(memDir).toContain('/tssandbox-');
    const limit = () => Number(fs.readFileSync(`${memDir}/memory.limit_in_bytes`, 'utf8'));
    expect(limit()).toBe((128 + 32 + 128) << 20);
    const u = await podman(['update', '--memory', '256m', 'pk']);
    expect(u.status, u.stderr).toBe(0);
    expect(limit()).toBe((256 + 64 + 128) << 20);
    expect((await podman(['kill', 'pk'])).status).toBe(0);
    await waitFor(async () => (await podman(['inspect', '-f', '{{.State.Status}}', 'pk'])).stdout.trim() === 'exited');
    expect((await podman(['rm', 'pk'])).status).toBe(0);
    await waitFor(() => !fs.existsSync(memDir));
  });

  // podman update (this podman has the cpu flags, not --pids-limit) -> `update --resources`.
  it('update --cpu-quota/--cpu-period/--cpu-shares, --cpus: the host cgroup has the new values', async () => {
    const r = await podman(['run', '-d', '--name', 'pu', '--network=none', '--cpu-shares', '512', ...ULIMITS, IMAGE, 'sleep', '1000']);
    expect(r.status, r.stderr).toBe(0);
    const id = (await podman(['inspect', '-f', '{{.Id}}', 'pu'])).stdout.trim();
    const cg = JSON.parse(fs.readFileSync(`/run/tssandbox/${id}/state.json`, 'utf8')).cgroup;
    const cpu = cg.v2 ? cg.memory : cg.cpu;
    const read = (f: string) => fs.readFileSync(path.join(cpu, f), 'utf8').trim();
    if (!cg.v2) expect(read('cpu.shares')).toBe('512');
    const u = await podman(['update', '--cpu-quota', '30000', '--cpu-period', '100000', '--cpu-shares', '256', 'pu']);
    expect(u.status, u.stderr).toBe(0);
    if (cg.v2) expect(read('cpu.max')).toBe('30000 100000');
    else expect([read('cpu.cfs_quota_us'), read('cpu.cfs_period_us'), read('cpu.shares')]).toEqual(['30000', '100000', '256']);
    expect((await podman(['update', '--cpus', '0.5', 'pu'])).status).toBe(0);
    if (cg.v2) expect(read('cpu.max')).toBe('50000 100000');
    else expect([read('cpu.cfs_quota_us'), read('cpu.cfs_period_us')]).toEqual(['50000', '100000']);
    expect((await podman(['rm', '-f', 'pu'])).status).toBe(0);
    expect(fs.existsSync(cpu)).toBe(false);
  });
});
