/**
 * AF_NETLINK / NETLINK_ROUTE, just enough for getifaddrs(3) and if_nameindex(3): dumps
 * of links (RTM_GETLINK) and addresses (RTM_GETADDR) describing the sandbox's only
 * interface, lo with 127.0.0.1/8 and ::1/128. Each request is answered at once by
 * queueing the reply messages on the socket; anything else gets an NLMSG_ERROR.
 */
import { netAdmin, netKeyOf } from './guest-netns';
import * as E from '../abi/errno';
import type { Task } from '../kernel/task';
import { AF_NETLINK, AF_INET, AF_INET6, AF_UNSPEC, NLMSG_DONE, NLMSG_ERROR, NLM_F_ACK, NLM_F_DUMP, NLM_F_MULTI } from '../abi/socket';
import { encodeNetlink } from './sockaddr';
import { SocketFile, SocketInode, type SendRequest } from './socket-file';
import { links, addrs, routes, stackOfSource, type LinkView, type AddrView, type RouteView, type NetSource } from './netview';
import { viewSourceOf } from './netns';
import { isV4, parse, v4 as ipv4 } from './stack/addr';

const NETLINK_ROUTE = 0;
const RTM_NEWLINK = 16;
const RTM_GETLINK = 18;
const RTM_NEWADDR = 20;
const RTM_DELLINK = 17;
const RTM_SETLINK = 19;
const RTM_GETADDR = 22;
const RTM_DELADDR = 21;
const RTM_NEWROUTE = 24;
const RTM_DELROUTE = 25;
const RTM_GETROUTE = 26;
const ARPHRD_ETHER = 1;
const IFF_UP = 0x1;
const ARPHRD_LOOPBACK = 772;
const IFA_F_PERMANENT = 0x80;

let nextPortId = 1;
const align4 = (n: number) => (n + 3) & ~3;

export function rta(type: number, data: Buffer): Buffer {
  const b = Buffer.alloc(align4(4 + data.length));
  b.writeUInt16LE(4 + data.length, 0);
  b.writeUInt16LE(type, 2);
  data.copy(b, 4);
  return b;
}
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0, 0);
  return b;
};
const cstr = (s: string) => Buffer.from(s + '\0', 'latin1');

export function nlmsg(type: number, flags: number, seq: number, pid: number, body: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + body.length, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt16LE(flags, 6);
  h.writeUInt32LE(seq >>> 0, 8);
  h.writeUInt32LE(pid >>> 0, 12);
  return Buffer.concat([h, body]);
}

function linkBody(l: LinkView): Buffer {
  const ifi = Buffer.alloc(16);
  ifi[0] = AF_UNSPEC;
  ifi.writeUInt16LE(l.loopback ? ARPHRD_LOOPBACK : ARPHRD_ETHER, 2);
  ifi.writeInt32LE(l.index, 4);
  ifi.writeUInt32LE(l.flags, 8);
  const st = Buffer.alloc(24 * 8);
  const s = l.stats;
  [s.rxPackets, s.txPackets, s.rxBytes, s.txBytes, s.rxErrors, s.txErrors, s.rxDropped, s.txDropped].forEach((v, i) => st.writeBigUInt64LE(BigInt(v), i * 8));
  return Buffer.concat([
    ifi,
    rta(3, cstr(l.name)), // IFLA_IFNAME
    rta(4, u32(l.mtu)), // IFLA_MTU
    rta(13, u32(1000)), // IFLA_TXQLEN
    rta(16, Buffer.from([(l.flags & IFF_UP) === 0 ? 2 : l.loopback ? 0 : 6])), // IFLA_OPERSTATE: down, unknown (lo), up
    rta(1, l.mac), // IFLA_ADDRESS
    rta(2, l.loopback ? Buffer.alloc(6) : Buffer.alloc(6, 0xff)), // IFLA_BROADCAST
    rta(23, st), // IFLA_STATS64
  ]);
}

