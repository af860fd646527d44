// Issue 7, defence in depth: `--netns PATH` and `--tap NAME` used to keep the Sentry in
// the host's user namespace (as root: host root), since taking over a host network
// namespace needs the host's privileges over it. Now the native front does that part
// (native/launch_netns.h: it enters the namespace, opens the AF_PACKET sockets or the TAP,
// records the links and routes; the gofer-to-be removes the addresses) and the Sentry,
// unprivileged outside, gets only the fds. What an attacker who took over the Sentry
// would try: sniff or reconfigure the host's network, enter another namespace.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import { BASE_ENV, spawnCollect } from '../helpers/run';
import { FRONT } from '../helpers/paths';
import { descendantsOf, commOf, stdoutShows } from './stubs';
import { addNetns, address, canMakeNetns, cleanupNetns, nsPath, sh, vethPair, PEER_V4, PEER_V6, SANDBOX_V4, SANDBOX_V6 } from '../net/netns';

const isRoot = process.getuid?.() === 0;
const userNs = spawnSync('unshare', ['--user', '--map-root-user', 'true'], { stdio: 'ignore' }).status === 0;
const launched = isRoot && userNs && fs.existsSync(FRONT) && process.env.TSSANDBOX_USERNS !== 'off';
const ok = launched && canMakeNetns();
const ENV = { ...BASE_ENV, TSSANDBOX_NODE: process.execPath };
const hostUserNs = fs.readlinkSync('/proc/self/ns/user');
const hostNetNs = fs.readlinkSync('/proc/self/ns/net');

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  cleanupNetns();
});

/** `tssandbox run FLAGS -- sh -c SCRIPT` through the front; resolves once it printed `ready`. */
async function start(flags: string[], script: string): Promise<ChildProcess & { out: () => string }> {
  const child = spawn(FRONT, ['run', ...flags, '--', '/bin/sh', '-c', script], { env: ENV, stdio: ['pipe', 'pipe', 'pipe'] }) as ChildProcess & { out: () => string };
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  child.out = () => out;
  await stdoutShows(child, 'ready', 60_000);
  return child;
}

function exited(c: ChildProcess): Promise<number | null> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve(c.exitCode);
  return new Promise((r) => c.on('exit', (code) => r(code)));
}

function uids(pid: number): number[] {
  const m = /^Uid:\s+(.*)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m![1].trim().split(/\s+/).map(Number);
}

/** The targets of a process's fds (socket:[N], net:[N], /dev/net/tun...), by fd number. */
function fdLinks(pid: number): Map<number, string> {
  const m = new Map<number, string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      m.set(Number(fd), fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      // closed meanwhile
    }
  }
  return m;
}

/** Inodes of the AF_PACKET sockets open in namespace ns. */
function packetInodes(ns: string): string[] {
  const lines = sh(['ip', 'netns', 'exec', ns, 'cat', '/proc/net/packet']).trim().split('\n').slice(1);
  return lines.map((l) => l.trim().split(/\s+/).pop()!);
}

/** What every process of the sandbox but the Sentry holds: none of the namespace, its sockets or the TAP. */
function othersHoldNothing(sentry: number, inodes: string[]): void {
  const gofers = descendantsOf(sentry).filter((p) => commOf(p) === 'tssandbox-gofer');
  expect(gofers.length).toBeGreaterThan(0);
  for (const p of descendantsOf(sentry)) {
    for (const [fd, l] of fdLinks(p)) {
      expect(l, `${commOf(p)} ${p} fd ${fd}`).not.toMatch(/^net:|tun$/);
      for (const i of inodes) expect(l, `${commOf(p)} ${p} fd ${fd}`).not.toBe(`socket:[${i}]`);
    }
  }
}

function expectUnprivileged(pid: number): void {
  expect(uids(pid)).toEqual([0, 1, 2, 3].map(() => 0x70000000 + pid)); // one uid per Sentry
  expect(fs.readlinkSync(`/proc/${pid}/ns/user`)).not.toBe(hostUserNs);
  // It stays in the host's network namespace, as on the old path (--publish binds there).
  expect(fs.readlinkSync(`/proc/${pid}/ns/net`)).toBe(hostNetNs);
}

