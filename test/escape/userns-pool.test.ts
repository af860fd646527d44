// Issue 7, defence in depth: a `serve` pool's workers used to keep the host's user
// namespace (as root: host root Sentries waiting for requests). They are now started
// through the native front like a cold `run` (src/server/pool.ts, native/launch_flags.h):
// unprivileged outside, the gofer outside as root. A request that needs what such a
// worker lacks (a memory cgroup, a host file by name, another filesystem shape) is refused
// before anything is built and served by a worker started for it through the front.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BASE_ENV, GUEST_STUBS, spawnCollect } from '../helpers/run';
import { BIN, FRONT } from '../helpers/paths';
import { commOf, descendantsOf, stdoutShows } from './stubs';

const isRoot = process.getuid?.() === 0;
const userNs = spawnSync('unshare', ['--user', '--map-root-user', 'true'], { stdio: 'ignore' }).status === 0;
const launched = isRoot && userNs && fs.existsSync(FRONT) && process.env.TSSANDBOX_USERNS !== 'off';
const hostUserNs = fs.readlinkSync('/proc/self/ns/user');

const cleanups: Array<() => void> = [];
afterAll(() => {
  for (const c of cleanups.splice(0)) c();
});

function uids(pid: number): number[] {
  const m = /^Uid:\s+(.*)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m![1].trim().split(/\s+/).map(Number);
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

async function until(what: string, cond: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Server {
  child: ChildProcess;
  socket: string;
  /** Its worker processes (each a pool member: `__pool-worker` in its command line). */
  workers: () => number[];
}

async function startServer(env: Record<string, string> = {}): Promise<Server> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-upool-'));
  const socket = path.join(dir, 'pool.sock');
  const child = spawn(process.execPath, [BIN, 'serve', '--socket', socket, '--pool', '1'], { env: { ...BASE_ENV, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  cleanups.push(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await until('the server to listen', () => err.includes('listening') || child.exitCode !== null);
  expect(child.exitCode, err).toBe(null);
  // The server's own children (the front execs Node in place: the same pid).
  const workers = () => {
    try {
      const kids = fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      return kids.filter((p) => cmdline(p).includes('__pool-worker'));
    } catch {
      return [];
    }
  };
  return { child, socket, workers };
}

async function stop(s: Server): Promise<void> {
  const done = new Promise((r) => s.child.once('exit', r));
  s.child.kill('SIGTERM');
  await done;
}

/** A ready worker (its template stub up, or on kvm, which has none, its gofer: it has built its sandbox). */
async function readyWorker(s: Server): Promise<number> {
  let pid = 0;
  await until('a ready worker', () => {
    pid = s.workers().find((w) => descendantsOf(w).some((d) => commOf(d) === (GUEST_STUBS ? 'tssandbox-stub' : 'tssandbox-gofer'))) ?? 0;
    return pid !== 0;
  });
  return pid;
}

function via(s: Server, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return spawnCollect([process.execPath, BIN, 'run', '--via', s.socket, ...args], BASE_ENV, { timeoutMs: 60_000 });
}

describe.skipIf(!launched)('serve: pool workers through the front', () => {
  it('a ready worker is unprivileged (a uid of its own) in its own user namespace, its gofer outside as root; a default request runs there', async () => {
    const s = await startServer();
    try {
      const w = await readyWorker(s);
      expect(uids(w)).toEqual([0, 1, 2, 3].map(() => 0x70000000 + w)); // one uid per Sentry
      expect(fs.readlinkSync(`/proc/${w}/ns/user`)).not.toBe(hostUserNs);
      const gofer = descendantsOf(w).find((p) => commOf(p) === 'tssandbox-gofer');
      expect(gofer).toBeDefined();
      expect(uids(gofer!)[1]).toBe(0);
      expect(fs.readlinkSync(`/proc/${gofer}/ns/user`)).toBe(hostUserNs);
      const r = await via(s, ['/bin/sh', '-c', 'echo hello; cat /etc/hostname >/dev/null; exit 3']);
      expect(r.stdout).toBe('hello\n');
      expect(r.code, r.stderr).toBe(3);
    } finally {
      await stop(s);
    }
  }, 120_000);

  it('a request a ready worker cannot serve (a memory cgroup, a report file in a root-only directory) goes to a worker started for it through the front, unprivileged too; the ready one stays ready, unbuilt', async () => {
    const s = await startServer();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-upool-report-'));
    fs.chmodSync(dir, 0o700);
    try {
      const w = await readyWorker(s);
      const client = spawn(process.execPath, [BIN, 'run', '--via', s.socket, '--memory', '256m', '/bin/sh', '-c', 'echo ready; read x; echo done'], { env: BASE_ENV, stdio: ['pipe', 'pipe', 'pipe'] });
      cleanups.push(() => client.kill('SIGKILL'));
      await stdoutShows(client, 'ready', 60_000);
      // The request's Sentry: a worker started for it (the request on its command line),
      // unprivileged in its own namespace as every other (test/escape/pool-confinement.test.ts).
      const host = s.workers().filter((p) => cmdline(p).includes(' -- run '));
      expect(host.length).toBe(1);
      expect(host[0]).not.toBe(w);
      expect(fs.readlinkSync(`/proc/${host[0]}/ns/user`)).not.toBe(hostUserNs);
      for (const p of s.workers()) expect(uids(p)).toEqual([0, 1, 2, 3].map(() => 0x70000000 + p));
      expect(s.workers()).toContain(w); // refused before it built anything: still the pool's
      client.stdin!.end('\n');
      expect(await new Promise((r) => client.on('exit', r))).toBe(0);
      const report = path.join(dir, 'report.json');
      const r = await via(s, ['--report', report, '/bin/true']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(fs.readFileSync(report, 'utf8'))).toBeTypeOf('object');
      // And the launched worker still serves a default request.
      const d = await via(s, ['/bin/echo', 'again']);
      expect(d.stdout).toBe('again\n');
    } finally {
      await stop(s);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it('TSSANDBOX_USERNS=off on the server: its workers are root in the host\'s namespace, as before (the check can fail)', async () => {
    const s = await startServer({ TSSANDBOX_USERNS: 'off' });
    try {
      const w = await readyWorker(s);
      expect(uids(w)).toEqual([0, 0, 0, 0]);
      expect(fs.readlinkSync(`/proc/${w}/ns/user`)).toBe(hostUserNs);
    } finally {
      await stop(s);
    }
  }, 120_000);
});
