/**
 * AF_INET / AF_INET6 on loopback (network mode "none"): TCP and UDP between guest
 * sockets inside the sandbox. No segments exist: a TCP connect links two SocketFiles
 * through the listener's accept queue and a UDP send queues a datagram on the bound
 * receiver. Ports live in per-protocol tables; 127.0.0.0/8 and ::1 are the only local
 * addresses, any other destination is ENETUNREACH.
 */
import * as E from '../abi/errno';
import type { Task } from '../kernel/task';
import { stackSendControl } from './send-cmsg';
import { POLLIN, POLLOUT, POLLRDNORM, POLLERR, POLLHUP, POLLRDHUP, POLLWRNORM, POLLPRI } from '../abi/fs';
import {
  AF_INET, AF_INET6, AF_UNSPEC, SOCK_STREAM, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE, EPHEMERAL_LO, EPHEMERAL_HI, MSG_TRUNC, MSG_PEEK, MSG_OOB, MSG_ERRQUEUE, SIOCATMARK, SIOCOUTQ,
} from '../abi/socket';
import { emptyMeta, type RecvMeta } from './packet';
import {
  decodeInet, encodeInet, ipIsAny, ipIsLoopback, isV4Mapped, V4_ANY, V4_LOOPBACK, V6_ANY, V6_LOOPBACK, type InetAddr,
} from './sockaddr';
import { SocketFile, SocketInode, SockState, credsOf, ownerIoctl, type SendRequest } from './socket-file';
import { sendSigurg } from '../kernel/fasync';
import { TcpState } from './stack/tcp/state';
import { onEntropySeeded, randomBelow } from '../determinism/entropy';
import { netCapable } from './guest-netns';
import { CAP_NET_BIND_SERVICE } from '../auth/capabilities';

/** Bound sockets by port, one table per protocol. */
const tables = { tcp: new Map<number, InetSocket[]>(), udp: new Map<number, InetSocket[]>(), udplite: new Map<number, InetSocket[]>() };
let nextEphemeral = EPHEMERAL_LO + randomBelow(EPHEMERAL_HI - EPHEMERAL_LO);
onEntropySeeded(() => (nextEphemeral = EPHEMERAL_LO + randomBelow(EPHEMERAL_HI - EPHEMERAL_LO)));

/** Forgets every bound port (a reused pool worker, between sandboxes: src/server/retire.ts). */
export function clearInetPorts(): void {
  tables.tcp.clear();
  tables.udp.clear();
  serverEnds.clear();
}

const NO_LIMIT = { max: Infinity, skip: 0 };
/** The server ends of fast-path connections (they share the listener's port, so no table holds them), for /proc/net and sock_diag. */
const serverEnds = new Set<InetSocket>();

export class InetSocket extends SocketFile {
  local: InetAddr | null = null;
  remote: InetAddr | null = null;
  v6only = false;
  nodelay = false;

  constructor(domain: number, type: number, protocol: number, inode: SocketInode, flags: number) {
    super(domain, type, protocol, inode, flags);
  }

  static create(t: Task, domain: number, type: number, protocol: number, flags: number): InetSocket {
    return new InetSocket(domain, type, protocol, new SocketInode(t.creds.euid, t.creds.egid), flags);
  }

  private get table(): Map<number, InetSocket[]> {
    return this.type === SOCK_STREAM ? tables.tcp : this.protocol === IPPROTO_UDPLITE ? tables.udplite : tables.udp;
  }

  /** UDP-Lite checksum coverage (UDPLITE_SEND_CSCOV / RECV_CSCOV), set: null until the option is. */
  sendCscov: number | null = null;
  recvCscov: number | null = null;

  /** UDP-Lite's receive rule (udpv4_queue_rcv_skb): a partly covered datagram needs enough coverage. */
  private dropsCoverage(from: InetSocket, len: number): boolean {
    if (this.protocol !== IPPROTO_UDPLITE || this.recvCscov === null) return false;
    const cs = from.sendCscov;
    const partial = cs !== null && cs > 0 && cs < 8 + len;
    return partial && (this.recvCscov === 0 || cs! < this.recvCscov);
  }

