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
import { closeSync } from 'fs';
import { Stack } from './stack/stack';
import { LoopbackLink } from './stack/link';
import { FdLink, netNative } from './stack/fd-link';
import { PcapWriter } from './stack/pcap';
import { parse, v4, isV4 } from './stack/addr';
import { timerQueue } from '../kernel/time/timers';
import { setNetwork, type NetworkMode } from './netns';
import type { HostNetView } from './netview';
import { NetPolicy, setPolicy } from './policy';
import { startBroker } from './host-io';
import { attachUserNet, type UserNet } from './user-net';
import { publishPorts, type Publish } from './publish';
import { stackLingerer } from './linger';
import { launchedNet, type LaunchedNet } from '../platform/launched-files';

export interface NetOptions {
  mode: NetworkMode;
  allowNet?: string[];
  denyNet?: string[];
  netns: string | null;
  pcap: string | null;
  /** --tap NAME: the sandbox's interface is this TAP device (in --netns's namespace, or the current one). */
  tap?: string | null;
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
  linkinfo?: { info_kind?: string; info_data?: { type?: string } };
  addr_info?: Array<{ family: string; local: string; prefixlen: number; scope?: string }>;
  ifindex?: number;
  stats64?: { rx?: IpStats; tx?: IpStats };
}
interface IpStats {
  bytes?: number;
  packets?: number;
  errors?: number;
  dropped?: number;
}
interface IpRouteJson {
  dst: string;
  gateway?: string;
  dev?: string;
  metric?: number;
  prefsrc?: string;
  type?: string;
  protocol?: string;
}

const IFF_BITS: Record<string, number> = { UP: 0x1, BROADCAST: 0x2, LOOPBACK: 0x8, POINTOPOINT: 0x10, NOARP: 0x80, PROMISC: 0x100, MULTICAST: 0x1000, LOWER_UP: 0x10040 };

/**
 * Mode "host": the host's interfaces, addresses and routes as `ip` shows them at start (the
 * confined Sentry runs no program later), for netlink dumps, SIOCGIF* and /proc/net.
 */
function hostView(): HostNetView {
  const ls = JSON.parse(ipIn('', ['-s', '-j', 'addr', 'show'])) as IpAddrJson[];
  const view: HostNetView = { host: true, links: [], addrs: [], routes: [] };
  const index = new Map<string, number>();
  for (const l of ls) {
    const i = l.ifindex ?? 0;
    index.set(l.ifname, i);
    const mac = Buffer.alloc(6);
    (l.address ?? '').split(':').slice(0, 6).forEach((x, k) => (mac[k] = parseInt(x, 16) || 0));
    const st = (s?: IpStats) => [s?.bytes ?? 0, s?.packets ?? 0, s?.errors ?? 0, s?.dropped ?? 0];
    const [rxBytes, rxPackets, rxErrors, rxDropped] = st(l.stats64?.rx);
    const [txBytes, txPackets, txErrors, txDropped] = st(l.stats64?.tx);
    view.links.push({
      index: i, name: l.ifname, flags: (l.flags ?? []).reduce((m, f) => m | (IFF_BITS[f] ?? 0), 0), mtu: l.mtu ?? 1500, mac,
      loopback: l.link_type === 'loopback', stats: { rxBytes, rxPackets, rxErrors, rxDropped, txBytes, txPackets, txErrors, txDropped }, nic: null,
    });
    for (const a of l.addr_info ?? []) {
      const ip = parse(a.local);
      if (ip === null) continue;
      view.addrs.push({ index: i, name: l.ifname, addr: ip, prefix: a.prefixlen, scope: a.scope === 'host' ? 254 : a.scope === 'link' ? 253 : 0 });
    }
  }
  for (const fam of ['-4', '-6']) {
    for (const r of JSON.parse(ipIn('', ['-j', fam, 'route', 'show', 'table', 'main'])) as IpRouteJson[]) {
      if (!r.dev || (r.type !== undefined && r.type !== 'unicast')) continue;
      const v6 = fam === '-6';
      const [d, p] = r.dst === 'default' ? [v6 ? '::' : '0.0.0.0', '0'] : r.dst.split('/');
      const dst = parse(d);
      if (dst === null) continue;
      view.routes.push({
        dst, prefix: p === undefined ? (v6 ? 128 : 32) : Number(p), gateway: r.gateway ? parse(r.gateway) : null, index: index.get(r.dev) ?? 0,
        name: r.dev, metric: r.metric ?? 0, src: r.prefsrc ? parse(r.prefsrc) : null, proto: r.protocol === 'kernel' ? 'kernel' : r.protocol === undefined || r.protocol === 'boot' ? 'boot' : 'static',
      });
    }
  }
  return view;
}

function ipIn(netns: string, args: string[]): string {
  const argv = netns === '' ? ['ip', ...args] : ['nsenter', `--net=${netns}`, 'ip', ...args];
  try {
    return execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    // One line for the user: the tool's own first complaint (a missing namespace, no `ip`).
    const said = String((e as { stderr?: unknown }).stderr ?? '').trim().split('\n')[0];
    throw new Error(said || `${argv.join(' ')}: ${(e as Error).message.split('\n')[0]}`);
  }
}

