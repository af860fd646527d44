/**
 * The OCI command line on bundles the test makes (`tssandbox spec`, a busybox-static
 * rootfs): the whole lifecycle, the state compared field by field with runc's for the
 * same bundle, exec, kill, hooks, the lock, and bad bundles (one clear line, non-zero
 * exit, nothing left behind).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, alive, cli, descendants, have, makeBundle, makeRootfs, processesWith, sandboxCgroupDirs, tmp, waitFor, type Cli, spawnAsync, consoleReceiver } from './helpers';

let dir = '';
let rootfs = '';
let t: Cli;
let n = 0;

beforeAll(async () => {
  dir = tmp('life');
  rootfs = await makeRootfs(path.join(dir, 'rootfs'));
  t = cli(path.join(dir, 'state'));
});

afterAll(async () => {
  // Anything still listed is force-deleted, so no Sentry outlives the file.
  const r = await t.run(['list', '-q']);
  for (const id of r.stdout.split('\n').filter(Boolean)) await t.run(['delete', '--force', id]);
  fs.rmSync(dir, { recursive: true, force: true });
});

async function bundle(edit: (c: any) => void = () => undefined): Promise<string> {
  return makeBundle(path.join(dir, `b${++n}`), edit, rootfs);
}

async function state(id: string, c: Cli = t): Promise<any> {
  const r = await c.run(['state', id]);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

function sentryLeft(id: string): number[] {
  return processesWith('__oci-sentry').filter((p) => {
    try {
      // Under this file's root only: the same file may run beside on another platform.
      return fs.readFileSync(`/proc/${p}/cmdline`, 'latin1').includes(`${t.root}/${id}\0`);
    } catch {
      return false;
    }
  });
}

describe('lifecycle', () => {
  it('create parks the process, start runs it, state follows, delete cleans up', async () => {
    const b = await bundle((c) => {
      c.process.args = ['sh', '-c', 'echo started; echo $$; hostname; cat /proc/self/status | grep -i ^uid; exit 4'];
      c.hostname = 'oci-host';
      c.annotations = { 'org.example.key': 'v1' };
    });
    const pidFile = path.join(b, 'pid');
    const cr = await t.detached(['create', '--bundle', b, '--pid-file', pidFile, 'c-life'], b);
    expect(cr.status, cr.stderr).toBe(0);
    const s = await state('c-life');
    expect(s.status).toBe('created');
    expect(s.id).toBe('c-life');
    expect(s.bundle).toBe(b);
    expect(s.annotations).toEqual({ 'org.example.key': 'v1' });
    expect(Number(fs.readFileSync(pidFile, 'utf8'))).toBe(s.pid);
    expect(alive(s.pid)).toBe(true);
    // Nothing of the user's process ran yet.
    expect(fs.readFileSync(cr.out, 'utf8')).toBe('');
    const st = await t.run(['start', 'c-life']);
    expect(st.status, st.stderr).toBe(0);
    await waitFor(async () => (await state('c-life')).status === 'stopped');
    const out = fs.readFileSync(cr.out, 'utf8');
    expect(out).toContain('started\n1\noci-host\n');
    expect((await state('c-life')).pid).toBe(0);
    const again = await t.run(['start', 'c-life']);
    expect(again.status).not.toBe(0);
    expect(again.stderr).toMatch(/cannot start a container that is stopped/);
    const d = await t.run(['delete', 'c-life']);
    expect(d.status, d.stderr).toBe(0);
    expect((await t.run(['state', 'c-life'])).stderr).toMatch(/does not exist/);
    expect(fs.existsSync(path.join(t.root, 'c-life'))).toBe(false);
  });

  it('the Sentry is the container pid: its exit status is the process\'s', async () => {
    const b = await bundle((c) => (c.process.args = ['sh', '-c', 'exit 42']));
    const r = await spawnAsync(process.execPath, ['-e', `
      const { spawn } = require('child_process');
      const c = spawn(${JSON.stringify(BIN)}, ['--root', ${JSON.stringify(t.root)}, 'run', '--bundle', ${JSON.stringify(b)}, 'c-status'], { stdio: 'inherit' });
      c.on('exit', (code) => process.exit(code));
    `], { timeout: 60_000 });
    expect(r.status, r.stderr).toBe(42);
    expect(fs.existsSync(path.join(t.root, 'c-status'))).toBe(false);
  });

  it('run --detach, exec (args and --process), ps, kill by name, delete', async () => {
    const b = await bundle((c) => {
      c.process.args = ['sleep', '1000'];
      c.process.env.push('FROM_CONFIG=yes');
      c.root.readonly = false;
    });
    const r = await t.detached(['run', '--detach', '--bundle', b, 'c-exec'], b);
    expect(r.status, r.stderr).toBe(0);
    expect((await state('c-exec')).status).toBe('running');
    const e = await t.run(['exec', '--env', 'EXTRA=1', '--cwd', '/tmp', 'c-exec', 'sh', '-c', 'echo $FROM_CONFIG $EXTRA; pwd; echo data > /tmp/x; exit 9']);
    expect(e.stdout).toBe('yes 1\n/tmp\n');
    expect(e.status, e.stderr).toBe(9);
    // The same filesystem: the write is visible to the next exec.
    const procFile = path.join(b, 'proc.json');
    fs.writeFileSync(procFile, JSON.stringify({ args: ['cat', '/tmp/x'], cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 } }));
    const e2 = await t.run(['exec', '--process', procFile, 'c-exec']);
    expect(e2.stdout).toBe('data\n');
    expect(e2.status).toBe(0);
    const u = await t.run(['exec', '--user', '65534:65534', 'c-exec', 'id']);
    expect(u.stdout).toMatch(/uid=65534/);
    const bad = await t.run(['exec', 'c-exec', 'no-such-program']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/executable file not found/);
    const ps = await t.run(['ps', '--format', 'json', 'c-exec']);
    expect(ps.status, ps.stderr).toBe(0);
    expect(JSON.parse(ps.stdout)).toContain((await state('c-exec')).pid);
    const pst = await t.run(['ps', 'c-exec']);
    expect(pst.stdout).toMatch(/sleep 1000/);
    const pid = (await state('c-exec')).pid;
    const kids = descendants(pid);
    expect(kids.length).toBeGreaterThan(0);
    const k = await t.run(['kill', 'c-exec', 'KILL']);
    expect(k.status, k.stderr).toBe(0);
    await waitFor(async () => (await state('c-exec')).status === 'stopped');
    await waitFor(() => kids.every((p) => !alive(p)));
    expect((await t.run(['kill', 'c-exec'])).stderr).toMatch(/container not running/);
    expect((await t.run(['delete', 'c-exec'])).status).toBe(0);
  });

  it('exec --detach writes the pid of a process that exits with the guest\'s status', async () => {
    const b = await bundle((c) => (c.process.args = ['sleep', '1000']));
    expect((await t.detached(['run', '-d', '--bundle', b, 'c-execd'], b)).status).toBe(0);
    const pidFile = path.join(b, 'exec.pid');
    const r = await t.detached(['exec', '--detach', '--pid-file', pidFile, 'c-execd', 'sleep', '1000'], b);
    expect(r.status, r.stderr).toBe(0);
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(alive(pid)).toBe(true);
    expect((await t.run(['ps', 'c-execd'])).stdout.match(/sleep 1000/g)).toHaveLength(2);
    process.kill(pid, 'SIGTERM');
    await waitFor(() => !alive(pid));
    await waitFor(async () => ((await t.run(['ps', 'c-execd'])).stdout.match(/sleep 1000/g) ?? []).length === 1);
    expect((await t.run(['delete', '--force', 'c-execd'])).status).toBe(0);
  });

  it('kill SIGTERM, kill --all, delete --force leave no Sentry, Gofer or stub', async () => {
    const b = await bundle((c) => (c.process.args = ['sh', '-c', 'sleep 1000 & sleep 1000']));
    expect((await t.detached(['run', '-d', '--bundle', b, 'c-kill'], b)).status).toBe(0);
    const pid = (await state('c-kill')).pid;
    const kids = descendants(pid);
    const cgroups = sandboxCgroupDirs(pid);
    expect(cgroups.length).toBeGreaterThan(0);
    expect((await t.run(['delete', 'c-kill'])).stderr).toMatch(/not stopped/);
    expect((await t.run(['kill', '--all', 'c-kill', '15'])).status).toBe(0);
    await waitFor(async () => (await state('c-kill')).status === 'stopped');
    expect((await t.run(['delete', 'c-kill'])).status).toBe(0);
    // As runc: delete (after the exit, and --force below) returns once nothing of the
    // container is left: Sentry, Gofer, stubs, the cgroup's reaper, the host cgroup.
    expect(kids.filter(alive)).toEqual([]);
    expect(cgroups.filter((d) => fs.existsSync(d))).toEqual([]);

    expect((await t.detached(['run', '-d', '--bundle', b, 'c-force'], b)).status).toBe(0);
    const pid2 = (await state('c-force')).pid;
    const kids2 = descendants(pid2);
    const cgroups2 = sandboxCgroupDirs(pid2);
    const d = await t.run(['delete', '--force', 'c-force']);
    expect(d.status, d.stderr).toBe(0);
    expect(alive(pid2)).toBe(false);
    expect(kids2.filter(alive)).toEqual([]);
    expect(sentryLeft('c-force')).toEqual([]);
    expect(cgroups2.filter((x) => fs.existsSync(x))).toEqual([]);
  });

  it('a created container can be killed and deleted before it runs', async () => {
    const b = await bundle((c) => (c.process.args = ['sh', '-c', 'echo should not run']));
    const r = await t.detached(['create', '--bundle', b, 'c-created'], b);
    expect(r.status, r.stderr).toBe(0);
    expect((await t.run(['kill', 'c-created', 'SIGTERM'])).status).toBe(0);
    await waitFor(async () => (await state('c-created')).status === 'stopped');
    expect((await t.run(['delete', 'c-created'])).status).toBe(0);
    expect(fs.readFileSync(r.out, 'utf8')).toBe('');
  });

  it('run is create then start: the create hooks have run before pid 1\'s first instruction, startContainer too', async () => {
    const data = path.join(dir, 'run-order');
    fs.mkdirSync(data);
    const b = await bundle((c) => {
      c.process.args = ['sh', '-c', 'for k in prestart createRuntime createContainer startContainer; do [ -e /data/$k ] && echo $k; done'];
      c.mounts.push({ destination: '/data', type: 'bind', source: data, options: ['rbind', 'rw'] });
      c.hooks = Object.fromEntries(['prestart', 'createRuntime', 'createContainer', 'startContainer'].map((k) => [k, [{ path: '/bin/sh', args: ['sh', '-c', `touch ${data}/${k}`] }]]));
    });
    fs.mkdirSync(path.join(b, 'rootfs', 'data'), { recursive: true });
    const r = await t.detached(['run', '--bundle', b, 'c-run-order'], b);
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readFileSync(r.out, 'utf8')).toBe('prestart\ncreateRuntime\ncreateContainer\nstartContainer\n');
    expect(fs.existsSync(path.join(t.root, 'c-run-order'))).toBe(false);
  });

  it('list shows containers; --preserve-fds passes fds; hooks get the state on stdin', async () => {
    const hookOut = path.join(dir, 'hook-out');
    const b = await bundle((c) => {
      c.process.args = ['sh', '-c', 'echo through-fd3 >&3'];
      c.hooks = {
        createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', `cat > ${hookOut}.create`] }],
        poststop: [{ path: '/bin/sh', args: ['sh', '-c', `cat > ${hookOut}.poststop`] }],
      };
    });
    const fd3File = path.join(b, 'fd3.txt');
    const r = await spawnAsync('sh', ['-c', `exec 3>${fd3File}; "$0" --root "$1" create --preserve-fds 1 --bundle "$2" c-fds >/dev/null 2>&1`,
      BIN, t.root, b]);
    expect(r.status, r.stderr).toBe(0);
    const created = JSON.parse(fs.readFileSync(`${hookOut}.create`, 'utf8'));
    expect(created.id).toBe('c-fds');
    expect(created.status).toBe('created');
    const l = await t.run(['list', '--format', 'json']);
    expect(JSON.parse(l.stdout).map((s: any) => s.id)).toContain('c-fds');
    expect((await t.run(['list'])).stdout).toMatch(/^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER\n/);
    expect((await t.run(['start', 'c-fds'])).status).toBe(0);
    await waitFor(async () => (await state('c-fds')).status === 'stopped');
    expect(fs.readFileSync(fd3File, 'utf8')).toBe('through-fd3\n');
    expect((await t.run(['delete', 'c-fds'])).status).toBe(0);
    expect(JSON.parse(fs.readFileSync(`${hookOut}.poststop`, 'utf8')).id).toBe('c-fds');
  });

  it('--console-socket: the pty master comes over SCM_RIGHTS and the process sees a terminal', async () => {
    const b = await bundle((c) => {
      c.process.terminal = true;
      c.process.args = ['sh', '-c', '[ -t 0 ] && echo is-a-tty; sleep 1000'];
    });
    const sockPath = path.join(b, 'console.sock');
    const recv = await spawnAsync('python3', ['-c', 'import socket']);
    if (recv.status !== 0) return; // no python3: covered by the engines' -t tests
    const out = path.join(b, 'console.out');
    const py = consoleReceiver(sockPath, out);
    try {
      await waitFor(() => fs.existsSync(sockPath));
      const r = await t.detached(['create', '--bundle', b, '--console-socket', sockPath, 'c-tty'], b);
      expect(r.status, r.stderr).toBe(0);
      expect((await t.run(['start', 'c-tty'])).status).toBe(0);
      await waitFor(() => fs.existsSync(out) && fs.readFileSync(out, 'utf8').includes('is-a-tty'));
      expect((await t.run(['delete', '--force', 'c-tty'])).status).toBe(0);
    } finally {
      py.kill('SIGKILL');
    }
  });

  it('pause/resume under a busy guest, update, events --stats', async () => {
    const b = await bundle((c) => (c.process.args = ['sh', '-c', 'while true; do echo x > /dev/null; done']));
    expect((await t.detached(['run', '-d', '--bundle', b, 'c-pause'], b)).status).toBe(0);
    expect((await t.run(['pause', 'c-pause'])).status).toBe(0);
    expect((await state('c-pause')).status).toBe('paused');
    expect((await t.run(['pause', 'c-pause'])).stderr).toMatch(/cannot pause a container that is paused/);
    expect((await t.run(['resume', 'c-pause'])).status).toBe(0);
    expect((await state('c-pause')).status).toBe('running');
    expect((await t.run(['update', '--pids-limit', '7', '--memory', '4m', 'c-pause'])).status).toBe(0);
    const ev = JSON.parse((await t.run(['events', '--stats', 'c-pause'])).stdout);
    expect(ev.type).toBe('stats');
    expect(ev.data.pids.limit).toBe(7);
    expect(ev.data.memory.usage.limit).toBe(4 * 1024 * 1024);
    expect((await t.run(['delete', '--force', 'c-pause'])).status).toBe(0);
  });

  it('two commands on one container at once are serialised by the lock', async () => {
    const b = await bundle((c) => (c.process.args = ['sleep', '1000']));
    expect((await t.detached(['create', '--bundle', b, 'c-lock'], b)).status).toBe(0);
    // start and delete --force race; whichever wins, the other sees a consistent state.
    const { spawn } = require('node:child_process');
    const run = (args: string[]) => new Promise<number>((res) => {
      const p = spawn(BIN, ['--root', t.root, ...args], { stdio: 'ignore' });
      p.on('exit', (code: number) => res(code));
    });
    const [a, d] = await Promise.all([await run(['start', 'c-lock']), await run(['delete', '--force', 'c-lock'])]);
    expect(d).toBe(0);
    expect([0, 1]).toContain(a);
    expect(fs.existsSync(path.join(t.root, 'c-lock'))).toBe(false);
    expect(sentryLeft('c-lock')).toEqual([]);
  });
});

describe.skipIf(!have('runc'))('state compared with runc', () => {
  it('the same bundle gives the same state, field by field', async () => {
    // runc refuses a rootfs that is a symlink: this bundle gets its own.
    const b = await makeBundle(path.join(dir, 'b-runc'), (c) => {
      c.process.args = ['sleep', '1000'];
      c.annotations = { 'org.example.a': 'b' };
    });
    const runcRoot = path.join(dir, 'runc-state');
    const runc = (args: string[]) => spawnAsync('runc', ['--root', runcRoot, ...args], { timeout: 60_000 });
    const ours = await t.detached(['create', '--bundle', b, 'c-cmp'], b);
    expect(ours.status, ours.stderr).toBe(0);
    const errFile = path.join(b, 'runc.err');
    const ef = fs.openSync(errFile, 'w');
    const o = await spawnAsync('runc', ['--root', runcRoot, 'create', '--bundle', b, 'c-cmp'], { stdio: ['ignore', 'ignore', ef], timeout: 60_000 });
    fs.closeSync(ef);
    try {
      expect(o.status, fs.readFileSync(errFile, 'utf8')).toBe(0);
      for (const phase of ['created', 'running', 'stopped']) {
        const a = await state('c-cmp');
        const r = JSON.parse((await runc(['state', 'c-cmp'])).stdout);
        expect(Object.keys(a).sort()).toEqual(Object.keys(r).sort());
        for (const k of ['ociVersion', 'pid', 'created']) expect(typeof a[k]).toBe(typeof r[k]);
        for (const k of ['id', 'status', 'bundle', 'rootfs', 'annotations', 'owner']) expect(a[k], k).toEqual(r[k]);
        expect(a.ociVersion.split('.')[0]).toBe(r.ociVersion.split('.')[0]);
        expect(a.pid > 0).toBe(r.pid > 0);
        expect(Number.isNaN(Date.parse(a.created))).toBe(false);
        if (phase === 'created') {
          expect((await t.run(['start', 'c-cmp'])).status).toBe(0);
          expect((await runc(['start', 'c-cmp'])).status).toBe(0);
        } else if (phase === 'running') {
          expect((await t.run(['kill', 'c-cmp', 'KILL'])).status).toBe(0);
          expect((await runc(['kill', 'c-cmp', 'KILL'])).status).toBe(0);
          await waitFor(async () => (await state('c-cmp')).status === 'stopped' && JSON.parse((await runc(['state', 'c-cmp'])).stdout).status === 'stopped');
        }
      }
    } finally {
      await runc(['delete', '--force', 'c-cmp']);
      await t.run(['delete', '--force', 'c-cmp']);
    }
  });
});


describe('bad bundles and bad input: one line, non-zero exit, nothing left', () => {
  const cases: Array<[string, (b: string) => void, RegExp]> = [
    ['no config.json', (b) => fs.rmSync(path.join(b, 'config.json')), /no config\.json/],
    ['bad JSON', (b) => fs.writeFileSync(path.join(b, 'config.json'), '{"ociVersion": '), /bad JSON/],
    ['schema error', (b) => edit(b, (c) => (c.process.user.uid = 'root')), /process\.user\.uid: must be integer/],
    ['missing required key', (b) => edit(b, (c) => delete c.process.cwd), /process\.cwd: required key missing/],
    ['unknown ociVersion major', (b) => edit(b, (c) => (c.ociVersion = '2.0.0')), /ociVersion: unsupported version 2\.0\.0/],
    ['missing root', (b) => edit(b, (c) => (c.root.path = 'nope')), /root\.path: .*nope does not exist/],
    ['relative path escaping the bundle', (b) => edit(b, (c) => (c.root.path = '../../etc')), /root\.path: relative path '\.\.\/\.\.\/etc' escapes the bundle/],
    ['bind source missing', (b) => edit(b, (c) => c.mounts.push({ destination: '/x', type: 'bind', source: '/no/such/dir', options: ['rbind'] })), /mounts\[\d+\]\.source: \/no\/such\/dir does not exist/],
    // config.json is read as runc reads it (a symlink followed), but no more: a file that is
    // no JSON (the host's /etc/shadow) is not quoted back, a FIFO does not hang create.
    ['config.json a symlink to a file that is no JSON', (b) => {
      fs.writeFileSync(`${b}-secret`, 's3cr3t-token never shown\n', { mode: 0o600 });
      fs.rmSync(path.join(b, 'config.json'));
      fs.symlinkSync(`${b}-secret`, path.join(b, 'config.json'));
    }, /^(?!.*s3cr).*config\.json: bad JSON: unexpected 's'$/],
    ['config.json a FIFO', (b) => {
      fs.rmSync(path.join(b, 'config.json'));
      execFileSync('mkfifo', [path.join(b, 'config.json')]);
    }, /config\.json is not a regular file/],
    ['program missing', (b) => edit(b, (c) => (c.process.args = ['no-such-prog'])), /executable file not found/],
    // Loaded at create (run at start): an ELF whose program headers are cut off fails create.
    ['program that cannot be loaded', (b) => {
      fs.writeFileSync(path.join(rootfs, 'bin', 'cut-elf'), fs.readFileSync(path.join(rootfs, 'bin', 'busybox')).subarray(0, 64), { mode: 0o755 });
      edit(b, (c) => (c.process.args = ['/bin/cut-elf']));
    }, /exec \/bin\/cut-elf: /],
  ];

  function edit(b: string, f: (c: any) => void): void {
    const p = path.join(b, 'config.json');
    const c = JSON.parse(fs.readFileSync(p, 'utf8'));
    f(c);
    fs.writeFileSync(p, JSON.stringify(c));
  }

  for (const [name, spoil, msg] of cases) {
    it(name, async () => {
      const b = await bundle();
      spoil(b);
      const id = `bad-${name.replace(/\W+/g, '-')}`;
      const r = await t.detached(['create', '--bundle', b, id], b);
      expect(r.status).not.toBe(0);
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^tssandbox: /);
      expect(lines[0]).toMatch(msg);
      expect(fs.existsSync(path.join(t.root, id))).toBe(false);
      expect(sentryLeft(id)).toEqual([]);
    });
  }

  it('symlinks within the bundle are followed: config.json, root.path', async () => {
    const b = await bundle((c) => {
      c.process.args = ['sh', '-c', 'echo in-bundle > /dev/shm/x; cat /dev/shm/x'];
      c.root.path = 'r';
    });
    await spawnAsync('cp', ['-a', rootfs, path.join(b, 'rootfs-copy')]);
    fs.symlinkSync('rootfs-copy', path.join(b, 'r'));
    fs.mkdirSync(path.join(b, 'conf'));
    fs.renameSync(path.join(b, 'config.json'), path.join(b, 'conf', 'c.json'));
    fs.symlinkSync('conf/c.json', path.join(b, 'config.json'));
    const r = await t.detached(['create', '--bundle', b, 'in-bundle'], b);
    expect(r.status, r.stderr).toBe(0);
    expect((await state('in-bundle')).status).toBe('created');
    expect((await t.run(['delete', '--force', 'in-bundle'])).status).toBe(0);
  });

  it('an id already in use', async () => {
    const b = await bundle((c) => (c.process.args = ['sleep', '1000']));
    expect((await t.detached(['create', '--bundle', b, 'dup'], b)).status).toBe(0);
    const pid = (await state('dup')).pid;
    const r = await t.detached(['create', '--bundle', b, 'dup'], b);
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim()).toBe("tssandbox: container with id 'dup' already exists");
    expect((await state('dup')).pid).toBe(pid);
    expect((await t.run(['delete', '--force', 'dup'])).status).toBe(0);
  });

  it('bad flags, unknown commands, missing ids, bad signals', async () => {
    for (const [args, msg] of [
      [['create', '--no-such-flag', 'x'], /unknown flag '--no-such-flag'/],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['state'], /a container id is required/],
      [['state', 'nope'], /container "nope" does not exist/],
      [['kill', 'nope', 'SIGFOO'], /unknown signal 'SIGFOO'/],
      [['create', 'bad/id'], /invalid container id/],
      [['checkpoint', 'x'], /container "x" does not exist/],
      [['restore', 'x'], /restore: --image-path .*checkpoint: no checkpoint image there/], // runc's default image path: ./checkpoint
    ] as Array<[string[], RegExp]>) {
      const r = await t.run(args);
      expect(r.status, args.join(' ')).not.toBe(0);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr, args.join(' ')).toMatch(msg);
    }
  });

  it('--log --log-format json gets the error as a JSON line', async () => {
    const log = path.join(dir, 'runtime.log');
    const r = await spawnAsync(BIN, ['--root', t.root, '--log', log, '--log-format', 'json', 'state', 'nope']);
    expect(r.status).not.toBe(0);
    const line = JSON.parse(fs.readFileSync(log, 'utf8').trim().split('\n').pop()!);
    expect(line.level).toBe('error');
    expect(line.msg).toMatch(/does not exist/);
  });
});

describe('spec, features, --version, install', () => {
  it('spec writes a config that validates; refuses to overwrite', async () => {
    const d = tmp('spec');
    try {
      expect((await spawnAsync(BIN, ['spec'], { cwd: d })).status).toBe(0);
      const c = JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8'));
      expect(c.ociVersion).toMatch(/^1\./);
      expect(c.root.path).toBe('rootfs');
      const again = await spawnAsync(BIN, ['spec'], { cwd: d });
      expect(again.status).not.toBe(0);
      expect(again.stderr).toMatch(/exists/);
      fs.rmSync(path.join(d, 'config.json'));
      expect((await spawnAsync(BIN, ['spec', '--rootless'], { cwd: d })).status).toBe(0);
      expect(JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8')).linux.uidMappings).toHaveLength(1);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it('features prints runc-style JSON', async () => {
    const r = await t.run(['features']);
    expect(r.status).toBe(0);
    const f = JSON.parse(r.stdout);
    expect(f.ociVersionMin).toBe('1.0.0');
    expect(f.hooks).toContain('poststop');
    expect(f.linux.namespaces).toContain('pid');
  });

  it('install adds the runtime to daemon.json, keeps other keys, uninstall removes it', async () => {
    const d = tmp('install');
    try {
      const conf = path.join(d, 'daemon.json');
      fs.writeFileSync(conf, JSON.stringify({ 'log-level': 'warn', runtimes: { other: { path: '/bin/other' } } }));
      const r = await spawnAsync(BIN, ['install', '--config', conf, '--runtime-name', 'tss', '--', '--debug']);
      expect(r.status, r.stderr).toBe(0);
      const c = JSON.parse(fs.readFileSync(conf, 'utf8'));
      expect(c['log-level']).toBe('warn');
      expect(c.runtimes.other.path).toBe('/bin/other');
      // The native entry when built (native/oci_fast.c), else the Node command line.
      const fast = path.join(path.dirname(fs.realpathSync(BIN)), '..', 'build', 'Release', 'tssandbox-oci');
      expect(c.runtimes.tss.path).toBe(fs.existsSync(fast) ? fs.realpathSync(fast) : fs.realpathSync(BIN));
      expect(c.runtimes.tss.runtimeArgs).toEqual(['--debug']);
      expect((await spawnAsync(BIN, ['install', '--config', conf, '--runtime-name', 'tss', '--uninstall'])).status).toBe(0);
      const c2 = JSON.parse(fs.readFileSync(conf, 'utf8'));
      expect(c2.runtimes.tss).toBeUndefined();
      expect(c2.runtimes.other.path).toBe('/bin/other');
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it('`run PROGRAM` is still the one-program mode', async () => {
    const r = await spawnAsync(BIN, ['run', '/bin/echo', 'plain']);
    expect(r.stdout).toBe('plain\n');
  });
});

