/**
 * The OCI Sentry confines itself as `run`'s does (src/cli/confine.ts): seccomp filter,
 * no_new_privs, capabilities dropped, chrooted into an empty directory; at the end of
 * `create`, once create's hooks (host programs) have run, so before `start` and before
 * any guest code, whether the Sentry was started by create or was a pool member
 * (src/oci/pool.ts). The commands that follow still work (start, state, exec,
 * pause/resume, kill, delete), and a forbidden host call (opening a host path for
 * writing) is refused. Without create hooks (or, for the Node create, without hooks
 * that configure the network it then takes over) it is confined before it reads the
 * image.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, FAST, alive, cli, makeBundle, makeRootfs, processesWith, procStatus, tmp, waitFor, type Cli, spawnAsync } from './helpers';

let dir = '';
let t: Cli;

beforeAll(() => {
  dir = tmp('confine');
  t = cli(path.join(dir, 'state'));
});

afterAll(async () => {
  for (const id of (await t.run(['list', '-q'])).stdout.split('\n').filter(Boolean)) await t.run(['delete', '--force', id]);
  fs.rmSync(dir, { recursive: true, force: true });
});

function confined(pid: number): void {
  const s = procStatus(pid);
  expect(s.Seccomp).toBe('2');
  expect(s.NoNewPrivs).toBe('1');
  expect(s.CapEff).toBe('0000000000000000');
  // Its root is an empty directory that no longer exists, not the host's /.
  expect(fs.readlinkSync(`/proc/${pid}/root`)).not.toBe('/');
}

describe('the OCI Sentry is confined once created', () => {
  it('seccomp filter, no_new_privs, no capabilities; the lifecycle goes on; a host write is refused', async () => {
    const rootfs = await makeRootfs(path.join(dir, 'rootfs'));
    const b = await makeBundle(path.join(dir, 'b'), (c) => (c.process.args = ['sh', '-c', 'echo up; sleep 1000']), rootfs);
    const forbidden = path.join(dir, 'written-by-the-sentry');
    const out = path.join(b, 'out');
    const o = fs.openSync(out, 'w');
    const cr = await spawnAsync(BIN, ['--root', t.root, 'create', '--bundle', b, 'cf'], {
      stdio: ['ignore', o, o], timeout: 60_000, env: { ...process.env, TSSANDBOX_TEST_FORBIDDEN_SYSCALL: `open-write:${forbidden}` },
    });
    fs.closeSync(o);
    expect(cr.status).toBe(0);
    const pid = JSON.parse((await t.run(['state', 'cf'])).stdout).pid as number;
    // Created: set up and confined, no guest code run yet.
    confined(pid);
    expect(fs.readFileSync(out, 'utf8')).toBe('tssandbox: forbidden open-write: errno 1\n');
    expect((await t.run(['start', 'cf'])).status).toBe(0);
    await waitFor(() => fs.readFileSync(out, 'utf8').includes('up\n'));
    confined(pid);
    expect(fs.existsSync(forbidden)).toBe(false);
    // The commands after start, served by the confined Sentry.
    expect(JSON.parse((await t.run(['state', 'cf'])).stdout).status).toBe('running');
    expect((await t.run(['exec', 'cf', 'sh', '-c', 'echo exec-ok > /dev/shm/f; cat /dev/shm/f'])).stdout).toBe('exec-ok\n');
    expect((await t.run(['pause', 'cf'])).status).toBe(0);
    expect(JSON.parse((await t.run(['state', 'cf'])).stdout).status).toBe('paused');
    expect((await t.run(['resume', 'cf'])).status).toBe(0);
    expect(JSON.parse((await t.run(['state', 'cf'])).stdout).status).toBe('running');
    expect((await t.run(['kill', 'cf', 'KILL'])).status).toBe(0);
    await waitFor(() => !alive(pid));
    expect(JSON.parse((await t.run(['state', 'cf'])).stdout).status).toBe('stopped');
    expect((await t.run(['delete', 'cf'])).status).toBe(0);
  });

  it.skipIf(!fs.existsSync(FAST))('a pool member is confined when its create returns, before the container\'s process starts', async () => {
    const rootfs = path.join(dir, 'rootfs');
    const fast = cli(t.root, FAST);
    const ready = () => (fs.existsSync(path.join(t.root, '.pool')) ? fs.readdirSync(path.join(t.root, '.pool')).filter((f) => f.endsWith('.sock')) : []);
    // The first create through the native entry starts a member for the next.
    const warm = await makeBundle(path.join(dir, 'bw'), (c) => (c.process.args = ['true']), rootfs);
    expect((await fast.detached(['create', '--bundle', warm, 'pw'], warm)).status).toBe(0);
    expect((await t.run(['delete', '--force', 'pw'])).status).toBe(0);
    await waitFor(() => ready().length > 0);
    const b = await makeBundle(path.join(dir, 'bp'), (c) => (c.process.args = ['sh', '-c', 'echo pool-up; id -u']), rootfs);
    const r = await fast.detached(['create', '--bundle', b, 'pc'], b);
    expect(r.status, r.stderr).toBe(0);
    const st = JSON.parse(fs.readFileSync(path.join(t.root, 'pc', 'state.json'), 'utf8'));
    expect(st.sentryPid).toBeGreaterThan(0);
    expect(JSON.parse((await t.run(['state', 'pc'])).stdout).status).toBe('created');
    confined(st.sentryPid);
    expect(fs.readFileSync(r.out, 'utf8')).toBe('');
    expect((await fast.run(['start', 'pc'])).status).toBe(0);
    await waitFor(() => !alive(st.pid));
    expect(fs.readFileSync(r.out, 'utf8')).toBe('pool-up\n0\n');
    expect((await fast.run(['delete', 'pc'])).status).toBe(0);
  });

  // Confined before the image is read: the rootfs's content (mount points, cwd, the
  // program and its ELF) is walked and parsed by a Sentry without root's powers. Seen
  // from outside: a create whose program is missing in the image fails after the
  // confinement's probe ran (it runs as the filter goes on), and leaves nothing.
  const probe = (file: string) => ({ ...process.env, TSSANDBOX_TEST_FORBIDDEN_SYSCALL: `open-write:${file}` });
  async function failingCreate(c: Cli, id: string, hooked: boolean | 'prestart', global: string[] = []): Promise<string> {
    const b = await makeBundle(path.join(dir, `b-${id}`), (cfg) => {
      cfg.process.args = ['/no/such/program'];
      if (hooked === 'prestart') cfg.hooks = { prestart: [{ path: '/bin/sleep', args: ['sleep', '0.3'] }] };
      else if (hooked) cfg.hooks = { createRuntime: [{ path: '/bin/true' }] };
    }, path.join(dir, 'rootfs'));
    const r = await c.detached([...global, 'create', '--bundle', b, id], b, { env: probe(path.join(dir, 'probe')) });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/\/no\/such\/program/);
    expect(fs.existsSync(path.join(c.root, id))).toBe(false);
    // The member answers before it exits: gone soon after, nothing left.
    await waitFor(() => processesWith(path.join(c.root, id)).length === 0);
    expect(fs.existsSync(path.join(dir, 'probe'))).toBe(false);
    return r.stderr;
  }

  it('without create hooks, confined before the image is read (the Node create)', async () => {
    expect(await failingCreate(t, 'early', false)).toMatch(/forbidden open-write: errno 1/);
  });

  /** A member of a root of its own, ready: started with the probe in its environment (a member serves only creates whose TSSANDBOX_* variables are its own). */
  async function probedPool(name: string): Promise<{ fast: Cli; member: number; pool: string }> {
    const fast = cli(path.join(dir, name), FAST);
    const pool = path.join(fast.root, '.pool');
    const ready = () => (fs.existsSync(pool) ? fs.readdirSync(pool).filter((f) => f.endsWith('.sock')) : []);
    const warm = await makeBundle(path.join(dir, `bw-${name}`), (c) => (c.process.args = ['true']), path.join(dir, 'rootfs'));
    const w = await fast.detached(['create', '--bundle', warm, `w-${name}`], warm, { env: probe(path.join(dir, 'probe')) });
    expect(w.status, w.stderr).toBe(0);
    expect((await fast.run(['delete', '--force', `w-${name}`])).status).toBe(0);
    await waitFor(() => ready().length > 0);
    return { fast, pool, member: Number(ready()[0].split('.')[0]) };
  }

  it.skipIf(!fs.existsSync(FAST))('a pool member with Docker\'s prestart hook: before the image (the hook still running), with --network none and in mode sandbox (the takeover after the hook, by the helper)', async () => {
    const { fast, pool, member } = await probedPool('state-pool-hook');
    expect(await failingCreate(fast, 'pre-none', 'prestart', ['--network', 'none'])).toMatch(/forbidden open-write: errno 1/);
    await waitFor(() => !alive(member)); // served by the member, not the Node path
    fs.rmSync(pool, { recursive: true, force: true });
    // The bundle has a network namespace (spec's default): mode sandbox.
    const second = await probedPool('state-pool-hook2');
    expect(await failingCreate(second.fast, 'pre-sandbox', 'prestart')).toMatch(/forbidden open-write: errno 1/);
    await waitFor(() => !alive(second.member));
    fs.rmSync(second.pool, { recursive: true, force: true });
  });

  it.skipIf(!fs.existsSync(FAST))('a pool member with a createRuntime hook to start: confined after it (its child would inherit the filter)', async () => {
    const { fast, pool, member } = await probedPool('state-pool-late');
    expect(await failingCreate(fast, 'late-pool', true)).not.toMatch(/forbidden/);
    await waitFor(() => !alive(member));
    fs.rmSync(pool, { recursive: true, force: true });
  });

  it.skipIf(!fs.existsSync(FAST))('without create hooks, confined before the image is read (a pool member; create removes what it left)', async () => {
    const fast = cli(path.join(dir, 'state-pool'), FAST);
    const pool = path.join(fast.root, '.pool');
    const ready = () => (fs.existsSync(pool) ? fs.readdirSync(pool).filter((f) => f.endsWith('.sock')) : []);
    const warm = await makeBundle(path.join(dir, 'bw2'), (c) => (c.process.args = ['true']), path.join(dir, 'rootfs'));
    expect((await fast.detached(['create', '--bundle', warm, 'pw2'], warm, { env: probe(path.join(dir, 'probe')) })).status).toBe(0);
    expect((await fast.run(['delete', '--force', 'pw2'])).status).toBe(0);
    await waitFor(() => ready().length > 0);
    const member = Number(ready()[0].split('.')[0]);
    expect(await failingCreate(fast, 'early-pool', false)).toMatch(/forbidden open-write: errno 1/);
    await waitFor(() => !alive(member)); // it served that create, and is gone with it
    fs.rmSync(pool, { recursive: true, force: true }); // the next member exits with its directory
  });

  it('the Node create with a create hook and the network to take over after it: confined before the image all the same', async () => {
    expect(await failingCreate(t, 'late', true)).toMatch(/forbidden open-write: errno 1/);
  });
});
