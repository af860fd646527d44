/**
 * `serve --reuse N` (src/server/README.md): one pool worker serves successive requests,
 * each in a sandbox built anew. What a request gets is what a cold run gives; nothing a
 * sandbox leaves behind (files, processes, SysV IPC, abstract sockets, pending signals,
 * environment) is seen by the next one in the same process; a request of other flags
 * gets a fresh worker. No assertion on timing.
 */
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain, runSandbox, status, type RunResult } from '../helpers/run';
import { SAME_AS_COLD, startServer, stopServer, until, type Server, removeOwnViaDirs } from './pool-helpers';

afterAll(removeOwnViaDirs);

// A loaded machine took 21 s for LOOK's five Python and shell steps: each run gets 45 s
// (a timeout only ends a hang), a test of three runs 150 s.
const RUN_MS = 45_000;
function via(s: Server, args: string[], input?: string, env?: Record<string, string>): Promise<RunResult> {
  return runSandbox(['--via', s.socket, ...args], { input, env, timeoutMs: RUN_MS });
}

const HAS_PY = fs.existsSync('/usr/bin/python3');

// Sandbox A leaves all it can: an overlay file, a /dev/shm file, a detached process,
// SysV objects, a bound abstract socket held by that process, a blocked pending signal, its env.
const LEAVE = [
  'echo secret > /tmp/tss-reuse-left; echo x > /dev/shm/tss-reuse-left',
  'ipcmk -M 4096 >/dev/null; ipcmk -Q >/dev/null; ipcmk -S 2 >/dev/null',
  // A daemon holding an abstract unix socket, a TCP listener and a UDP port; it says when they are bound.
  HAS_PY ? "setsid python3 -c 'import socket,time\na=socket.socket(socket.AF_UNIX); a.bind(\"\\0tss-reuse-left\"); a.listen()\ns=socket.socket(); s.bind((\"127.0.0.1\", 47011)); s.listen()\nu=socket.socket(type=socket.SOCK_DGRAM); u.bind((\"127.0.0.1\", 47012))\nopen(\"/tmp/tss-reuse-bound\", \"w\").close()\ntime.sleep(600)' </dev/null >/dev/null 2>&1 &" : 'touch /tmp/tss-reuse-bound',
  'setsid sleep 600 </dev/null >/dev/null 2>&1 &',
  'while [ ! -e /tmp/tss-reuse-bound ]; do sleep 0.05; done; echo left',
].join('\n');

// Sandbox B reports what it sees of all that.
const LOOK = [
  'ls /tmp/tss-reuse-left /dev/shm/tss-reuse-left 2>&1 | grep -c "No such file"',
  'ipcs -m | grep -c "^0x"; ipcs -q | grep -c "^0x"; ipcs -s | grep -c "^0x"',
  // Listed to a file first: in a pipeline, whether grep exists yet when ls reads /proc is the scheduler's.
  'ls /proc > /tmp/tss-reuse-procs; grep -c "^[0-9]" /tmp/tss-reuse-procs',
  'grep -E "^(SigPnd|ShdPnd)" /proc/self/status',
  'echo "leftenv=${TSS_REUSE_LEFT:-none}"',
  HAS_PY ? "python3 -c 'import socket; s=socket.socket(socket.AF_UNIX)\ntry:\n  s.connect(\"\\0tss-reuse-left\"); print(\"abstract: connected\")\nexcept OSError as e: print(\"abstract:\", e.errno)'" : 'echo abstract: 111',
  HAS_PY ? "python3 -c 'import socket; s=socket.socket()\ntry:\n  s.connect((\"127.0.0.1\", 47011)); print(\"tcp: connected\")\nexcept OSError as e: print(\"tcp:\", e.errno)\nu=socket.socket(type=socket.SOCK_DGRAM); u.bind((\"127.0.0.1\", 47012)); print(\"udp: bound\")'" : 'echo tcp: 111; echo udp: bound',
].join('\n');

