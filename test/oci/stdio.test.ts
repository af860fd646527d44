/**
 * The container's pid (the Sentry's) never holds the host's /dev/null: engines act on
 * "the container's stdio" through /proc/<pid>/fd/N (the host's /dev/null was once found
 * chowned to the container's user). stdin, stdout or every stdio fd given as the host's
 * /dev/null become pipes for the Sentry and the guest gets the sandbox's /dev/null
 * there; exec does not send such an fd either. And the Sentry's helpers (the Gofer, the
 * stubs) hold none of the container's stdio: engines wait for its streams to end.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, alive, cli, descendants, makeBundle, makeRootfs, tmp, waitFor, type Cli, spawnAsync } from './helpers';

let dir = '';
let rootfs = '';
let t: Cli;
let n = 0;
const devNull = fs.statSync('/dev/null');

beforeAll(async () => {
  dir = tmp('stdio');
  rootfs = await makeRootfs(path.join(dir, 'rootfs'));
  t = cli(path.join(dir, 'state'));
});

afterAll(async () => {
  for (const id of (await t.run(['list', '-q'])).stdout.split('\n').filter(Boolean)) await t.run(['delete', '--force', id]);
  fs.rmSync(dir, { recursive: true, force: true });
});

async function bundle(args: string[]): Promise<string> {
  return makeBundle(path.join(dir, `b${++n}`), (c) => (c.process.args = args), rootfs);
}

/** The fds of host process `pid` that are the host's /dev/null. */
function nullFdsOf(pid: number): string[] {
  const out: string[] = [];
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const s = fs.statSync(`/proc/${pid}/fd/${fd}`);
      if (s.isCharacterDevice() && s.rdev === devNull.rdev) out.push(fd);
    } catch {
      // closed meanwhile, or not reachable: not /dev/null
    }
  }
  return out;
}

async function pidOf(id: string): Promise<number> {
  return JSON.parse((await t.run(['state', id])).stdout).pid as number;
}

async function createWith(id: string, b: string, stdio: Array<'ignore' | number>): Promise<number | null> {
  return (await spawnAsync(BIN, ['--root', t.root, 'create', '--bundle', b, id], { stdio, timeout: 60_000 })).status;
}

describe('the host /dev/null is none of the Sentry\'s fds', () => {
  it('stdin as /dev/null: the guest reads EOF from the sandbox\'s /dev/null', async () => {
    const b = await bundle(['sh', '-c', 'cat; echo "cat=$?"; ls -lL /proc/self/fd/0 | cut -c1; stat -L -c %t,%T /proc/self/fd/0']);
    const out = fs.openSync(path.join(b, 'out'), 'w');
    expect(await createWith('s-in', b, ['ignore', out, out])).toBe(0);
    fs.closeSync(out);
    const pid = await pidOf('s-in');
    expect(nullFdsOf(pid)).toEqual([]);
    expect((await t.run(['start', 's-in'])).status).toBe(0);
    await waitFor(() => !alive(pid));
    expect(fs.readFileSync(path.join(b, 'out'), 'utf8')).toBe('cat=0\nc\n1,3\n');
    expect((await t.run(['delete', 's-in'])).status).toBe(0);
  });

  it('all of stdio as /dev/null: writes succeed and go nowhere', async () => {
    const b = await bundle(['sh', '-c', 'echo to-null && echo to-err >&2 && echo ok > /dev/shm/ok; sleep 1000']);
    expect(await createWith('s-all', b, ['ignore', 'ignore', 'ignore'])).toBe(0);
    const pid = await pidOf('s-all');
    expect(nullFdsOf(pid)).toEqual([]);
    expect((await t.run(['start', 's-all'])).status).toBe(0);
    // Both echos succeeded (a write error would stop the && chain).
    await waitFor(async () => (await t.run(['exec', 's-all', 'cat', '/dev/shm/ok'])).stdout === 'ok\n', 200);
    expect(nullFdsOf(pid)).toEqual([]);
    expect((await t.run(['delete', '--force', 's-all'])).status).toBe(0);
  });

  it('exec with /dev/null as stdin: not sent to the Sentry, the process reads EOF', async () => {
    const b = await bundle(['sleep', '1000']);
    const out = fs.openSync(path.join(b, 'out'), 'w');
    expect(await createWith('s-ex', b, ['ignore', out, out])).toBe(0);
    fs.closeSync(out);
    expect((await t.run(['start', 's-ex'])).status).toBe(0);
    const pid = await pidOf('s-ex');
    const exOut = path.join(b, 'exec-out');
    const o = fs.openSync(exOut, 'w');
    // A detached exec keeps running: its stdin is the host's /dev/null.
    const child = spawn(BIN, ['--root', t.root, 'exec', 's-ex', 'sh', '-c', 'cat; echo "eof=$?"; stat -L -c %t,%T /proc/self/fd/0; sleep 1000'], { stdio: ['ignore', o, o] });
    fs.closeSync(o);
    await waitFor(() => fs.readFileSync(exOut, 'utf8').includes('1,3\n'));
    expect(fs.readFileSync(exOut, 'utf8')).toBe('eof=0\n1,3\n');
    expect(nullFdsOf(pid)).toEqual([]);
    child.kill('SIGKILL');
    expect((await t.run(['delete', '--force', 's-ex'])).status).toBe(0);
  });

  it('the Gofer and the stubs hold none of the container\'s stdio: only the Sentry does', async () => {
    const b = await bundle(['sleep', '1000']);
    const outPath = path.join(b, 'out');
    const out = fs.openSync(outPath, 'w');
    expect(await createWith('s-held', b, [out, out, out])).toBe(0);
    fs.closeSync(out);
    expect((await t.run(['start', 's-held'])).status).toBe(0);
    const pid = await pidOf('s-held');
    const o = fs.statSync(outPath);
    const holds = (p: number) => fs.readdirSync(`/proc/${p}/fd`).filter((fd) => {
      try {
        const s = fs.statSync(`/proc/${p}/fd/${fd}`);
        return s.ino === o.ino && s.dev === o.dev;
      } catch {
        return false;
      }
    });
    expect(holds(pid).sort()).toEqual(['0', '1', '2']);
    const helpers = descendants(pid);
    expect(helpers.length).toBeGreaterThanOrEqual(2); // the Gofer and the stub
    for (const h of helpers) expect([h, holds(h)]).toEqual([h, []]);
    expect((await t.run(['delete', '--force', 's-held'])).status).toBe(0);
  });
});
