/**
 * containerd's checkpoint and restore with tssandbox as the runc shim's binary: a
 * containerd of the test's own (as containerd.test.ts), a counting container run with
 * `ctr run -d --runc-binary`, `ctr container checkpoint --task` (the shim pauses the task,
 * calls our `checkpoint --image-path --work-path --leave-running`, containerd keeps the
 * image in its content store), the container removed, then `ctr container restore
 * --live` (the shim calls our `restore --detach --no-subreaper --work-path`, on a new
 * snapshot of the image): the count goes on from where it was saved.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNTIME, containerdConfig, have, makeRootfs, ociImageTar, tmp, waitFor, killTree, processesWith, spawnAsync } from './helpers';

const ok = have('containerd') && have('ctr');
const IMAGE = 'docker.io/library/tssandbox-busybox:ckpt';

describe.skipIf(!ok)('containerd checkpoint and restore through the runc shim', () => {
  let dir = '';
  let sock = '';
  let daemon: ChildProcess | null = null;
  const NS = `tssck-${process.pid}`;
  const ctr = (args: string[], timeout = 120_000) => spawnAsync('ctr', ['-a', sock, '-n', NS, ...args], { timeout, input: '' });

  beforeAll(async () => {
    dir = tmp('ctd-ck');
    sock = path.join(dir, 'c.sock');
    const config = containerdConfig(dir, sock, ['io.containerd.grpc.v1.cri']);
    const log = fs.openSync(path.join(dir, 'containerd.log'), 'w');
    daemon = spawn('containerd', ['-c', config], { stdio: ['ignore', log, log] });
    await waitFor(async () => fs.existsSync(sock) && (await ctr(['version'])).status === 0);
    const rootfs = await makeRootfs(path.join(dir, 'rootfs'));
    fs.mkdirSync(path.join(rootfs, 'out'));
    const tar = await ociImageTar(rootfs, path.join(dir, 'image.tar'), IMAGE);
    const r = await ctr(['image', 'import', '--snapshotter', 'native', tar]);
    expect(r.status, r.stderr).toBe(0);
  }, 180_000);

  afterAll(async () => {
    // Bounded: the runc shim's delete of a task whose restore failed waits on (runc's too).
    if (sock && daemon) {
      for (const t of (await ctr(['task', 'ls', '-q'], 10_000)).stdout.split('\n').filter(Boolean)) await ctr(['task', 'kill', '-s', 'SIGKILL', t], 10_000);
      for (const t of (await ctr(['task', 'ls', '-q'], 10_000)).stdout.split('\n').filter(Boolean)) await ctr(['task', 'delete', '-f', t], 10_000);
      for (const c of (await ctr(['container', 'ls', '-q'], 10_000)).stdout.split('\n').filter(Boolean)) await ctr(['container', 'delete', c], 10_000);
    }
    if (daemon?.pid) killTree(daemon.pid);
    for (const p of processesWith(`-namespace ${NS} `)) killTree(p);
    fs.rmSync(`/run/containerd/runc/${NS}`, { recursive: true, force: true });
    if (dir) {
      await spawnAsync('sh', ['-c', `grep " ${dir}" /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r -n1 umount -l`]);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

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
