/**
 * The warm pool (src/server): `run --via` gives what a cold `run` gives (stdout, stderr,
 * status) for several programs, serves concurrent requests, passes signals on, refills
 * itself, replaces a killed member, and `serve` stops leaving no process behind.
 * No assertion on timing: waits are for a state, with generous deadlines.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/paths';
import { BASE_ENV, explain, runCli, runSandbox, spawnCollect, status, type RunResult } from '../helpers/run';
import { alive, descendants, SAME_AS_COLD, startServer, stopServer, until, workerRunningSleep, type Server, removeOwnViaDirs } from './pool-helpers';

afterAll(removeOwnViaDirs);

function via(s: Server, args: string[], input?: string): Promise<RunResult> {
  return runSandbox(['--via', s.socket, ...args], { input });
}

function expectSame(cold: RunResult, warm: RunResult): void {
  expect(warm.timedOut, explain(warm)).toBe(false);
  expect(warm.stdout, explain(warm)).toBe(cold.stdout);
  expect(warm.stderr, explain(warm)).toBe(cold.stderr);
  expect(status(warm), explain(warm)).toBe(status(cold));
}

describe('run --via: the same as a cold run', () => {
  let s: Server;
  beforeAll(async () => { s = await startServer(2); }, 60_000);
  afterAll(async () => { if (s) await stopServer(s); });

  for (const c of SAME_AS_COLD) {
    it(c.name, async () => {
      const cold = await runSandbox(c.args, { input: c.input });
      expectSame(cold, await via(s, c.args, c.input));
    }, 60_000);
  }

  it('python3', async () => {
    if (!fs.existsSync('/usr/bin/python3')) return;
    const args = ['/usr/bin/python3', '-c', 'import sys, json; print(json.dumps({"a": sum(range(1000))})); sys.exit(4)'];
    expectSame(await runSandbox(args), await via(s, args));
  }, 60_000);

  it('bad flags fail in the client, as in a cold run', async () => {
    const cold = await runSandbox(['--pids-limit', 'x', '/bin/true']);
    expectSame(cold, await via(s, ['--pids-limit', 'x', '/bin/true']));
  });

  // Each refused by a ready worker and served by one started for it (src/server/pool.ts
  // HostRequest): as a cold run, errors included (a source the front cannot reach: the
  // old path's set-up error, no guest code run).
  for (const args of [
    ['--tmpfs', '/t', '/bin/sh', '-c', 'echo x > /t/f; cat /t/f'],
    ['--pids-limit', '50', '/bin/sh', '-c', 'echo $((6*7))'],
    ['--mount', '/etc:/x', '/bin/sh', '-c', 'test -f /x/passwd && echo bound'],
    ['--root', '/nonexistent-tss-root', '/bin/true'],
    ['--mount', '/nonexistent-tss-src:/x', '/bin/true'],
  ]) {
    it(`a request a ready worker refuses: ${args.slice(0, 2).join(' ')}`, async () => {
      expectSame(await runSandbox(args), await via(s, args));
    }, 90_000);
  }

  it('concurrent requests (more than the pool holds)', async () => {
    const rs = await Promise.all(Array.from({ length: 6 }, (_, i) => via(s, ['/bin/sh', '-c', `echo req ${i}; exit ${i}`])));
    rs.forEach((r, i) => {
      expect(r.stdout, explain(r)).toBe(`req ${i}\n`);
      expect(status(r), explain(r)).toBe(i);
    });
  }, 120_000);

  it('the pool refills to its size', async () => {
    await via(s, ['/bin/true']);
    await until('2 ready workers', () => s.workers().length === 2);
  }, 60_000);

  it('Ctrl-C reaches the guest (SIGINT to the client)', async () => {
    const args = ['/bin/sh', '-c', 'echo started; exec sleep 30'];
    const interrupted = async (argv: string[]) => {
      const child = spawn(process.execPath, [BIN, 'run', ...argv], { env: BASE_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
      await until('the guest to start', () => out.includes('started'));
      child.kill('SIGINT');
      return new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    };
    const cold = await interrupted(args);
    expect(cold).toBe(130);
    expect(await interrupted(['--via', s.socket, ...args])).toBe(cold);
  }, 60_000);

  it('a killed pool member is replaced', async () => {
    await until('2 ready workers', () => s.workers().length === 2);
    const [victim] = s.workers();
    process.kill(victim, 'SIGKILL');
    await until('a replacement', () => s.workers().length === 2 && !s.workers().includes(victim));
    const r = await via(s, ['/bin/echo', 'still serving']);
    expect(r.stdout, explain(r)).toBe('still serving\n');
  }, 60_000);

  it('a client that goes away takes its sandbox with it', async () => {
    const child = spawn(process.execPath, [BIN, 'run', '--via', s.socket, '/bin/sh', '-c', 'echo started; exec sleep 60'], { env: BASE_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    await until('the guest to start', () => out.includes('started'));
    // "started" comes before the exec of sleep: the worker is found by its guest's mapping of sleep once it is there.
    await until('its worker to run sleep', () => workerRunningSleep(s.workers()) !== undefined);
    const busy = workerRunningSleep(s.workers());
    const tree = [busy!, ...descendants(busy!)];
    child.kill('SIGKILL');
    await until('its sandbox\'s processes to end', () => tree.every((p) => !alive(p)));
  }, 60_000);
});

describe('serve: errors and a clean stop', () => {
  it('run --via a socket nobody serves: one line, exit 125', async () => {
    const r = await runSandbox(['--via', '/nonexistent-tss/pool.sock', '/bin/true']);
    expect(status(r), explain(r)).toBe(125);
    expect(r.stderr.trim().split('\n'), explain(r)).toHaveLength(1);
    expect(r.stderr, explain(r)).toMatch(/^tssandbox: cannot reach the pool at \/nonexistent-tss\/pool.sock/);
  });

  it('serve with bad flags: one line, exit 2', async () => {
    for (const argv of [['serve'], ['serve', '--socket', '/tmp/x.sock', '--pool', 'many'], ['serve', '--socket', '/tmp/x.sock', '--max-memory', 'lots']]) {
      const r = await runCli(argv);
      expect(status(r), explain(r)).toBe(2);
      expect(r.stderr.trim().split('\n'), explain(r)).toHaveLength(1);
      expect(r.stderr, explain(r)).toMatch(/^tssandbox: /);
    }
  });

  it('SIGTERM stops serve: socket removed, no process left, even with a sandbox running', async () => {
    const s = await startServer(2);
    // A failed assertion must not leave the server behind: stopped either way (again is a no-op).
    try {
      await until('2 ready workers', () => s.workers().length === 2);
      const client = spawnCollect([process.execPath, BIN, 'run', '--via', s.socket, '/bin/sh', '-c', 'exec sleep 60'], BASE_ENV);
      await until('a busy sandbox', () => workerRunningSleep(s.workers()) !== undefined);
      const tree = descendants(s.child.pid!);
      expect(tree.length).toBeGreaterThan(2);
      expect(await stopServer(s)).toBe(0);
      expect(fs.existsSync(s.socket)).toBe(false);
      await until('every process of the pool to end', () => tree.every((p) => !alive(p)));
      const r = await client;
      expect(status(r), explain(r)).toBe(125);
      expect(r.stderr, explain(r)).toMatch(/^tssandbox: the pool is shutting down\n$/m);
    } finally {
      await stopServer(s);
    }
  }, 60_000);

  it('--max-memory caps the ready workers', async () => {
    // A cap below one worker's PSS: one starts (to learn its size), no more follow.
    const s = await startServer(3, ['--max-memory', '1m']);
    try {
      await until('a ready worker', () => s.workers().length >= 1);
      await new Promise((r) => setTimeout(r, 1500));
      expect(s.workers().length).toBe(1);
      const r = await via(s, ['/bin/echo', 'capped']);
      expect(r.stdout, explain(r)).toBe('capped\n');
    } finally {
      await stopServer(s);
    }
  }, 60_000);
});
