// Issue 7, defence in depth: `--publish` of a privileged host port (below
// net.ipv4.ip_unprivileged_port_start) as root used to keep the Sentry on the old path
// (host root), since the kernel asks CAP_NET_BIND_SERVICE of the binder. The front now
// binds the listener before it drops its privileges and hands the fd on
// (native/launch_flags.h, --tss-listen), so the Sentry stays unprivileged in its own user
// namespace and still serves the port; no other process of the sandbox holds the
// listener, and a port the front cannot bind keeps the old path's one-line error.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import { BASE_ENV, spawnCollect } from '../helpers/run';
import { FRONT } from '../helpers/paths';
import { stdoutShows, descendantsOf } from './stubs';

const isRoot = process.getuid?.() === 0;
const userNs = spawnSync('unshare', ['--user', '--map-root-user', 'true'], { stdio: 'ignore' }).status === 0;
const launched = isRoot && userNs && fs.existsSync(FRONT) && process.env.TSSANDBOX_USERNS !== 'off';
const unprivStart = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
const hostUserNs = fs.readlinkSync('/proc/self/ns/user');
const ENV = { ...BASE_ENV, TSSANDBOX_NODE: process.execPath };

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** A privileged TCP port nothing on the host listens on now. */
async function freePrivilegedPort(): Promise<number> {
  for (let p = 700 + (process.pid % 200); p < 1000; p++) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.createServer().once('error', () => r(false)).listen(p, '::', () => s.close(() => r(true)));
    });
    if (ok) return p;
  }
  throw new Error('no free privileged port');
}

function uids(pid: number): number[] {
  const m = /^Uid:\s+(.*)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m![1].trim().split(/\s+/).map(Number);
}

/** Host pids holding a socket listening on TCP port p (by inode, /proc/net/tcp6 and tcp). */
function listenersOf(p: number): number[] {
  const inodes = new Set<string>();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const l of fs.readFileSync(f, 'utf8').split('\n').slice(1)) {
      const c = l.trim().split(/\s+/);
      if (c.length > 9 && c[3] === '0A' && parseInt(c[1].split(':')[1], 16) === p) inodes.add(c[9]);
    }
  }
  const pids: number[] = [];
  for (const d of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      for (const fd of fs.readdirSync(`/proc/${d}/fd`)) {
        const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${d}/fd/${fd}`));
        if (m && inodes.has(m[1])) pids.push(Number(d));
      }
    } catch {
      // gone, or not ours to read
    }
  }
  return [...new Set(pids)];
}

/** One line to the host port, the reply back. */
function ask(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.on('data', (d) => (got += d.toString()));
    s.on('end', () => resolve(got));
    s.on('error', reject);
    s.setTimeout(20_000, () => s.destroy(new Error('no reply')));
    s.end(line);
  });
}

const server = [
  'import socket, sys',
  's = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 8080)); s.listen()',
  'print("ready", flush=True)',
  'a, _ = s.accept(); a.sendall(b"guest:" + a.recv(100)); a.close()',
  'sys.stdin.readline()',
].join('\n');

describe.skipIf(!launched || unprivStart <= 1)('--publish of a privileged host port with the Sentry unprivileged', () => {
  it('the front binds it and hands it on: the Sentry in its own user namespace at a uid of its own serves it, and alone holds it', async () => {
    const port = await freePrivilegedPort();
    expect(port).toBeLessThan(unprivStart);
    const c = spawn(FRONT, ['run', '--network', 'user', '--publish', `${port}:8080`, 'python3', '-c', server], { env: ENV, stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(c);
    let err = '';
    c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await stdoutShows(c, 'ready', 60_000);
    const pid = c.pid!;
    // Unprivileged: the old path kept this run host root (uid 0, the host's namespace).
    expect(fs.readlinkSync(`/proc/${pid}/ns/user`)).not.toBe(hostUserNs);
    expect(uids(pid)).toEqual(Array(4).fill(0x70000000 + pid));
    expect(listenersOf(port)).toEqual([pid]);
    expect(descendantsOf(pid).some((p) => listenersOf(port).includes(p))).toBe(false);
    expect(await ask(port, 'hello')).toBe('guest:hello');
    c.stdin!.end('\n');
    const code = await new Promise<number | null>((r) => c.on('exit', (x) => r(x)));
    expect(code, err).toBe(0);
    expect(listenersOf(port)).toEqual([]);
  }, 120_000);

  it('a privileged port in use: the old path\'s one line, exit 125', async () => {
    const port = await freePrivilegedPort();
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(port, '::', r));
    try {
      const r = await spawnCollect([FRONT, 'run', '--network', 'user', '--publish', `${port}:8080`, '/bin/true'], ENV, { timeoutMs: 45_000 });
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`--publish ${port}:8080/tcp: cannot listen on host port ${port} \\(errno 98\\)`));
      expect(r.code).toBe(125);
    } finally {
      busy.close();
    }
  }, 60_000);
});