  /** Decodes a destination/bind address and checks its family against the socket's. */
  private decode(b: Buffer, forBind: boolean): InetAddr | number {
    const a = decodeInet(b);
    if (typeof a === 'number') return this.domain === AF_INET6 && b.length < 24 ? -E.EINVAL : a;
    if (this.domain === AF_INET) {
      if (a.family !== AF_INET) {
        // Linux tolerates AF_UNSPEC with INADDR_ANY in bind.
        if (forBind && a.family === AF_UNSPEC && ipIsAny(a.ip)) return { ...a, family: AF_INET };
        return -E.EAFNOSUPPORT;
      }
      return a;
    }
    if (a.family !== AF_INET6) return forBind ? -E.EINVAL : -E.EAFNOSUPPORT;
    if (isV4Mapped(a.ip) && this.v6only) return forBind ? -E.EINVAL : -E.ENETUNREACH;
    return a;
  }

  /** Can `bound` receive what is sent to ip? */
  private static covers(s: InetSocket, ip: Buffer): boolean {
    const l = s.local!;
    if (!ipIsAny(l.ip)) return l.ip.equals(ip);
    if (s.domain === AF_INET) return isV4Mapped(ip);
    return !isV4Mapped(ip) || (!s.v6only && isV4Mapped(ip));
  }

  /** Do two bindings of one port overlap in addresses? */
  private static overlaps(a: InetSocket, b: InetSocket, aIp: Buffer, aDomain: number, aV6only: boolean): boolean {
    const bl = b.local!;
    const aAny = ipIsAny(aIp);
    const bAny = ipIsAny(bl.ip);
    const famA = aDomain === AF_INET || (isV4Mapped(aIp) && !aAny) ? 4 : aV6only || !aAny ? 6 : 46;
    const famB = b.domain === AF_INET || (isV4Mapped(bl.ip) && !bAny) ? 4 : b.v6only || !bAny ? 6 : 46;
    if (famA !== 46 && famB !== 46 && famA !== famB) return false;
    void a;
    return aAny || bAny || aIp.equals(bl.ip);
  }

  private portFree(port: number, ip: Buffer): boolean {
    const list = this.table.get(port);
    if (list === undefined) return true;
    for (const o of list) {
      if (!InetSocket.overlaps(this, o, ip, this.domain, this.v6only)) continue;
      if (this.reusePort && o.reusePort) continue;
      if (this.reuseAddr && o.reuseAddr && (this.type !== SOCK_STREAM || o.state !== SockState.Listening)) continue;
      return false;
    }
    return true;
  }

  private takePort(ip: Buffer, port: number): number {
    if (port === 0) {
      const span = EPHEMERAL_HI - EPHEMERAL_LO + 1;
      for (let i = 0; i < span; i++) {
        const p = EPHEMERAL_LO + ((nextEphemeral - EPHEMERAL_LO + i) % span);
        if (this.portFree(p, ip)) {
          nextEphemeral = p + 1;
          port = p;
          break;
        }
      }
      if (port === 0) return -E.EADDRINUSE;
    } else if (!this.portFree(port, ip)) {
      return -E.EADDRINUSE;
    }
    this.local = { family: this.domain, ip, port, flowinfo: 0, scope: 0 };
    this.staleName = null;
    const list = this.table.get(port);
    if (list === undefined) this.table.set(port, [this]);
    else list.push(this);
    return 0;
  }

  bind(t: Task, b: Buffer): number {
    const a = this.decode(b, true);
    if (typeof a === 'number') return a;
    if (this.local !== null) return -E.EINVAL;
    if (!ipIsAny(a.ip) && !ipIsLoopback(a.ip)) return -E.EADDRNOTAVAIL;
    if (a.port !== 0 && a.port < t.kernel.unprivilegedPortStart && !netCapable(t, CAP_NET_BIND_SERVICE)) return -E.EACCES;
    const r = this.takePort(a.ip, a.port);
    if (r === 0) {
      this.addrLocked = !ipIsAny(a.ip);
      this.portLocked = a.port !== 0;
    }
    return r;
  }

  /** An implicit bind (connect/listen/send without bind): ephemeral port, source fitting dest. */
  private autobind(dest: Buffer | null): number {
    if (this.local !== null) return 0;
    let ip: Buffer;
    if (dest === null) ip = this.domain === AF_INET ? V4_ANY : V6_ANY;
    else ip = isV4Mapped(dest) ? V4_LOOPBACK : V6_LOOPBACK;
    return this.takePort(ip, 0);
  }

  protected override prepareListen(_t: Task): number {
    this.unshut = false;
    return this.autobind(null);
  }

