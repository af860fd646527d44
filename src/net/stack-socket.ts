/**
 * AF_INET / AF_INET6 sockets over the TCP/IP stack (src/net/stack): the socket layer of
 * network modes "sandbox" (and, later, "user"). A StackSocket never knows which
 * interface its packets leave by: loopback, a veth (AF_PACKET) or a TAP device are all
 * links of the one stack. TCP sockets wrap a TcpEndpoint; UDP sockets are a binding in
 * the stack's UDP port table with a datagram queue (the SocketFile's RecvQueue), their
 * binding, connect and sends in stack-udp.ts.
 */
import * as E from '../abi/errno';
import type { Task } from '../kernel/task';
import { POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, POLLERR, POLLHUP, POLLRDHUP, POLLWRBAND, POLLPRI, O_NONBLOCK } from '../abi/fs';
import {
  AF_INET, AF_INET6, AF_UNSPEC, SOCK_STREAM, SHUT_RD, SHUT_WR, SHUT_RDWR, MSG_PEEK, MSG_TRUNC, MSG_OOB, MSG_ERRQUEUE, DEFAULT_BUF, SIOCINQ, SIOCOUTQ,
  SIOCATMARK,
} from '../abi/socket';
import { decodeInet, encodeInet, isV4Mapped, V4_ANY, V6_ANY, type InetAddr } from './sockaddr';
import { SocketFile, SocketInode, SockState, ownerIoctl, type SendRequest } from './socket-file';
import type { RecvMeta } from './packet';
import type { Stack } from './stack/stack';
import type { UdpEndpoint } from './stack/udp';
import { TcpEndpoint } from './stack/tcp/endpoint';
import { TcpState } from './stack/tcp/state';
import { output } from './stack/tcp/output';
import { sendSigurg } from '../kernel/fasync';
import { URG_NONE, atMark, inqBytes, readableBytes, recvUrgent, urgValid } from './stack/tcp/urgent';
import { isAny, isMulticast, eq } from './stack/addr';
import { ifreqIoctlFor } from './ifreq';
import type { PktInfo } from './recv-cmsg';
import { policyOf, type NetPolicy } from './policy';
import { bindUdp, connectUdp, sendUdp, V4_BCAST } from './stack-udp';
export { UDP_SEGMENT_KEY, UDP_GRO_KEY } from './stack-udp';

import { netCapable } from './guest-netns';
import { CAP_NET_BIND_SERVICE } from '../auth/capabilities';


export class StackSocket extends SocketFile {
  local: InetAddr | null = null;
  remote: InetAddr | null = null;
  v6only = false;
  nodelay = false;
  ep: TcpEndpoint | null = null;
  /** The UDP binding (stack-udp.ts). */
  udpEp: (UdpEndpoint & { owner: StackSocket }) | null = null;
  /** A connect() is under way (for EALREADY and the result of a blocking connect). */
  private connecting = false;
  /** Ancillary data the guest asked for (IP_PKTINFO / IPV6_RECVPKTINFO, IP_RECVTTL, IP_RECVTOS). */
  recvPktinfo = false;
  recvTtl = false;
  recvTos = false;

  constructor(
    readonly stack: Stack,
    domain: number,
    type: number,
    protocol: number,
    inode: SocketInode,
    flags: number,
    ep: TcpEndpoint | null = null,
  ) {
    super(domain, type, protocol, inode, flags);
    if (type === SOCK_STREAM) {
      this.ep = ep ?? new TcpEndpoint(stack, domain);
      this.ep.notify = (ev) => this.waitQueue.notify(ev);
      this.ep.onUrgent = () => sendSigurg(this);
      this.ep.ino = inode.ino;
      this.ep.uid = inode.uid;
      this.ep.owner = this;
    }
  }

