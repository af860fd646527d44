/**
 * ICMP sockets over the stack (modes with a stack: "sandbox", "user"):
 *  - ping sockets, SOCK_DGRAM with IPPROTO_ICMP / IPPROTO_ICMPV6 (Linux's ping.c): the
 *    guest sends an echo request header and payload; the stack puts the socket's
 *    identifier (its "port", from bind or autobind) in it and the checksum; echo replies
 *    with that identifier come back as header and payload. Only for a caller whose
 *    effective or supplementary group is in net.ipv4.ping_group_range (EACCES else, as
 *    Linux's ping_init_sock, root too); the sandbox starts with "0 2147483647", the
 *    range distributions set (Debian's linux-sysctl-defaults, systemd), not the kernel's
 *    "1 0" (nobody).
 *  - raw sockets, SOCK_RAW (root in the guest only: EPERM otherwise), of one protocol:
 *    a copy of every packet of that protocol that arrives (IPv4 with its header, IPv6
 *    without, as Linux), and sends of the transport bytes behind an IP header the stack
 *    writes (ICMPv6's checksum filled in by the stack, as Linux does; IPv4's is the
 *    sender's). With IP_HDRINCL (IPv4; always on IPPROTO_RAW sockets) the sender gives
 *    the IP header too: the stack fills in what Linux's raw_send_hdrinc does.
 * Both honour --allow-net/--deny-net on the destination (port 0).
 */
import * as E from '../abi/errno';
import type { Task } from '../kernel/task';
import { AF_INET, AF_INET6, SOCK_RAW } from '../abi/socket';
import { POLLIN, POLLRDNORM } from '../abi/fs';
import { decodeInet, encodeInet, isV4Mapped, V4_ANY, V6_ANY, type InetAddr } from './sockaddr';
import { SocketFile, SocketInode, SockState, type SendRequest } from './socket-file';
import type { Stack } from './stack/stack';
import { sumBytes, finish, pseudoSum } from './stack/checksum';
import { isAny, fmt, setMapped, type Addr } from './stack/addr';
import { ip4OutputHdrincl } from './stack/ipv4';
import { ETH_HLEN } from './stack/ethernet';
import { policyOf, type NetPolicy } from './policy';
import { netCapable } from './guest-netns';
import { CAP_NET_RAW } from '../auth/capabilities';

const IPPROTO_ICMP = 1;
const IPPROTO_ICMPV6 = 58;
const IPPROTO_RAW = 255;
const MAX_QUEUED = 256;

/** Is the caller's effective or a supplementary group within net.ipv4.ping_group_range? */
function pingAllowed(t: Task): boolean {
  const [lo, hi] = t.kernel.pingGroupRange.split('\t').map(Number);
  const c = t.creds;
  if (lo <= c.egid && c.egid <= hi) return true;
  return c.groups.some((g) => lo <= g && g <= hi);
}

/** Per stack: ping sockets by (family, identifier), and the raw sockets. */
interface Registry {
  ping: Map<string, IcmpSocket>;
  raw: Set<IcmpSocket>;
  nextId: number;
}
const registries = new WeakMap<Stack, Registry>();

function registry(stack: Stack): Registry {
  let r = registries.get(stack);
  if (r !== undefined) return r;
  const reg: Registry = { ping: new Map(), raw: new Set(), nextId: 1 + Math.floor(Math.random() * 60000) };
  r = reg;
  registries.set(stack, r);
  stack.onEchoReply = (v6, b, off, len, src) => {
    if (len < 8) return;
    reg.ping.get(`${v6 ? 6 : 4}|${b.readUInt16BE(off + 4)}`)?.queue(Buffer.from(b.subarray(off, off + len)), src);
  };
  stack.rawInput = (proto, v6, b, ipOff, off, len, src) => {
    for (const s of reg.raw) {
      if (s.protocol !== proto || (s.domain === AF_INET6) !== v6) continue;
      s.queue(Buffer.from(v6 ? b.subarray(off, off + len) : b.subarray(ipOff, off + len)), src);
    }
  };
  return r;
}

/** The raw sockets on stack (sock_diag's raw_diag rows, `ss -w`). */
export function rawSockets(stack: Stack): readonly IcmpSocket[] {
  return [...(registries.get(stack)?.raw ?? [])];
}

