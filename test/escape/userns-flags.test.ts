// Issue 7, defence in depth: flags that used to keep the Sentry in the host's user
// namespace (as root: host root) now run with it unprivileged outside (as root: a uid of
// its own, or TSSANDBOX_SENTRY_UID=N; native/sentry_launch.cc), the front doing what
// needs the host's privileges before it drops them.
// - --memory: the front makes the sandbox's cgroup, the Sentry inside
//   (test/escape/sandbox-cgroup.test.ts); here: a --policy's limit on it.
// - --network host: the Sentry's capabilities are dropped at confinement on either path,
//   so nothing of root's was used; the broker's sockets are now the Sentry's uid's on the host.
// And a Sentry in its own namespace cannot go back into the host's.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { BASE_ENV, hasStackTrace, spawnCollect, type RunResult } from '../helpers/run';
import { FRONT } from '../helpers/paths';
import { stdoutShows, stubsOf, descendantsOf, commOf, expectedStubFds, startReady, until, type Started } from './stubs';

const isRoot = process.getuid?.() === 0;
const userNs = spawnSync('unshare', ['--user', '--map-root-user', 'true'], { stdio: 'ignore' }).status === 0;
const CG_V1 = '/sys/fs/cgroup/memory';
/** The memory controller's v1 directory of a host process, or null. */
function memoryCgroup(pid: number | 'self'): string | null {
  try {
    for (const line of fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')) {
      const [, ctrls, p] = line.split(':');
      if (p !== undefined && ctrls.split(',').includes('memory')) return CG_V1 + (p === '/' ? '' : p);
    }
  } catch {
    // gone
  }
  return null;
}
const v1 = memoryCgroup('self') !== null && fs.existsSync(`${memoryCgroup('self')}/memory.limit_in_bytes`);
const launched = isRoot && userNs && fs.existsSync(FRONT) && process.env.TSSANDBOX_USERNS !== 'off';
const hostUserNs = fs.readlinkSync('/proc/self/ns/user');
const ENV = { ...BASE_ENV, TSSANDBOX_NODE: process.execPath };

/** A root-started Sentry's host uid (native/sentry_launch.cc): one per Sentry by default. */
const idOf = (pid: number): number => 0x70000000 + pid;
const own = (pid: number): number[] => [idOf(pid), idOf(pid), idOf(pid), idOf(pid)];

function uids(pid: number): number[] {
  const m = /^Uid:\s+(.*)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m![1].trim().split(/\s+/).map(Number);
}

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** `tssandbox run FLAGS sh -c SCRIPT` through the front; resolves once it printed `ready`. */
function start(flags: string[], script: string, env: Record<string, string> = {}): Promise<Started> {
  return startReady([FRONT, 'run', ...flags, '/bin/sh', '-c', script], { ...ENV, ...env }, children);
}

function exited(c: ChildProcess): Promise<number | null> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve(c.exitCode);
  return new Promise((r) => c.on('exit', (code) => r(code)));
}