function addrBody(a: AddrView): Buffer {
  const v4 = isV4(a.addr);
  const ifa = Buffer.alloc(8);
  ifa[0] = v4 ? AF_INET : AF_INET6;
  ifa[1] = a.prefix;
  ifa[2] = IFA_F_PERMANENT;
  ifa[3] = a.scope;
  ifa.writeUInt32LE(a.index, 4);
  const ip = v4 ? a.addr.subarray(12, 16) : a.addr;
  const parts = [ifa, rta(1, Buffer.from(ip))];
  if (v4) {
    parts.push(rta(2, Buffer.from(ip)));
    if (a.prefix < 31) {
      const b = Buffer.from(ip);
      const host = 2 ** (32 - a.prefix) - 1;
      b.writeUInt32BE((b.readUInt32BE(0) | host) >>> 0, 0);
      parts.push(rta(4, b)); // IFA_BROADCAST
    }
    parts.push(rta(3, cstr(a.name)));
  }
  parts.push(rta(8, u32(IFA_F_PERMANENT)));
  return Buffer.concat(parts);
}

function routeBody(r: RouteView): Buffer {
  const v4 = isV4(r.dst);
  const rt = Buffer.alloc(12);
  rt[0] = v4 ? AF_INET : AF_INET6;
  rt[1] = r.prefix;
  rt[4] = 254; // RT_TABLE_MAIN
  rt[5] = r.proto === 'kernel' ? 2 : r.proto === 'boot' ? 3 : 4;
  rt[6] = r.gateway === null && v4 ? 253 : 0; // RT_SCOPE_LINK / UNIVERSE (IPv6 routes: always universe)
  rt[7] = 1; // RTN_UNICAST
  const ip = (a: Buffer) => Buffer.from(v4 ? a.subarray(12, 16) : a);
  const parts = [rt, rta(15, u32(254))];
  if (r.prefix > 0) parts.push(rta(1, ip(r.dst)));
  if (r.gateway !== null) parts.push(rta(5, ip(r.gateway)));
  if (r.src !== null && r.proto === 'kernel') parts.push(rta(7, ip(r.src)));
  // As Linux: an IPv4 route's priority only when set; IPv6 routes always have one, and a preference (medium).
  if (!v4 || r.metric !== 0) parts.push(rta(6, u32(r.metric)));
  parts.push(rta(4, u32(r.index)));
  if (!v4) parts.push(rta(20, Buffer.from([0]))); // RTA_PREF
  return Buffer.concat(parts);
}

/** The attributes after a fixed header of hlen bytes: type -> data. */
function attrs(msg: Buffer, hlen: number): Map<number, Buffer> {
  const m = new Map<number, Buffer>();
  let p = 16 + hlen;
  while (p + 4 <= msg.length) {
    const l = msg.readUInt16LE(p);
    if (l < 4 || p + l > msg.length) break;
    m.set(msg.readUInt16LE(p + 2) & 0x3fff, msg.subarray(p + 4, p + l));
    p += align4(l);
  }
  return m;
}

function toAddr(b: Buffer | undefined): Buffer | null {
  if (b === undefined) return null;
  if (b.length === 4) return Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, b[0], b[1], b[2], b[3]]);
  if (b.length === 16) return Buffer.from(b);
  return null;
}

export class NetlinkSocket extends SocketFile {
  portId = 0;
  groups = 0;

  /** What the dumps show: the stack, the host's view (mode "host", read-only) or null (lo only, read-only). */
  stack: NetSource = null;
  private admin = false;

  static create(t: Task, type: number, protocol: number, flags: number): NetlinkSocket | number {
    if (protocol !== NETLINK_ROUTE) return -E.EPROTONOSUPPORT;
    const s = new NetlinkSocket(AF_NETLINK, type, protocol, new SocketInode(t.creds.euid, t.creds.egid), flags);
    s.stack = viewSourceOf(netKeyOf(t));
    s.admin = netAdmin(t);
    return s;
  }

  private autobind(t: Task | null): void {
    // Linux gives the first socket of a process its pid as port id.
    if (this.portId === 0) this.portId = t !== null && nextPortId === 1 ? t.tg.pid : 0x40000000 + nextPortId++;
  }

  bind(t: Task, addr: Buffer): number {
    if (addr.length < 12) return -E.EINVAL;
    if (addr.readUInt16LE(0) !== AF_NETLINK) return -E.EINVAL;
    const pid = addr.readUInt32LE(4);
    this.groups = addr.readUInt32LE(8);
    if (pid !== 0) this.portId = pid;
    else this.autobind(t);
    return 0;
  }

