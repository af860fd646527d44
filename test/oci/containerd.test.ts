/**
 * containerd + ctr with tssandbox as the runc binary: a containerd of the test's own
 * (its own root, state and socket; the host's daemons are left alone), an image the
 * test builds from the busybox rootfs (`ctr image import`), then `ctr run
 * --runc-binary`, `ctr task exec`, `ctr task kill`, `ps`, `pause`/`resume` (no `update` in this ctr),
 * checkpoint and restore (`ctr container checkpoint --task`: the shim pauses the task and
 * calls our `checkpoint --leave-running`; `ctr container restore --live` on a new
 * container: the shim calls our `restore` on a new snapshot of the image), and
 * everything removed after.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNTIME, containerdConfig, have, makeRootfs, ociImageTar, tmp, waitFor, killTree, processesWith, spawnAsync, descendants, alive, sandboxCgroupDirs } from './helpers';

const ok = have('containerd') && have('ctr');
const IMAGE = 'docker.io/library/tssandbox-busybox:test';

describe.skipIf(!ok)('containerd + ctr --runc-binary tssandbox', () => {
  let dir = '';
  let sock = '';
  let daemon: ChildProcess | null = null;
  // A namespace of this run's own: the shims' runc root is /run/containerd/runc/NS, and a
  // suite on another platform may run this file at the same time (scripts/test.mjs).
  const NS = `tsstest-${process.pid}`;
  const ofOurs = (p: number, id: string) => {
    try {
      return fs.readFileSync(`/proc/${p}/cmdline`, 'latin1').includes(`/${NS}/${id}`);
    } catch {
      return false;
    }
  };

  const ctr = (args: string[], input?: string) =>
    spawnAsync('ctr', ['-a', sock, '-n', NS, ...args], { timeout: 120_000, input: input ?? '' });

  beforeAll(async () => {
    dir = tmp('ctd');
    sock = path.join(dir, 'c.sock');
    const config = containerdConfig(dir, sock, ['io.containerd.grpc.v1.cri']);
    const log = fs.openSync(path.join(dir, 'containerd.log'), 'w');
    // Its temporary files in our folder: a task checkpoint's ctrd-checkpoint* dir outlives it.
    const tmpDir = path.join(dir, 'tmp');
    fs.mkdirSync(tmpDir);
    daemon = spawn('containerd', ['-c', config], { stdio: ['ignore', log, log], env: { ...process.env, TMPDIR: tmpDir } });
    await waitFor(async () => fs.existsSync(sock) && (await ctr(['version'])).status === 0);
    const rootfs = await makeRootfs(path.join(dir, 'rootfs'));
    fs.mkdirSync(path.join(rootfs, 'out')); // the checkpoint test's bind
    const tar = await ociImageTar(rootfs, path.join(dir, 'image.tar'), IMAGE);
    const r = await ctr(['image', 'import', '--snapshotter', 'native', tar]);
    expect(r.status, r.stderr).toBe(0);
  }, 180_000);

  afterAll(async () => {
    if (sock && daemon) {
      for (const t of (await ctr(['task', 'ls', '-q'])).stdout.split('\n').filter(Boolean)) await ctr(['task', 'kill', '-s', 'SIGKILL', t]);
      for (const t of (await ctr(['task', 'ls', '-q'])).stdout.split('\n').filter(Boolean)) await ctr(['task', 'delete', '-f', t]);
      for (const c of (await ctr(['container', 'ls', '-q'])).stdout.split('\n').filter(Boolean)) await ctr(['container', 'delete', c]);
    }
    if (daemon?.pid) killTree(daemon.pid);
    // Shims of our namespace outlive containerd by design: end them too.
    for (const p of processesWith(`-namespace ${NS} `)) killTree(p);
    fs.rmSync(`/run/containerd/runc/${NS}`, { recursive: true, force: true });
    if (dir) {
      await spawnAsync('sh', ['-c', `grep " ${dir}" /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r -n1 umount -l`]);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ctr run --rm: output and exit status come back', async () => {
    const r = await ctr(['run', '--rm', '--snapshotter', 'native', '--runc-binary', RUNTIME, IMAGE, 'ctr-rm', 'sh', '-c', 'echo hello from ctr; uname -r; exit 7']);
    expect(r.stdout).toContain('hello from ctr');
    expect(r.stdout).toContain('tssandbox');
    expect(r.status, r.stderr).toBe(7);
    expect((await ctr(['container', 'ls', '-q'])).stdout).not.toContain('ctr-rm');
  });

  it('ctr run -d, task exec, task kill, delete', async () => {
    const r = await ctr(['run', '-d', '--snapshotter', 'native', '--runc-binary', RUNTIME, IMAGE, 'ctr-d', 'sleep', '1000']);
    expect(r.status, r.stderr).toBe(0);
    await waitFor(async () => /ctr-d\s+\d+\s+RUNNING/.test((await ctr(['task', 'ls'])).stdout));
    // Every process of the sandbox while it runs (the Sentry's tree) and its host cgroup.
    const sentry = processesWith('__oci-sentry').find((p) => ofOurs(p, 'ctr-d')) ?? 0;
    expect(sentry).toBeGreaterThan(0);
    const kids = descendants(sentry);
    const cgroups = sandboxCgroupDirs(sentry);
    expect(cgroups.length).toBeGreaterThan(0);
    const e = await ctr(['task', 'exec', '--exec-id', 'e1', 'ctr-d', 'sh', '-c', 'echo exec says hi; ps | grep -c sleep; exit 3']);
    expect(e.stdout).toContain('exec says hi');
    expect(e.status, e.stderr).toBe(3);
    const k = await ctr(['task', 'kill', '-s', 'SIGKILL', 'ctr-d']);
    expect(k.status, k.stderr).toBe(0);
    await waitFor(async () => /ctr-d\s+\d+\s+STOPPED/.test((await ctr(['task', 'ls'])).stdout));
    expect((await ctr(['task', 'delete', 'ctr-d'])).status).toBe(0);
    expect((await ctr(['container', 'delete', 'ctr-d'])).status).toBe(0);
    // As runc: when delete returns, nothing of the container is left (the Sentry, its Gofer and
    // stubs, the host cgroup's reaper: all share the Sentry's command line or its cgroup), nor the cgroup.
    const read = (p: number, f: string) => { try { return fs.readFileSync(`/proc/${p}/${f}`, 'latin1'); } catch { return ''; } };
    expect(processesWith('__oci-sentry').filter((p) => ofOurs(p, 'ctr-d'))).toEqual([]);
    expect(kids.filter(alive)).toEqual([]);
    expect(cgroups.filter((d) => fs.existsSync(d))).toEqual([]);
  });

  it('task ps, pause/resume through the runc shim (this ctr has no task update); a memory limit is the sandbox\'s host cgroup', async () => {
    const r = await ctr(['run', '-d', '--snapshotter', 'native', '--runc-binary', RUNTIME, '--memory-limit', String(128 << 20), IMAGE, 'ctr-m', 'sh', '-c', 'sleep 1000 & wait']);
    expect(r.status, r.stderr).toBe(0);
    await waitFor(async () => /ctr-m\s+\d+\s+RUNNING/.test((await ctr(['task', 'ls'])).stdout));
    // ps: the host pids of the container (runc's `ps --format json`): the container's pid among them.
    const pid = Number(/ctr-m\s+(\d+)/.exec((await ctr(['task', 'ls'])).stdout)?.[1]);
    const ps = await ctr(['task', 'ps', 'ctr-m']);
    expect(ps.status, ps.stderr).toBe(0);
    expect(ps.stdout).toMatch(new RegExp(`^${pid}\\b`, 'm'));
    expect((await ctr(['task', 'pause', 'ctr-m'])).status).toBe(0);
    await waitFor(async () => /ctr-m\s+\d+\s+PAUSED/.test((await ctr(['task', 'ls'])).stdout));
    expect((await ctr(['task', 'resume', 'ctr-m'])).status).toBe(0);
    await waitFor(async () => /ctr-m\s+\d+\s+RUNNING/.test((await ctr(['task', 'ls'])).stdout));
    const e = await ctr(['task', 'exec', '--exec-id', 'e2', 'ctr-m', 'sh', '-c', 'echo after resume']);
    expect(e.stdout).toContain('after resume');
    // The sandbox's host cgroup (state.json's cgroup), with the limit ctr put in config.json.
    const sentry = (() => {
      for (const p of processesWith('__oci-sentry')) if (ofOurs(p, 'ctr-m')) return p;
      return 0;
    })();
    expect(sentry).toBeGreaterThan(0);
    const line = fs.readFileSync(`/proc/${sentry}/cgroup`, 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes('memory'));
    const memDir = line ? `/sys/fs/cgroup/memory${line.split(':')[2]}` : '';
    const limit = () => Number(fs.readFileSync(`${memDir}/memory.limit_in_bytes`, 'utf8'));
    // launch_cgroup.h HostMemoryLimit: the guest's limit, a quarter (at least 32 MiB) and the Sentry's 128 MiB.
    expect(memDir).toContain('/tssandbox-');
    expect(limit()).toBe((128 + 32 + 128) << 20);
    expect((await ctr(['task', 'kill', '-s', 'SIGKILL', 'ctr-m'])).status).toBe(0);
    await waitFor(async () => /ctr-m\s+\d+\s+STOPPED/.test((await ctr(['task', 'ls'])).stdout));
    expect((await ctr(['task', 'delete', 'ctr-m'])).status).toBe(0);
    expect((await ctr(['container', 'delete', 'ctr-m'])).status).toBe(0);
    if (memDir) await waitFor(() => !fs.existsSync(memDir));
  });

  it('ctr container checkpoint --task, then ctr container restore --live: the count goes on from the saved one', async () => {
    const out = path.join(dir, 'count');
    fs.mkdirSync(out);
    // The count is appended to a host file through a bind: the restored process appends to it too.
    const script = 'i=0; while [ $i -lt 100000 ]; do i=$((i+1)); echo $i >> /out/log; sleep 0.05; done';
    const r = await ctr(['run', '-d', '--snapshotter', 'native', '--runc-binary', RUNTIME, '--mount', `type=bind,src=${out},dst=/out,options=rbind:rw`, IMAGE, 'ck', 'sh', '-c', script]);
    expect(r.status, r.stderr).toBe(0);
    const log = () => (fs.existsSync(path.join(out, 'log')) ? fs.readFileSync(path.join(out, 'log'), 'utf8').split('\n').filter(Boolean).map(Number) : []);
    await waitFor(() => log().length >= 5);
    const before = log().length;
    // containerd pauses the task, the shim calls our checkpoint (--leave-running), resumes it,
    // and keeps the image in its content store as tss/ck:1.
    const ck = await ctr(['container', 'checkpoint', '--task', 'ck', 'tss/ck:1']);
    expect(ck.status, ck.stderr).toBe(0);
    expect((await ctr(['image', 'ls', '-q'])).stdout).toContain('tss/ck:1');
    await waitFor(() => log().length > before + 2); // it went on
    expect((await ctr(['task', 'kill', '-s', 'SIGKILL', 'ck'])).status).toBe(0);
    await waitFor(async () => /ck\s+\d+\s+STOPPED/.test((await ctr(['task', 'ls'])).stdout));
    expect((await ctr(['task', 'delete', 'ck'])).status).toBe(0);
    expect((await ctr(['container', 'delete', 'ck'])).status).toBe(0);
    const killedAt = log().length;
    expect(log()).toEqual(Array.from({ length: killedAt }, (_, j) => j + 1));
    // A new container from the checkpoint (a new snapshot of the image), its task restored by our `restore`.
    const rs = await ctr(['container', 'restore', '--live', 'ck', 'tss/ck:1']);
    expect(rs.status, rs.stderr).toBe(0);
    expect((await ctr(['task', 'ls'])).stdout).toMatch(/ck\s+\d+\s+RUNNING/);
    await waitFor(() => log().length >= killedAt + 3);
    const after = log().slice(killedAt);
    // From where the checkpoint stood (not 1, as a new run would), counting on by one.
    expect(after[0]).toBeGreaterThan(before);
    expect(after[0]).toBeLessThanOrEqual(killedAt);
    expect(after.slice(0, 3)).toEqual([after[0], after[0] + 1, after[0] + 2]);
    expect((await ctr(['task', 'kill', '-s', 'SIGKILL', 'ck'])).status).toBe(0);
    await waitFor(async () => /ck\s+\d+\s+STOPPED/.test((await ctr(['task', 'ls'])).stdout));
    expect((await ctr(['task', 'delete', 'ck'])).status).toBe(0);
    expect((await ctr(['container', 'delete', 'ck'])).status).toBe(0);
    expect(processesWith('__oci-sentry').filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, 'latin1').includes(`/${NS}/ck`);
      } catch {
        return false;
      }
    })).toEqual([]);
  }, 240_000);
});
