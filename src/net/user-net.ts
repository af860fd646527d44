/**
 * Network mode "user" (as slirp4netns or passt give rootless podman): outbound networking
 * with no privilege, no namespace and no veth. The sandbox's stack gets an interface
 * `eth0` (10.0.2.100/24, fd00::100/64, default routes via the gateway) whose wire ends
 * in a second stack in the Sentry, the gateway (10.0.2.2, fd00::2; resolver 10.0.2.3,
 * fd00::3). The gateway takes packets to any address: TCP and UDP are re-originated from
 * host sockets (nat-tcp.ts, nat-udp.ts), so the host sees the Sentry's connections;
 * ICMP echo goes out from host ping sockets (nat-icmp.ts);
 * DNS to the resolver address goes to the host's resolver; the gateway's own address is
 * the host's loopback. --allow-net/--deny-net decide what is reached, loopback included.
 */
import * as fs from 'fs';
import type { Stack } from './stack/stack';
import { Stack as StackClass } from './stack/stack';
import { WireEnd } from './stack/link';
import type { Clock } from './stack/timer';
import { parse, eq, fmt, inPrefix, isV4, v4, type Addr } from './stack/addr';
import { NatTcp, type Redirect } from './nat-tcp';
import { NatUdp } from './nat-udp';
import { NatIcmp } from './nat-icmp';
import type { NetPolicy } from './policy';

export const USER_NET = {
  guest4: v4(10, 0, 2, 100),
  gw4: v4(10, 0, 2, 2),
  dns4: v4(10, 0, 2, 3),
  net4: v4(10, 0, 2, 0),
  guest6: parse('fd00::100')!,
  gw6: parse('fd00::2')!,
  dns6: parse('fd00::3')!,
  net6: parse('fd00::')!,
  mtu: 65520,
};
const LO4 = v4(127, 0, 0, 1);
const LO6 = parse('::1')!;
const GUEST_MAC = Buffer.from([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
const GW_MAC = Buffer.from([0x52, 0x55, 0x0a, 0x00, 0x02, 0x02]);

/**
 * Both ends are stacks of this Sentry: checksums are right by construction, so they are
 * neither checked nor (unless the far stack captures or has raw sockets) filled in.
 */
class TrustedWire extends WireEnd {
  farStack: Stack | null = null;
  protected override deliver(b: Buffer, whole: Buffer | null): boolean {
    return this.rx?.(b, 0, b.length, true, whole) === true;
  }
  csumOffload(): boolean {
    const far = this.farStack;
    return far !== null && far.pcap === null && far.rawInput === null;
  }
}

export interface UserNet {
  gw: Stack;
  tcp: NatTcp;
  udp: NatUdp;
  /** The address resolv.conf names inside the guest. */
  resolver: Addr;
}

/** The host's first nameserver (read before the Sentry confines itself), or null. */
export function hostResolver(file = '/etc/resolv.conf'): Addr | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    const a = m ? parse(m[1]) : null;
    if (a !== null) return a;
  }
  return null;
}

export function attachUserNet(kernel: object, stack: Stack, clock: Clock, policy: NetPolicy | null, log: ((m: string) => void) | null): UserNet {
  const U = USER_NET;
  const [guestEnd, gwEnd] = [new TrustedWire(clock, GUEST_MAC, U.mtu), new TrustedWire(clock, GW_MAC, U.mtu)];
  guestEnd.peer = gwEnd;
  gwEnd.peer = guestEnd;

  const eth0 = stack.addNic('eth0', guestEnd);
  stack.addAddress(eth0, U.guest4, 24);
  stack.addAddress(eth0, U.guest6, 64);
  stack.addAddress(eth0, Buffer.from([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56]), 64);
  stack.routes.add({ dst: v4(0, 0, 0, 0), prefix: 0, gateway: U.gw4, nic: eth0, metric: 0, src: null, proto: 'static' });
  stack.routes.add({ dst: Buffer.alloc(16), prefix: 0, gateway: U.gw6, nic: eth0, metric: 1024, src: null, proto: 'static' });

  const gw = new StackClass(clock);
  guestEnd.farStack = gw;
  gwEnd.farStack = stack;
  gw.promiscuous = true;
  const gnic = gw.addNic('gw', gwEnd);
  for (const a of [U.gw4, U.dns4]) gw.addAddress(gnic, a, 24);
  for (const a of [U.gw6, U.dns6]) gw.addAddress(gnic, a, 64);

  const resolver = hostResolver();
  const redirect: Redirect = (dst, port) => {
    const v4d = isV4(dst);
    if (eq(dst, v4d ? U.dns4 : U.dns6)) {
      // The resolver address answers DNS only, from the host's resolver (our own service: no policy).
      if (port !== 53 || resolver === null) return null;
      return { ip: resolver, port: 53 };
    }
    let ip = dst;
    if (eq(dst, v4d ? U.gw4 : U.gw6)) ip = v4d ? LO4 : LO6;
    else if (v4d ? inPrefix(dst, U.net4, 24) : inPrefix(dst, U.net6, 64)) return null; // nobody else on the virtual link
    if (policy !== null && !policy.permits(ip, port, true)) return null;
    return { ip, port };
  };
  const tcp = new NatTcp(gw, kernel, redirect, log);
  const udp = new NatUdp(gw, kernel, redirect);
  const icmp = new NatIcmp(gw, kernel, policy);
  gw.l4Hook = (_nic, proto, v6, b, off, len, ipOff, src, dst) => {
    if (proto === 17) return udp.input(v6, b, off, len, ipOff, src, dst);
    // Echo requests to outside addresses; the gateway's own addresses answer themselves.
    const echo = v6 ? proto === 58 && b[off] === 128 : proto === 1 && b[off] === 8;
    if (echo && !gw.isLocal(dst)) return icmp.request(v6, b, off, len, src, dst);
    return false;
  };
  log?.(`net: user mode: eth0 10.0.2.100/24 fd00::100/64, gateway 10.0.2.2, resolver 10.0.2.3 -> ${resolver === null ? 'none' : fmt(resolver)}`);
  return { gw, tcp, udp, resolver: U.dns4 };
}
