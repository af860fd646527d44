/**
 * dockerd with tssandbox registered as a runtime (daemon.json written by `tssandbox
 * install`): a dockerd of the test's own (data, exec root, socket and pid file in a
 * temp dir; `--iptables=false --bridge=none --storage-driver=vfs`, as this machine
 * needs), an image imported from the busybox rootfs tarball (no registry here), then
 * `docker run --runtime=tssandbox` in its forms. Everything is removed after.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCKER, have, tmp, waitFor, alive, stopDockerd, startDockerd, spawnAsync, processesWith, descendants, sandboxCgroupDirs } from './helpers';

const ok = have('dockerd') && (fs.existsSync(DOCKER) || have('docker'));
const IMAGE = 'tssandbox-busybox:test';

describe.skipIf(!ok)('docker --runtime=tssandbox', () => {
  let dir = '';
  let host = '';
  let daemon: ChildProcess | null = null;

  const docker = (args: string[], opts: { input?: string; timeout?: number } = {}) =>
    spawnAsync(DOCKER, ['-H', host, ...args], { timeout: opts.timeout ?? 120_000, input: opts.input ?? '' });
  const run = (args: string[]) => docker(['run', '--runtime=tssandbox', '--network=none', ...args]);

  beforeAll(async () => {
    dir = tmp('docker');
    ({ host, daemon } = await startDockerd(dir, IMAGE));
  }, 240_000);

  afterAll(async () => {
    await stopDockerd(daemon, docker, dir);
    // Engines act on the container's stdio through its pid's /proc/<pid>/fd: the Sentry
    // holds no host /dev/null (src/oci/stdio.ts), so it stays as it was, through the
    // daemon's shutdown too. (The 65534 owner once found after test runs came from
    // `runsc create` in the bench, which fchowns its stdio: SECURITY.md.)
    expect(hostState()).toEqual(atStart);
  }, 120_000);

  it('run --rm: output, exit status, hostname, no network but loopback', async () => {
    const r = await run(['--rm', '--hostname', 'dockerbox', IMAGE, 'sh', '-c', 'echo hi from docker; hostname; uname -r; cat /etc/hostname; exit 3']);
    expect(r.stdout).toContain('hi from docker\ndockerbox\n6.1.0-tssandbox\ndockerbox\n');
    expect(r.status, r.stderr).toBe(3);
  });

  it('-d, exec, logs, stop, rm -f', async () => {
    const r = await run(['-d', '--name', 'dd', IMAGE, 'sh', '-c', 'echo started; trap "echo got TERM; exit 0" TERM; while true; do sleep 1; done']);
    expect(r.status, r.stderr).toBe(0);
    await waitFor(async () => (await docker(['logs', 'dd'])).stdout.includes('started'));
    const e = await docker(['exec', 'dd', 'sh', '-c', 'echo exec ok; echo written > /tmp/shared; exit 4']);
    expect(e.stdout).toBe('exec ok\n');
    expect(e.status, e.stderr).toBe(4);
    // The same container: exec sees the first exec's write.
    expect((await docker(['exec', 'dd', 'cat', '/tmp/shared'])).stdout).toBe('written\n');
    const s = await docker(['stop', '-t', '20', 'dd']);
    expect(s.status, s.stderr).toBe(0);
    expect((await docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'dd'])).stdout.trim()).toBe('exited 0');
    expect((await docker(['logs', 'dd'])).stdout).toContain('got TERM');
    expect((await docker(['rm', '-f', 'dd'])).status).toBe(0);
  });

  it('stop with a grace period: SIGTERM ignored, SIGKILL after it', async () => {
    const r = await run(['-d', '--name', 'grace', IMAGE, 'sh', '-c', 'trap "" TERM; echo ignoring; while true; do sleep 1; done']);
    expect(r.status, r.stderr).toBe(0);
    const s = await docker(['stop', '-t', '2', 'grace']);
    expect(s.status, s.stderr).toBe(0);
    // 137: the SIGKILL at the end of the grace period ended it, not the SIGTERM.
    expect((await docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'grace'])).stdout.trim()).toBe('exited 137');
    expect((await docker(['logs', 'grace'])).stdout).toBe('ignoring\n');
    expect((await docker(['rm', 'grace'])).status).toBe(0);
  });

  it('rm -f of a running container', async () => {
    expect((await run(['-d', '--name', 'rmf', IMAGE, 'sleep', '1000'])).status).toBe(0);
    const pid = Number((await docker(['inspect', '-f', '{{.State.Pid}}', 'rmf'])).stdout.trim());
    expect(pid).toBeGreaterThan(0);
    const r = await docker(['rm', '-f', 'rmf']);
    expect(r.status, r.stderr).toBe(0);
    await waitFor(() => !alive(pid));
  });

  it('-v bind, --read-only, --user', async () => {
    const shared = path.join(dir, 'shared');
    fs.mkdirSync(shared, { recursive: true });
    fs.writeFileSync(path.join(shared, 'in.txt'), 'from host\n');
    const r = await run(['--rm', '-v', `${shared}:/data`, IMAGE, 'sh', '-c', 'cat /data/in.txt; echo from guest > /data/out.txt']);
    expect(r.stdout, r.stderr).toBe('from host\n');
    expect(fs.readFileSync(path.join(shared, 'out.txt'), 'utf8')).toBe('from guest\n');
    const ro = await run(['--rm', '--read-only', IMAGE, 'sh', '-c', 'touch /x && echo wrote || echo refused']);
    expect(ro.stdout).toContain('refused');
    const u = await run(['--rm', '--user', '65534:65534', IMAGE, 'id']);
    expect(u.stdout).toMatch(/uid=65534.*gid=65534/);
  });

  it("Docker's default seccomp profile runs a shell; a custom one's errno reaches the guest", async () => {
    // Every run above had Docker's default profile (compiled by src/oci/seccomp-profile.ts).
    expect((await docker(['info', '-f', '{{.SecurityOptions}}'])).stdout).toContain('seccomp');
    const prof = path.join(dir, 'seccomp.json');
    fs.writeFileSync(prof, JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 28 }],
    }));
    const r = await run(['--rm', '--security-opt', `seccomp=${prof}`, IMAGE, 'sh', '-c', 'mkdir /tmp/d; echo rc=$?']);
    expect(r.stdout).toBe('rc=1\n');
    expect(r.stderr).toContain('No space left on device');
    const u = await run(['--rm', '--security-opt', 'seccomp=unconfined', IMAGE, 'sh', '-c', 'mkdir /tmp/d && echo made']);
    expect(u.stdout).toBe('made\n');
  });

  it('-t gets a pty through the console socket; exec -t too', async () => {
    const r = await run(['--rm', '-t', IMAGE, 'sh', '-c', '[ -t 0 ] && [ -t 1 ] && echo on-a-tty']);
    expect(r.stdout, r.stderr).toContain('on-a-tty');
    expect(r.status).toBe(0);
    expect((await run(['-d', '-t', '--name', 'tt', IMAGE, 'sleep', '1000'])).status).toBe(0);
    const e = await docker(['exec', '-t', 'tt', 'sh', '-c', '[ -t 1 ] && echo exec-tty']);
    expect(e.stdout, e.stderr).toContain('exec-tty');
    expect((await docker(['rm', '-f', 'tt'])).status).toBe(0);
  });

  it.skipIf(!have('script'))('-it: keystrokes through the pty, output back', async () => {
    // script(1) gives docker a terminal; what we type goes in through it.
    const cmd = `${DOCKER} -H ${host} run --runtime=tssandbox --network=none -it --rm ${IMAGE} sh`;
    const r = await spawnAsync('script', ['-qec', cmd, '/dev/null'], { timeout: 60_000, input: 'echo typed-$((6*7))\nexit 5\n' });
    expect(r.stdout, r.stderr).toContain('typed-42');
    expect(r.status).toBe(5);
  });

  it('--pids-limit and --memory are enforced by the Sentry', async () => {
    const p = await run(['--rm', '--pids-limit', '6', IMAGE, 'sh', '-c', 'for i in 1 2 3 4 5 6 7 8 9 10; do sleep 1 & done; echo all-forked']);
    expect(p.stdout).not.toContain('all-forked');
    expect(p.stderr).toMatch(/can't fork|Resource temporarily unavailable/);
    expect((await run(['--rm', '--pids-limit', '20', IMAGE, 'sh', '-c', 'for i in 1 2 3 4 5 6 7 8 9 10; do sleep 1 & done; echo all-forked'])).stdout).toContain('all-forked');
    const m = await run(['--rm', '--memory', '32m', IMAGE, 'sh', '-c', 'dd if=/dev/zero of=/tmp/big bs=1M count=64 2>&1; echo rc=$?']);
    expect(m.stdout).toMatch(/No space left on device/);
  });

  // As runc: when docker's delete of the container (rm -f; run --rm after the exit) returns,
  // nothing of it is left: the Sentry, its Gofer and stubs, the cgroup's reaper, the cgroup.
  it('--memory: rm -f and run --rm leave no process of the container and no host cgroup', async () => {
    expect((await run(['-d', '--name', 'memrm', '--memory', '64m', IMAGE, 'sleep', '1000'])).status).toBe(0);
    const id = (await docker(['inspect', '-f', '{{.Id}}', 'memrm'])).stdout.trim();
    // dockerd's runtime root for every runtime: <exec-root>/runtime-runc/moby (the pool's Sentry is sentryPid).
    const st = JSON.parse(fs.readFileSync(path.join(dir, 'exec', 'runtime-runc', 'moby', id, 'state.json'), 'utf8'));
    const sentry = Number(st.sentryPid ?? st.pid);
    expect(sentry).toBeGreaterThan(0);
    const kids = descendants(sentry);
    const cgroups = sandboxCgroupDirs(sentry);
    expect(cgroups.length).toBeGreaterThan(0);
    expect(kids.length).toBeGreaterThanOrEqual(2);
    expect((await docker(['rm', '-f', 'memrm'])).status).toBe(0);
    expect([sentry, ...kids].filter(alive)).toEqual([]);
    expect(cgroups.filter((d) => fs.existsSync(d))).toEqual([]);

    const cid = path.join(dir, 'memrm.cid');
    const r = await run(['--rm', '--cidfile', cid, '--memory', '64m', IMAGE, 'sh', '-c', 'echo ran']);
    expect(r.stdout).toBe('ran\n');
    const rid = fs.readFileSync(cid, 'utf8').trim();
    expect(rid).toMatch(/^[0-9a-f]{64}$/);
    expect(processesWith(rid).filter((p) => fs.readFileSync(`/proc/${p}/cmdline`, 'latin1').includes('tssandbox'))).toEqual([]);
  });

  // docker update goes containerd -> shim -> `update --resources -`: the new limits in the
  // sandbox's host cgroup (state.json's cgroup) and in the Sentry's own count.
  it('update --pids-limit / --cpu-*: the new limits are in force', async () => {
    expect((await run(['-d', '--name', 'upd', '--pids-limit', '50', '--cpu-shares', '512', IMAGE, 'sleep', '1000'])).status).toBe(0);
    const id = (await docker(['inspect', '-f', '{{.Id}}', 'upd'])).stdout.trim();
    const cg = JSON.parse(fs.readFileSync(path.join(dir, 'exec', 'runtime-runc', 'moby', id, 'state.json'), 'utf8')).cgroup;
    const read = (d: string, f: string) => fs.readFileSync(path.join(d, f), 'utf8').trim();
    const forks = ['exec', 'upd', 'sh', '-c', 'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 1 & done; wait; echo all-forked'];
    expect((await docker(forks)).stdout).toContain('all-forked');
    const u = await docker(['update', '--pids-limit', '8', '--cpu-quota', '30000', '--cpu-period', '100000', '--cpu-shares', '256', 'upd']);
    expect(u.status, u.stderr).toBe(0);
    expect(Number(read(cg.pids, 'pids.max'))).toBe(8 * 2 + 64); // launch_cgroup.h HostPidsLimit
    const cpu = cg.v2 ? cg.memory : cg.cpu;
    if (cg.v2) expect(read(cpu, 'cpu.max')).toBe('30000 100000');
    else expect([read(cpu, 'cpu.cfs_quota_us'), read(cpu, 'cpu.cfs_period_us'), read(cpu, 'cpu.shares')]).toEqual(['30000', '100000', '256']);
    const f = await docker(forks);
    expect(f.stdout).not.toContain('all-forked');
    expect(f.stderr + f.stdout).toMatch(/can't fork|Resource temporarily unavailable/);
    expect((await docker(['rm', '-f', 'upd'])).status).toBe(0);
  });

  // Docker configures "the container's" network namespace through its pid, which is the
  // Sentry's: in the host's namespace that once disabled IPv6 on the host. And the host's
  // /dev/null (the Sentry's stdin here) was once found chowned to 65534 after engine runs.
  it("the host's network settings and /dev/null are left alone", async () => {
    const before = hostState();
    expect((await run(['--rm', IMAGE, 'true'])).status).toBe(0);
    expect((await run(['--rm', '--user', '65534:65534', IMAGE, 'true'])).status).toBe(0);
    expect((await run(['--rm', '-t', '--user', '65534:65534', IMAGE, 'true'])).status).toBe(0);
    // While a container of user 65534 runs (and an exec in it, stdin not attached), the
    // container's pid holds no host /dev/null for an engine to chown.
    expect((await run(['-d', '--name', 'nul', '--user', '65534:65534', IMAGE, 'sleep', '1000'])).status).toBe(0);
    const pid = Number((await docker(['inspect', '-f', '{{.State.Pid}}', 'nul'])).stdout.trim());
    expect(pid).toBeGreaterThan(0);
    expect((await docker(['exec', '-d', '--user', '65534:65534', 'nul', 'sleep', '999'])).status).toBe(0);
    await waitFor(async () => (await docker(['top', 'nul'])).stdout.includes('999') || (await docker(['exec', 'nul', 'ps'])).stdout.includes('999'));
    expect(nullFdsOf(pid)).toEqual([]);
    expect((await docker(['rm', '-f', 'nul'])).status).toBe(0);
    expect(hostState()).toEqual(before);
  });
});

const atStart = hostState();

function hostState(): Record<string, string> {
  const nul = fs.statSync('/dev/null');
  const out: Record<string, string> = { '/dev/null owner': `${nul.uid}:${nul.gid}`, '/dev/null mode': nul.mode.toString(8) };
  for (const k of ['ipv6/conf/all/disable_ipv6', 'ipv6/conf/lo/disable_ipv6', 'ipv6/conf/default/disable_ipv6', 'ipv4/ip_forward']) {
    out[k] = fs.readFileSync(`/proc/sys/net/${k}`, 'utf8').trim();
  }
  return out;
}

/** The fds of host process `pid` that are the host's /dev/null. */
function nullFdsOf(pid: number): string[] {
  const rdev = fs.statSync('/dev/null').rdev;
  return fs.readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      const s = fs.statSync(`/proc/${pid}/fd/${fd}`);
      return s.isCharacterDevice() && s.rdev === rdev;
    } catch {
      return false;
    }
  });
}
