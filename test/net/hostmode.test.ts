/**
 * Network mode "host": the guest's sockets are host sockets held by the Sentry (made by
 * the socket broker). The sandbox runs inside a namespace the test made, joined by a
 * veth to a peer namespace with Linux's echo servers; the same guest run natively in
 * that namespace prints the same lines. A guest server is reached from the peer, and
 * `ss` shows its socket held by the Sentry alone (the guest's fd is not a host fd).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { compileGuest } from '../helpers/build';
import { BIN } from '../helpers/paths';
import { ECHO } from './peers';
import { canMakeNetns, cleanupNetns, vethPair, addNetns, inNs, runIn, sh, PEER_V4, PEER_V6, SANDBOX_V4, type Proc } from './netns';

const ok = process.getuid?.() === 0 && canMakeNetns();
const SRC = path.join(__dirname, 'guests');
let guest = '';
const compared: Record<string, string> = {};
const procs: Proc[] = [];
const track = (p: Proc) => (procs.push(p), p);


beforeAll(() => {
  if (!ok) return;
  guest = compileGuest('net_hostmode', 'dynamic', { srcDir: SRC });
  for (const g of ['net_sockets', 'net_inet', 'net_sendcmsg', 'net_hoststream', 'net_udpgso', 'net_disconnect']) compared[g] = compileGuest(g, 'dynamic', { srcDir: SRC, flags: ['-I', path.join(__dirname, '../guests')] });
});
afterEach(() => {
  for (const p of procs.splice(0)) p.kill();
  cleanupNetns();
});
afterAll(() => cleanupNetns());

/** tssandbox run --network=host inside namespace ns. */
function hostMode(ns: string, argv: string[], extra: string[] = []): Proc {
  return inNs(ns, [process.execPath, BIN, 'run', '--network=host', ...extra, '--', ...argv]);
}
async function finish(p: Proc): Promise<string> {
  const code = await p.done;
  if (code !== 0) throw new Error(`exited ${code}: ${p.out()}\n${p.err()}`);
  return p.out();
}

