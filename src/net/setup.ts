/**
 * Building a sandbox's network for its mode (called by the CLI before the first guest
 * runs):
 *  - "none": nothing here; AF_INET sockets use the loopback fast path (inet-socket.ts).
 *  - "sandbox": a Stack with lo plus, given a network namespace, every Ethernet
 *    interface in it: opened with AF_PACKET from inside the namespace, its IPv4/IPv6
 *    addresses and routes copied into the stack and then removed from the namespace's
 *    kernel, so that only the Sentry answers for them (as runsc does).
 *  - "user": a Stack with lo and eth0, whose wire ends in the gateway's stack, the NAT
 *    of user-net.ts (outbound TCP/UDP from host sockets, DNS to the host's resolver).
 *  - "host": no stack; AF_INET sockets are host sockets made by the socket broker
 *    (host-socket.ts), under the same policy, loopback included.
 */
import { execFileSync } from 'child_process';
import { Stack } from './stack/stack';
import { LoopbackLink } from './stack/link';
import { FdLink, netNative } from './stack/fd-link';
import { PcapWriter } from './stack/pcap';
import { parse, v4, isV4 } from './stack/addr';
import { timerQueue } from '../kernel/time/timers';
import { setNetwork, type NetworkMode } from './netns';
import { NetPolicy, setPolicy } from './policy';
import { startBroker } from './host-io';
import { attachUserNet, type UserNet } from './user-net';
import { publishPorts, type Publish } from './publish';

export interface NetOptions {
  mode: NetworkMode;
  allowNet?: string[];
  denyNet?: string[];
  netns: string | null;
  pcap: string | null;
  /** --publish (modes "user" and "sandbox"). */
  publish?: Publish[];
  debug?: (m: string) => void;
}

interface IpAddrJson {
  ifname: string;
  link_type?: string;
  address?: string;
  mtu?: number;
  operstate?: string;
  flags?: string[];
  addr_info?: Array<{ family: string; local: string; prefixlen: number; scope?: string }>;
}
interface IpRouteJson {
  dst: string;
  gateway?: string;
  dev?: string;
  metric?: number;
  prefsrc?: string;
  type?: string;
}

function ipIn(netns: string, args: string[]): string {
  return execFileSync('nsenter', [`--net=${netns}`, 'ip', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function setupNetwork(kernel: { nowNs(): number }, o: NetOptions): Stack | null {
  const policy = new NetPolicy(o.allowNet ?? [], o.denyNet ?? [], o.debug ?? null);
  setPolicy(kernel, policy);
  const publish = o.publish ?? [];
  if (publish.length > 0 && o.mode !== 'user' && o.mode !== 'sandbox') throw new Error('--publish needs --network=user or --network=sandbox');
  if (o.mode === 'none') {
    setNetwork(kernel, 'none', null);
    return null;
  }
  if (o.mode === 'host') {
    if (o.netns !== null) throw new Error('--netns needs --network=sandbox');
    startBroker(kernel);
    setNetwork(kernel, 'host', null);
    return null;
  }
  if (o.mode === 'user' && o.netns !== null) throw new Error('--netns needs --network=sandbox');
  const clock = { nowNs: () => kernel.nowNs(), q: timerQueue };
  const stack = new Stack(clock);
  if (o.pcap !== null) stack.pcap = new PcapWriter(o.pcap, clock.nowNs);
  const lo = stack.addNic('lo', new LoopbackLink(clock));
  stack.addAddress(lo, v4(127, 0, 0, 1), 8);
  stack.addAddress(lo, parse('::1')!, 128);
  if (o.netns !== null) attachNamespace(stack, o.netns, o.debug);
  if (o.mode === 'user') {
    startBroker(kernel);
    userNets.set(kernel, attachUserNet(kernel, stack, clock, policy.empty ? null : policy, o.debug ?? null));
  } else if (publish.length > 0) {
    startBroker(kernel);
  }
  publishPorts(kernel, stack, publish, o.debug ?? null);
  setNetwork(kernel, o.mode, stack);
  return stack;
}

const userNets = new WeakMap<object, UserNet>();

/** The gateway of a sandbox in mode "user" (tests, --publish). */
export function userNetOf(kernel: object): UserNet | undefined {
  return userNets.get(kernel);
}

function attachNamespace(stack: Stack, netns: string, debug?: (m: string) => void): void {
  const links = JSON.parse(ipIn(netns, ['-j', 'addr', 'show'])) as IpAddrJson[];
  const routes4 = JSON.parse(ipIn(netns, ['-j', '-4', 'route', 'show', 'table', 'main'])) as IpRouteJson[];
  const routes6 = JSON.parse(ipIn(netns, ['-j', '-6', 'route', 'show', 'table', 'main'])) as IpRouteJson[];
  for (const l of links) {
    if (l.link_type !== 'ether') continue;
    const h = netNative().netOpenPacket(netns, l.ifname);
    if (typeof h === 'number') throw new Error(`cannot open ${l.ifname} in ${netns}: errno ${-h}`);
    const nic = stack.addNic(l.ifname, new FdLink(h.fd, h.mac, h.mtu));
    nic.up = (l.flags ?? []).includes('UP');
    for (const a of l.addr_info ?? []) {
      const ip = parse(a.local);
      if (ip === null || (a.family !== 'inet' && a.family !== 'inet6')) continue;
      stack.addAddress(nic, ip, a.prefixlen);
      debug?.(`net: ${l.ifname} ${a.local}/${a.prefixlen} taken from the namespace`);
    }
    // Link-local IPv6 from the MAC (EUI-64) if the namespace had none: NDP needs one.
    if (!nic.addrs.some((x) => !isV4(x.addr) && x.addr[0] === 0xfe && x.addr[1] === 0x80)) {
      const m = h.mac;
      const ll = Buffer.from([0xfe, 0x80, 0, 0, 0, 0, 0, 0, m[0] ^ 2, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]]);
      stack.addAddress(nic, ll, 64);
    }
    // The namespace's kernel must not answer for these addresses any more (as runsc, the
    // sandbox owns the namespace for good: the confined Sentry cannot run `ip` at exit).
    for (const a of l.addr_info ?? []) {
      try {
        ipIn(netns, ['addr', 'del', `${a.local}/${a.prefixlen}`, 'dev', l.ifname]);
      } catch (e) {
        debug?.(`net: could not remove ${a.local} from ${l.ifname}: ${(e as Error).message}`);
      }
    }
  }
  for (const r of [...routes4, ...routes6]) {
    if (!r.gateway || !r.dev) continue;
    const nic = stack.nicByName(r.dev);
    if (nic === undefined) continue;
    const v6 = r.gateway.includes(':');
    let dst: Buffer;
    let prefix: number;
    if (r.dst === 'default') {
      dst = v6 ? Buffer.alloc(16) : v4(0, 0, 0, 0);
      prefix = 0;
    } else {
      const [d, p] = r.dst.split('/');
      dst = parse(d)!;
      prefix = p === undefined ? (v6 ? 128 : 32) : Number(p);
    }
    stack.routes.add({ dst, prefix, gateway: parse(r.gateway)!, nic, metric: r.metric ?? 0, src: r.prefsrc ? parse(r.prefsrc) : null, proto: 'static' });
    debug?.(`net: route ${r.dst} via ${r.gateway} dev ${r.dev}`);
  }
}
