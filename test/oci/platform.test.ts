/**
 * OCI mode on either platform (src/oci/platform.ts): `--platform=systrap` (the runtime's
 * global flag, as runsc's) or the bundle annotation `org.tssandbox.platform`, through
 * the native entry and its pool: create, start, exec, kill and delete work, and the
 * guest's host processes are the platform's (systrap's catch SIGSYS themselves;
 * ptrace's catch nothing, every syscall stops them). A platform that is not one is one
 * line at create, with nothing left.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, RUNTIME, alive, cli, descendants, makeBundle, makeRootfs, procStatus, processesWith, tmp, waitFor, type Cli, spawnAsync } from './helpers';

const SIGSYS_BIT = 1n << 30n;
// Top-level await: the probe runs while the file is collected, off the event loop too.
const systrapWorks = (await spawnAsync(process.execPath, [BIN, 'run', '--platform=systrap', '/bin/true'], { timeout: 60_000 })).status === 0;

let dir = '';
let rootfs = '';
let t: Cli;
let node: Cli;
let n = 0;

beforeAll(async () => {
  dir = tmp('platform');
  rootfs = await makeRootfs(path.join(dir, 'rootfs'));
  t = cli(path.join(dir, 'state'), RUNTIME);
  node = cli(path.join(dir, 'state'));
});

afterAll(async () => {
  for (const id of (await node.run(['list', '-q'])).stdout.split('\n').filter(Boolean)) await node.run(['delete', '--force', id]);
  fs.rmSync(dir, { recursive: true, force: true });
  await waitFor(() => processesWith(`__oci-pool\0${path.join(dir, 'state')}`).length === 0);
});

/** The host processes running the guest: the stub's children, traced by the Sentry. */
function guestProcesses(sentry: number): Array<Record<string, string>> {
  return descendants(sentry).map((p) => {
    try {
      return procStatus(p);
    } catch {
      return {};
    }
  }).filter((s) => s.TracerPid === String(sentry) && s.PPid !== String(sentry));
}

async function lifecycle(global: string[], edit: (c: any) => void): Promise<bigint[] & { pooled?: boolean }> {
  const id = `pl${++n}`;
  const b = await makeBundle(path.join(dir, id), (c) => {
    c.process.args = ['sh', '-c', 'echo up; exec sleep 1000'];
    edit(c);
  }, rootfs);
  const c = cli(t.root, RUNTIME);
  const cr = await spawnAsync(RUNTIME, ['--root', t.root, ...global, 'create', '--bundle', b, id], {
    stdio: ['ignore', fs.openSync(path.join(b, 'out'), 'w'), fs.openSync(path.join(b, 'err'), 'w')], timeout: 60_000,
  });
  expect(cr.status, fs.readFileSync(path.join(b, 'err'), 'utf8')).toBe(0);
  const st = JSON.parse(fs.readFileSync(path.join(t.root, id, 'state.json'), 'utf8'));
  const sentry: number = st.sentryPid ?? st.pid;
  expect((await c.run([...global, 'start', id])).status).toBe(0);
  await waitFor(() => fs.readFileSync(path.join(b, 'out'), 'utf8') === 'up\n');
  const e = await node.run([...global, 'exec', id, 'sh', '-c', 'echo exec-ok; cat /proc/1/cmdline | tr "\\0" " "; echo']);
  expect(e.stdout).toBe('exec-ok\nsleep 1000 \n');
  const sigcgt = guestProcesses(sentry).map((s) => BigInt(`0x${s.SigCgt}`));
  expect(sigcgt.length).toBeGreaterThan(0);
  const kids = descendants(sentry);
  expect((await c.run([...global, 'kill', id, 'KILL'])).status).toBe(0);
  await waitFor(() => !alive(st.pid) && !alive(sentry) && !kids.some(alive));
  expect((await c.run([...global, 'delete', id])).status).toBe(0);
  expect(fs.existsSync(path.join(t.root, id))).toBe(false);
  return Object.assign(sigcgt, { pooled: st.sentryPid !== undefined });
}

describe('OCI mode per platform', () => {
  it('--platform=ptrace: guest processes stop at every syscall, catching nothing', async () => {
    const got = await lifecycle(['--platform=ptrace'], () => undefined);
    expect(got.every((m) => (m & SIGSYS_BIT) === 0n)).toBe(true);
  });

  it.skipIf(!systrapWorks)('--platform=systrap: create, start, exec, kill, delete; the guest takes SIGSYS itself', async () => {
    // Twice: through Node (the first create) and through the pool member it starts.
    const pool = path.join(t.root, '.pool');
    for (let i = 0; i < 2; i++) {
      if (i === 1 && RUNTIME !== BIN) await waitFor(() => fs.existsSync(pool) && fs.readdirSync(pool).some((f) => f.endsWith('.sock')));
      const got = await lifecycle(['--platform=systrap'], () => undefined);
      expect(got.every((m) => (m & SIGSYS_BIT) !== 0n)).toBe(true);
      if (i === 1 && RUNTIME !== BIN) expect(got.pooled).toBe(true);
    }
  });

  it.skipIf(!systrapWorks)('the bundle annotation org.tssandbox.platform chooses it too; the flag wins over it', async () => {
    const ann = await lifecycle([], (c) => (c.annotations = { 'org.tssandbox.platform': 'systrap' }));
    expect(ann.every((m) => (m & SIGSYS_BIT) !== 0n)).toBe(true);
    const flag = await lifecycle(['--platform', 'ptrace'], (c) => (c.annotations = { 'org.tssandbox.platform': 'systrap' }));
    expect(flag.every((m) => (m & SIGSYS_BIT) === 0n)).toBe(true);
  });

  it('an unknown platform is one line, nothing left', async () => {
    const b = await makeBundle(path.join(dir, 'bad'), (c) => (c.process.args = ['true']), rootfs);
    const flag = await spawnAsync(RUNTIME, ['--root', t.root, '--platform=kvm', 'create', '--bundle', b, 'bad1'], { stdio: ['ignore', 'ignore', 'pipe'] });
    expect(flag.status).toBe(2);
    expect(flag.stderr).toBe("tssandbox: unknown platform 'kvm' (available: systrap, ptrace)\n");
    const b2 = await makeBundle(path.join(dir, 'bad2'), (c) => {
      c.process.args = ['true'];
      c.annotations = { 'org.tssandbox.platform': 'bogus' };
    }, rootfs);
    const ann = await spawnAsync(RUNTIME, ['--root', t.root, 'create', '--bundle', b2, 'bad2'], { stdio: ['ignore', 'ignore', 'pipe'] });
    expect(ann.status).toBe(1);
    expect(ann.stderr).toBe("tssandbox: annotation org.tssandbox.platform: unknown platform 'bogus' (available: systrap, ptrace)\n");
    expect(fs.readdirSync(t.root).filter((f) => !f.startsWith('.'))).toEqual([]);
  });
});
