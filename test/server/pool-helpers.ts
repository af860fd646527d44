/** A warm pool server for tests (test/server, test/snapshot): start, stop, its processes. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'vitest';
import { BIN } from '../helpers/paths';
import { BASE_ENV } from '../helpers/run';

export function childrenOf(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function descendants(pid: number): number[] {
  const out: number[] = [];
  for (const c of childrenOf(pid)) out.push(c, ...descendants(c));
  return out;
}

/**
 * The worker serving a guest that runs `sleep`: the one with a descendant (the guest's
 * stub) mapping the sleep binary. A count of descendants cannot tell: an idle worker holds
 * an address space made ahead beside its Gofer and template stub.
 */
export function workerRunningSleep(workers: number[]): number | undefined {
  const mapsSleep = (p: number) => {
    try { return /\/sleep$/m.test(fs.readFileSync(`/proc/${p}/maps`, 'utf8')); } catch { return false; }
  };
  return workers.find((w) => descendants(w).some(mapsSleep));
}

export function alive(pid: number): boolean {
  try {
    // A zombie is dead for our purpose (its parent, possibly the container's init, reaps it).
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

export function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

export async function until(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Requests whose output, stderr and status through a pool must be a cold run's. */
export const SAME_AS_COLD: Array<{ name: string; args: string[]; input?: string }> = [
  { name: 'echo', args: ['/bin/echo', 'hello', 'pool'] },
  { name: 'exit status', args: ['/bin/sh', '-c', 'echo out; echo err >&2; exit 7'] },
  { name: 'stdin', args: ['/bin/cat'], input: 'line one\nline two\n' },
  { name: 'env and flags', args: ['--env', 'FOO=bar', '/bin/sh', '-c', 'echo $FOO $HOME $LANG'] },
  { name: 'cwd', args: ['/bin/sh', '-c', 'pwd; ls -d .'] },
  { name: 'killed by a signal', args: ['/bin/sh', '-c', 'kill -TERM $$'] },
  { name: 'not found', args: ['/nonexistent-tss/prog'] },
  { name: 'a pipeline', args: ['/bin/sh', '-c', 'seq 1 2000 | sort -rn | head -3'] },
];

export interface Server {
  child: ChildProcess;
  socket: string;
  stderr: () => string;
  /** Pool members idle or busy: the server's worker children. */
  workers: () => number[];
}

export async function startServer(pool: number, extra: string[] = [], env: Record<string, string> = {}): Promise<Server> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-pool-test-'));
  return startServerAt(path.join(dir, 'pool.sock'), pool, extra, env);
}

/** A server at socket (in a directory of its own, which stopServer removes). */
export async function startServerAt(socket: string, pool: number, extra: string[] = [], env: Record<string, string> = {}): Promise<Server> {
  fs.mkdirSync(path.dirname(socket), { recursive: true });
  const child = spawn(process.execPath, [BIN, 'serve', '--socket', socket, '--pool', String(pool), ...extra], {
    env: { ...BASE_ENV, ...env }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const s: Server = {
    child, socket, stderr: () => err,
    workers: () => childrenOf(child.pid!).filter((p) => cmdline(p).includes('__pool-worker')),
  };
  await until('the server to listen', () => err.includes('listening') || child.exitCode !== null);
  expect(child.exitCode, err).toBe(null);
  return s;
}

export async function stopServer(s: Server): Promise<number | null> {
  if (s.child.exitCode !== null) return s.child.exitCode;
  const done = new Promise<number | null>((r) => s.child.once('exit', (c) => r(c)));
  s.child.kill('SIGTERM');
  const code = await done;
  fs.rmSync(path.dirname(s.socket), { recursive: true, force: true });
  return code;
}


/**
 * Removes this process's stream-pair directories (src/api/via.ts viaDir): a test runner's
 * worker is ended without its exit handlers. For a test file's afterAll.
 */
export function removeOwnViaDirs(): void {
  const tmp = os.tmpdir();
  for (const n of fs.readdirSync(tmp)) if (n.startsWith(`tssandbox-api-${process.pid}-`)) fs.rmSync(path.join(tmp, n), { recursive: true, force: true });
}