export function setupNetwork(kernel: { nowNs(): number; lingerers?: Array<() => boolean> }, o: NetOptions): Stack | null {
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
    setNetwork(kernel, 'host', null, hostView());
    return null;
  }
  if (o.mode === 'user' && (o.netns !== null || (o.tap ?? null) !== null)) throw new Error('--netns and --tap need --network=sandbox');
  const clock = { nowNs: () => kernel.nowNs(), q: timerQueue };
  const stack = loopbackStack(kernel);
  if (o.pcap !== null) stack.pcap = new PcapWriter(o.pcap, clock.nowNs);
  if (o.netns !== null || (o.tap ?? null) !== null) attachNamespace(stack, o.netns ?? '', o.tap ?? null, o.debug);
  let nat: UserNet | null = null;
  if (o.mode === 'user') {
    startBroker(kernel);
    nat = attachUserNet(kernel, stack, clock, policy.empty ? null : policy, o.debug ?? null);
    userNets.set(kernel, nat);
  } else if (publish.length > 0) {
    startBroker(kernel);
  }
  publishPorts(kernel, stack, publish, o.debug ?? null);
  setNetwork(kernel, o.mode, stack);
  // Closing connections are finished after the guest exits (linger.ts).
  kernel.lingerers?.push(stackLingerer(stack, nat?.tcp ?? null));
  return stack;
}

/** A stack with lo only (127.0.0.1/8, ::1): the start of every stack, and all of a guest's new network namespace. */
export function loopbackStack(kernel: { nowNs(): number }): Stack {
  const clock = { nowNs: () => kernel.nowNs(), q: timerQueue };
  const stack = new Stack(clock);
  const lo = stack.addNic('lo', new LoopbackLink(clock));
  stack.addAddress(lo, v4(127, 0, 0, 1), 8);
  stack.addAddress(lo, parse('::1')!, 128);
  return stack;
}

const userNets = new WeakMap<object, UserNet>();

/** The gateway of a sandbox in mode "user" (tests, --publish). */
export function userNetOf(kernel: object): UserNet | undefined {
  return userNets.get(kernel);
}

/**
 * Takes over the namespace's interfaces ("" = the current namespace): every Ethernet one
 * (AF_PACKET) and every TAP device (its fd: frames we write are what the namespace's
 * kernel receives on it), or only the TAP `tap`. The stack then answers for their
 * addresses; sockets never know which kind of link carries them.
 */
function attachNamespace(stack: Stack, netns: string, tap: string | null, debug?: (m: string) => void): void {
  // Launched in its own user namespace, the Sentry may not enter the host's namespace: the
  // front did (native/launch_netns.h) and hands over its records and the opened fds, and
  // has removed the addresses itself.
  const given = launchedNet();
  const ip = (args: string[], rec: keyof Omit<LaunchedNet, 'ifs'>): string => (given ? given[rec] : ipIn(netns, args));
  let links = JSON.parse(ip(['-d', '-j', 'addr', 'show'], 'addr')) as IpAddrJson[];
  if (tap !== null) {
    links = links.filter((l) => l.ifname === tap);
    if (links.length === 0) throw new Error(`no interface ${tap}${netns ? ` in ${netns}` : ''} (create it: ip tuntap add ${tap} mode tap)`);
    if (!isTap(links[0])) throw new Error(`${tap} is not a TAP device`);
  }
  const routes4 = JSON.parse(ip(['-j', '-4', 'route', 'show', 'table', 'main'], 'route4')) as IpRouteJson[];
  const routes6 = JSON.parse(ip(['-j', '-6', 'route', 'show', 'table', 'main'], 'route6')) as IpRouteJson[];
  for (const l of links) {
    if (l.link_type !== 'ether') continue;
    const tapDev = isTap(l);
    const h = given ? handed(given, l, tapDev) : tapDev ? netNative().netOpenTap(netns, l.ifname) : netNative().netOpenPacket(netns, l.ifname);
    if (typeof h === 'number') throw new Error(`cannot open ${l.ifname}${netns ? ` in ${netns}` : ''}: errno ${-h}`);
    // A TAP's own MAC is the kernel's end of it: the stack needs another (locally administered).
    if (tapDev) h.mac = Buffer.from([0x02, h.mac[1] ^ 0x5a, h.mac[2], h.mac[3], h.mac[4], h.mac[5] ^ 0x01]);
    const nic = stack.addNic(l.ifname, new FdLink(h.fd, h.mac, h.mtu));
    debug?.(`net: ${l.ifname}: ${tapDev ? 'TAP device' : 'AF_PACKET'}`);
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
    for (const a of given ? [] : (l.addr_info ?? [])) {
      try {
        ipIn(netns, ['addr', 'del', `${a.local}/${a.prefixlen}`, 'dev', l.ifname]);
      } catch (e) {
        debug?.(`net: could not remove ${a.local} from ${l.ifname}: ${(e as Error).message}`);
      }
    }
  }
  // An interface the front opened that the records do not show as Ethernet: not the Sentry's to keep.
  for (const f of given?.ifs.values() ?? []) closeFd(f.fd);
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

/** The fd the front opened for link l (as netOpenPacket/netOpenTap describe one), or -ENODEV. */
function handed(given: LaunchedNet, l: IpAddrJson, tap: boolean): { fd: number; mac: Buffer; mtu: number } | number {
  const f = given.ifs.get(l.ifname);
  if (f === undefined || f.tap !== tap) return -19;
  given.ifs.delete(l.ifname);
  const mac = Buffer.alloc(6);
  (l.address ?? '').split(':').slice(0, 6).forEach((x, k) => (mac[k] = parseInt(x, 16) || 0));
  return { fd: f.fd, mac, mtu: l.mtu ?? 1500 };
}

function closeFd(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already gone
  }
}

function isTap(l: IpAddrJson): boolean {
  return l.linkinfo?.info_kind === 'tun' && l.linkinfo.info_data?.type === 'tap';
}