  static create(t: Task, stack: Stack, domain: number, type: number, protocol: number, flags: number): StackSocket {
    const s = new StackSocket(stack, domain, type, protocol, new SocketInode(t.creds.euid, t.creds.egid), flags);
    s.policy = policyOf(t.kernel);
    return s;
  }
  /** --allow-net / --deny-net of the sandbox (null: none). */
  policy: NetPolicy | null = null;

  get tcp(): boolean {
    return this.type === SOCK_STREAM;
  }

  override get directStream(): boolean {
    return false;
  }

  /** TCP copies what it queues into its pooled blocks; UDP sends at once. */
  override get sendCopies(): boolean {
    return true;
  }

  decode(b: Buffer, forBind: boolean): InetAddr | number {
    const a = decodeInet(b);
    if (typeof a === 'number') return this.domain === AF_INET6 && b.length < 24 ? -E.EINVAL : a;
    if (this.domain === AF_INET) {
      if (a.family !== AF_INET) {
        if (forBind && a.family === AF_UNSPEC && isAny(a.ip)) return { ...a, family: AF_INET };
        return -E.EAFNOSUPPORT;
      }
      return a;
    }
    if (a.family !== AF_INET6) return forBind ? -E.EINVAL : -E.EAFNOSUPPORT;
    if (isV4Mapped(a.ip) && this.v6only) return forBind ? -E.EINVAL : -E.ENETUNREACH;
    return a;
  }

  anyAddr(): Buffer {
    return Buffer.from(this.domain === AF_INET ? V4_ANY : V6_ANY);
  }

  // ------------------------------------------------------------------ naming

  bind(t: Task, b: Buffer): number {
    const a = this.decode(b, true);
    if (typeof a === 'number') return a;
    if (this.local !== null) return -E.EINVAL;
    if (!isAny(a.ip) && !this.stack.isLocal(a.ip) && !(this.tcp ? false : isMulticast(a.ip) || eq(a.ip, V4_BCAST))) return -E.EADDRNOTAVAIL;
    if (a.port !== 0 && a.port < t.kernel.unprivilegedPortStart && !netCapable(t, CAP_NET_BIND_SERVICE)) return -E.EACCES;
    const r = this.doBind(a.ip, a.port);
    if (r === 0) {
      this.addrLocked = !isAny(a.ip);
      this.portLocked = a.port !== 0;
    }
    return r;
  }

  private doBind(ip: Buffer, port: number): number {
    if (this.tcp) {
      const ep = this.ep!;
      this.pushOptions();
      const r = ep.bind(ip, port);
      if (r < 0) return r;
      this.local = { family: this.domain, ip: ep.addr, port: ep.port, flowinfo: 0, scope: 0 };
      return 0;
    }
    return bindUdp(this, ip, port);
  }

  autobindUdp(): number {
    if (this.local !== null) return 0;
    return this.doBind(this.anyAddr(), 0);
  }

  sockName(): Buffer {
    if (this.tcp && this.ep!.bound) return encodeInet({ family: this.domain, ip: this.ep!.addr, port: this.ep!.port, flowinfo: 0, scope: 0 }, this.domain);
    const l = this.local ?? this.staleName ?? { family: this.domain, ip: this.anyAddr(), port: 0, flowinfo: 0, scope: 0 };
    return encodeInet(l, this.domain);
  }

  peerName(): Buffer | number {
    if (this.tcp) {
      const ep = this.ep!;
      const st = ep.state;
      if (st === TcpState.CLOSED || st === TcpState.LISTEN || st === TcpState.SYN_SENT || st === TcpState.SYN_RECV) return -E.ENOTCONN;
      return encodeInet({ family: this.domain, ip: ep.remote, port: ep.rport, flowinfo: 0, scope: 0 }, this.domain);
    }
    if (this.remote === null) return -E.ENOTCONN;
    return encodeInet(this.remote, this.domain);
  }

  // ------------------------------------------------------------------ connections

