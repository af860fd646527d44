/**
 * Network mode "user": outbound TCP/UDP from an unprivileged sandbox with no namespace
 * of its own, through the Sentry's gateway (NAT onto host sockets). The Sentry runs in a
 * namespace the test made (as host uid 65534), joined by a veth to a peer namespace
 * with Linux's servers; DNS goes to the "host's" resolver (the namespace's resolv.conf,
 * which `ip netns exec` binds from /etc/netns/NAME); --publish carries the peer's
 * connections and datagrams into the guest; the policy holds, the host's loopback too.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { BIN } from '../helpers/paths';
import { compileGuest } from '../helpers/build';
import { ECHO } from './peers';
import { canMakeNetns, cleanupNetns, vethPair, addNetns, inNs, runIn, nsPath, sh, PEER_V4, PEER_V6, SANDBOX_V4, type Proc } from './netns';

const ok = process.getuid?.() === 0 && canMakeNetns() && fs.existsSync('/usr/bin/python3');
const procs: Proc[] = [];
const track = (p: Proc) => (procs.push(p), p);
const etcDirs: string[] = [];


const CLIENT = `
import socket, sys
def tcp(host, port):
    try:
        c = socket.create_connection((host, port), timeout=20)
    except OSError as e:
        return print('tcp', host, port, type(e).__name__)
    f = c.makefile('rb'); peer = f.readline().decode().strip()
    c.sendall(b'ping'); c.shutdown(socket.SHUT_WR); data = f.read()
    print('tcp', host, port, 'local', c.getsockname()[0], peer, data.decode())
for a in sys.argv[1:]:
    kind, host, port = a.split(',')
    if kind == 'tcp': tcp(host, int(port))
    elif kind == 'udp':
        u = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(20)
        u.sendto(b'dgram', (host, int(port))); d, src = u.recvfrom(100)
        print('udp', host, port, d.decode(), 'from', src[0], src[1])
    elif kind == 'dns':
        print('dns', host, socket.gethostbyname(host), open('/etc/resolv.conf').read().strip())
`;

function userMode(ns: string, args: string[], extra: string[] = []): Proc {
  return inNs(ns, ['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups',
    process.execPath, BIN, 'run', '--network=user', ...extra, '--', '/usr/bin/python3', ...args]);
}
async function finish(p: Proc): Promise<string> {
  const code = await p.done;
  if (code !== 0) throw new Error(`exited ${code}: ${p.out()}\n${p.err()}`);
  return p.out();
}

afterEach(() => {
  for (const p of procs.splice(0)) p.kill();
  cleanupNetns();
  for (const d of etcDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
afterAll(() => cleanupNetns());

describe.skipIf(!ok)('network mode user', () => {
  it('an unprivileged guest reaches TCP and UDP servers, v4 and v6, through the gateway; DNS goes to the host resolver', async () => {
    const p = vethPair();
    await track(inNs(p.peerNs, ['python3', '-c', ECHO, 'greet'])).waitFor('ready');
    // The "host's" resolver for the Sentry: ip netns exec binds /etc/netns/NAME/resolv.conf.
    const etc = path.join('/etc/netns', p.sandboxNs);
    fs.mkdirSync(etc, { recursive: true });
    etcDirs.push(etc);
    fs.writeFileSync(path.join(etc, 'resolv.conf'), `nameserver ${PEER_V4}\n`);
    const out = await finish(track(userMode(p.sandboxNs, ['-c', CLIENT,
      `tcp,${PEER_V4},7001`, `tcp,${PEER_V6},7001`, `tcp,${PEER_V4},7009`, `udp,${PEER_V4},7001`, `udp,${PEER_V6},7001`, 'dns,example.test,0'])));
    expect(out).toBe([
      // The peer sees the Sentry's host address: the connection was re-originated.
      `tcp ${PEER_V4} 7001 local 10.0.2.100 peer ::ffff:${SANDBOX_V4} ping`,
      `tcp ${PEER_V6} 7001 local fd00::100 peer 2001:db8::1 ping`,
      `tcp ${PEER_V4} 7009 ConnectionRefusedError`,
      `udp ${PEER_V4} 7001 dgram from ${PEER_V4} 7001`,
      `udp ${PEER_V6} 7001 dgram from ${PEER_V6} 7001`,
      'dns example.test 198.51.100.7 nameserver 10.0.2.3',
      '',
    ].join('\n'));
  }, 120_000);

  it('--publish carries TCP and UDP from the host side into the guest', async () => {
    const p = vethPair();
    const server = `
import socket, threading
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('0.0.0.0', 53))
def echo():
    while True:
        d, a = u.recvfrom(100); u.sendto(b'udp ' + d, a)
threading.Thread(target=echo, daemon=True).start()
l = socket.socket(); l.bind(('0.0.0.0', 8000)); l.listen(); print('listening', flush=True)
for i in range(2):
    c, a = l.accept(); d = c.recv(100); c.sendall(b'tcp ' + d + b' from ' + a[0].encode()); c.close()
`;
    const srv = track(userMode(p.sandboxNs, ['-c', server], ['--publish', '8080:8000', '--publish', '5353:53/udp']));
    await srv.waitFor('listening');
    const client = `
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(20); u.sendto(b'q', ('${SANDBOX_V4}', 5353)); print(u.recvfrom(100)[0].decode())
for i in range(2):
    c = socket.create_connection(('${SANDBOX_V4}' if i == 0 else '2001:db8::1', 8080)); c.sendall(b'hello'); print(c.recv(100).decode())
`;
    expect(await runIn(p.peerNs, ['python3', '-c', client])).toBe('udp q\ntcp hello from 10.0.2.100\ntcp hello from 10.0.2.100\n');
    expect(await srv.done).toBe(0);
  }, 120_000);

  it('the policy holds in user mode; the gateway address is the host loopback, policed too', async () => {
    const p = vethPair();
    await track(inNs(p.peerNs, ['python3', '-c', ECHO, 'greet'])).waitFor('ready');
    await track(inNs(p.sandboxNs, ['python3', '-c', ECHO, 'greet', 'lo'])).waitFor('ready');
    const out = await finish(track(userMode(p.sandboxNs, ['-c', CLIENT, `tcp,${PEER_V4},7001`, `tcp,${PEER_V4},7002`, 'tcp,10.0.2.2,7003'], [`--deny-net=${PEER_V4}:7002`])));
    expect(out).toBe(`tcp ${PEER_V4} 7001 local 10.0.2.100 peer ::ffff:${SANDBOX_V4} ping\ntcp ${PEER_V4} 7002 ConnectionRefusedError\ntcp 10.0.2.2 7003 local 10.0.2.100 peer 127.0.0.1 ping\n`);
    const denied = await finish(track(userMode(p.sandboxNs, ['-c', CLIENT, 'tcp,10.0.2.2,7003'], ['--allow-net=198.51.100.0/24'])));
    expect(denied).toBe('tcp 10.0.2.2 7003 ConnectionRefusedError\n');
  }, 120_000);
});

describe.skipIf(!ok)('network mode user: ICMP errors for UDP', () => {
  it('a datagram to a closed port gets ECONNREFUSED on a connected UDP socket, as on Linux (host loopback and a remote host, v4 and v6)', async () => {
    const p = vethPair();
    const probe = `
import socket, errno, sys
for a in sys.argv[1:]:
    host, port = a.rsplit(',', 1)
    u = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(10)
    u.connect((host, int(port))); u.send(b'x')
    try:
        u.recv(10); r = 'data'
    except socket.timeout:
        r = 'timeout'
    except OSError as e:
        r = errno.errorcode[e.errno]
    # The error is reported once; the socket works on.
    print(r, u.send(b'y'))
`;
    // Linux itself, in the Sentry's namespace: its loopback and the peer, both ports closed.
    const native = await runIn(p.sandboxNs, ['python3', '-c', probe, '127.0.0.1,7009', `${PEER_V4},7009`, `::1,7009`, `${PEER_V6},7009`]);
    expect(native).toBe('ECONNREFUSED 1\n'.repeat(4));
    const out = await finish(track(userMode(p.sandboxNs, ['-c', probe, '10.0.2.2,7009', `${PEER_V4},7009`, 'fd00::2,7009', `${PEER_V6},7009`])));
    expect(out).toBe(native);
  }, 120_000);
});

describe.skipIf(!ok)('ping sockets and net.ipv4.ping_group_range', () => {
  it('who may open ping sockets follows the range as written to /proc/sys, as Linux (root included, supplementary groups, bad values)', async () => {
    const guest = compileGuest('net_pinggroup', 'static', { srcDir: path.join(__dirname, 'guests') });
    // Linux's answer, in a namespace of its own (the setting is per network namespace).
    const native = await runIn(addNetns('pg'), [guest]);
    expect(native).toContain('root, range 1 0 (nobody): v4 Permission denied');
    const out = await finish(track(inNs(addNetns('pgs'), [process.execPath, BIN, 'run', '--network=user', guest])));
    expect(out).toBe(native);
  }, 120_000);
});

describe.skipIf(!ok)('network mode user: bulk transfers', () => {
  it('20 MB each way through the NAT arrive intact (back-pressure both ways)', async () => {
    const p = vethPair();
    const peer = `
import socket, hashlib, threading
blk = hashlib.sha256(b'x').digest() * 4096
def serve(l, up):
    c, _ = l.accept()
    if up:
        h = hashlib.sha256(); n = 0
        while True:
            d = c.recv(1 << 16)
            if not d: break
            h.update(d); n += len(d)
        c.sendall(('%d %s' % (n, h.hexdigest())).encode())
    else:
        h = hashlib.sha256()
        for i in range(160): c.sendall(blk); h.update(blk)
        c.shutdown(socket.SHUT_WR); c.recv(1)
    c.close()
for port, up in ((7101, False), (7102, True)):
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); l.bind(('${PEER_V4}', port)); l.listen()
    threading.Thread(target=serve, args=(l, up), daemon=True).start()
print('ready', flush=True)
threading.Event().wait()
`;
    await track(inNs(p.peerNs, ['python3', '-c', peer])).waitFor('ready');
    const guest = `
import socket, hashlib
blk = hashlib.sha256(b'x').digest() * 4096
c = socket.create_connection(('${PEER_V4}', 7101)); h = hashlib.sha256(); n = 0
while True:
    d = c.recv(1 << 20)
    if not d: break
    h.update(d); n += len(d)
c.close(); print('down', n, h.hexdigest())
c = socket.create_connection(('${PEER_V4}', 7102)); h = hashlib.sha256()
for i in range(160): c.sendall(blk); h.update(blk)
c.shutdown(socket.SHUT_WR); print('up', c.recv(200).decode(), h.hexdigest())
`;
    const out = await finish(track(userMode(p.sandboxNs, ['-c', guest])));
    const want = createHash('sha256');
    const blk = Buffer.concat(Array(4096).fill(createHash('sha256').update('x').digest()));
    for (let i = 0; i < 160; i++) want.update(blk);
    const h = want.digest('hex');
    expect(out).toBe(`down ${160 * blk.length} ${h}\nup ${160 * blk.length} ${h} ${h}\n`);
  }, 180_000);
});

describe.skipIf(!ok)('network mode user: a guest that exits at once', () => {
  it('what it wrote just before _exit still reaches the peer, then its FIN; the exit status is the guest\'s', async () => {
    // As Linux's kernel finishes a dead process's connections, the Sentry's stack goes on
    // after the guest's exit until they are acknowledged (src/net/linger.ts). The peer
    // reads slowly through a small buffer, so that at the guest's exit its send queue is
    // full (4 MiB) and the gateway's and the host sockets' buffers too: all that must
    // still arrive.
    const p = vethPair();
    const peer = `
import socket, hashlib, time
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)  # no autotuning up to 32 MB
l.bind(('${PEER_V4}', 7301)); l.listen()
print('ready', flush=True)
c, _ = l.accept(); h = hashlib.sha256(); n = 0
while True:
    d = c.recv(1 << 16)
    if not d: break
    h.update(d); n += len(d); time.sleep(0.003)
print('got', n, h.hexdigest(), flush=True)
`;
    const rcv = track(inNs(p.peerNs, ['python3', '-c', peer]));
    await rcv.waitFor('ready');
    const guest = `
import socket, hashlib, os
blk = hashlib.sha256(b'y').digest() * 4096
c = socket.create_connection(('${PEER_V4}', 7301))
for i in range(256): c.sendall(blk)
os._exit(7)
`;
    const g = track(userMode(p.sandboxNs, ['-c', guest]));
    expect(await g.done, g.err()).toBe(7);
    expect(await rcv.done).toBe(0);
    const blk = Buffer.concat(Array(4096).fill(createHash('sha256').update('y').digest()));
    const want = createHash('sha256');
    for (let i = 0; i < 256; i++) want.update(blk);
    expect(rcv.out().trim().split('\n').pop()).toBe(`got ${256 * blk.length} ${want.digest('hex')}`);
  }, 120_000);
});

describe.skipIf(!ok)('network mode user: resets', () => {
  it('a reset passes through the NAT both ways', async () => {
    const p = vethPair();
    const peer = `
import socket, struct
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); l.bind(('${PEER_V4}', 7201)); l.listen()
print('ready', flush=True)
c, _ = l.accept(); c.recv(10)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0)); c.close()
c, _ = l.accept()
try:
    print('peer got', c.recv(10), flush=True); print('peer got', c.recv(10), flush=True)
except ConnectionResetError:
    print('peer reset', flush=True)
`;
    const srv = track(inNs(p.peerNs, ['python3', '-c', peer]));
    await srv.waitFor('ready');
    const guest = `
import socket, struct, time
c = socket.create_connection(('${PEER_V4}', 7201)); c.sendall(b'x')
try:
    print('guest got', c.recv(10))
except ConnectionResetError:
    print('guest reset')
c = socket.create_connection(('${PEER_V4}', 7201)); c.sendall(b'y'); time.sleep(0.5)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0)); c.close()
`;
    expect(await finish(track(userMode(p.sandboxNs, ['-c', guest])))).toBe('guest reset\n');
    expect(await srv.done).toBe(0);
    expect(srv.out()).toBe("ready\npeer got b'y'\npeer reset\n");
  }, 120_000);
});

describe.skipIf(!ok)('ping in network mode user', () => {
  it('echo requests go out from host ping sockets; the gateway answers for itself', async () => {
    const p = vethPair();
    // The Sentry's (unprivileged) group may open ping sockets in its namespace.
    sh(['ip', 'netns', 'exec', p.sandboxNs, 'sysctl', '-qw', 'net.ipv4.ping_group_range=0 2147483647']);
    const ping = inNs(p.sandboxNs, ['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups',
      process.execPath, BIN, 'run', '--network=user', '--', '/bin/sh', '-c', `/usr/bin/busybox ping -c 1 ${PEER_V4} && /usr/bin/busybox ping -c 1 10.0.2.2`]);
    track(ping);
    expect(await ping.done).toBe(0);
    expect(ping.out()).toContain(`64 bytes from ${PEER_V4}: seq=0`);
    expect(ping.out()).toContain('64 bytes from 10.0.2.2: seq=0');
  }, 120_000);
});

describe.skipIf(!ok)('--publish in network mode sandbox', () => {
  it('a host port (in the Sentry namespace) leads to the guest serving on its veth address', async () => {
    const p = vethPair();
    const outer = addNetns('o');
    const server = `
import socket
l = socket.socket(); l.bind(('0.0.0.0', 8000)); l.listen(); print('listening', flush=True)
c, a = l.accept(); d = c.recv(100); c.sendall(b'tcp ' + d + b' from ' + a[0].encode()); c.close()
`;
    const srv = track(inNs(outer, [process.execPath, BIN, 'run', '--netns', nsPath(p.sandboxNs), '--publish', '9090:8000', '--', '/usr/bin/python3', '-c', server]));
    await srv.waitFor('listening');
    const client = "import socket; c = socket.create_connection(('127.0.0.1', 9090)); c.sendall(b'hi'); print(c.recv(100).decode())";
    expect(await runIn(outer, ['python3', '-c', client])).toBe(`tcp hi from ${SANDBOX_V4}\n`);
    expect(await srv.done).toBe(0);
  }, 120_000);
});