  connect(t: Task, addr: Buffer): number {
    if (addr.length < 12 || addr.readUInt16LE(0) !== AF_NETLINK) return -E.EINVAL;
    this.autobind(t);
    return 0;
  }

  sockName(): Buffer {
    return encodeNetlink(this.portId, this.groups);
  }
  peerName(): Buffer {
    return encodeNetlink(0, 0);
  }

  protected dgramTarget(t: Task | null): SocketFile | number {
    this.autobind(t);
    return this;
  }

  /** Answers each request message in the buffer. */
  protected deliverDgram(_target: SocketFile, req: SendRequest): number {
    const b = req.data;
    let off = 0;
    while (off + 16 <= b.length) {
      const len = b.readUInt32LE(off);
      if (len < 16 || off + len > b.length) break;
      const type = b.readUInt16LE(off + 4);
      const flags = b.readUInt16LE(off + 6);
      const seq = b.readUInt32LE(off + 8);
      const family = len >= 17 ? b[off + 16] : AF_UNSPEC;
      this.answer(type, flags, seq, family, b.subarray(off, off + len));
      off += align4(len);
    }
    return b.length;
  }

  private answer(type: number, flags: number, seq: number, family: number, msg: Buffer): void {
    const pid = this.portId;
    const parts: Buffer[] = [];
    const fam = (v4: boolean) => family === AF_UNSPEC || family === (v4 ? AF_INET : AF_INET6);
    const dump = (flags & NLM_F_DUMP) === NLM_F_DUMP;
    if ((type === RTM_GETLINK || type === RTM_GETADDR || type === RTM_GETROUTE) && dump) {
      let bodies: Array<[number, Buffer]>;
      if (type === RTM_GETLINK) bodies = links(this.stack).map((l) => [RTM_NEWLINK, linkBody(l)]);
      else if (type === RTM_GETADDR) bodies = addrs(this.stack).filter((a) => fam(isV4(a.addr))).map((a) => [RTM_NEWADDR, addrBody(a)]);
      else bodies = routes(this.stack).filter((r) => fam(isV4(r.dst))).map((r) => [RTM_NEWROUTE, routeBody(r)]);
      for (const [t, body] of bodies) parts.push(nlmsg(t, NLM_F_MULTI, seq, pid, body));
      parts.push(nlmsg(NLMSG_DONE, NLM_F_MULTI, seq, pid, u32(0)));
    } else if (type === RTM_GETLINK) {
      const index = msg.length >= 24 ? msg.readInt32LE(20) : 0;
      const name = attrs(msg, 16).get(3);
      const l = links(this.stack).find((x) => (index > 0 && x.index === index) || (name !== undefined && x.name === name.toString('latin1').replace(/\0.*$/, '')));
      if (l === undefined) parts.push(this.error(-E.ENODEV, seq, msg));
      else parts.push(nlmsg(RTM_NEWLINK, 0, seq, pid, linkBody(l)));
    } else if (type === RTM_NEWADDR || type === RTM_DELADDR || type === RTM_NEWROUTE || type === RTM_DELROUTE || type === RTM_NEWLINK || type === RTM_SETLINK || type === RTM_DELLINK) {
      const r = this.change(type, msg);
      if (r !== 0 || flags & NLM_F_ACK) parts.push(this.error(r, seq, msg));
      else return;
    } else {
      // NLMSG_ERROR carrying the request header: EOPNOTSUPP, or 0 as a plain ACK.
      const known = type === RTM_GETADDR || type === RTM_GETROUTE;
      if (known && !(flags & NLM_F_ACK)) return;
      parts.push(this.error(known ? 0 : -E.EOPNOTSUPP, seq, msg));
    }
    // One dump reply is one datagram (what recvmsg returns in one call).
    this.rq.push({ data: Buffer.concat(parts), off: 0, rights: null, creds: null, from: encodeNetlink(0, 0) });
    this.waitQueue.notify(1 | 0x40);
  }