  /** The destination as Linux routes it: 0.0.0.0/:: mean this host; only loopback is reachable. */
  private route(a: InetAddr): Buffer | number {
    if (ipIsAny(a.ip)) return isV4Mapped(a.ip) ? V4_LOOPBACK : V6_LOOPBACK;
    if (!ipIsLoopback(a.ip)) return -E.ENETUNREACH;
    return a.ip;
  }

  private findBound(ip: Buffer, port: number, pred: (s: InetSocket) => boolean): InetSocket | null {
    const list = this.table.get(port);
    if (list === undefined) return null;
    // A specific address wins over a wildcard binding.
    let wild: InetSocket | null = null;
    for (const s of list) {
      if (!pred(s) || !InetSocket.covers(s, ip)) continue;
      if (!ipIsAny(s.local!.ip)) return s;
      wild ??= s;
    }
    return wild;
  }

  /** Checkpoint support (src/snapshot): the connection state kept privately, and whether its port table holds it. */
  checkpointState(): { connectPending: boolean; reset: boolean; pendingDest: InetAddr | null; inTable: boolean } {
    const inTable = this.local !== null && (this.table.get(this.local.port)?.includes(this) ?? false);
    return { connectPending: this.connectPending, reset: this.reset, pendingDest: this.pendingDest, inTable };
  }

  /** Checkpoint support: that state again, in the port table as it was (the image holds a consistent set). */
  adoptState(st: { connectPending: boolean; reset: boolean; pendingDest: InetAddr | null; inTable: boolean }): void {
    this.connectPending = st.connectPending;
    this.reset = st.reset;
    this.pendingDest = st.pendingDest;
    if (!st.inTable || this.local === null) return;
    const list = this.table.get(this.local.port);
    if (list === undefined) this.table.set(this.local.port, [this]);
    else list.push(this);
  }

  /** A nonblocking connect returned EINPROGRESS and no connect() has seen it finish yet. */
  private connectPending = false;
  /** The connection ended in a reset (RST: linger 0, unread data, or data sent to a closed peer). */
  private reset = false;

  connect(t: Task, b: Buffer, nonblock: boolean): number {
    if (this.connectPending && this.type === SOCK_STREAM) {
      // Linux: the first connect() after the handshake finished succeeds; later ones get EISCONN.
      this.connectPending = false;
      if (this.state === SockState.Connected) return 0;
      if (this.err !== 0) return -this.takeErr();
    }
    if (b.length >= 2 && b.readUInt16LE(0) === AF_UNSPEC) return this.disconnect();
    const a = this.decode(b, false);
    if (typeof a === 'number') return a;
    if (this.type !== SOCK_STREAM) {
      const ip = this.route(a);
      if (typeof ip === 'number') return ip;
      const r = this.autobind(ip);
      if (r < 0) return r;
      this.remote = { ...a, ip };
      return 0;
    }
    if (this.state === SockState.Connected) return -E.EISCONN;
    if (this.state === SockState.Listening) return -E.EISCONN;
    this.unshut = false;
    if (this.state === SockState.Disconnected) return this.err !== 0 ? -this.takeErr() : -E.EISCONN;
    const ip = this.route(a);
    if (typeof ip === 'number') return ip;
    const r = this.autobind(ip);
    if (r < 0) return r;
    const target = this.findBound(ip, a.port, (s) => s.state === SockState.Listening && !s.rcvShut);
    if (target === null) {
      if (nonblock) {
        // The RST comes back "later": report it through SO_ERROR and poll like Linux.
        this.err = E.ECONNREFUSED;
        this.state = SockState.Disconnected;
        this.waitQueue.notify(POLLOUT | POLLERR | POLLHUP);
        return -E.EINPROGRESS;
      }
      return -E.ECONNREFUSED;
    }
    if (target.acceptQ.length > target.backlog && !nonblock) {
      this.blockQueue = target.waitQueue;
      return -E.EAGAIN;
    }
    const server = new InetSocket(target.domain, SOCK_STREAM, target.protocol, new SocketInode(0, 0), 0);
    server.local = { family: target.domain, ip, port: a.port, flowinfo: 0, scope: 0 };
    server.remote = this.local;
    server.nodelay = target.nodelay;
    server.sndbuf = target.sndbuf;
    server.rcvbuf = target.rcvbuf;
    server.peerCreds = credsOf(t);
    this.remote = { ...a, ip };
    this.peerCreds = target.peerCreds;
    SocketFile.link(this, server);
    this.activeOpen = true;
    serverEnds.add(server);
    target.acceptQ.push(server);
    target.waitQueue.notify(POLLIN | POLLRDNORM);
    this.waitQueue.notify(POLLOUT);
    // A nonblocking connect never completes within the call on Linux, even on loopback.
    if (nonblock) this.connectPending = true;
    return nonblock ? -E.EINPROGRESS : 0;
  }

