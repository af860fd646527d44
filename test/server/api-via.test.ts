/**
 * The library API through a warm pool: `Sandbox.run(argv, { via: SOCKET })` and
 * `Sandbox.spawn(argv, { via })` give what the same call without `via` (a `run` process
 * of its own) gives: status, signal, stdout, stderr, the report, hooks and events. With
 * `serve --reuse`, a request without limits or a policy is served by the same reused
 * process (its report and channel are handed over as fds); one with limits gets a fresh
 * worker. No assertion on timing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox, type RunResult } from '../../src/index';
import { schemaErrors } from '../ci/ci-helpers';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO } from '../helpers/paths';
import { BASE_ENV, explain, runSandbox, spawnCollect, status } from '../helpers/run';
import { startServer, startServerAt, stopServer, until, type Server, removeOwnViaDirs } from './pool-helpers';

afterAll(removeOwnViaDirs);

const ENV = { ...BASE_ENV };
const sha = (b: string) => createHash('sha256').update(b).digest('hex');

/** What must agree between a cold call and one through the pool. */
function seen(r: RunResult): unknown {
  return {
    status: r.status, signal: r.signal, stdout: r.stdout.toString(), stderr: r.stderr.toString(),
    // By pid: processes started in the same millisecond are listed in either order.
    processes: r.report?.processes.map((p) => ({ pid: p.pid, exe: p.exe, exitCode: p.exitCode, signal: p.signal })).sort((a, b) => a.pid - b.pid) ?? null,
  };
}

const CASES: Array<{ name: string; argv: string[]; input?: string; cwd?: string }> = [
  { name: 'status, stdout and stderr', argv: ['/bin/sh', '-c', 'echo out; echo err >&2; exit 4'] },
  { name: 'stdin', argv: ['/bin/cat'], input: 'line one\nline two\n' },
  { name: 'env and cwd', argv: ['/bin/sh', '-c', 'pwd; echo "$LANG $HOME"'], cwd: '/usr' },
  { name: 'killed by a signal', argv: ['/bin/sh', '-c', 'kill -TERM $$'] },
  { name: 'not found', argv: ['/nonexistent-tss/prog'] },
  { name: 'a pipeline', argv: ['/bin/sh', '-c', 'seq 1 3000 | sort -rn | tail -2'] }, // tail reads it all: no SIGPIPE, whatever the order
];