  protected override prepareListen(_t: Task): number {
    return 0;
  }
  // Datagrams go through sendUdp, not the in-Sentry transfer of SocketFile.
  protected dgramTarget(): SocketFile | number {
    return -E.EOPNOTSUPP;
  }
  protected deliverDgram(): number {
    return -E.EOPNOTSUPP;
  }

  override listen(t: Task, backlog: number): number {
    this.unshut = false;
    if (!this.tcp) return -E.EOPNOTSUPP;
    const ep = this.ep!;
    if (ep.state !== TcpState.CLOSED && ep.state !== TcpState.LISTEN) return -E.EINVAL;
    this.pushOptions();
    if (!ep.bound) {
      ep.addr = this.anyAddr();
    }
    const r = ep.listen(backlog);
    if (r < 0) return r;
    this.local = { family: this.domain, ip: ep.addr, port: ep.port, flowinfo: 0, scope: 0 };
    this.state = SockState.Listening;
    void t;
    return 0;
  }

  override accept(): SocketFile | number {
    if (!this.tcp || this.ep!.state !== TcpState.LISTEN) return -E.EINVAL;
    this.blockQueue = this.waitQueue;
    const c = this.ep!.accept();
    if (typeof c === 'number') return c;
    const s = new StackSocket(this.stack, this.domain, this.type, this.protocol, new SocketInode((this.inode as SocketInode).uid, (this.inode as SocketInode).gid), 0, c);
    s.local = { family: this.domain, ip: c.addr, port: c.port, flowinfo: 0, scope: 0 };
    s.remote = { family: this.domain, ip: c.remote, port: c.rport, flowinfo: 0, scope: 0 };
    s.state = SockState.Connected;
    s.nodelay = this.nodelay;
    s.keepAlive = this.keepAlive;
    s.sndbuf = this.sndbuf;
    s.rcvbuf = this.rcvbuf;
    s.linger = [...this.linger] as [number, number];
    for (const [k, v] of this.intOpts) s.intOpts.set(k, v);
    return s;
  }