/** Runs f with a fresh root-only scratch directory, removed after. */
async function inTmp(prefix: string, f: (dir: string) => Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  try {
    await f(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}


describe.skipIf(!launched || !v1)('--policy FILE in the namespace: read through the front, its memory limit on the front\'s cgroup', () => {
  it('a policy in a root-only directory asking for 64 MiB and host networking: Sentry unprivileged, 80 MiB touched ends the run (118)', async () => {
    await inTmp('tss-userns-policy-', async (dir) => {
      const policy = path.join(dir, 'p.yaml');
      fs.writeFileSync(policy, 'limits:\n  memory: 64m\nnetwork:\n  mode: host\n', { mode: 0o600 });
      const py = 'import sys\nprint("ready", flush=True); sys.stdin.readline()\nk = []\nfor n in range(8):\n    b = bytearray(10 << 20); k.append(b)\n    for i in range(0, len(b), 4096): b[i] = 1\nprint("survived")';
      const c = await start(['--policy', policy], `python3 -c '${py}'`);
      const pid = c.pid!;
      expect(uids(pid)).toEqual(own(pid));
      const cg = `${memoryCgroup('self')}/tssandbox-${pid}`;
      for (const st of [pid, ...stubsOf(pid)]) expect(memoryCgroup(st)).toBe(cg);
      // A limit the front cannot know: the policy's, set by the Sentry through the limit
      // file handed to its uid (the backstop, and the Sentry's reserve above it).
      expect(fs.statSync(`${cg}/memory.limit_in_bytes`).uid).toBe(idOf(pid));
      expect(fs.statSync(`${cg}/cgroup.procs`).uid).toBe(0);
      expect(Number(fs.readFileSync(`${cg}/memory.limit_in_bytes`, 'utf8'))).toBe((64 + 32 + 128) << 20);
      expect(descendantsOf(pid).map(commOf)).toContain('tss-net-broker'); // the policy's network mode
      c.stdin!.end('\n');
      expect(await exited(c), c.out()).toBe(118);
      expect(c.out()).toMatch(/^tssandbox: limit reached: --memory \(67108864 bytes of guest memory\), exit status 118$/m);
      expect(c.out()).not.toMatch(/survived/);
      await until(`${cg} removed`, () => !fs.existsSync(cg));
      // A missing policy file: the old path names it, as before.
      const r = await spawnCollect([FRONT, 'run', '--policy', path.join(dir, 'nope.yaml'), '/bin/true'], ENV);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/--policy .*nope\.yaml: .*no such file/i);
      expect(r.code).toBe(125);
    });
  }, 90_000);
});

describe.skipIf(!launched || !v1)('what the front passed is out of the guest\'s reach', () => {
  it('a guest naming the Sentry\'s fds of the --report file and the cgroup\'s usage gets EBADF; the stubs hold neither', async () => {
    await inTmp('tss-userns-fds-', async (dir) => {
      const report = path.join(dir, 'r.json');
      const py = [
        'import os, sys',
        'print("ready", flush=True)',
        'for n in sys.stdin.readline().split():',
        '    try: os.write(int(n), b"1\\n"); print("wrote", n)',
        '    except OSError as e: print(e.errno)',
        'print("end", flush=True); sys.stdin.readline()',
      ].join('\n');
      const c = await start(['--memory', '256m', '--report', report], `python3 -c '${py}'`);
      const pid = c.pid!;
      const fdsTo = (p: number, re: RegExp): string[] =>
        fs.readdirSync(`/proc/${p}/fd`).filter((fd) => { try { return re.test(fs.readlinkSync(`/proc/${p}/fd/${fd}`)); } catch { return false; } });
      const cg = `${memoryCgroup('self')}/tssandbox-${pid}`;
      const reportFd = fdsTo(pid, new RegExp(`^${report}$`));
      const procsFd = fdsTo(pid, new RegExp(`^${cg}/memory\\.usage_in_bytes$`));
      expect(reportFd).toHaveLength(1);
      expect(procsFd).toHaveLength(1);
      for (const st of stubsOf(pid)) expect(fs.readdirSync(`/proc/${st}/fd`).sort()).toEqual(expectedStubFds(st));
      const shown = stdoutShows(c, 'end', 45_000);
      c.stdin!.write(`${reportFd[0]} ${procsFd[0]}\n`);
      await shown;
      c.stdin!.end('\n');
      expect(await exited(c), c.out()).toBe(0);
      expect(c.out()).toBe('ready\n9\n9\nend\n'); // EBADF twice
      expect((JSON.parse(fs.readFileSync(report, 'utf8')) as { exitCode: number }).exitCode).toBe(0);
    });
  }, 90_000);
});

describe.skipIf(!launched)('--network host as root: the Sentry and the broker unprivileged', () => {
  it('runs in its own user namespace; a guest\'s host socket works and is the Sentry uid\'s; privileged ports and raw sockets refused as before', async () => {
    const seen: string[] = [];
    const server = net.createServer((s) => {
      // While the guest waits for the reply: the host's view of its socket.
      const ss = spawnSync('ss', ['-Htne', 'state', 'established', `( dport = :${(server.address() as net.AddressInfo).port} )`], { encoding: 'utf8' });
      seen.push(ss.stdout);
      s.end('pong\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const py = [
        'import socket',
        'def err(f):',
        '    try: f(); return "ok"',
        '    except OSError as e: return e.errno',
        `c = socket.create_connection(("127.0.0.1", ${port})); c.sendall(b"ping"); print(c.recv(5).decode().strip())`,
        'print("bind81", err(lambda: socket.socket().bind(("127.0.0.1", 81))))',
        'print("raw", err(lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)))',
        'print("ready", flush=True); input()',
      ].join('\n');
      const c = await start(['--network', 'host'], `python3 -c '${py}'`);
      expect(fs.readlinkSync(`/proc/${c.pid}/ns/user`)).not.toBe(hostUserNs);
      expect(uids(c.pid!)).toEqual(own(c.pid!));
      const broker = descendantsOf(c.pid!).filter((p) => commOf(p) === 'tss-net-broker');
      expect(broker).toHaveLength(1);
      expect(uids(broker[0])).toEqual(own(c.pid!));
      c.stdin!.end('\n');
      expect(await exited(c), c.out()).toBe(0);
      expect(c.out()).toBe('pong\nbind81 13\nraw 1\nready\n');
      expect(seen.join('')).toMatch(new RegExp(`\\buid:${idOf(c.pid!)}\\b`));
    } finally {
      server.close();
    }
  }, 90_000);
});

describe.skipIf(!launched)('--network sandbox without --netns/--tap: nothing of the host\'s', () => {
  it('the Sentry unprivileged with its own stack; a --pcap in a root-only directory opened by the front', async () => {
    await inTmp('tss-userns-sandbox-', async (dir) => {
      const pcap = path.join(dir, 'p.pcap');
      const py = 'import socket\ns = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()\nc = socket.create_connection(s.getsockname()); a, _ = s.accept(); c.sendall(b"x"); print(a.recv(1).decode())\nprint("ready", flush=True); input()';
      const c = await start(['--network', 'sandbox', '--pcap', pcap], `python3 -c '${py}'`);
      expect(fs.readlinkSync(`/proc/${c.pid}/ns/user`)).not.toBe(hostUserNs);
      expect(uids(c.pid!)).toEqual(own(c.pid!));
      c.stdin!.end('\n');
      expect(await exited(c), c.out()).toBe(0);
      expect(c.out()).toBe('x\nready\n');
      // The loopback segments captured: more than the libpcap header.
      expect(fs.statSync(pcap).size).toBeGreaterThan(24);
      expect(fs.statSync(pcap).uid).toBe(0);
    });
  }, 90_000);
});

describe.skipIf(!launched)('launched Sentries share no uid (the default; TSSANDBOX_SENTRY_UID=N shares one)', () => {
  it('a Sentry taken over cannot signal another sandbox\'s Sentry or stubs; two with a shared TSSANDBOX_SENTRY_UID=65534 can (the check can fail)', async () => {
    const UNIQUE = {};
    const SHARED = { TSSANDBOX_SENTRY_UID: '65534' };
    const probe = (pid: number, env: Record<string, string> = {}): Promise<RunResult> =>
      spawnCollect([FRONT, 'run', '/bin/true'], { ...ENV, TSSANDBOX_TEST_FORBIDDEN_SYSCALL: `signal0:${pid}`, ...env }, { timeoutMs: 45_000 });
    const a = await start([], 'echo ready; read x', UNIQUE);
    const shared = await start([], 'echo ready; read x', SHARED);
    try {
      expect(uids(a.pid!)).toEqual([0, 1, 2, 3].map(() => 0x70000000 + a.pid!));
      for (const target of [a.pid!, ...stubsOf(a.pid!)]) {
        const r = await probe(target, UNIQUE);
        expect(r.stderr, String(target)).toMatch(/^tssandbox: forbidden signal0: errno 1$/m); // EPERM
      }
      const r = await probe(shared.pid!, SHARED);
      expect(r.stderr).toMatch(/^tssandbox: forbidden signal0: allowed$/m);
    } finally {
      a.stdin!.end('\n');
      shared.stdin!.end('\n');
    }
    expect(await exited(a)).toBe(0);
    expect(await exited(shared)).toBe(0);
  }, 120_000);
});

describe.skipIf(!launched)('no way back into the host\'s user namespace', () => {
  it('setns to the host\'s user namespace: refused by the filter, and by the kernel with the filter off', async () => {
    for (const confine of ['on', 'off']) {
      const r = await spawnCollect([FRONT, 'run', '/bin/true'], { ...ENV, TSSANDBOX_TEST_FORBIDDEN_SYSCALL: 'setns-user:1', TSSANDBOX_CONFINE: confine }, { timeoutMs: 45_000 });
      expect(r.stderr, confine).toMatch(/^tssandbox: forbidden setns-user: errno 1$/m); // EPERM
      expect(r.code).toBe(0);
    }
  }, 90_000);
});
