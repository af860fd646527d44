// Issue 7, defence in depth: a restored sandbox is bounded as the run it resumes. `restore`
// takes no limits of its own (the image names the sandbox's shape), so the front reads
// --memory / --pids-limit from the image's run record (native/launch_image.h) and makes the
// same host cgroup as for `run` (native/launch_cgroup.h): the restored Sentry, its Gofer
// and its stubs inside, the front's limits, removed at exit. Without it a restore had no
// host cgroup at all: a Sentry taken over after a restore could take all the host's memory.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BASE_ENV, hasStackTrace, spawnCollect } from '../helpers/run';
import { FRONT } from '../helpers/paths';
import { stdoutShows, startReady, type Started } from './stubs';
import { expectAllInside, exited, gone, hostMemory, leaves, MiB, v1 } from './cgroups';

const isRoot = process.getuid?.() === 0;
const userNs = spawnSync('unshare', ['--user', '--map-root-user', 'true'], { stdio: 'ignore' }).status === 0;
const launched = isRoot && userNs && fs.existsSync(FRONT) && process.env.TSSANDBOX_USERNS !== 'off';
const ENV = { ...BASE_ENV, TSSANDBOX_NODE: process.execPath };
const children: ChildProcess[] = [];
let dir = '';
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-restore-cg-'));
});
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** A run with `flags` checkpointed (SIGUSR1) while its shell waits to read a line; the image's directory. */
async function checkpointed(name: string, flags: string[]): Promise<string> {
  const img = path.join(dir, name);
  const script = 'echo ready; read x; echo "resumed $x"; read y; echo bye';
  const c: Started = await startReady([FRONT, 'run', ...flags, '--checkpoint-on', 'USR1', '--image-path', img, '/bin/sh', '-c', script], ENV, children);
  c.kill('SIGUSR1');
  const r = await exited(c);
  expect(r.code, c.out()).toBe(0);
  expect(fs.statSync(path.join(img, 'checkpoint.img')).size, c.out()).toBeGreaterThan(0);
  return img;
}

/** `tssandbox restore` of img through the front, with env added. */
function restore(img: string, env: Record<string, string> = {}): ChildProcess & { out: () => string } {
  const c = spawn(FRONT, ['restore', '--image-path', img], { env: { ...ENV, ...env }, stdio: ['pipe', 'pipe', 'pipe'] }) as ChildProcess & { out: () => string };
  children.push(c);
  let out = '';
  c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  c.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  c.out = () => out;
  return c;
}

describe.skipIf(!launched || !v1)('a restored sandbox gets the host cgroup and limits of the run it resumes', () => {
  it('the restored Sentry, Gofer and stubs in the cgroup, the run\'s limits set by the front; the reaper outside; removed at exit', async () => {
    const img = await checkpointed('limited', ['--memory', '256m', '--pids-limit', '100']);
    const c = restore(img);
    c.stdin!.write('again\n');
    await stdoutShows(c, 'resumed again', 60_000);
    const pid = c.pid!;
    const { mem, pids } = expectAllInside(pid);
    expect(Number(fs.readFileSync(`${mem}/memory.limit_in_bytes`, 'utf8'))).toBe(hostMemory(256 * MiB));
    expect(fs.readFileSync(`${pids}/pids.max`, 'utf8').trim()).toBe(String(2 * 100 + 64));
    for (const f of [mem, `${mem}/cgroup.procs`, `${mem}/memory.limit_in_bytes`, pids, `${pids}/pids.max`]) expect(fs.statSync(f).uid, f).toBe(0);
    c.stdin!.end('\n');
    expect((await exited(c)).code, c.out()).toBe(0);
    expect(c.out()).toBe('resumed again\nbye\n');
    await gone(pid)();
  }, 180_000);

  it('the limit holds: a restored Sentry taken over that grows its heap is OOM-killed (without --memory in the image it is not)', async () => {
    const hook = { TSSANDBOX_TEST_FORBIDDEN_SYSCALL: 'sentry-alloc:320' };
    const c = restore(await checkpointed('small', ['--memory', '64m']), hook);
    c.stdin!.end('x\n');
    const r = await exited(c);
    expect(r.signal, c.out()).toBe('SIGKILL');
    expect(c.out()).not.toMatch(/forbidden sentry-alloc: allowed/);
    await gone(c.pid!)();
    // The same without limits: no cgroup, and the heap takes all 320 MiB (the check can fail).
    const free = restore(await checkpointed('free', []), hook);
    free.stdin!.end('x\n');
    expect((await exited(free)).code, free.out()).toBe(0);
    expect(free.out()).toMatch(/^tssandbox: forbidden sentry-alloc: allowed \(320 MiB\)$/m);
    expect(fs.existsSync(leaves(free.pid!).mem)).toBe(false);
  }, 240_000);

  it('an image the front cannot read the limits of: restore says what the Sentry says of it, as before', async () => {
    const img = path.join(dir, 'garbage');
    fs.mkdirSync(img);
    fs.writeFileSync(path.join(img, 'checkpoint.img'), 'not an image at all, but long enough for a header............\n');
    const r = await spawnCollect([FRONT, 'restore', '--image-path', img], ENV, { timeoutMs: 45_000 });
    expect(r.stderr).toBe(`tssandbox: restore: ${img}/checkpoint.img: not a tssandbox checkpoint image\n`);
    expect(r.code).toBe(125);
    expect(hasStackTrace(r.stderr)).toBe(false);
  }, 60_000);
});