  /** bind(2) named an address / a port (Linux's SOCK_BINDADDR_LOCK / SOCK_BINDPORT_LOCK). */
  private addrLocked = false;
  private portLocked = false;
  /** What getsockname shows after a disconnect gave an implicit port back (Linux keeps inet_sport). */
  private staleName: InetAddr | null = null;
  /** Unconnected by a disconnect: no shutdown flags (Linux's sk_shutdown 0), so poll has no POLLIN. */
  private unshut = false;

  /**
   * connect(AF_UNSPEC), as Linux's tcp_disconnect / udp_disconnect: a connection is reset
   * (the peer reads ECONNRESET, we get it as SO_ERROR) and the socket is unconnected, a
   * listener stops listening (its pending connections reset), a datagram socket drops its
   * peer; an address or port not named by bind(2) is given back.
   */
  private disconnect(): number {
    this.connectPending = false;
    if (this.type === SOCK_STREAM) {
      const was = this.state;
      for (const c of this.acceptQ.splice(0)) c.decRef();
      const p = this.peer;
      if (p !== null && p.peer === this) {
        p.peerClosed(true);
        p.waitQueue.notify(POLLOUT | POLLWRNORM);
      }
      if (was === SockState.Connected || (was === SockState.Disconnected && p !== null && !this.reset)) this.err = E.ECONNRESET;
      this.rq.clear();
      this.peer = null;
      this.state = SockState.Unconnected;
      this.rcvShut = this.sndShut = this.peerGone = this.reset = false;
      this.urgState = 0;
      this.unshut = true;
      if (was === SockState.Listening) {
        this.waitQueue.notify(0xffff);
        return 0;
      }
    } else {
      this.peer = null;
    }
    this.remote = null;
    if (this.local !== null) {
      const any = this.domain === AF_INET ? V4_ANY : V6_ANY;
      const ip = this.addrLocked ? this.local.ip : any;
      if (this.portLocked) {
        this.local = { ...this.local, ip };
      } else {
        const port = this.type === SOCK_STREAM ? this.local.port : 0;
        this.unbind();
        this.local = null;
        this.staleName = { ...this.local0(), ip, port };
      }
    }
    this.waitQueue.notify(0xffff);
    return 0;
  }

  private local0(): InetAddr {
    return { family: this.domain, ip: this.domain === AF_INET ? V4_ANY : V6_ANY, port: 0, flowinfo: 0, scope: 0 };
  }

  sockName(): Buffer {
    const l = this.local ?? this.staleName ?? { family: this.domain, ip: this.domain === AF_INET ? V4_ANY : V6_ANY, port: 0, flowinfo: 0, scope: 0 };
    return encodeInet(l, this.domain);
  }

  peerName(): Buffer | number {
    if (this.remote === null || (this.type === SOCK_STREAM && this.state !== SockState.Connected)) return -E.ENOTCONN;
    return encodeInet(this.remote, this.domain);
  }

  protected dgramTarget(_t: Task | null, to: Buffer | null): SocketFile | number {
    let dest: InetAddr;
    if (to === null || to.length === 0) {
      if (this.remote === null) return -E.EDESTADDRREQ;
      dest = this.remote;
    } else {
      const a = this.decode(to, false);
      if (typeof a === 'number') return a;
      const ip = this.route(a);
      if (typeof ip === 'number') return ip;
      dest = { ...a, ip };
    }
    if (dest.port === 0) return -E.EINVAL;
    const r = this.autobind(dest.ip);
    if (r < 0) return r;
    this.pendingDest = dest;
    // The receiver may be gone; deliverDgram decides what that means (a placeholder target).
    return this.findBound(dest.ip, dest.port, (s) => s.acceptsFrom(this, dest.ip)) ?? this;
  }
  private pendingDest: InetAddr | null = null;