describe('Sandbox.run(argv, { via }) through serve --reuse', () => {
  let s: Server;
  let worker = 0;
  beforeAll(async () => {
    s = await startServer(1, ['--reuse', '1000']);
    await until('a ready worker', () => s.workers().length === 1);
    worker = s.workers()[0];
  }, 60_000);
  afterAll(async () => { if (s) await stopServer(s); });

  for (const c of CASES) {
    it(c.name, async () => {
      const o = { env: ENV, input: c.input, ...(c.cwd ? { cwd: c.cwd } : {}) };
      const cold = await Sandbox.run(c.argv, o);
      const warm = await Sandbox.run(c.argv, { ...o, via: s.socket });
      expect(seen(warm)).toEqual(seen(cold));
      if (cold.report !== null) expect(schemaErrors(warm.report)).toBeNull();
      // The reused process served it: no fresh worker was needed for the report and channel.
      expect(s.workers()).toEqual([worker]);
    }, 60_000);
  }

  it('hooks and events: an exec denied and an open rewritten, as without via', async () => {
    const argv = ['/bin/sh', '-c', 'cat /etc/hostname-tss-none 2>/dev/null || echo missing; /bin/echo never; echo rc=$?'];
    const opts = (via?: string) => ({
      env: ENV, ...(via ? { via } : {}),
      onExec: (q: { path: string }) => (q.path.endsWith('/echo') ? 'EPERM' : undefined),
      onOpen: (q: { path: string }) => (q.path === '/etc/hostname-tss-none' ? { path: '/etc/passwd' } : undefined),
    });
    const cold = await Sandbox.run(argv, opts());
    const warm = await Sandbox.run(argv, opts(s.socket));
    expect(seen(warm)).toEqual(seen(cold));
    expect(warm.stdout.toString()).toMatch(/^root:/);
    expect(warm.stdout.toString()).toContain('rc=126');
    const execs = async (via?: string): Promise<string[]> => {
      const events: string[] = [];
      const sb = Sandbox.spawn(['/bin/sh', '-c', 'exec /bin/true'], { env: ENV, ...(via ? { via } : {}) });
      sb.on('exec', (e: { path: string }) => events.push(e.path));
      sb.stdout.resume();
      sb.stderr.resume();
      sb.stdin.end();
      expect((await sb.exited).status).toBe(0);
      return events;
    };
    const coldExecs = await execs();
    expect(coldExecs).toContain('/usr/bin/true');
    expect(await execs(s.socket)).toEqual(coldExecs);
  }, 60_000);

  it('limits: a fresh worker serves it, with the same result as without via', async () => {
    const cold = await Sandbox.run(['/bin/sleep', '10'], { env: ENV, limits: { timeout: '1s' } });
    const warm = await Sandbox.run(['/bin/sleep', '10'], { env: ENV, limits: { timeout: '1s' }, via: s.socket });
    expect(seen(warm)).toEqual(seen(cold));
    expect(warm.status).toBe(124);
    expect(warm.report!.limits.reached[0].name).toBe('timeout');
  }, 60_000);

  it('the report hashes an executable as it is at each request: a host file rewritten in place (same size and mtime) gets its new sha256', async () => {
    // The reused worker keeps executables' hashes across its sandboxes (src/policy/watcher.ts
    // hostExecHashes): by the host file's identity, size, mtime and ctime, so a rewrite that
    // keeps the first three still changes the hash.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-api-via-hash-'));
    try {
      fs.chmodSync(dir, 0o755);
      const prog = path.join(dir, 'prog.sh');
      const hashOf = (r: RunResult) => r.report?.files.find((f) => f.path === prog && f.op === 'exec')?.sha256;
      fs.writeFileSync(prog, '#!/bin/sh\necho A\n', { mode: 0o755 });
      fs.utimesSync(prog, 1_000_000_000, 1_000_000_000); // whole seconds: set back exactly below
      const a1 = await Sandbox.run([prog], { env: ENV, via: s.socket });
      const a2 = await Sandbox.run([prog], { env: ENV, via: s.socket });
      expect(a1.stdout.toString()).toBe('A\n');
      expect(hashOf(a1)).toBe(sha('#!/bin/sh\necho A\n'));
      expect(hashOf(a2)).toBe(hashOf(a1));
      await new Promise((r) => setTimeout(r, 20)); // a ctime the clock can tell from the first
      fs.writeFileSync(prog, '#!/bin/sh\necho B\n');
      fs.utimesSync(prog, 1_000_000_000, 1_000_000_000);
      expect(fs.statSync(prog, { bigint: true }).mtimeNs).toBe(1_000_000_000_000_000_000n);
      const b = await Sandbox.run([prog], { env: ENV, via: s.socket });
      expect(b.stdout.toString()).toBe('B\n');
      expect(hashOf(b)).toBe(sha('#!/bin/sh\necho B\n'));
      expect(s.workers()).toEqual([worker]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('a request naming fds of the worker itself is refused: one line, exit 2', async () => {
    for (const flag of [['--api-fd', '3'], ['--report', '/dev/fd/3'], ['--summary=/dev/fd/1']]) {
      const r = await runSandbox(['--via', s.socket, ...flag, '/bin/true']);
      expect(status(r), explain(r)).toBe(2);
      expect(r.stderr, explain(r)).toMatch(/^tssandbox: [^\n]*only an fd the request hands over\n$/);
    }
    // The worker goes on serving.
    expect((await Sandbox.run(['/bin/echo', 'after'], { env: ENV, via: s.socket })).stdout.toString()).toBe('after\n');
  }, 60_000);

  it('spawn: streamed stdin, and kill() ends the sandbox', async () => {
    const sb = Sandbox.spawn(['/bin/sh', '-c', 'read a; echo "got $a"; exec sleep 600'], { env: ENV, via: s.socket });
    let out = '';
    sb.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('got')) sb.kill();
    });
    sb.stderr.resume();
    sb.stdin.write('hello\n');
    const r = await sb.exited;
    expect(out).toBe('got hello\n');
    expect(r.status).toBe(137);
    expect(r.signal).toBe('SIGKILL');
  }, 60_000);
});

describe('the spare connection a client keeps to the server between requests', () => {
  it('a process that used the pool exits by itself: its spares keep nothing alive', async () => {
    const s = await startServer(1, ['--reuse', '100']);
    try {
      // dist/ is built by the suite (npm test builds first).
      const script = `const { Sandbox, runVia } = require(${JSON.stringify(path.join(REPO, 'dist', 'src', 'index.js'))});
        (async () => {
          const r = await Sandbox.run(['/bin/echo', 'via'], { via: process.argv[1] });
          const code = await require(${JSON.stringify(path.join(REPO, 'dist', 'src', 'server', 'index.js'))}).runVia(process.argv[1], ['/bin/true'], { stdio: [0, 1, 2] });
          process.stdout.write(r.stdout.toString() + 'status ' + r.status + ' ' + code + '\\n');
        })();`;
      const r = await spawnCollect([process.execPath, '-e', script, s.socket], ENV, { timeoutMs: 60_000 });
      expect(r.stdout, explain(r)).toBe('via\nstatus 0 0\n');
      expect(status(r)).toBe(0);
    } finally {
      await stopServer(s);
    }
  }, 90_000);

  it('a server started again at the same path: the next request is served, not lost on the old connection', async () => {
    const a = await startServer(1, ['--reuse', '100']);
    expect((await Sandbox.run(['/bin/true'], { env: ENV, via: a.socket })).status).toBe(0);
    const sock = a.socket;
    await stopServer(a);
    const b = await startServerAt(sock, 1, ['--reuse', '100']);
    try {
      const r = await Sandbox.run(['/bin/echo', 'again'], { env: ENV, via: sock });
      expect(r.stdout.toString(), r.stderr.toString()).toBe('again\n');
    } finally {
      await stopServer(b);
    }
  }, 90_000);
});

describe('Sandbox.run via a socket nobody serves', () => {
  it('status 125 and one line on stderr, as a sandbox that could not start', async () => {
    const r = await Sandbox.run(['/bin/true'], { env: ENV, via: '/nonexistent-tss/pool.sock' });
    expect(r.status).toBe(125);
    expect(r.stderr.toString().trim().split('\n')).toHaveLength(1);
    expect(r.stderr.toString()).toMatch(/^tssandbox: cannot reach the pool/);
    expect(r.report).toBeNull();
  });
});

describe('the library\'s directory for stream pairs', () => {
  it('one left by a process killed by a signal is removed by the next process that makes one', async () => {
    const via = path.join(REPO, 'dist', 'src', 'api', 'via.js');
    const make = (then: string) => spawnCollect([process.execPath, '-e', `process.stdout.write(require(${JSON.stringify(via)}).viaDir()); ${then}`], ENV, { timeoutMs: 60_000 });
    const killed = await make("process.kill(process.pid, 'SIGKILL')");
    expect(killed.signal, explain(killed)).toBe('SIGKILL');
    const left = killed.stdout;
    expect(left.startsWith(path.join(os.tmpdir(), 'tssandbox-api-')), left).toBe(true);
    expect(fs.existsSync(left)).toBe(true); // no exit handler ran
    const next = await make('');
    expect(status(next), explain(next)).toBe(0);
    expect(fs.existsSync(left)).toBe(false);
    expect(fs.existsSync(next.stdout)).toBe(false); // its own, at its exit
  }, 120_000);
});