describe('serve --reuse: one process, successive sandboxes', () => {
  let s: Server;
  let worker = 0;
  beforeAll(async () => {
    s = await startServer(1, ['--reuse', '100']);
    await until('a ready worker', () => s.workers().length === 1);
    worker = s.workers()[0];
  }, 60_000);
  afterAll(async () => { if (s) await stopServer(s); });

  for (const c of SAME_AS_COLD) {
    it(c.name, async () => {
      const cold = await runSandbox(c.args, { input: c.input, timeoutMs: RUN_MS });
      const warm = await via(s, c.args, c.input);
      expect(warm.stdout, explain(warm)).toBe(cold.stdout);
      expect(warm.stderr, explain(warm)).toBe(cold.stderr);
      expect(status(warm), explain(warm)).toBe(status(cold));
      // Served by the same process every time.
      expect(s.workers()).toEqual([worker]);
    }, 150_000);
  }

  it('the next sandbox sees nothing its predecessor left', async () => {
    // What a fresh sandbox sees is the reference: the same LOOK in a cold run.
    const cold = await runSandbox(['/bin/sh', '-c', LOOK], { timeoutMs: RUN_MS });
    expect(status(cold), explain(cold)).toBe(0);
    const a = await via(s, ['--env', 'TSS_REUSE_LEFT=yes', '/bin/sh', '-c', `${LEAVE}\nkill -STOP 0 2>/dev/null; true`]);
    expect(a.stdout, explain(a)).toContain('left');
    const b = await via(s, ['/bin/sh', '-c', LOOK]);
    expect(status(b), explain(b)).toBe(0);
    expect(b.stdout, explain(b)).toBe(cold.stdout);
    expect(b.stdout, explain(b)).toMatch(/^2\n0\n0\n0\n/);
    expect(b.stdout, explain(b)).toContain('leftenv=none');
    expect(b.stdout, explain(b)).not.toContain('abstract: connected');
    expect(b.stdout, explain(b)).toContain('tcp: 111\nudp: bound\n');
    expect(s.workers()).toEqual([worker]);
  }, 150_000);

  it('each request has its own client\'s environment: none of the last one\'s, a changed value changed', async () => {
    const show = ['/bin/sh', '-c', 'echo "${TSS_CLIENT_ONLY:-none} ${TSS_CLIENT_CHG:-none}"'];
    const a = await via(s, show, undefined, { TSS_CLIENT_ONLY: 'first', TSS_CLIENT_CHG: 'one' });
    expect(a.stdout, explain(a)).toBe('first one\n');
    const b = await via(s, show, undefined, { TSS_CLIENT_CHG: 'two' });
    expect(b.stdout, explain(b)).toBe('none two\n');
    const c = await via(s, show);
    expect(c.stdout, explain(c)).toBe('none none\n');
    expect(s.workers()).toEqual([worker]);
  }, 150_000);

  it('a pending blocked signal stays with its sandbox', async () => {
    // A guest that blocks SIGUSR1 and raises it exits with it pending; the next starts clean.
    if (!HAS_PY) return;
    const a = await via(s, ['/usr/bin/python3', '-c', 'import os, signal; signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1}); os.kill(os.getpid(), signal.SIGUSR1); print(sorted(signal.sigpending()))']);
    expect(a.stdout, explain(a)).toBe('[<Signals.SIGUSR1: 10>]\n');
    const b = await via(s, ['/usr/bin/python3', '-c', 'import signal; print(sorted(signal.sigpending()))']);
    expect(b.stdout, explain(b)).toBe('[]\n');
  }, 150_000);

  it('flags that shape the sandbox otherwise: a fresh worker serves them', async () => {
    const args = ['--tmpfs', '/scratch', '/bin/sh', '-c', 'echo hi > /scratch/f; cat /scratch/f; grep -c " /scratch " /proc/mounts'];
    const cold = await runSandbox(args, { timeoutMs: RUN_MS });
    const warm = await via(s, args);
    expect(warm.stdout, explain(warm)).toBe(cold.stdout);
    expect(status(warm), explain(warm)).toBe(status(cold));
    // The reused worker is still there for default requests.
    const r = await via(s, ['/bin/echo', 'still']);
    expect(r.stdout, explain(r)).toBe('still\n');
    expect(s.workers()).toContain(worker);
  }, 150_000);

  it('many requests at once, more than the pool holds', async () => {
    const rs = await Promise.all(Array.from({ length: 12 }, (_, i) => via(s, ['/bin/sh', '-c', `echo req ${i}; exit ${i}`])));
    rs.forEach((r, i) => {
      expect(r.stdout, explain(r)).toBe(`req ${i}\n`);
      expect(status(r), explain(r)).toBe(i);
    });
  }, 120_000);
});

describe('serve --reuse: limits', () => {
  it('a worker ends after N requests and is replaced', async () => {
    const s = await startServer(1, ['--reuse', '2']);
    try {
      await until('a ready worker', () => s.workers().length === 1);
      const first = s.workers()[0];
      for (let i = 0; i < 2; i++) expect((await via(s, ['/bin/echo', String(i)])).stdout).toBe(`${i}\n`);
      await until('a replacement', () => s.workers().length === 1 && s.workers()[0] !== first);
      expect((await via(s, ['/bin/echo', 'next'])).stdout).toBe('next\n');
    } finally {
      await stopServer(s);
    }
  }, 60_000);

  it('bad --reuse: one line, exit 2', async () => {
    const { runCli } = await import('../helpers/run');
    const r = await runCli(['serve', '--socket', '/tmp/x.sock', '--reuse', '0']);
    expect(status(r), explain(r)).toBe(2);
    expect(r.stderr, explain(r)).toMatch(/^tssandbox: --reuse wants a number/);
  });
});