export class IcmpSocket extends SocketFile {
  /** The identifier of a ping socket (0: not bound yet). */
  private ident = 0;
  private local: Addr | null = null;
  private remote: InetAddr | null = null;
  private policy: NetPolicy | null = null;

  private constructor(
    readonly stack: Stack,
    domain: number,
    type: number,
    protocol: number,
    inode: SocketInode,
    flags: number,
  ) {
    super(domain, type, protocol, inode, flags);
  }

  /** socket(2) for SOCK_DGRAM + ICMP, or SOCK_RAW of any protocol; -errno when refused. */
  static create(t: Task, stack: Stack, domain: number, type: number, protocol: number, flags: number): IcmpSocket | number {
    const icmp = domain === AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
    if (type === SOCK_RAW) {
      if (!netCapable(t, CAP_NET_RAW)) return -E.EPERM;
      if (protocol <= 0 || protocol > 255) return -E.EPROTONOSUPPORT;
    } else if (protocol !== icmp) {
      return -E.EPROTONOSUPPORT;
    } else if (!pingAllowed(t)) {
      return -E.EACCES;
    }
    const s = new IcmpSocket(stack, domain, type, protocol, new SocketInode(t.creds.euid, t.creds.egid), flags);
    s.policy = policyOf(t.kernel);
    const reg = registry(stack);
    if (type === SOCK_RAW) reg.raw.add(s);
    if (type === SOCK_RAW && domain === AF_INET && protocol === IPPROTO_RAW) s.hdrincl = true;
    return s;
  }

  /** Bound address (null: the wildcard) and connected peer, as raw_diag shows them. */
  get boundAddr(): Addr | null {
    return this.local;
  }
  get peerAddr(): Addr | null {
    return this.remote?.ip ?? null;
  }

  private get raw(): boolean {
    return this.type === SOCK_RAW;
  }

  /** IP_HDRINCL (raw IPv4 sockets only): on from the start for IPPROTO_RAW, as Linux's inet_create. */
  hdrincl = false;

  /** Sets IP_HDRINCL: -ENOPROTOOPT on anything but a raw socket (as do_ip_setsockopt). */
  setHdrincl(on: boolean): number {
    if (!this.raw) return -E.ENOPROTOOPT;
    this.hdrincl = on;
    return 0;
  }

  private decode(b: Buffer): InetAddr | number {
    const a = decodeInet(b);
    if (typeof a === 'number') return a;
    if (a.family !== this.domain) return this.domain === AF_INET ? -E.EAFNOSUPPORT : -E.EINVAL;
    if (this.domain === AF_INET6 && isV4Mapped(a.ip)) return -E.EINVAL;
    return a;
  }

  bind(_t: Task, b: Buffer): number {
    const a = this.decode(b);
    if (typeof a === 'number') return a;
    if (this.local !== null || this.ident !== 0) return -E.EINVAL;
    if (!isAny(a.ip) && !this.stack.isLocal(a.ip)) return -E.EADDRNOTAVAIL;
    this.local = Buffer.from(a.ip);
    if (!this.raw) return this.takeIdent(a.port);
    return 0;
  }

  private takeIdent(want: number): number {
    const reg = registry(this.stack);
    const fam = this.domain === AF_INET6 ? 6 : 4;
    let id = want;
    if (id === 0) {
      for (let i = 0; i < 65535 && id === 0; i++) {
        const c = ((reg.nextId + i) % 65535) + 1;
        if (!reg.ping.has(`${fam}|${c}`)) id = c;
      }
      if (id === 0) return -E.EAGAIN;
      reg.nextId = id;
    } else if (reg.ping.has(`${fam}|${id}`)) {
      return -E.EADDRINUSE;
    }
    this.ident = id;
    reg.ping.set(`${fam}|${id}`, this);
    return 0;
  }

  connect(_t: Task, b: Buffer): number {
    const a = this.decode(b);
    if (typeof a === 'number') return a;
    const p = this.stack.path(a.ip);
    if (typeof p === 'number') return p;
    this.remote = a;
    this.state = SockState.Connected;
    return 0;
  }

  sockName(): Buffer {
    const ip = this.local ?? Buffer.from(this.domain === AF_INET ? V4_ANY : V6_ANY);
    return encodeInet({ family: this.domain, ip, port: this.raw ? this.protocol : this.ident, flowinfo: 0, scope: 0 }, this.domain);
  }