describe.skipIf(!ok)('--netns and --tap with the Sentry unprivileged in its own user namespace', () => {
  it('--netns: the Sentry at a uid of its own holds the AF_PACKET socket, nothing else does; the addresses left the namespace; the guest reaches the peer', async () => {
    const p = vethPair();
    const c = await start(['--netns', nsPath(p.sandboxNs)], `/usr/bin/busybox ping -c 1 ${PEER_V4} && /usr/bin/busybox ping -c 1 ${PEER_V6} && echo ready; read x`);
    try {
      expect(c.out()).toContain(`1 packets received`);
      expectUnprivileged(c.pid!);
      const inodes = packetInodes(p.sandboxNs);
      expect(inodes.length).toBe(1);
      expect([...fdLinks(c.pid!).values()]).toContain(`socket:[${inodes[0]}]`);
      othersHoldNothing(c.pid!, inodes);
      const left = sh(['ip', '-n', p.sandboxNs, 'addr', 'show', 'dev', p.sandboxIf]);
      expect(left).not.toContain(SANDBOX_V4);
      expect(left).not.toContain(SANDBOX_V6);
    } finally {
      c.stdin!.end('\n');
    }
    expect(await exited(c)).toBe(0);
  }, 120_000);

  it('--tap: the Sentry at a uid of its own holds the TAP, nothing else does; its address left the namespace; the guest pings through the bridge', async () => {
    const s = addNetns('t');
    const peer = addNetns('q');
    const vs = `${s}v`.slice(-15);
    const vp = `${peer}v`.slice(-15);
    sh(['ip', '-n', s, 'tuntap', 'add', 'tap0', 'mode', 'tap']);
    sh(['ip', '-n', s, 'link', 'add', 'br0', 'type', 'bridge']);
    sh(['ip', 'link', 'add', vs, 'netns', s, 'type', 'veth', 'peer', 'name', vp, 'netns', peer]);
    sh(['ip', '-n', s, 'link', 'set', 'tap0', 'master', 'br0']);
    sh(['ip', '-n', s, 'link', 'set', vs, 'master', 'br0']);
    for (const l of ['br0', vs]) sh(['ip', '-n', s, 'link', 'set', l, 'up']);
    address(s, 'tap0', SANDBOX_V4, SANDBOX_V6);
    address(peer, vp, PEER_V4, PEER_V6);
    const c = await start(['--netns', nsPath(s), '--tap', 'tap0'], `/usr/bin/busybox ping -c 1 ${PEER_V4} && echo ready; read x`);
    try {
      expect(c.out()).toContain('1 packets received');
      expectUnprivileged(c.pid!);
      const taps = [...fdLinks(c.pid!)].filter(([, l]) => l === '/dev/net/tun');
      expect(taps.length).toBe(1);
      expect(fs.readFileSync(`/proc/${c.pid}/fdinfo/${taps[0][0]}`, 'utf8')).toMatch(/^iff:\s+tap0$/m);
      othersHoldNothing(c.pid!, []);
      expect(packetInodes(s)).toEqual([]); // --tap takes the TAP alone, not the bridge's veth
      expect(sh(['ip', '-n', s, 'addr', 'show', 'dev', 'tap0'])).not.toContain(SANDBOX_V4);
    } finally {
      c.stdin!.end('\n');
    }
    expect(await exited(c)).toBe(0);
  }, 120_000);

  it('a Sentry taken over cannot open a raw socket on the host\'s network nor enter the host\'s namespace; the old path\'s root Sentry could (the check can fail)', async () => {
    const p = vethPair();
    const probe = async (kind: string, env: Record<string, string>): Promise<string | undefined> => {
      const r = await spawnCollect([FRONT, 'run', '--netns', nsPath(p.sandboxNs), '/bin/true'], { ...ENV, TSSANDBOX_TEST_FORBIDDEN_SYSCALL: kind, ...env }, { timeoutMs: 60_000 });
      expect(r.code, r.stderr).toBe(0);
      return new RegExp(`^tssandbox: forbidden ${kind.split(':')[0]}: (.*)$`, 'm').exec(r.stderr)?.[1];
    };
    for (const kind of ['packet-socket', `setns-net:${process.pid}`]) {
      expect(await probe(kind, {}), kind).toBe('errno 1'); // the filter: EPERM
      expect(await probe(kind, { TSSANDBOX_CONFINE: 'off' }), kind).toBe('errno 1'); // the kernel: no CAP_NET_RAW/CAP_SYS_ADMIN outside
      expect(await probe(kind, { TSSANDBOX_CONFINE: 'off', TSSANDBOX_USERNS: 'off' }), kind).toBe('allowed');
    }
  }, 240_000);

  it('what the front cannot take over keeps the old path, whose errors are one line as before', async () => {
    const p = vethPair();
    const notTap = await spawnCollect([FRONT, 'run', '--netns', nsPath(p.sandboxNs), '--tap', p.sandboxIf, '/bin/true'], ENV, { timeoutMs: 60_000 });
    expect(notTap.code).toBe(125);
    expect(notTap.stderr).toBe(`tssandbox: cannot set up the network: ${p.sandboxIf} is not a TAP device\n`);
    const missing = await spawnCollect([FRONT, 'run', '--netns', '/nonexistent/netns', '/bin/true'], ENV, { timeoutMs: 60_000 });
    expect(missing.code).toBe(125);
    expect(missing.stderr).toBe('tssandbox: cannot set up the network: nsenter: cannot open /nonexistent/netns: No such file or directory\n');
    // The namespace was left as it was by the runs that did not take it over.
    expect(sh(['ip', '-n', p.sandboxNs, 'addr', 'show', 'dev', p.sandboxIf])).toContain(SANDBOX_V4);
  }, 120_000);
});
