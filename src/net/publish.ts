/**
 * --publish HOSTPORT:PORT[/tcp|udp] (modes "user" and "sandbox"): a host socket listens
 * on HOSTPORT (all addresses, v4 and v6) and each connection or datagram is carried to
 * PORT on the sandbox's own address through its stack, as a userland proxy does (the
 * guest sees the connection come from its own address). TCP connections are spliced by
 * NatTcp; a datagram from each host client gets its own guest-side port, so replies
 * find their way back.
 */
import * as E from '../abi/errno';
import { AF_INET, AF_INET6, SOCK_STREAM, SOCK_DGRAM, SOL_SOCKET } from '../abi/socket';
import type { Stack } from './stack/stack';
import type { UdpEndpoint } from './stack/udp';
import { TcpEndpoint } from './stack/tcp/endpoint';
import { StackTimer } from './stack/timer';
import { isLoopback, isV4, fmt, v4, type Addr } from './stack/addr';
import { hn, edges, brokerSocket, rxScratch } from './host-io';
import { NatTcp } from './nat-tcp';
import { launchedListener } from '../platform/launched-files';

export interface Publish {
  hostPort: number;
  port: number;
  proto: 'tcp' | 'udp';
}

const IDLE_MS = 60_000;
const one = Buffer.from([1, 0, 0, 0]);
const zero = Buffer.from([0, 0, 0, 0]);
const { data: dgram, name: nameBuf, noCtl, out } = rxScratch;

/** The sandbox's address published ports lead to: its first non-loopback IPv4, or 127.0.0.1. */
function guestAddr(stack: Stack): Addr {
  for (const nic of stack.nics) {
    if (nic.loopback) continue;
    const a = nic.addrs.find((x) => isV4(x.addr) && !isLoopback(x.addr));
    if (a !== undefined) return a.addr;
  }
  return v4(127, 0, 0, 1);
}

/** A host socket bound to [::]:port (v4 too), or 0.0.0.0:port when the host has no IPv6. */
function hostListen(kernel: object, type: number, port: number): number {
  const n = hn();
  for (const fam of [AF_INET6, AF_INET]) {
    const fd = brokerSocket(kernel, fam, type, 0);
    if (fd < 0) continue;
    n.netSockSetOpt(fd, SOL_SOCKET, 2 /* SO_REUSEADDR */, one);
    if (fam === AF_INET6) n.netSockSetOpt(fd, 41, 26 /* IPV6_V6ONLY */, zero);
    const sa = Buffer.alloc(fam === AF_INET6 ? 28 : 16);
    sa.writeUInt16LE(fam, 0);
    sa.writeUInt16BE(port, 2);
    let r = n.netSockBind(fd, sa);
    if (r === 0 && type === SOCK_STREAM) r = n.netSockListen(fd, 128);
    if (r === 0) return fd;
    n.netClose(fd);
    if (r === -E.EADDRINUSE || r === -E.EACCES) return r;
  }
  return -E.EAFNOSUPPORT;
}

export function publishPorts(kernel: object, stack: Stack, list: Publish[], log: ((m: string) => void) | null): void {
  if (list.length === 0) return;
  const splice = new NatTcp(stack, kernel, () => null, log, false);
  for (const p of list) {
    // A privileged port the native front bound for the unprivileged Sentry (native/launch_flags.h).
    const fd = launchedListener(p.hostPort, p.proto) ?? hostListen(kernel, p.proto === 'tcp' ? SOCK_STREAM : SOCK_DGRAM, p.hostPort);
    if (fd < 0) throw new Error(`--publish ${p.hostPort}:${p.port}/${p.proto}: cannot listen on host port ${p.hostPort} (errno ${-fd})`);
    if (p.proto === 'tcp') edges.add(fd, { edge: () => acceptAll(stack, splice, fd, p), waiting: () => true, always: true });
    else new UdpPublish(stack, fd, p);
    log?.(`net: host port ${p.hostPort}/${p.proto} -> ${fmt(guestAddr(stack))}:${p.port}`);
  }
}

let seq = 0;

function acceptAll(stack: Stack, splice: NatTcp, lfd: number, p: Publish): void {
  const n = hn();
  const len = new Int32Array(1);
  for (let i = 0; i < 64; i++) {
    const fd = n.netSockAccept(lfd, nameBuf, len);
    if (fd < 0) return;
    const dst = guestAddr(stack);
    const ep = new TcpEndpoint(stack, isV4(dst) ? AF_INET : AF_INET6);
    splice.adopt(fd, ep, `publish|${p.hostPort}|${seq++}`);
    if (ep.connect(dst, p.port) < 0) ep.abort(0);
  }
}

/** One host UDP socket; per host client, a guest-side port that replies come back to. */
class UdpPublish {
  private readonly clients = new Map<string, UdpEndpoint & { used: boolean; timer: StackTimer; from: Buffer }>();

  constructor(
    private readonly stack: Stack,
    private readonly fd: number,
    private readonly p: Publish,
  ) {
    edges.add(fd, { edge: () => this.input(), waiting: () => true, always: true });
  }

  private input(): void {
    const n = hn();
    for (let i = 0; i < 256; i++) {
      const r = n.netSockRecv(this.fd, dgram, 0, dgram.length, 0, nameBuf, noCtl, out);
      if (r === -E.EAGAIN) return;
      if (r < 0) continue;
      const from = Buffer.from(nameBuf.subarray(0, out[0]));
      const c = this.client(from);
      if (c === null) continue;
      c.used = true;
      this.stack.udp.send(c.addr, c.port, c.addr, this.p.port, dgram, 0, Math.min(r, dgram.length), 64, 0, null);
    }
  }

  private client(from: Buffer): (UdpEndpoint & { used: boolean; timer: StackTimer; from: Buffer }) | null {
    const key = from.toString('hex');
    const have = this.clients.get(key);
    if (have !== undefined) return have;
    const fd = this.fd;
    const addr = guestAddr(this.stack);
    const c: UdpEndpoint & { used: boolean; timer: StackTimer; from: Buffer } = {
      addr: Buffer.from(addr), port: 0, family: isV4(addr) ? AF_INET : AF_INET6, v6only: false, reuseAddr: false, reusePort: false,
      listening: false, remote: null, rport: 0, used: true, from,
      timer: new StackTimer(this.stack.clock, () => {
        if (c.used) {
          c.used = false;
          c.timer.arm(IDLE_MS);
          return;
        }
        this.clients.delete(key);
        this.stack.udp.ports.unbind(c);
      }),
      deliver: (b, off, len) => void hn().netSockSend(fd, b, off, len, 0, from),
      icmpError: () => {},
    };
    if (this.stack.udp.ports.bind(c, 0, false) < 0) return null;
    this.clients.set(key, c);
    c.timer.arm(IDLE_MS);
    return c;
  }
}