  peerName(): Buffer | number {
    if (this.remote === null) return -E.ENOTCONN;
    return encodeInet({ ...this.remote, port: 0 }, this.domain);
  }

  protected dgramTarget(): SocketFile | number {
    return -E.EOPNOTSUPP;
  }
  protected deliverDgram(): number {
    return -E.EOPNOTSUPP;
  }

  override send(_t: Task | null, req: SendRequest): number {
    let dst: InetAddr;
    if (req.to !== null && req.to.length > 0) {
      const a = this.decode(req.to);
      if (typeof a === 'number') return a;
      dst = a;
    } else if (this.remote !== null) {
      dst = this.remote;
    } else {
      return -E.EDESTADDRREQ;
    }
    if (this.policy !== null && !this.policy.permits(dst.ip, 0)) return -E.ECONNREFUSED;
    const data = req.data;
    const v6 = this.domain === AF_INET6;
    if (!this.raw) {
      // An echo request header at least, of the right type (ping_v4_sendmsg / ping_v6_sendmsg).
      if (data.length < 8 || data[0] !== (v6 ? 128 : 8) || data[1] !== 0) return -E.EINVAL;
      if (this.ident === 0) {
        const r = this.takeIdent(0);
        if (r < 0) return r;
      }
    }
    if (this.hdrincl && !v6) return this.sendHdrincl(dst, data);
    if (data.length > 65535 - 48) return -E.EMSGSIZE;
    const p = this.stack.path(dst.ip, null, this.local !== null && !isAny(this.local) ? this.local : null);
    if (typeof p === 'number') return p;
    const o = this.stack.l4Off(v6);
    const tx = this.stack.tx;
    data.copy(tx, o);
    if (!this.raw) {
      tx.writeUInt16BE(this.ident, o + 4);
      tx.writeUInt16BE(0, o + 2);
    }
    if (v6 && (!this.raw || this.protocol === IPPROTO_ICMPV6)) {
      tx.writeUInt16BE(0, o + 2);
      tx.writeUInt16BE(finish(sumBytes(tx, o, data.length, pseudoSum(p.src, dst.ip, IPPROTO_ICMPV6, data.length, true))), o + 2);
    } else if (!this.raw) {
      tx.writeUInt16BE(finish(sumBytes(tx, o, data.length, 0)), o + 2);
    }
    const ttl = this.intOpts.get(v6 ? '41:16' : '0:2') ?? 64;
    const r = this.stack.sendOn(p, dst.ip, this.protocol === 0 ? (v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP) : this.protocol, data.length, ttl, 0, false);
    return r < 0 ? r : data.length;
  }

  /** IP_HDRINCL: data is a whole IPv4 packet, routed to dst (the address given, as Linux). */
  private sendHdrincl(dst: InetAddr, data: Buffer): number {
    if (data.length > 0xffff) return -E.EMSGSIZE;
    if (data.length >= 20 && this.policy !== null && !this.policy.permits(setMapped(Buffer.alloc(16), data, 16), 0)) return -E.ECONNREFUSED;
    const p = this.stack.path(dst.ip, null, this.local !== null && !isAny(this.local) ? this.local : null);
    if (typeof p === 'number') return p;
    data.copy(this.stack.tx, ETH_HLEN);
    const r = ip4OutputHdrincl(this.stack, p.nic, p.nextHop, p.src, data.length);
    return r < 0 ? r : data.length;
  }

  /** A packet for us (copied): queued for recv, with its sender. */
  queue(data: Buffer, src: Addr): void {
    if (this.rq.length >= MAX_QUEUED || this.rcvShut) return;
    if (this.remote !== null && this.raw && fmt(src) !== fmt(this.remote.ip)) return;
    const from = encodeInet({ family: this.domain, ip: Buffer.from(src), port: 0, flowinfo: 0, scope: 0 }, this.domain);
    this.rq.push({ data, off: 0, rights: null, creds: null, from });
    this.waitQueue.notify(POLLIN | POLLRDNORM);
  }

  protected override release(): void {
    const reg = registry(this.stack);
    reg.raw.delete(this);
    if (this.ident !== 0) reg.ping.delete(`${this.domain === AF_INET6 ? 6 : 4}|${this.ident}`);
    super.release();
  }
}
