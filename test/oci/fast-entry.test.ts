/**
 * The native entry (build/Release/tssandbox-oci, native/oci_fast.c): what `install`
 * registers with engines. `start` and `delete` are served without a Node start-up; any
 * other command, flag or case (hooks, a wrong status, --debug) is handed to the Node
 * command line, which gives the same answers and errors as when called directly.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, alive, cli, makeBundle, makeRootfs, processesWith, tmp, waitFor, type Cli, spawnAsync } from './helpers';

const FAST = path.join(path.dirname(BIN), '..', 'build', 'Release', 'tssandbox-oci');

describe.skipIf(!fs.existsSync(FAST))('the native OCI entry', () => {
  let dir = '';
  let rootfs = '';
  let t: Cli;
  let node: Cli;
  let n = 0;

  beforeAll(async () => {
    dir = tmp('fast');
    rootfs = await makeRootfs(path.join(dir, 'rootfs'));
    t = cli(path.join(dir, 'state'), FAST);
    node = cli(path.join(dir, 'state'));
  });

  afterAll(async () => {
    for (const id of (await node.run(['list', '-q'])).stdout.split('\n').filter(Boolean)) await node.run(['delete', '--force', id]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const bundle = (edit: (c: any) => void) => makeBundle(path.join(dir, `b${++n}`), edit, rootfs);
  const pidOf = async (id: string) => JSON.parse((await node.run(['state', id])).stdout).pid as number;

  it('create (handed to Node), start and delete (native), state in between', async () => {
    const b = await bundle((c) => (c.process.args = ['sh', '-c', 'echo ran; sleep 1000']));
    const cr = await t.detached(['create', '--bundle', b, 'f1'], b);
    expect(cr.status, cr.stderr).toBe(0);
    const pid = await pidOf('f1');
    expect(JSON.parse((await t.run(['state', 'f1'])).stdout).status).toBe('created');
    // No node on PATH: only the native path can serve these (the hand-over would fail).
    const noNode = (args: string[]) => spawnAsync(FAST, ['--root', t.root, ...args], { env: { PATH: '/nonexistent' }, timeout: 60_000 });
    const st = await noNode(['--log', path.join(dir, 'log.json'), '--log-format', 'json', 'start', 'f1']);
    expect(st.status, st.stderr).toBe(0);
    expect(JSON.parse((await t.run(['state', 'f1'])).stdout).status).toBe('running');
    await waitFor(() => fs.readFileSync(cr.out, 'utf8').includes('ran\n'));
    // Running: delete without --force is refused (by Node, with its message), nothing changed.
    const d = await t.run(['delete', 'f1']);
    expect(d.status).not.toBe(0);
    expect(d.stderr).toMatch(/cannot delete container f1 that is not stopped: running/);
    expect(alive(pid)).toBe(true);
    const df = await noNode(['delete', '--force', 'f1']);
    expect(df.status, df.stderr).toBe(0);
    expect(alive(pid)).toBe(false);
    expect(fs.existsSync(path.join(t.root, 'f1'))).toBe(false);
    expect(processesWith(`${path.join(t.root, 'f1')}\0`)).toEqual([]);
  });

  it('kill natively: by name and number, --all, a created container; Node\'s answers for a stopped one', async () => {
    const b = await bundle((c) => (c.process.args = ['sh', '-c', 'trap "echo got-usr1" USR1; echo up; while true; do sleep 0.1; done']));
    const cr = await t.detached(['create', '--bundle', b, 'fk'], b);
    expect(cr.status, cr.stderr).toBe(0);
    const pid = await pidOf('fk');
    const noNode = (args: string[]) => spawnAsync(FAST, ['--root', t.root, ...args], { env: { PATH: '/nonexistent' }, timeout: 60_000 });
    expect((await noNode(['start', 'fk'])).status).toBe(0);
    await waitFor(() => fs.readFileSync(cr.out, 'utf8').includes('up\n'));
    expect((await noNode(['kill', 'fk', 'SIGUSR1'])).status).toBe(0);
    await waitFor(() => fs.readFileSync(cr.out, 'utf8').includes('got-usr1\n'));
    expect((await noNode(['kill', '--all', 'fk', '9'])).status).toBe(0);
    await waitFor(() => !alive(pid));
    for (const args of [['kill', 'fk'], ['kill', 'fk', 'SIGBOGUS'], ['kill', 'fk', '99']]) {
      const fast = await t.run(args);
      const slow = await node.run(args);
      expect(fast.status, args.join(' ')).toBe(slow.status);
      expect(fast.stderr, args.join(' ')).toBe(slow.stderr);
    }
    // A created container ends at a signal whose default is not to ignore.
    const b2 = await bundle((c) => (c.process.args = ['true']));
    expect((await t.detached(['create', '--bundle', b2, 'fk2'], b2)).status).toBe(0);
    const pid2 = await pidOf('fk2');
    expect((await noNode(['kill', 'fk2', 'TERM'])).status).toBe(0);
    await waitFor(() => !alive(pid2));
    expect((await noNode(['delete', 'fk'])).status).toBe(0);
    expect((await noNode(['delete', 'fk2'])).status).toBe(0);
  });

  it('the same errors as Node: a stopped container cannot start, an unknown id, a bad id', async () => {
    const b = await bundle((c) => (c.process.args = ['true']));
    expect((await t.detached(['create', '--bundle', b, 'f2'], b)).status).toBe(0);
    const pid = await pidOf('f2');
    expect((await t.run(['start', 'f2'])).status).toBe(0);
    await waitFor(() => !alive(pid));
    for (const args of [['start', 'f2'], ['start', 'nope'], ['delete', 'nope'], ['start', '../x'], ['start']]) {
      const fast = await t.run(args);
      const slow = await node.run(args);
      expect(fast.status, args.join(' ')).toBe(slow.status);
      expect(fast.stderr, args.join(' ')).toBe(slow.stderr);
    }
    expect((await t.run(['delete', 'f2'])).status).toBe(0);
    expect((await t.run(['delete', '--force', 'nope'])).status).toBe(0);
  });

  it('hooks make Node serve start and delete (they run, with the state on stdin)', async () => {
    const rec = path.join(dir, 'hooks.txt');
    const b = await bundle((c) => {
      c.process.args = ['true'];
      const hook = (tag: string) => [{ path: '/bin/sh', args: ['sh', '-c', `cat > /dev/null; echo ${tag} >> ${rec}`] }];
      c.hooks = { startContainer: hook('startContainer'), poststart: hook('poststart'), poststop: hook('poststop') };
    });
    expect((await t.detached(['create', '--bundle', b, 'f3'], b)).status).toBe(0);
    const pid = await pidOf('f3');
    expect((await t.run(['start', 'f3'])).status).toBe(0);
    await waitFor(() => !alive(pid));
    expect((await t.run(['delete', 'f3'])).status).toBe(0);
    expect(fs.readFileSync(rec, 'utf8')).toBe('startContainer\npoststart\npoststop\n');
  });

  it('a state directory longer than a socket path (engines\' are): start served natively; delete --force of a gone id too', async () => {
    const long = cli(path.join(dir, 'x'.repeat(60), 'y'.repeat(60), 'state'), FAST);
    const b = await bundle((c) => (c.process.args = ['sh', '-c', 'echo long-ok']));
    const cr = await long.detached(['create', '--bundle', b, 'flong'], b);
    expect(cr.status, cr.stderr).toBe(0);
    expect(path.join(long.root, 'flong', 'ctl.sock').length).toBeGreaterThan(108);
    const noNode = (args: string[]) => spawnAsync(FAST, ['--root', long.root, ...args], { env: { PATH: '/nonexistent' }, timeout: 60_000 });
    const st = await noNode(['start', 'flong']);
    expect(st.status, st.stderr).toBe(0);
    await waitFor(() => fs.readFileSync(cr.out, 'utf8').includes('long-ok\n'));
    expect((await noNode(['delete', '--force', 'flong'])).status).toBe(0);
    // Engines delete twice: the second, of an id gone, is no error (as runc's).
    const again = await noNode(['delete', '--force', 'flong']);
    expect(again.status, again.stderr).toBe(0);
  });

  it('other commands and flags go to Node unchanged', async () => {
    expect((await t.run(['--version'])).stdout).toBe((await node.run(['--version'])).stdout);
    expect((await spawnAsync(FAST, ['features'])).stdout).toBe((await spawnAsync(BIN, ['features'])).stdout);
    const bad = await t.run(['--bogus', 'start', 'x']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown flag/);
  });
});