  /** A connected UDP socket only takes datagrams from its peer. */
  private acceptsFrom(src: InetSocket, _dstIp: Buffer): boolean {
    if (this.remote === null) return true;
    const l = src.local!;
    return this.remote.port === l.port && (ipIsAny(this.remote.ip) || this.remote.ip.equals(this.sourceIpFor(src)));
  }
  private sourceIpFor(src: InetSocket): Buffer {
    const l = src.local!;
    return ipIsAny(l.ip) ? (isV4Mapped(src.pendingDest?.ip ?? l.ip) ? V4_LOOPBACK : V6_LOOPBACK) : l.ip;
  }

  protected deliverDgram(target: SocketFile, req: SendRequest): number {
    const len = req.data.length;
    const dest = this.pendingDest!;
    // IP-level cmsgs of this send (IP_TTL, IP_TOS, IP_PKTINFO, IPV6_*): checked as Linux; lo is ifindex 1.
    const c = stackSendControl(this.domain, req.ipCtl);
    if (typeof c === 'number') return c;
    if (c !== null && c.ifindex !== 0 && c.ifindex !== 1) return -E.ENODEV;
    if (c?.src != null && !ipIsLoopback(c.src)) return -E.EINVAL;
    const v4dst = isV4Mapped(dest.ip);
    const max = isV4Mapped(dest.ip) ? 65507 : 65527;
    if (len > max) return -E.EMSGSIZE;
    if (target === this && !(this.local!.port === dest.port && InetSocket.covers(this, dest.ip))) {
      // Port unreachable: a connected socket learns ECONNREFUSED on its next call.
      if (this.remote !== null) this.err = E.ECONNREFUSED;
      return len;
    }
    // A full receive buffer drops the datagram, as UDP does.
    if (target.rq.bytes + len > target.rcvbuf) return len;
    if (target instanceof InetSocket && target.dropsCoverage(this, len)) return len;
    const from: InetAddr = { family: this.domain, ip: this.sourceIpFor(this), port: this.local!.port, flowinfo: 0, scope: 0 };
    this.deliver(target, req.data, req, encodeInet(from, target.domain));
    const q = target.rq.packets;
    const ttl = c?.ttl ?? this.intOpts.get(v4dst ? '0:2' : '41:16') ?? 64;
    const tos = c?.tos ?? this.intOpts.get(v4dst ? '0:1' : '41:67') ?? 0;
    q[q.length - 1].info = { ifindex: 1, dst: dest.ip, ttl, tos };
    return len;
  }

  // ---- TCP as Linux shows it (the fast path has no segments, but the same states) ----

  protected override get notConnectedSendErr(): number {
    return this.type === SOCK_STREAM ? -E.EPIPE : -E.ENOTCONN;
  }

  protected override resetOnClose(): boolean {
    return this.type === SOCK_STREAM && this.linger[0] !== 0 && this.linger[1] === 0;
  }

  override peerClosed(unread: boolean): void {
    super.peerClosed(unread);
    if (unread && this.type === SOCK_STREAM) this.reset = true;
  }

  // ---------------------------------------------------------------- urgent data
  // TCP urgent data on the fast path, as the stack has it (stack/tcp/urgent.ts): positions
  // are byte counts of the stream received (rxTotal), so the mark needs no segments.

  /** Bytes ever queued to us. */
  rxTotal = 0;
  /** The urgent byte's position, and 0 none / 1 pending / 2 taken by recv(MSG_OOB). */
  private urgPos = 0;
  private urgState = 0;

  private get oobInline(): boolean {
    return (this.intOpts.get('1:10') ?? 0) !== 0; // SO_OOBINLINE
  }
  /** The position the next read takes (Linux's copied_seq). */
  private get readPos(): number {
    return this.rxTotal - this.rq.bytes;
  }
  private get urgAtHead(): boolean {
    return this.urgState !== 0 && !this.oobInline && this.urgPos === this.readPos && this.rq.bytes > 0;
  }

  // ---------------------------------------------------------------- tcp_info (tcp-info.ts FastTcp)
  /** Bytes ever queued to the peer. */
  private txTotal = 0;
  /** This end connected (not accepted). */
  activeOpen = false;

  get tcpState(): number {
    return this.state === SockState.Connected ? TcpState.ESTABLISHED : this.state === SockState.Listening ? TcpState.LISTEN : TcpState.CLOSED;
  }
  get v4Path(): boolean {
    return this.domain === AF_INET || (this.local !== null && isV4Mapped(this.local.ip));
  }
  /** What SIOCOUTQ reports: the bytes the peer's full buffer holds beyond its size. */
  private get unacked(): number {
    const p = this.peer;
    return p !== null && this.state === SockState.Connected && !this.peerGone ? Math.max(0, p.rq.bytes - p.rcvbuf) : 0;
  }
  get bytesAcked(): number {
    return this.txTotal - this.unacked;
  }
  get bytesReceived(): number {
    return this.rxTotal;
  }