  /** A datagram from the kernel side that is no rtnetlink reply (mq_notify's SIGEV_THREAD cookie). */
  deliverRaw(b: Buffer): void {
    this.rq.push({ data: Buffer.from(b), off: 0, rights: null, creds: null, from: encodeNetlink(0, 0) });
    this.waitQueue.notify(1 | 0x40);
  }

  private error(err: number, seq: number, msg: Buffer): Buffer {
    const e = Buffer.alloc(4);
    e.writeInt32LE(err, 0);
    return nlmsg(NLMSG_ERROR, 0, seq, this.portId, Buffer.concat([e, msg.subarray(0, 16)]));
  }

  /** `ip addr add/del`, `ip route add/del`, `ip link set up/down` applied to the stack. */
  private change(type: number, msg: Buffer): number {
    const st = stackOfSource(this.stack);
    if (!this.admin) return -E.EPERM;
    if (st === null) return this.stack === null ? -E.EOPNOTSUPP : -E.EPERM;
    if (type === RTM_NEWLINK || type === RTM_SETLINK || type === RTM_DELLINK) {
      if (type === RTM_DELLINK) return -E.EOPNOTSUPP;
      const nic = st.nicByIndex(msg.readInt32LE(20));
      if (nic === undefined) return -E.ENODEV;
      // IFLA_MTU: IPv4's minimum (68) up to what the link carries (dev_validate_mtu: EINVAL outside).
      const mtu = attrs(msg, 16).get(4);
      if (mtu !== undefined) {
        if (mtu.length < 4) return -E.EINVAL;
        const v = mtu.readUInt32LE(0);
        if (v < 68 || v > nic.link.mtu) return -E.EINVAL;
        nic.mtuSet = v === nic.link.mtu ? null : v;
      }
      const change = msg.readUInt32LE(28);
      const fl = msg.readUInt32LE(24);
      // ifi_change 0 is ~0 (rtnl_dev_combine_flags), but only when some flag is given: `ip link set lo mtu N` sends neither.
      if (change & IFF_UP || (change === 0 && fl !== 0)) nic.up = (fl & IFF_UP) !== 0;
      // Brought up without addresses, lo gets its own (inetdev_event/addrconf on NETDEV_UP).
      if (nic.up && nic.loopback && nic.addrs.length === 0) {
        st.addAddress(nic, ipv4(127, 0, 0, 1), 8);
        st.addAddress(nic, parse('::1')!, 128);
      }
      return 0;
    }
    if (type === RTM_NEWADDR || type === RTM_DELADDR) {
      const prefix = msg[17];
      const nic = st.nicByIndex(msg.readInt32LE(20));
      if (nic === undefined) return -E.ENODEV;
      const a = attrs(msg, 8);
      const ip = toAddr(a.get(2) ?? a.get(1));
      if (ip === null) return -E.EINVAL;
      if (type === RTM_NEWADDR) {
        if (nic.hasAddr(ip)) return -E.EEXIST;
        st.addAddress(nic, ip, prefix);
        return 0;
      }
      return st.removeAddress(nic, ip) ? 0 : -E.EADDRNOTAVAIL;
    }
    const a = attrs(msg, 12);
    const v4 = msg[16] === AF_INET;
    const prefix = msg[17];
    const dst = toAddr(a.get(1)) ?? (v4 ? Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0]) : Buffer.alloc(16));
    const gw = toAddr(a.get(5));
    const oif = a.get(4);
    let nic = oif !== undefined ? st.nicByIndex(oif.readInt32LE(0)) : undefined;
    if (type === RTM_DELROUTE) {
      const n = st.routes.remove((r) => r.prefix === prefix && r.dst.equals(dst) && (gw === null || (r.gateway !== null && r.gateway.equals(gw))));
      return n > 0 ? 0 : -E.ESRCH;
    }
    if (nic === undefined && gw !== null) {
      const via = st.routes.lookup(gw);
      nic = via?.nic;
    }
    if (nic === undefined) return -E.ENETUNREACH;
    const metric = a.get(6)?.readUInt32LE(0) ?? 0;
    st.routes.add({ dst, prefix, gateway: gw, nic, metric, src: null, proto: 'static' });
    return 0;
  }

  override get pollable(): boolean {
    return true;
  }
}