  connect(t: Task, b: Buffer, nonblock: boolean): number {
    if (!this.tcp) return connectUdp(this, b);
    if (b.length >= 2 && b.readUInt16LE(0) === AF_UNSPEC) return this.disconnectTcp();
    const ep = this.ep!;
    const rerun = t.sysState !== undefined;
    if (this.connecting) {
      if (ep.state === TcpState.SYN_SENT || ep.state === TcpState.SYN_RECV) {
        if (nonblock || !rerun) return nonblock ? -E.EALREADY : this.waitConnect();
        return this.waitConnect();
      }
      this.connecting = false;
      if (ep.state === TcpState.CLOSED) {
        const e = ep.takeErr();
        this.state = SockState.Disconnected;
        return e !== 0 ? -e : -E.ECONNABORTED;
      }
      // The first connect() after the handshake completed reports success (Linux), later ones EISCONN.
      this.state = SockState.Connected;
      return 0;
    }
    if (ep.state === TcpState.LISTEN) return -E.EINVAL;
    if (ep.state !== TcpState.CLOSED) return -E.EISCONN;
    if (ep.failed) {
      const e = ep.takeErr();
      return e !== 0 ? -e : -E.EISCONN;
    }
    if (b.length >= 2 && b.readUInt16LE(0) === AF_UNSPEC) return 0;
    this.unshut = false;
    const a = this.decode(b, false);
    if (typeof a === 'number') return a;
    let ip = a.ip;
    if (isAny(ip)) ip = Buffer.from(isV4Mapped(ip) ? [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1] : [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    if (isMulticast(ip) || eq(ip, V4_BCAST)) return -E.ENETUNREACH;
    const pol = policyOf(t.kernel);
    if (pol !== null && !pol.permits(ip, a.port)) return -E.ECONNREFUSED;
    this.pushOptions();
    const r = ep.connect(ip, a.port);
    if (r < 0) return r;
    this.local = { family: this.domain, ip: ep.addr, port: ep.port, flowinfo: 0, scope: 0 };
    this.remote = { ...a, ip };
    this.connecting = true;
    if (nonblock) return -E.EINPROGRESS;
    return this.waitConnect();
  }

  /** bind(2) named an address / a port (Linux's SOCK_BINDADDR_LOCK / SOCK_BINDPORT_LOCK). */
  addrLocked = false;
  portLocked = false;
  /** What getsockname shows after a disconnect gave an implicit port back (Linux keeps inet_sport). */
  private staleName: InetAddr | null = null;
  /** Unconnected by a disconnect: no shutdown flags (Linux's sk_shutdown 0), so poll has no POLLIN. */
  private unshut = false;

  /** A new endpoint in place of one that is done with (a stopped listener, a disconnect). */
  private freshEndpoint(): TcpEndpoint {
    const ep = new TcpEndpoint(this.stack, this.domain);
    ep.notify = (ev) => this.waitQueue.notify(ev);
    ep.onUrgent = () => sendSigurg(this);
    ep.ino = this.inode.ino;
    ep.uid = this.inode.uid;
    ep.owner = this;
    this.ep = ep;
    return ep;
  }

  /**
   * connect(AF_UNSPEC), as Linux's tcp_disconnect: a synchronized connection is reset (the
   * peer reads ECONNRESET; ours is SO_ERROR), a listener stops (its pending connections
   * reset), and the socket is unconnected: an address or port bind(2) named stays bound.
   */
  private disconnectTcp(): number {
    const ep = this.ep!;
    const st = ep.state;
    if (st === TcpState.CLOSED && !ep.bound) return 0;
    const wasConn = st !== TcpState.CLOSED && st !== TcpState.LISTEN;
    const name = { family: this.domain, ip: this.addrLocked ? Buffer.from(ep.addr) : this.anyAddr(), port: ep.port, flowinfo: 0, scope: 0 };
    if (st === TcpState.LISTEN) ep.close();
    else if (wasConn) ep.abort(0);
    else ep.abortQuiet();
    ep.notify = () => {};
    ep.onUrgent = () => {};
    if (st !== TcpState.LISTEN) ep.close();
    const fresh = this.freshEndpoint();
    if (wasConn) fresh.err = E.ECONNRESET;
    this.connecting = false;
    this.remote = null;
    this.state = SockState.Unconnected;
    this.rcvShut = this.sndShut = false;
    this.unshut = true;
    this.staleName = null;
    if (this.portLocked) {
      this.pushOptions();
      if (fresh.bind(name.ip, name.port) < 0) this.staleName = name;
      this.local = { ...name, ip: fresh.addr, port: fresh.port };
    } else {
      this.local = null;
      if (this.addrLocked) {
        this.pushOptions();
        fresh.addr = Buffer.from(name.ip);
      }
      this.staleName = name;
    }
    this.waitQueue.notify(0xffff);
    return 0;
  }

  private waitConnect(): number {
    this.blockQueue = this.waitQueue;
    return -E.EAGAIN;
  }


  override shutdown(how: number): number {
    if (how !== SHUT_RD && how !== SHUT_WR && how !== SHUT_RDWR) return -E.EINVAL;
    if (!this.tcp) {
      if (this.remote === null) return -E.ENOTCONN;
      if (how !== SHUT_WR) this.rcvShut = true;
      if (how !== SHUT_RD) this.sndShut = true;
      this.waitQueue.notify(POLLIN | POLLOUT | POLLHUP);
      return 0;
    }
    const ep = this.ep!;
    if (ep.state === TcpState.LISTEN) {
      if (how === SHUT_WR) return -E.ENOTCONN;
      // Linux: shutting down a listener closes it; accept then fails with EINVAL.
      ep.close();
      this.freshEndpoint();
      this.state = SockState.Unconnected;
      this.rcvShut = true;
      this.waitQueue.notify(POLLIN | POLLOUT | POLLHUP);
      return 0;
    }
    if (ep.state === TcpState.CLOSED || ep.state === TcpState.SYN_SENT) {
      if (ep.state === TcpState.SYN_SENT) {
        ep.shutdownWrite();
        return 0;
      }
      return -E.ENOTCONN;
    }
    if (how !== SHUT_WR) {
      ep.rdShut = true;
      this.rcvShut = true;
    }
    if (how !== SHUT_RD) {
      this.sndShut = true;
      ep.shutdownWrite();
    }
    this.waitQueue.notify(POLLIN | POLLOUT | POLLHUP | POLLRDHUP);
    return 0;
  }

  // ------------------------------------------------------------------ data

  override send(t: Task | null, req: SendRequest): number {
    if (!this.tcp) return sendUdp(this, req);
    this.blockQueue = this.waitQueue;
    const ep = this.ep!;
    const st = ep.state;
    if (st === TcpState.CLOSED || st === TcpState.LISTEN) {
      if (ep.err !== 0) return -ep.takeErr();
      // Never connected, or the connection is over: EPIPE either way (Linux's sk_stream_wait_connect).
      return -E.EPIPE;
    }
    if (st === TcpState.SYN_SENT || st === TcpState.SYN_RECV) {
      if (req.nonblock) return -E.EAGAIN;
      return -E.EAGAIN;
    }
    if (this.sndShut || ep.finQueued) return -E.EPIPE;
    if (req.data.length === 0) return 0;
    void t;
    return req.flags & MSG_OOB ? ep.writeUrgent(req.data, req.nonblock) : ep.write(req.data, req.nonblock, false);
  }




  override recv(dst: Uint8Array, flags: number, meta: RecvMeta): number {
    this.blockQueue = this.waitQueue;
    if (!this.tcp) {
      if (this.rq.length === 0 && this.err !== 0) return -this.takeErr();
      if (this.rq.length === 0 && this.rcvShut) return 0;
      const first = this.rq.packets[0] as (import('./packet').Packet & { info?: PktInfo }) | undefined;
      const n = super.recv(dst, flags, meta);
      if (n >= 0 && first !== undefined) (meta as RecvMeta & { info?: PktInfo }).info = first.info;
      return n;
    }
    const ep = this.ep!;
    if (flags & MSG_ERRQUEUE) return -E.EAGAIN; // TCP queues no errors there (ip_recv_error)
    if (flags & MSG_OOB) return this.recvOob(ep, dst, flags, meta);
    const c = this.tcpRecvable(ep);
    if (c < 0) return c;
    const peek = (flags & MSG_PEEK) !== 0;
    if (flags & MSG_TRUNC && !peek) {
      // TCP MSG_TRUNC: the bytes are discarded, not copied (meta.discard tells the syscall layer).
      const n = ep.read(Buffer.allocUnsafe(dst.length), false);
      meta.full = n;
      (meta as RecvMeta & { discard?: boolean }).discard = true;
      return n;
    }
    const n = ep.read(dst, peek);
    if (n >= 0) meta.full = n;
    return n;
  }

  /** recv(MSG_OOB) of TCP (urgent.ts): the urgent byte; never waits. */
  private recvOob(ep: TcpEndpoint, dst: Uint8Array, flags: number, meta: RecvMeta): number {
    if (ep.state === TcpState.LISTEN) return -E.ENOTCONN;
    if (ep.state === TcpState.CLOSED && !ep.failed && !ep.rcvFin && this.state === SockState.Unconnected) return -E.ENOTCONN;
    const r = recvUrgent(ep, dst, (flags & MSG_PEEK) !== 0);
    if (r.n < 0) return r.n;
    if (r.n > 0 || r.truncated) meta.msgFlags |= MSG_OOB | (r.truncated ? MSG_TRUNC : 0);
    meta.full = r.n;
    return r.n;
  }

  override get passesOobFlags(): boolean {
    return this.tcp;
  }

  /** 0, or the errno a TCP receive gets in this state before any data. */
  private tcpRecvable(ep: TcpEndpoint): number {
    if (ep.state === TcpState.LISTEN) return -E.ENOTCONN;
    if (ep.state === TcpState.CLOSED && !ep.failed && !this.connecting && this.state === SockState.Unconnected) return -E.ENOTCONN;
    if (ep.state === TcpState.SYN_SENT || ep.state === TcpState.SYN_RECV) return -E.EAGAIN;
    return 0;
  }

  /** read(2) of TCP: from the receive queue straight into guest memory (what faults stays queued). */
  override readGuest(t: Task, addr: number, len: number): number | null {
    if (!this.tcp) return null;
    this.blockQueue = this.waitQueue;
    const ep = this.ep!;
    const c = this.tcpRecvable(ep);
    if (c < 0) return c;
    let done = 0;
    return ep.readTo(len, (b) => {
      if (!t.mem.write(addr + done, b)) return false;
      done += b.length;
      return true;
    });
  }

  /** write(2) of TCP: from guest memory straight into the send queue's blocks. */
  override writeGuest(t: Task, addr: number, len: number): number | null {
    if (!this.tcp) return null;
    this.blockQueue = this.waitQueue;
    const ep = this.ep!;
    const st = ep.state;
    if (st === TcpState.CLOSED || st === TcpState.LISTEN || st === TcpState.SYN_SENT || st === TcpState.SYN_RECV || this.sndShut || ep.finQueued || len === 0) {
      return null; // send() has the answer (errors, EAGAIN while connecting, 0)
    }
    let at = addr; // advanced by each fill (writeFrom fills block by block)
    return ep.writeFrom(len, (b, off, n) => {
      if (!t.mem.readInto(at, b, off, n)) return -E.EFAULT;
      at += n;
      return n;
    });
  }

  override get inBytes(): number {
    return this.tcp ? this.ep!.recvQ.bytes : this.rq.bytes;
  }

  override readiness(): number {
    if (!this.tcp) {
      let m = POLLOUT | POLLWRNORM | POLLWRBAND;
      if (this.err !== 0) m |= POLLERR;
      if (this.rq.length > 0) m |= POLLIN | POLLRDNORM;
      if (this.rcvShut) m |= POLLIN | POLLRDNORM | POLLRDHUP;
      if (this.rcvShut && this.sndShut) m |= POLLHUP;
      return m;
    }
    const ep = this.ep!;
    const st = ep.state;
    // As Linux's tcp_poll.
    if (st === TcpState.LISTEN) return ep.acceptQ.length > 0 ? POLLIN | POLLRDNORM : 0;
    let m = 0;
    if (ep.err !== 0) m |= POLLERR;
    if (st === TcpState.CLOSED && this.unshut) return m | POLLOUT | POLLWRNORM | POLLHUP;
    if (st === TcpState.CLOSED) return m | POLLIN | POLLRDNORM | POLLRDHUP | POLLOUT | POLLWRNORM | POLLHUP;
    const rcvShut = ep.rcvFin || ep.rdShut;
    const sndShut = ep.finQueued;
    if (rcvShut && sndShut) m |= POLLHUP;
    if (rcvShut) m |= POLLIN | POLLRDNORM | POLLRDHUP;
    if (st !== TcpState.SYN_SENT && st !== TcpState.SYN_RECV) {
      if (readableBytes(ep) > 0) m |= POLLIN | POLLRDNORM;
      if (ep.urgState !== URG_NONE && urgValid(ep)) m |= POLLPRI;
      if (sndShut || ep.writable) m |= POLLOUT | POLLWRNORM;
    }
    return m;
  }

  override available(): number {
    if (this.tcp) return this.ep!.state === TcpState.LISTEN ? -E.EINVAL : inqBytes(this.ep!);
    const p = this.rq.packets[0];
    return p === undefined ? 0 : p.data.length;
  }

  override takeErr(): number {
    if (this.tcp && this.ep!.err !== 0) return this.ep!.takeErr();
    return super.takeErr();
  }

  override ioctl(t: Task, cmd: number, arg: number): number {
    const o = ownerIoctl(this, t, cmd, arg);
    if (o !== null) return o;
    if (cmd === SIOCOUTQ) {
      const n = this.tcp ? this.ep!.sendQ.bytes : 0;
      return t.mem.writeI32(arg, n) ? 0 : -E.EFAULT;
    }
    if (cmd === SIOCINQ) {
      const n = this.available();
      if (n < 0) return n;
      return t.mem.writeI32(arg, n) ? 0 : -E.EFAULT;
    }
    if (cmd === SIOCATMARK && this.tcp) {
      if (this.ep!.state === TcpState.LISTEN) return -E.EINVAL;
      return t.mem.writeI32(arg, atMark(this.ep!) ? 1 : 0) ? 0 : -E.EFAULT;
    }
    const r = ifreqIoctlFor(this.stack, t, cmd, arg);
    return r === null ? -E.ENOTTY : r;
  }

  /** Copies the socket's options into the endpoint (after setsockopt, before bind/connect/listen). */
  pushOptions(): void {
    const ep = this.ep;
    if (ep === null) {
      if (this.udpEp) {
        this.udpEp.reuseAddr = this.reuseAddr;
        this.udpEp.reusePort = this.reusePort;
      }
      return;
    }
    ep.reuseAddr = this.reuseAddr;
    ep.reusePort = this.reusePort;
    ep.v6only = this.v6only;
    const wasNodelay = ep.nodelay;
    ep.nodelay = this.nodelay;
    const cork = (this.intOpts.get('6:3') ?? 0) !== 0;
    const uncorked = ep.cork && !cork;
    ep.cork = cork;
    const ka = this.keepAlive !== ep.keepalive;
    ep.keepalive = this.keepAlive;
    ep.keepIdle = this.intOpts.get('6:4') ?? 7200;
    ep.keepIntvl = this.intOpts.get('6:5') ?? 75;
    ep.keepCnt = this.intOpts.get('6:6') ?? 9;
    ep.userTimeout = this.intOpts.get('6:18') ?? 0;
    ep.userMss = this.intOpts.get('6:2') ?? 0;
    ep.oobInline = (this.intOpts.get('1:10') ?? 0) !== 0; // SO_OOBINLINE
    ep.ttl = this.intOpts.get(this.domain === AF_INET ? '0:2' : '41:16') ?? 64;
    ep.tos = this.intOpts.get(this.domain === AF_INET ? '0:1' : '41:67') ?? 0;
    if ((this.intOpts.get('6:12') ?? 1) !== 0 && this.intOpts.has('6:12')) {
      ep.quickAcks = 16;
      this.intOpts.delete('6:12');
    }
    ep.lingerZero = this.linger[0] !== 0 && this.linger[1] === 0;
    if (this.sndbuf !== DEFAULT_BUF) ep.sndLimit = this.sndbuf;
    if (this.rcvbuf !== DEFAULT_BUF) ep.rcvLimit = Math.max(this.rcvbuf >> 1, 2048);
    if (ka) ep.armKeepalive();
    if ((ep.nodelay && !wasNodelay) || uncorked) output(ep);
  }

  protected override release(): void {
    if (this.tcp) {
      this.pushOptions();
      this.ep!.close();
    } else if (this.udpEp !== null) {
      this.stack.udp.ports.unbind(this.udpEp);
      this.udpEp = null;
    }
    this.rq.clear();
    this.state = SockState.Disconnected;
    this.waitQueue.notify(0xffff);
  }
}

export function isNonblockFile(s: SocketFile): boolean {
  return (s.flags & O_NONBLOCK) !== 0;
}