  protected override deliver(target: SocketFile, data: Buffer, req: SendRequest, from: Buffer | null): void {
    if (target instanceof InetSocket) target.rxTotal += data.length;
    if (this.type === SOCK_STREAM) this.txTotal += data.length;
    super.deliver(target, data, req, from);
  }

  /** The last byte queued to us was sent with MSG_OOB (tcp_check_urg: a newer mark replaces an older). */
  private markUrgent(): void {
    const ptr = this.rxTotal - 1;
    if (this.urgState !== 0 && ptr <= this.urgPos) return;
    if (this.urgAtHead) this.skipUrgent();
    this.urgPos = ptr;
    this.urgState = 1;
    sendSigurg(this);
    this.waitQueue.notify(POLLIN | POLLRDNORM | POLLPRI);
  }

  private skipUrgent(): void {
    this.rq.readStream(Buffer.alloc(1), false, emptyMeta());
    this.afterConsume();
  }

  /** Before a read: at most up to the mark; the urgent byte at the head dropped (peek: skipped). */
  private urgLimit(peek: boolean): { max: number; skip: number } {
    if (this.urgState === 0) return NO_LIMIT;
    const off = this.urgPos - this.readPos;
    if (off < 0) {
      this.urgState = 0;
      return NO_LIMIT;
    }
    if (off > 0) return { max: off, skip: 0 };
    if (this.oobInline || this.rq.bytes === 0) return NO_LIMIT;
    if (peek) return { max: Infinity, skip: 1 };
    this.skipUrgent();
    this.urgState = 0;
    return NO_LIMIT;
  }

  private afterUrgRead(): void {
    if (this.urgState !== 0 && this.readPos > this.urgPos) this.urgState = 0;
  }

  /** recv(MSG_OOB) (tcp_recv_urg): never waits. */
  private recvOob(dst: Uint8Array, flags: number, meta: RecvMeta): number {
    if (this.state === SockState.Listening) return -E.ENOTCONN;
    if (this.oobInline || this.urgState !== 1 || this.urgPos < this.readPos) return -E.EINVAL;
    if (dst.length > 0) {
      const head = Buffer.alloc(this.urgPos - this.readPos + 1);
      this.rq.readStream(head, true, emptyMeta());
      dst[0] = head[head.length - 1];
    }
    if ((flags & MSG_PEEK) === 0) this.urgState = 2;
    meta.msgFlags |= MSG_OOB | (dst.length === 0 ? MSG_TRUNC : 0);
    meta.full = dst.length > 0 ? 1 : 0;
    return meta.full;
  }

  override get passesOobFlags(): boolean {
    return this.type === SOCK_STREAM;
  }

  override readTo(max: number, put: (b: Uint8Array) => boolean, into: RecvMeta | null = null): number {
    if (this.urgState === 0) return super.readTo(max, put, into);
    const n = super.readTo(Math.min(max, this.urgLimit(false).max), put, into);
    if (n > 0) this.afterUrgRead();
    return n;
  }

  override available(): number {
    const n = super.available();
    if (this.type !== SOCK_STREAM || this.urgState === 0 || this.oobInline || this.urgPos < this.readPos || n < 0) return n;
    return this.urgPos - this.readPos;
  }

  override ioctl(t: Task, cmd: number, arg: number): number {
    const o = ownerIoctl(this, t, cmd, arg);
    if (o !== null) return o;
    if (cmd === SIOCOUTQ && this.type === SOCK_STREAM) {
      // Unacknowledged or unsent (Linux): what the peer's receive buffer would not hold;
      // loopback acknowledges the rest at once.
      return t.mem.writeI32(arg, this.unacked) ? 0 : -E.EFAULT;
    }
    if (cmd === SIOCATMARK && this.type === SOCK_STREAM) {
      if (this.state === SockState.Listening) return -E.EINVAL;
      return t.mem.writeI32(arg, this.urgState !== 0 && this.urgPos === this.readPos ? 1 : 0) ? 0 : -E.EFAULT;
    }
    return super.ioctl(t, cmd, arg);
  }