describe.skipIf(!ok)('network mode host', () => {
  it('TCP and UDP, v4 and v6, blocking and nonblocking, refused, sockopts: as Linux', async () => {
    const p = vethPair();
    await track(inNs(p.peerNs, ['python3', '-c', ECHO])).waitFor('ready');
    const native = await runIn(p.sandboxNs, [guest, 'client', PEER_V4, PEER_V6]);
    expect(native).toContain('ok udp refused -1 errno 111');
    const sandboxed = await finish(track(hostMode(p.sandboxNs, [guest, 'client', PEER_V4, PEER_V6])));
    expect(sandboxed).toBe(native);
    expect(sandboxed.split('\n').filter((l) => l.startsWith('ok ')).length).toBe(16);
  }, 120_000);

  it('a guest server is reached from the peer; its socket is held by the Sentry alone', async () => {
    const p = vethPair();
    const srv = track(hostMode(p.sandboxNs, [guest, 'serve', '7100']));
    await srv.waitFor('listening acceptconn 1');
    const ss = sh(['ip', 'netns', 'exec', p.sandboxNs, 'ss', '-tlnpH', 'sport = :7100']);
    const pids = [...ss.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
    expect(pids).toEqual([srv.child.pid]);
    const reply = await runIn(p.peerNs, ['python3', '-c',
      `import socket; c=socket.create_connection(('${SANDBOX_V4}',7100)); c.sendall(b'hi\\n'); print(c.recv(10).decode().strip())`]);
    expect(reply).toBe('hi\n');
    expect(await finish(srv)).toContain(`served hi from [::ffff:${PEER_V4}]`);
  }, 120_000);

  it('--deny-net refuses at once in host mode; loopback is policed too', async () => {
    const p = vethPair();
    await track(inNs(p.peerNs, ['python3', '-c', ECHO])).waitFor('ready');
    const out = await finish(track(hostMode(p.sandboxNs, [guest, 'policy', PEER_V4], [`--deny-net=${PEER_V4}:7002`])));
    expect(out).toBe('connect 7001: ok\nconnect 7002: Connection refused\n');
    const lo = await finish(track(hostMode(p.sandboxNs, [guest, 'policy', '127.0.0.1'], ['--allow-net=198.51.100.0/24'])));
    expect(lo).toBe('connect 7001: Connection refused\nconnect 7002: Connection refused\n');
  }, 120_000);
});

describe.skipIf(!ok)('network mode host: the socket suites print what Linux prints', () => {
  for (const g of ['net_sockets', 'net_inet', 'net_sendcmsg', 'net_hoststream', 'net_udpgso', 'net_disconnect']) {
    it(g, async () => {
      const ns = addNetns('h');
      const sandboxed = await finish(track(hostMode(ns, [compared[g]])));
      const native = await runIn(ns, [compared[g]]);
      expect(sandboxed).toBe(native);
      expect(sandboxed).toMatch(/done\n$/);
    }, 120_000);
  }
});

describe.skipIf(!ok)('network mode host: the host\'s interfaces inside', () => {
  it('ip addr, ip route, if_nameindex and SIOCGIFCONF show what Linux shows in the namespace', async () => {
    const p = vethPair();
    sh(['ip', '-n', p.sandboxNs, 'route', 'add', 'default', 'via', PEER_V4]);
    const script = `ip -o addr show | awk '{print $2, $3, $4}'; ip route show; ip -6 route show; python3 -c 'import socket, fcntl, struct, array
print(socket.if_nameindex())
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); buf = array.array("B", bytes(40 * 8))
n = struct.unpack("iL", fcntl.ioctl(s.fileno(), 0x8912, struct.pack("iL", len(buf), buf.buffer_info()[0])))[0]
print([(bytes(buf[i:i + 16]).rstrip(b"\\0").decode(), socket.inet_ntoa(bytes(buf[i + 20:i + 24]))) for i in range(0, n, 40)])'`;
    const native = await runIn(p.sandboxNs, ['/bin/sh', '-c', script]);
    expect(native).toContain(`${p.sandboxIf} inet ${SANDBOX_V4}/24`);
    const inside = await finish(track(hostMode(p.sandboxNs, ['/bin/sh', '-c', script])));
    expect(inside).toBe(native);
  }, 120_000);
});

describe('network mode host: confinement', () => {
  it('the confined Sentry still cannot create an inet socket; the broker is confined and capability-less', async () => {
    const env = { ...process.env, TSSANDBOX_TEST_FORBIDDEN_SYSCALL: 'inet-socket' };
    const run = (confine: string) => new Promise<{ err: string; code: number | null }>((res) => {
      const c = spawn(process.execPath, [BIN, 'run', '--network=host', '/bin/true'], { env: { ...env, TSSANDBOX_CONFINE: confine }, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      c.stderr.on('data', (d) => (err += d));
      c.on('close', (code) => res({ err, code }));
    });
    const on = await run('on');
    expect(on.code).toBe(0);
    expect(on.err).toContain('tssandbox: forbidden inet-socket: errno 1');
    const off = await run('off');
    expect(off.err).toContain('tssandbox: forbidden inet-socket: allowed');

    // The broker, seen from the host while a guest sleeps.
    const c = spawn(process.execPath, [BIN, 'run', '--network=host', '/bin/sleep', '30'], { stdio: 'ignore' });
    try {
      let broker: number | undefined;
      for (let i = 0; i < 400 && broker === undefined; i++) { // bounded at 20 s
        await new Promise((r) => setTimeout(r, 50));
        broker = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).find((pid) => {
          try {
            return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'tss-net-broker' && readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1] === String(c.pid);
          } catch {
            return false;
          }
        });
      }
      expect(broker).toBeDefined();
      const st = readFileSync(`/proc/${broker}/status`, 'utf8');
      expect(st).toMatch(/^Seccomp:\s+2$/m);
      expect(st).toMatch(/^NoNewPrivs:\s+1$/m);
      expect(st).toMatch(/^CapEff:\s+0+$/m);
      expect(st).toMatch(/^CapPrm:\s+0+$/m);
      // Its only fds: stderr and its end of the pair.
      expect(readdirSync(`/proc/${broker}/fd`).map(Number).sort()).toEqual([2, 3]);
    } finally {
      c.kill('SIGKILL');
    }
  }, 60_000);
});
