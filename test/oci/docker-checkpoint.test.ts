/**
 * Docker's experimental checkpoint with tssandbox as the runtime: a dockerd of the test's
 * own started with --experimental (as docker.test.ts otherwise), a counting container
 * appending to a bound host file, `docker checkpoint create` (containerd's runc shim calls
 * our `checkpoint`; the container stops), then `docker start --checkpoint` (the shim calls
 * our `restore` on the container's bundle): the count goes on from the saved one, and exec
 * joins the restored container.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCKER, have, tmp, waitFor, stopDockerd, startDockerd, spawnAsync } from './helpers';

const ok = have('dockerd') && (fs.existsSync(DOCKER) || have('docker'));
const IMAGE = 'tssandbox-busybox:ckpt';

describe.skipIf(!ok)('docker checkpoint create / start --checkpoint with --runtime=tssandbox', () => {
  let dir = '';
  let host = '';
  let daemon: ChildProcess | null = null;
  const docker = (args: string[], timeout = 120_000) => spawnAsync(DOCKER, ['-H', host, ...args], { timeout, input: '' });

  beforeAll(async () => {
    dir = tmp('docker-ck');
    ({ host, daemon } = await startDockerd(dir, IMAGE, { experimental: true }));
  }, 240_000);

  afterAll(async () => {
    await stopDockerd(daemon, docker, dir);
  }, 120_000);

  it('checkpoint create stops the container; start --checkpoint counts on from the saved one', async () => {
    const out = path.join(dir, 'count');
    fs.mkdirSync(out);
    const script = 'i=0; while [ $i -lt 100000 ]; do i=$((i+1)); echo $i >> /out/log; sleep 0.05; done';
    const r = await docker(['run', '-d', '--runtime=tssandbox', '--network=none', '--name', 'ck', '-v', `${out}:/out`, IMAGE, 'sh', '-c', script]);
    expect(r.status, r.stderr).toBe(0);
    const log = () => (fs.existsSync(path.join(out, 'log')) ? fs.readFileSync(path.join(out, 'log'), 'utf8').split('\n').filter(Boolean).map(Number) : []);
    await waitFor(() => log().length >= 5);
    const before = log().length;
    // containerd pauses the task, the shim calls our `checkpoint` (the container then stops),
    // and Docker keeps the image under the container's checkpoints/cp1.
    const ck = await docker(['checkpoint', 'create', 'ck', 'cp1']);
    expect(ck.status, ck.stderr).toBe(0);
    expect((await docker(['checkpoint', 'ls', 'ck'])).stdout).toContain('cp1');
    await waitFor(async () => (await docker(['inspect', '-f', '{{.State.Status}}', 'ck'])).stdout.trim() === 'exited');
    const saved = log().length;
    expect(saved).toBeGreaterThanOrEqual(before);
    expect(log()).toEqual(Array.from({ length: saved }, (_, j) => j + 1));
    // Docker uploads the checkpoint into containerd's content store again; while the copy of
    // the checkpoint create is not yet garbage-collected there, that fails ("content ...:
    // already exists", moby/moby#42900, the same with runc): tried again, a bounded number of times.
    let st = await docker(['start', '--checkpoint', 'cp1', 'ck']);
    for (let i = 0; i < 60 && st.status !== 0 && /already exists/.test(st.stderr); i++) {
      await new Promise((res) => setTimeout(res, 500));
      st = await docker(['start', '--checkpoint', 'cp1', 'ck']);
    }
    expect(st.status, st.stderr).toBe(0);
    expect((await docker(['inspect', '-f', '{{.State.Status}}', 'ck'])).stdout.trim()).toBe('running');
    await waitFor(() => log().length >= saved + 3);
    const after = log().slice(saved);
    // The restored process appends where the saved one stood: the next number, not 1.
    expect(after.slice(0, 3)).toEqual([saved + 1, saved + 2, saved + 3]);
    // An ordinary container again: exec, then rm -f.
    expect((await docker(['exec', 'ck', 'sh', '-c', 'echo exec in restored'])).stdout).toBe('exec in restored\n');
    expect((await docker(['rm', '-f', 'ck'])).status).toBe(0);
  }, 240_000);
});