  override send(t: Task | null, req: SendRequest): number {
    if (this.type === SOCK_STREAM && req.flags & MSG_OOB && this.state === SockState.Connected && !this.peerGone) {
      const r = super.send(t, req);
      if (r > 0 && this.peer instanceof InetSocket) this.peer.markUrgent();
      return r;
    }
    if (this.type === SOCK_STREAM && this.state === SockState.Connected && this.peerGone && !this.reset && this.err === 0 && !this.sndShut) {
      // Data to a peer that closed: Linux sends it, the peer answers RST, and the next write fails with EPIPE.
      this.reset = true;
      this.err = E.EPIPE;
      this.waitQueue.notify(POLLERR | POLLHUP | POLLIN | POLLOUT);
      return req.data.length;
    }
    return super.send(t, req);
  }

  override recv(dst: Uint8Array, flags: number, meta: RecvMeta): number {
    if (this.type === SOCK_STREAM && flags & (MSG_OOB | MSG_ERRQUEUE)) {
      return flags & MSG_ERRQUEUE ? -E.EAGAIN : this.recvOob(dst, flags, meta);
    }
    if (this.type === SOCK_STREAM && this.urgState !== 0) {
      const peek = (flags & MSG_PEEK) !== 0;
      const lim = this.urgLimit(peek);
      if (lim.skip > 0) {
        // A peek at the mark steps over the urgent byte.
        const tmp = Buffer.alloc(dst.length + 1);
        const n = super.recv(tmp, flags, meta);
        if (n <= 1) return n <= 0 ? n : this.rcvShut ? 0 : -E.EAGAIN;
        dst.set(tmp.subarray(1, n));
        meta.full = n - 1;
        return n - 1;
      }
      const n = this.recvPlain(lim.max < dst.length ? dst.subarray(0, lim.max) : dst, flags, meta);
      if (n > 0 && !peek) this.afterUrgRead();
      return n;
    }
    return this.recvPlain(dst, flags, meta);
  }

  private recvPlain(dst: Uint8Array, flags: number, meta: RecvMeta): number {
    if (this.type === SOCK_STREAM && (flags & (MSG_TRUNC | MSG_PEEK)) === MSG_TRUNC) {
      // TCP MSG_TRUNC discards the bytes instead of copying them.
      const n = super.recv(Buffer.allocUnsafe(dst.length), flags & ~MSG_TRUNC, meta);
      (meta as RecvMeta & { discard?: boolean }).discard = true;
      return n;
    }
    return super.recv(dst, flags, meta);
  }

  /** As Linux's tcp_poll: a closed socket (never connected, refused, reset) is IN|OUT|HUP|RDHUP. */
  override readiness(): number {
    if (this.type !== SOCK_STREAM || this.state === SockState.Listening) return super.readiness();
    let m = this.err !== 0 ? POLLERR : 0;
    if (this.state === SockState.Unconnected && this.unshut) return m | POLLOUT | POLLWRNORM | POLLHUP;
    if (this.state !== SockState.Connected || this.reset) return m | POLLIN | POLLRDNORM | POLLRDHUP | POLLOUT | POLLWRNORM | POLLHUP;
    if (this.rcvShut) m |= POLLIN | POLLRDNORM | POLLRDHUP;
    if (this.rcvShut && this.sndShut) m |= POLLHUP;
    if (this.rq.bytes > (this.urgAtHead ? 1 : 0)) m |= POLLIN | POLLRDNORM;
    if (this.urgState === 1 && this.urgPos >= this.readPos) m |= POLLPRI;
    if (this.sndShut || this.writableNow()) m |= POLLOUT | POLLWRNORM;
    return m;
  }

  protected override unbind(): void {
    serverEnds.delete(this);
    if (this.local === null) return;
    const list = this.table.get(this.local.port);
    if (list === undefined) return;
    const i = list.indexOf(this);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.table.delete(this.local.port);
  }
}

/** Every bound TCP (tcp=true) or UDP socket of the fast path and every server end of a connection, for /proc/net. */
export function listInet(tcp: boolean): InetSocket[] {
  const out: InetSocket[] = [];
  for (const l of (tcp ? tables.tcp : tables.udp).values()) out.push(...l);
  if (tcp) out.push(...serverEnds);
  return out;
}

export const INET_PROTOCOLS = { tcp: IPPROTO_TCP, udp: IPPROTO_UDP };
