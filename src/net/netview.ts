/**
 * The sandbox's interfaces, addresses, routes and sockets as one view, whatever the
 * mode: the stack's (sandbox and user modes), the fixed lo of mode "none", or the host's
 * as they were at start (mode "host", a HostNetView). Netlink dumps (netlink-route.ts),
 * the SIOCGIF* ioctls and /proc/net (procnet.ts) are all written from it.
 */
import type { Stack } from './stack/stack';
import type { Nic } from './stack/nic';
import { v4, parse, isV4, type Addr } from './stack/addr';

export interface LinkView {
  index: number;
  name: string;
  flags: number;
  mtu: number;
  mac: Buffer;
  loopback: boolean;
  stats: Nic['stats'];
  nic: Nic | null;
}
export interface AddrView {
  index: number;
  name: string;
  addr: Addr;
  prefix: number;
  /** RT_SCOPE_HOST (254) for loopback, RT_SCOPE_LINK (253) for fe80::/10, else 0. */
  scope: number;
}
export interface RouteView {
  dst: Addr;
  prefix: number;
  gateway: Addr | null;
  index: number;
  name: string;
  metric: number;
  src: Addr | null;
  proto: 'kernel' | 'static' | 'boot';
}

/** Mode "host": the host's interfaces, addresses and routes, read once at start (read-only). */
export interface HostNetView {
  readonly host: true;
  links: LinkView[];
  addrs: AddrView[];
  routes: RouteView[];
}

/** What a view is read from. */
export type NetSource = Stack | HostNetView | null;

function isHost(s: NetSource): s is HostNetView {
  return s !== null && (s as HostNetView).host === true;
}

/** The stack of a source (null for mode "none" and mode "host"). */
export function stackOfSource(s: NetSource): Stack | null {
  return s === null || isHost(s) ? null : s;
}

const LO_STATS = { rxBytes: 0, rxPackets: 0, rxErrors: 0, rxDropped: 0, txBytes: 0, txPackets: 0, txErrors: 0, txDropped: 0 };

export function links(stack: NetSource): LinkView[] {
  if (isHost(stack)) return stack.links;
  if (stack === null) return [{ index: 1, name: 'lo', flags: 0x10049, mtu: 65536, mac: Buffer.alloc(6), loopback: true, stats: LO_STATS, nic: null }];
  return stack.nics.map((n) => ({ index: n.index, name: n.name, flags: n.flags, mtu: n.mtu, mac: n.link.mac, loopback: n.loopback, stats: n.stats, nic: n }));
}

function scopeOf(a: Addr, loopback: boolean): number {
  if (loopback) return 254;
  if (!isV4(a) && a[0] === 0xfe && (a[1] & 0xc0) === 0x80) return 253;
  return 0;
}

export function addrs(stack: NetSource): AddrView[] {
  if (isHost(stack)) return stack.addrs;
  if (stack === null) {
    return [
      { index: 1, name: 'lo', addr: v4(127, 0, 0, 1), prefix: 8, scope: 254 },
      { index: 1, name: 'lo', addr: parse('::1')!, prefix: 128, scope: 254 },
    ];
  }
  const out: AddrView[] = [];
  for (const n of stack.nics) for (const a of n.addrs) out.push({ index: n.index, name: n.name, addr: a.addr, prefix: a.prefix, scope: scopeOf(a.addr, n.loopback) });
  return out;
}

export function routes(stack: NetSource): RouteView[] {
  if (isHost(stack)) return stack.routes;
  if (stack === null) return [];
  return stack.routes.routes.map((r) => ({ dst: r.dst, prefix: r.prefix, gateway: r.gateway, index: r.nic.index, name: r.nic.name, metric: r.metric, src: r.src, proto: r.proto }));
}
