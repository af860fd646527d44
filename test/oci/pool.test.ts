/**
 * The pool of pre-started Sentries (src/oci/pool.ts, native/oci_pool.c): `create`
 * through the native entry hands the container to a member that is already up, and the
 * container's pid is the front that create forks. What must hold: the front is what an
 * engine's shim reaps (the exit status reaches a subreaper), it is in the container's
 * network namespace and holds none of the engine's fds, it passes signals on, and
 * killing it ends the Sentry and everything of it; a member is no container, holds one
 * container only, steps aside for another environment, and goes when idle.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileGuest } from '../helpers/build';
import { BIN, alive, cli, descendants, makeBundle, makeRootfs, processesWith, tmp, waitFor, type Cli, spawnAsync } from './helpers';

const FAST = path.join(path.dirname(BIN), '..', 'build', 'Release', 'tssandbox-oci');

describe.skipIf(!fs.existsSync(FAST))('the pool of pre-started Sentries', () => {
  let dir = '';
  let rootfs = '';
  let t: Cli;
  let node: Cli;
  let reaper = '';
  let n = 0;

  beforeAll(async () => {
    dir = tmp('pool');
    rootfs = await makeRootfs(path.join(dir, 'rootfs'));
    t = cli(path.join(dir, 'state'), FAST);
    node = cli(path.join(dir, 'state'));
    reaper = compileGuest('reaper', 'dynamic', { srcDir: path.join(__dirname, 'guests') });
  });

  afterAll(async () => {
    for (const id of (await node.run(['list', '-q'])).stdout.split('\n').filter(Boolean)) await node.run(['delete', '--force', id]);
    fs.rmSync(dir, { recursive: true, force: true });
    // Members see their directory gone and leave.
    await waitFor(() => processesWith(`__oci-pool\0${path.join(dir, 'state')}`).length === 0);
  });

  const bundle = (edit: (c: any) => void) => makeBundle(path.join(dir, `b${++n}`), edit, rootfs);
  /**
   * create through the native entry with env added. stderr into a file, not a pipe: a
   * Sentry the Node path starts keeps create's stdio, and spawnSync would wait on the
   * pipe until its timeout.
   */
  const createWith = async (root: string, b: string, id: string, env: Record<string, string>) => {
    const err = path.join(b, 'stderr.txt');
    const e = fs.openSync(err, 'w');
    const r = await spawnAsync(FAST, ['--root', root, 'create', '--bundle', b, id], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', e], timeout: 60_000 });
    fs.closeSync(e);
    return { status: r.status, stderr: fs.readFileSync(err, 'utf8') };
  };
  const poolDir = () => path.join(t.root, '.pool');
  const ready = () => (fs.existsSync(poolDir()) ? fs.readdirSync(poolDir()).filter((f) => f.endsWith('.sock')) : []);
  const stateOf = (id: string) => JSON.parse(fs.readFileSync(path.join(t.root, id, 'state.json'), 'utf8'));
  /** A create through the native entry once a member is ready (the first create starts one). */
  async function poolCreate(id: string, b: string): Promise<{ status: number | null; stderr: string; out: string }> {
    if (ready().length === 0) {
      const warm = await bundle((c) => (c.process.args = ['true']));
      const wid = `warm${n}`;
      expect((await t.detached(['create', '--bundle', warm, wid], warm)).status).toBe(0);
      expect((await node.run(['delete', '--force', wid])).status).toBe(0);
      await waitFor(() => ready().length > 0);
    }
    return t.detached(['create', '--bundle', b, id], b);
  }

  it('the container\'s pid is a front: reaped by a subreaper with the exit status, in the netns, holding nothing', async () => {
    const b = await bundle((c) => (c.process.args = ['sh', '-c', 'read x; echo "got $x"; exit 7']));
    const cr = await poolCreate('p1', b);
    expect(cr.status, cr.stderr).toBe(0);
    const s = stateOf('p1');
    expect(s.sentryPid).toBeGreaterThan(0);
    expect(s.sentryPid).not.toBe(s.pid);
    expect(alive(s.pid) && alive(s.sentryPid)).toBe(true);
    // The front sits in the network namespace the Sentry made for the container, not ours.
    const ns = (p: number | string) => fs.readlinkSync(`/proc/${p}/ns/net`);
    expect(ns(s.pid)).toBe(ns(s.sentryPid));
    expect(ns(s.pid)).not.toBe(ns('self'));
    // Nothing of the engine's: only its link to the Sentry, a pidfd of it and a signalfd.
    const fds = fs.readdirSync(`/proc/${s.pid}/fd`);
    expect(fds.length).toBeLessThanOrEqual(3);
    expect(fds.map((f) => fs.readlinkSync(`/proc/${s.pid}/fd/${f}`).replace(/[:[].*/, '')).sort()).toEqual(['anon_inode', 'anon_inode', 'socket']);
    // Not a container of the runtime: list shows p1 only, state of the member refuses.
    expect((await node.run(['list', '-q'])).stdout).toBe('p1\n');
    expect((await node.run(['state', '.pool'])).status).not.toBe(0);
    await node.run(['delete', '--force', 'p1']);
    await waitFor(() => !alive(s.pid) && !alive(s.sentryPid));

    // Under a subreaper (what containerd's shim is): create, start, and the front's exit.
    const b2 = await bundle((c) => (c.process.args = ['sh', '-c', 'echo hi; exit 7']));
    await waitFor(() => ready().length > 0);
    const pidFile = path.join(b2, 'pid');
    const out = path.join(b2, 'out');
    const r = await spawnAsync(reaper, [`${FAST} --root ${t.root} create --bundle ${b2} --pid-file ${pidFile} p2 >${out} 2>&1 </dev/null && ${FAST} --root ${t.root} start p2`, pidFile], { timeout: 60_000 });
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(stateOf('p2').sentryPid).toBeGreaterThan(0);
    expect(r.stdout).toContain(`${pid} exit 7\n`);
    expect(fs.readFileSync(out, 'utf8')).toBe('hi\n');
    expect((await node.run(['delete', 'p2'])).status).toBe(0);
  });

  it('a member warmed up with guest code keeps nothing of it: no child, no host file open, a fresh sandbox for its container', async () => {
    const script = 'echo pid=$$; set -- /proc/[0-9]*; echo $#; ls /proc/self/fd | tr "\\n" " "; echo; wc -l < /proc/self/mountinfo; ls /tmp | wc -l';
    const b = await bundle((c) => (c.process.args = ['sh', '-c', script]));
    await poolCreate('pwarm0', await bundle((c) => (c.process.args = ['true'])));
    await node.run(['delete', '--force', 'pwarm0']);
    await waitFor(() => ready().length > 0);
    // Ready: its throwaway sandbox's stubs are gone and reaped, and no fd of it is left
    // (a host path's fd in a Sentry confined later would be a way out of its chroot).
    const member = Number(ready()[0].replace(/\.sock$/, ''));
    // Its one child is its host cgroup's reaper (made before the claim, off create's path).
    const comm = (p: number) => fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim();
    expect(descendants(member).map(comm).filter((c) => c !== 'tss-cg-reaper')).toEqual([]);
    // No directory (a host directory's fd in a Sentry chrooted later would be a way out),
    // no socket but its listening one: the throwaway stub's pair is closed.
    const fds = fs.readdirSync(`/proc/${member}/fd`).map((f) => `/proc/${member}/fd/${f}`);
    const what = (p: string) => {
      try {
        return fs.statSync(p).isDirectory() ? 'dir' : fs.readlinkSync(p).replace(/:.*/, '');
      } catch {
        return '';
      }
    };
    expect(fds.map(what).filter((w) => w === 'dir')).toEqual([]);
    expect(fds.map(what).filter((w) => w === 'socket')).toHaveLength(1);
    // The container it serves sees what a container of the Node path sees.
    const viaPool = await poolCreate('pwarm', b);
    expect(viaPool.status, viaPool.stderr).toBe(0);
    expect(stateOf('pwarm').sentryPid).toBe(member);
    expect((await t.run(['start', 'pwarm'])).status).toBe(0);
    await waitFor(() => !alive(stateOf('pwarm').pid));
    const b2 = await bundle((c) => (c.process.args = ['sh', '-c', script]));
    const viaNode = await node.detached(['create', '--bundle', b2, 'pwarm2'], b2);
    expect(viaNode.status, viaNode.stderr).toBe(0);
    expect((await node.run(['start', 'pwarm2'])).status).toBe(0);
    await waitFor(() => !alive(stateOf('pwarm2').pid));
    const got = fs.readFileSync(viaPool.out, 'utf8');
    expect(got).toMatch(/^pid=1\n1\n0 1 2 3 \n[0-9]+\n0\n$/);
    expect(got).toBe(fs.readFileSync(viaNode.out, 'utf8'));
    await node.run(['delete', 'pwarm']);
    await node.run(['delete', 'pwarm2']);
  });

  it('signals reach the guest through the front; SIGKILL of the front ends the Sentry, its Gofer and stub', async () => {
    const b = await bundle((c) => (c.process.args = ['sh', '-c', 'trap "echo got-usr1" USR1; echo up; while true; do sleep 0.1; done']));
    const cr = await poolCreate('p3', b);
    expect(cr.status, cr.stderr).toBe(0);
    const s = stateOf('p3');
    expect((await t.run(['start', 'p3'])).status).toBe(0);
    await waitFor(() => fs.readFileSync(cr.out, 'utf8').includes('up\n'));
    // Straight to the container's pid, as an engine may: the front passes it on.
    process.kill(s.pid, 'SIGUSR1');
    await waitFor(() => fs.readFileSync(cr.out, 'utf8').includes('got-usr1\n'));
    expect(JSON.parse((await t.run(['ps', '--format', 'json', 'p3'])).stdout)).toContain(s.sentryPid);
    const kids = descendants(s.sentryPid);
    expect(kids.length).toBeGreaterThan(0);
    process.kill(s.pid, 'SIGKILL');
    await waitFor(() => !alive(s.sentryPid) && kids.every((k) => !alive(k)));
    expect((await node.run(['state', 'p3'])).stdout).toMatch(/"status": "stopped"/);
    expect((await t.run(['delete', 'p3'])).status).toBe(0);
    expect(processesWith(`${path.join(t.root, 'p3')}\0`)).toEqual([]);
  });

  it('delete --force of a created container leaves nothing; errors are Node\'s, with no state left', async () => {
    const b = await bundle((c) => (c.process.args = ['sleep', '1000']));
    expect((await poolCreate('p4', b)).status).toBe(0);
    const s = stateOf('p4');
    const kids = descendants(s.sentryPid);
    expect((await t.run(['delete', '--force', 'p4'])).status).toBe(0);
    expect(alive(s.pid) || alive(s.sentryPid)).toBe(false);
    // The Gofer and the stub die with the Sentry (PDEATHSIG, PTRACE_O_EXITKILL).
    await waitFor(() => !kids.some(alive));
    expect(fs.existsSync(path.join(t.root, 'p4'))).toBe(false);
    // A missing program, and an id in use: the same lines as the Node command line gives.
    const bad = await bundle((c) => (c.process.args = ['no-such-program']));
    const viaPool = await poolCreate('p5', bad);
    expect(viaPool.status).toBe(1);
    const viaNode = await node.detached(['create', '--bundle', bad, 'p5'], bad);
    expect(viaPool.stderr).toBe(viaNode.stderr);
    expect(fs.existsSync(path.join(t.root, 'p5'))).toBe(false);

    const ok = await bundle((c) => (c.process.args = ['true']));
    expect((await node.detached(['create', '--bundle', ok, 'p6'], ok)).status).toBe(0);
    const dup = await poolCreate('p6', ok);
    expect(dup.status).toBe(1);
    expect(dup.stderr).toBe("tssandbox: container with id 'p6' already exists\n");
    expect((await node.run(['delete', '--force', 'p6'])).status).toBe(0);
  });

  it('an error naming the program in quotes is still a JSON line in --log (containerd reads the last)', async () => {
    const bad = await bundle((c) => (c.process.args = ['no-such-program']));
    const viaNode = await node.detached(['create', '--bundle', bad, 'pq'], bad);
    expect(viaNode.stderr).toContain('"');
    await poolCreate('pw2', await bundle((c) => (c.process.args = ['true'])));
    await node.run(['delete', '--force', 'pw2']);
    await waitFor(() => ready().length > 0);
    const log = path.join(dir, 'pq.log.json');
    const r = await spawnAsync(FAST, ['--root', t.root, '--log', log, '--log-format', 'json', 'create', '--bundle', bad, 'pq'],
      { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(viaNode.stderr);
    const lines = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.at(-1).msg).toBe(viaNode.stderr.replace(/^tssandbox: /, '').trim());
    expect(fs.existsSync(path.join(t.root, 'pq'))).toBe(false);
  });

  it('a member is in its host cgroup before the claim; the container\'s limits are written into it, delete removes it', async () => {
    await poolCreate('pcg0', await bundle((c) => (c.process.args = ['true'])));
    await node.run(['delete', '--force', 'pcg0']);
    await waitFor(() => ready().length > 0);
    const member = Number(ready()[0].replace(/\.sock$/, ''));
    const cg = (ctrl: string, pid: number) => fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes(ctrl))?.split(':')[2];
    if (!cg('pids', member)?.endsWith(`/tssandbox-${member}`)) return; // no host cgroup here (not root, no v1 pids)
    const b = await bundle((c) => {
      c.process.args = ['sleep', '100'];
      c.linux.resources = { pids: { limit: 20 }, cpu: { quota: 40000, period: 100000 } };
    });
    const cr = await poolCreate('pcg', b);
    expect(cr.status, cr.stderr).toBe(0);
    const s = stateOf('pcg');
    expect(s.sentryPid).toBe(member);
    expect(s.cgroup.pids).toMatch(new RegExp(`/tssandbox-${member}$`));
    expect(fs.readFileSync(path.join(s.cgroup.pids, 'pids.max'), 'utf8').trim()).toBe(String(20 * 2 + 64));
    expect(fs.readFileSync(path.join(s.cgroup.cpu, 'cpu.cfs_quota_us'), 'utf8').trim()).toBe('40000');
    expect(fs.readFileSync(path.join(s.cgroup.pids, 'cgroup.procs'), 'utf8')).toContain(`${member}\n`);
    expect((await t.run(['delete', '--force', 'pcg'])).status).toBe(0);
    for (const d of [s.cgroup.memory, s.cgroup.pids, s.cgroup.cpu]) expect(fs.existsSync(d)).toBe(false);
  });

  it('--preserve-fds and stdio reach the guest through the pool', async () => {
    const b = await bundle((c) => (c.process.args = ['sh', '-c', 'echo to-fd3 >&3; echo to-stdout; echo to-stderr >&2']));
    await poolCreate('pw', await bundle((c) => (c.process.args = ['true'])));
    await node.run(['delete', '--force', 'pw']);
    await waitFor(() => ready().length > 0);
    const files = ['out', 'err', 'fd3'].map((f) => path.join(b, f));
    const [o, e, f3] = files.map((f) => fs.openSync(f, 'w'));
    const r = await spawnAsync(FAST, ['--root', t.root, 'create', '--bundle', b, '--preserve-fds', '1', 'pf'], { stdio: ['ignore', o, e, f3], timeout: 60_000 });
    [o, e, f3].forEach((fd) => fs.closeSync(fd));
    expect(r.status, fs.readFileSync(files[1], 'utf8')).toBe(0);
    const s = stateOf('pf');
    expect(s.sentryPid).toBeGreaterThan(0);
    expect((await t.run(['start', 'pf'])).status).toBe(0);
    await waitFor(() => !alive(s.pid));
    expect(fs.readFileSync(files[0], 'utf8')).toBe('to-stdout\n');
    expect(fs.readFileSync(files[1], 'utf8')).toBe('to-stderr\n');
    expect(fs.readFileSync(files[2], 'utf8')).toBe('to-fd3\n');
    expect((await t.run(['delete', 'pf'])).status).toBe(0);
  });

  it('hooks through the pool: the first prestart hook runs beside the build with the front as pid, the rest in order; a failure leaves nothing', async () => {
    const rec = path.join(dir, 'hooks-rec');
    // Each hook records its kind (in order), the state it got and the pid's network namespace.
    const hook = (name: string, exit = 0) => ({
      path: '/bin/sh',
      args: ['sh', '-c', `s=$(cat); echo ${name} >> ${rec}.order; echo "$s" > ${rec}.${name}; ` +
        `p=$(echo "$s" | sed 's/.*"pid":\\([0-9]*\\).*/\\1/'); readlink /proc/$p/ns/net > ${rec}.${name}.ns; ` +
        (exit ? `echo "no network for you" >&2; exit ${exit}` : 'true')],
    });
    const b = await bundle((c) => {
      c.process.args = ['true'];
      c.hooks = { prestart: [hook('pre1'), hook('pre2')], createRuntime: [hook('runtime')], createContainer: [hook('container')] };
    });
    const cr = await poolCreate('ph', b);
    expect(cr.status, cr.stderr).toBe(0);
    const s = stateOf('ph');
    expect(s.sentryPid).toBeGreaterThan(0);
    expect(fs.readFileSync(`${rec}.order`, 'utf8')).toBe('pre1\npre2\nruntime\ncontainer\n');
    for (const name of ['pre1', 'pre2', 'runtime', 'container']) {
      const got = JSON.parse(fs.readFileSync(`${rec}.${name}`, 'utf8'));
      expect(got.id).toBe('ph');
      expect(got.pid).toBe(s.pid);
      // The pid the hook was given is in the container's network namespace already.
      expect(fs.readFileSync(`${rec}.${name}.ns`, 'utf8').trim()).toBe(fs.readlinkSync(`/proc/${s.sentryPid}/ns/net`));
    }
    expect((await t.run(['delete', '--force', 'ph'])).status).toBe(0);

    fs.rmSync(`${rec}.order`);
    await waitFor(() => ready().length > 0);
    const member = Number(ready()[0].split('.')[0]);
    const bad = await bundle((c) => {
      c.process.args = ['true'];
      c.hooks = { prestart: [hook('pre1', 3)], createRuntime: [hook('runtime')] };
    });
    const r = await poolCreate('pf1', bad);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('tssandbox: prestart hook /bin/sh failed (exit status 3): no network for you\n');
    expect(fs.readFileSync(`${rec}.order`, 'utf8')).toBe('pre1\n');
    expect(fs.existsSync(path.join(t.root, 'pf1'))).toBe(false);
    const front = JSON.parse(fs.readFileSync(`${rec}.pre1`, 'utf8')).pid;
    await waitFor(() => !alive(member) && !alive(front));
    expect(processesWith(`${path.join(t.root, 'pf1')}\0`)).toEqual([]);
  });

  it('a prestart hook that cannot run: the same line through the pool as through Node, nothing left', async () => {
    const b = await bundle((c) => {
      c.process.args = ['true'];
      c.hooks = { prestart: [{ path: path.join(dir, 'no-such-hook') }] };
    });
    const viaNode = await node.detached(['create', '--bundle', b, 'pn'], b);
    expect(viaNode.status).toBe(1);
    expect(viaNode.stderr).toBe(`tssandbox: prestart hook ${path.join(dir, 'no-such-hook')}: cannot run it (ENOENT)\n`);
    const viaPool = await poolCreate('pn', b);
    expect(viaPool.stderr).toBe(viaNode.stderr);
    expect(fs.existsSync(path.join(t.root, 'pn'))).toBe(false);
  });

  it('back to back: a create waits for the member still starting, not the Node path; the wait is bounded', async () => {
    // The create before has started the next member (its marker made before it returned):
    // a create at once waits for it, so it too is served by the pool.
    const b1 = await bundle((c) => (c.process.args = ['true']));
    const b2 = await bundle((c) => (c.process.args = ['true'])); // made first: `tssandbox spec` is a Node start
    expect((await poolCreate('b1', b1)).status).toBe(0);
    const r = await t.detached(['create', '--bundle', b2, 'b2'], b2);
    expect(r.status, r.stderr).toBe(0);
    expect(stateOf('b1').sentryPid).toBeGreaterThan(0);
    expect(stateOf('b2').sentryPid).toBeGreaterThan(0);
    await node.run(['delete', '--force', 'b1']);
    await node.run(['delete', '--force', 'b2']);
    // A marker whose process never gets ready (a sleep of ours): waited for
    // TSSANDBOX_OCI_POOL_WAIT ms, then the Node path creates.
    const other = path.join(dir, 'state-wait');
    fs.mkdirSync(path.join(other, '.pool'), { recursive: true, mode: 0o700 });
    const sleeper = spawn('sleep', ['600'], { stdio: 'ignore' });
    try {
      fs.writeFileSync(path.join(other, '.pool', `${sleeper.pid}.starting`), '');
      const b = await bundle((c) => (c.process.args = ['true']));
      const w = await createWith(other, b, 'w1', { TSSANDBOX_OCI_POOL_WAIT: '300' });
      expect(w.status, w.stderr).toBe(0);
      expect(JSON.parse(fs.readFileSync(path.join(other, 'w1', 'state.json'), 'utf8')).sentryPid).toBeUndefined();
      expect((await cli(other).run(['delete', '--force', 'w1'])).status).toBe(0);
    } finally {
      sleeper.kill('SIGKILL');
      fs.rmSync(other, { recursive: true, force: true });
    }
  });

  it('the first create (no member ready or starting) starts one and is served by it, its guest warm-up left out', async () => {
    const root = path.join(dir, 'first-root');
    const b = await bundle((c) => (c.process.args = ['sh', '-c', 'echo first']));
    const log = path.join(b, 'debug.log');
    const err = path.join(b, 'stderr.txt');
    const e = fs.openSync(err, 'w');
    const r = await spawnAsync(FAST, ['--root', root, '--debug', '--log', log, 'create', '--bundle', b, 'f1'], { stdio: ['ignore', 'ignore', e], timeout: 60_000 });
    fs.closeSync(e);
    expect(r.status, fs.readFileSync(err, 'utf8')).toBe(0);
    const s = JSON.parse(fs.readFileSync(path.join(root, 'f1', 'state.json'), 'utf8'));
    // Served by a member (the Node path has no sentryPid), which saw our PID.want.
    expect(s.sentryPid).toBeGreaterThan(0);
    expect(fs.readFileSync(log, 'utf8')).toContain('guest warm-up: left out (a create waits)');
    expect(fs.readdirSync(path.join(root, '.pool')).filter((f) => f.endsWith('.want'))).toEqual([]);
    const fr = cli(root, FAST);
    expect((await fr.run(['delete', '--force', 'f1'])).status).toBe(0);
    // The member started for the next create leaves when its directory goes.
    fs.rmSync(root, { recursive: true, force: true });
    await waitFor(() => processesWith(`__oci-pool\0${root}`).length === 0);
  });

  it('another environment: the member steps aside and Node creates; idle members leave', async () => {
    await poolCreate('p7', await bundle((c) => (c.process.args = ['true'])));
    await node.run(['delete', '--force', 'p7']);
    await waitFor(() => ready().length > 0);
    const member = Number(ready()[0].split('.')[0]);
    const b = await bundle((c) => (c.process.args = ['true']));
    const r = await createWith(t.root, b, 'p8', { TSSANDBOX_OCI_POOL_IDLE: '1' });
    expect(r.status, r.stderr).toBe(0);
    expect(stateOf('p8').sentryPid).toBeUndefined();
    await waitFor(() => !alive(member));
    await node.run(['delete', '--force', 'p8']);
    // The member that create started has the short idle time of its environment: it goes.
    await waitFor(() => processesWith(`__oci-pool\0${t.root}`).length === 0);
    expect(ready()).toEqual([]);
    // TSSANDBOX_OCI_POOL=0: no pool at all.
    const off = await spawnAsync(FAST, ['--root', t.root, 'create', '--bundle', b, 'p9'], { env: { ...process.env, TSSANDBOX_OCI_POOL: '0' }, stdio: 'ignore', timeout: 60_000 });
    expect(off.status).toBe(0);
    expect(fs.readdirSync(poolDir()).filter((f) => !f.startsWith('.'))).toEqual([]);
    await node.run(['delete', '--force', 'p9']);
  });
});
