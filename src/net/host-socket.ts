/**
 * Network mode "host": AF_INET/AF_INET6 sockets carried out on host sockets. The host
 * socket is made by the socket broker (native/net_host.cc, a capability-less helper
 * outside the Sentry's seccomp filter, which lets the Sentry create AF_UNIX sockets
 * only) and held by the Sentry, nonblocking; the guest holds a Sentry fd to this
 * HostSocket, never the host fd. Blocking is the Sentry's: a call that would block
 * returns -EAGAIN after arming the host poller, and the task sleeps on the waitQueue,
 * woken by the host's edges (HostEdges below).
 * --allow-net/--deny-net are checked on connect and on every sendto destination
 * (loopback included: in this mode it is the host's).
 */
import { netKeyOf } from './guest-netns';
import * as E from '../abi/errno';
import type { Task } from '../kernel/task';
import { POLLIN, POLLOUT, POLLPRI, POLLRDHUP, POLLRDNORM } from '../abi/fs';
import {
  AF_INET, AF_INET6, AF_UNSPEC, SOCK_STREAM, SOCK_RAW, MSG_OOB, MSG_PEEK, MSG_TRUNC, MSG_DONTROUTE, MSG_EOR, MSG_MORE,
  MSG_CTRUNC, MSG_ERRQUEUE, SIOCINQ, SIOCOUTQ, SOL_SOCKET,
} from '../abi/socket';
import { hn, edges, brokerSocket } from './host-io';
import { hostSendControl } from './send-cmsg';
import { decodeInet } from './sockaddr';
import { SocketFile, SocketInode, SockState, ownerIoctl, type SendRequest } from './socket-file';
import type { RecvMeta } from './packet';
import type { IpControl } from './cmsg';
import { ifreqIoctlFor } from './ifreq';
import { viewSourceOf } from './netns';
import { policyOf, type NetPolicy } from './policy';
import { MAP_PRIVATE, MAP_TYPE, PROT_WRITE } from '../mm/vma';

// ------------------------------------------------------------------ options

/** Options passed to the host socket, by level: the ones programs use, none that reaches
 * kernel attack surface (BPF filters, ULPs, TCP repair, MD5) or needs a capability. */
const PASS: Record<number, Set<number>> = {
  // SO_DEBUG excluded; REUSEADDR 2, TYPE 3, ERROR 4, DONTROUTE 5, BROADCAST 6, SNDBUF 7, RCVBUF 8,
  // KEEPALIVE 9, OOBINLINE 10, NO_CHECK 11, PRIORITY 12, LINGER 13, REUSEPORT 15, RCVLOWAT 18,
  // SNDLOWAT 19, TIMESTAMP 29, ACCEPTCONN 30, TIMESTAMPNS 35, PROTOCOL 38, DOMAIN 39, PEEK_OFF 42,
  // INCOMING_CPU 49, COOKIE 57.
  [SOL_SOCKET]: new Set([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 18, 19, 29, 30, 35, 38, 39, 42, 49, 57]),
  // TCP: NODELAY..WINDOW_CLAMP 1-10, INFO 11, QUICKACK 12, CONGESTION 13, USER_TIMEOUT 18,
  // FASTOPEN 23, NOTSENT_LOWAT 25, FASTOPEN_CONNECT 30.
  6: new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 18, 23, 25, 30]),
  // IP: TOS 1, TTL 2, PKTINFO 8, MTU_DISCOVER 10, RECVERR 11, RECVTTL 12, RECVTOS 13, MTU 14,
  // FREEBIND 15, RECVORIGDSTADDR 20, BIND_ADDRESS_NO_PORT 24, MULTICAST_IF/TTL/LOOP 32-34,
  // ADD/DROP_MEMBERSHIP 35/36.
  0: new Set([1, 2, 8, 10, 11, 12, 13, 14, 15, 20, 24, 32, 33, 34, 35, 36]),
  // IPv6: UNICAST_HOPS 16, MULTICAST_IF/HOPS/LOOP 17-19, JOIN/LEAVE_GROUP 20/21, MTU_DISCOVER 23,
  // MTU 24, RECVERR 25, V6ONLY 26, RECVPKTINFO 49, PKTINFO 50, RECVHOPLIMIT 51, HOPLIMIT 52,
  // RECVTCLASS 66, TCLASS 67.
  41: new Set([16, 17, 18, 19, 20, 21, 23, 24, 25, 26, 49, 50, 51, 52, 66, 67]),
  // UDP_CORK, UDP_SEGMENT 103 (GSO), UDP_GRO 104; ICMPV6_FILTER.
  17: new Set([1, 103, 104]),
  58: new Set([1]),
};
/** Ancillary data handed back to the guest from a host recvmsg. */
const CMSG_LEVELS = new Set([0, 41, 17]); // IP, IPv6, UDP (UDP_GRO: the segment size)
const CMSG_SOCKET_TYPES = new Set([29, 35]); // SCM_TIMESTAMP, SCM_TIMESTAMPNS

const SEND_FLAGS = MSG_OOB | MSG_DONTROUTE | MSG_EOR | MSG_MORE | 0x800; /* MSG_CONFIRM */
const RECV_FLAGS = MSG_OOB | MSG_PEEK | MSG_TRUNC | MSG_ERRQUEUE;

// Scratch for the native calls (the Sentry runs one call at a time).
const nameBuf = Buffer.alloc(128);
const ctlBuf = Buffer.alloc(1024);
const outI32 = new Int32Array(3);
const optBuf = Buffer.alloc(512);
// Bytes a one-call receive took off the host socket that guest memory then refused
// (netSockRecvToGuest's spill): kept as the socket's `pending`, read before the host's.
const spillBuf = Buffer.allocUnsafe(256 << 10);
const spilled = new Int32Array(1);

export class HostSocket extends SocketFile {
  private closed = false;
  /** A blocking connect() is under way (its result is read from SO_ERROR). */
  private connecting = false;
  /** Received bytes the guest has not had yet, ahead of the host socket's (spillBuf). */
  private pending: Buffer | null = null;
  policy: NetPolicy | null = null;

  constructor(
    readonly hostFd: number,
    domain: number,
    type: number,
    protocol: number,
    inode: SocketInode,
    flags: number,
  ) {
    super(domain, type, protocol, inode, flags);
    const q = this.waitQueue;
    edges.add(hostFd, { edge: (ev) => q.notify(ev), waiting: () => q.size > 0, always: false });
  }

  static create(t: Task, domain: number, type: number, protocol: number, flags: number): HostSocket | number {
    if (type === SOCK_RAW) return -E.EPERM; // the broker holds no CAP_NET_RAW
    const fd = brokerSocket(t.kernel, domain, type, protocol);
    if (fd < 0) return fd;
    const s = new HostSocket(fd, domain, type, protocol, new SocketInode(t.creds.euid, t.creds.egid), flags);
    s.policy = policyOf(t.kernel);
    return s;
  }

  /** The guest's sockaddr as the host gets it: inet families only (the host checks the rest). */
  private addr(b: Buffer): Buffer | number {
    if (b.length < 2) return -E.EINVAL;
    const fam = b.readUInt16LE(0);
    if (fam !== AF_INET && fam !== AF_INET6 && fam !== AF_UNSPEC) return this.domain === AF_INET6 && b.length < 24 ? -E.EINVAL : -E.EAFNOSUPPORT;
    return Buffer.from(b);
  }

  /** --allow-net/--deny-net on a destination; true when it may be reached. */
  private permitted(b: Buffer): boolean {
    if (this.policy === null) return true;
    const a = decodeInet(b);
    if (typeof a === 'number' || (a.family !== AF_INET && a.family !== AF_INET6)) return true; // the host refuses it
    return this.policy.permits(a.ip, a.port, true);
  }

  private wouldBlock(events: number): number {
    this.blockQueue = this.waitQueue;
    this.armWait(events);
    return -E.EAGAIN;
  }

  // ------------------------------------------------------------------ naming and connections

  bind(_t: Task, b: Buffer): number {
    const a = this.addr(b);
    if (typeof a === 'number') return a;
    return hn().netSockBind(this.hostFd, a);
  }

  connect(_t: Task, b: Buffer, nonblock: boolean): number {
    const n = hn();
    if (b.length >= 2 && b.readUInt16LE(0) === AF_UNSPEC) {
      // A disconnect (the host's tcp_disconnect / udp_disconnect): unconnected again.
      const r = n.netSockConnect(this.hostFd, Buffer.from(b));
      if (r === 0) {
        this.connecting = false;
        this.state = SockState.Unconnected;
      }
      return r;
    }
    if (this.connecting) {
      const rev = n.netSockPoll(this.hostFd, POLLOUT);
      if (rev === 0) return this.wouldBlock(POLLOUT);
      this.connecting = false;
      const e = this.soError();
      if (e === 0) {
        this.state = SockState.Connected;
        // The host socket, too, learns of the completion only from a connect call (its
        // SS_CONNECTING → SS_CONNECTED); else a later connect would succeed, not EISCONN.
        const a = this.addr(b);
        if (typeof a !== 'number') n.netSockConnect(this.hostFd, a);
      }
      return -e;
    }
    const a = this.addr(b);
    if (typeof a === 'number') return a;
    if (!this.permitted(a)) return -E.ECONNREFUSED;
    const r = n.netSockConnect(this.hostFd, a);
    if (r === -E.EINPROGRESS && this.type === SOCK_STREAM) {
      if (nonblock) return r;
      this.connecting = true;
      return this.wouldBlock(POLLOUT);
    }
    if (r === 0) this.state = SockState.Connected;
    return r;
  }

  private soError(): number {
    const r = hn().netSockGetOpt(this.hostFd, SOL_SOCKET, 4, optBuf);
    return r >= 4 ? optBuf.readInt32LE(0) : 0;
  }

  override listen(_t: Task, backlog: number): number {
    if (this.type !== SOCK_STREAM) return -E.EOPNOTSUPP;
    const r = hn().netSockListen(this.hostFd, backlog);
    if (r === 0) this.state = SockState.Listening;
    return r;
  }

  override accept(): SocketFile | number {
    const lenOut = new Int32Array(1);
    const fd = hn().netSockAccept(this.hostFd, nameBuf, lenOut);
    if (fd === -E.EAGAIN) return this.wouldBlock(POLLIN);
    if (fd < 0) return fd;
    const s = new HostSocket(fd, this.domain, this.type, this.protocol, new SocketInode(this.inode.uid, this.inode.gid), 0);
    s.policy = this.policy;
    s.state = SockState.Connected;
    return s;
  }

  sockName(): Buffer {
    const r = hn().netSockName(this.hostFd, false, nameBuf);
    return r < 0 ? Buffer.alloc(0) : Buffer.from(nameBuf.subarray(0, r));
  }

  peerName(): Buffer | number {
    const r = hn().netSockName(this.hostFd, true, nameBuf);
    return r < 0 ? r : Buffer.from(nameBuf.subarray(0, r));
  }

  override shutdown(how: number): number {
    return hn().netSockShutdown(this.hostFd, how);
  }

  // ------------------------------------------------------------------ data

  /** The bytes go to the host socket during the call. */
  override get sendCopies(): boolean {
    return true;
  }

  override send(_t: Task | null, req: SendRequest): number {
    let to: Buffer | null = null;
    if (req.to !== null && req.to.length > 0) {
      const a = this.addr(req.to);
      if (typeof a === 'number') return a;
      if (!this.permitted(a)) return -E.ECONNREFUSED;
      to = a;
    }
    const ctl = hostSendControl(this.domain, req.ipCtl);
    if (typeof ctl === 'number') return ctl;
    const r = ctl === null
      ? hn().netSockSend(this.hostFd, req.data, 0, req.data.length, req.flags & SEND_FLAGS, to)
      : hn().netSockSend(this.hostFd, req.data, 0, req.data.length, req.flags & SEND_FLAGS, to, ctl);
    if (r === -E.EAGAIN) return this.wouldBlock(POLLOUT);
    return r;
  }

  override recv(dst: Uint8Array, flags: number, meta: RecvMeta): number {
    const stream = this.type === SOCK_STREAM;
    const f = flags & RECV_FLAGS;
    if (this.pending !== null && (f & (MSG_OOB | MSG_ERRQUEUE)) === 0) return this.recvPending(dst, f, meta);
    const r = hn().netSockRecv(this.hostFd, dst, 0, dst.length, f, nameBuf, ctlBuf, outI32);
    if (r === -E.EAGAIN) return this.wouldBlock(POLLIN | (flags & MSG_OOB ? POLLPRI : 0));
    if (r < 0) return r;
    meta.full = r;
    meta.msgFlags = outI32[2] & (MSG_TRUNC | MSG_CTRUNC | MSG_EOR | MSG_OOB | MSG_ERRQUEUE);
    if (!stream && outI32[0] > 0) meta.from = Buffer.from(nameBuf.subarray(0, Math.min(outI32[0], nameBuf.length)));
    if (outI32[1] > 0) meta.ipCtl = parseHostCmsgs(ctlBuf.subarray(0, outI32[1]));
    // TCP MSG_TRUNC discards the bytes on the host: nothing to copy out.
    if (stream && (f & MSG_TRUNC)) meta.discard = true;
    return r;
  }

  override readGuest(t: Task, addr: number, len: number): number | null {
    if (this.type !== SOCK_STREAM || this.closed || !t.mem.byPid) return null;
    if (!t.mem.inRange(addr, len)) return -E.EFAULT;
    const p = this.pending;
    if (p !== null) {
      const n = Math.min(len, p.length);
      if (!t.mem.write(addr, p, 0, n)) return -E.EFAULT;
      this.pending = n < p.length ? p.subarray(n) : null;
      return n;
    }
    spilled[0] = 0;
    const r = hn().netSockRecvToGuest(this.hostFd, t.mem.asPid, addr, len, writablePrivate(t, addr, len), spillBuf, spilled);
    if (spilled[0] > 0) {
      this.pending = Buffer.from(spillBuf.subarray(0, spilled[0]));
      this.waitQueue.notify(POLLIN | POLLRDNORM); // readable without a host edge
    }
    return r === -E.EAGAIN ? this.wouldBlock(POLLIN) : r;
  }

  /** recv() served from `pending` (a stream's: MSG_PEEK keeps them, MSG_TRUNC drops them uncopied). */
  private recvPending(dst: Uint8Array, f: number, meta: RecvMeta): number {
    const p = this.pending as Buffer;
    const n = Math.min(dst.length, p.length);
    if (f & MSG_TRUNC) meta.discard = true;
    else p.copy(dst, 0, 0, n);
    if ((f & MSG_PEEK) === 0) this.pending = n < p.length ? p.subarray(n) : null;
    meta.full = n;
    meta.msgFlags = 0;
    return n;
  }

  override writeGuest(t: Task, addr: number, len: number): number | null {
    if (this.type !== SOCK_STREAM || this.closed || !t.mem.byPid) return null;
    if (!t.mem.inRange(addr, len)) return -E.EFAULT;
    const r = hn().netSockSendFromGuest(this.hostFd, t.mem.asPid, addr, len);
    return r === -E.EAGAIN ? this.wouldBlock(POLLOUT) : r;
  }

  override get inBytes(): number {
    if (this.type !== SOCK_STREAM) return 0;
    const r = hn().netSockIoctlInt(this.hostFd, SIOCINQ);
    return (r > 0 ? r : 0) + (this.pending?.length ?? 0);
  }

  override get directStream(): boolean {
    return false;
  }

  override get passesOobFlags(): boolean {
    return true;
  }

  // ------------------------------------------------------------------ options

  /** get/setsockopt levels and names passed to the host socket; undefined: not passed. */
  hostGetOpt(level: number, name: number, len: number): Buffer | number | undefined {
    if (!PASS[level]?.has(name)) return undefined;
    const out = optBuf.subarray(0, Math.max(0, Math.min(len, optBuf.length)));
    const r = hn().netSockGetOpt(this.hostFd, level, name, out);
    return r < 0 ? r : Buffer.from(out.subarray(0, r));
  }

  hostSetOpt(level: number, name: number, v: Buffer): number | undefined {
    if (!PASS[level]?.has(name)) return undefined;
    return hn().netSockSetOpt(this.hostFd, level, name, v.subarray(0, 256));
  }

  // ------------------------------------------------------------------ FileDescription

  override readiness(): number {
    if (this.closed) return 0;
    const r = hn().netSockPoll(this.hostFd, POLLIN | POLLOUT | POLLPRI | POLLRDHUP);
    return (r < 0 ? 0 : r) | (this.pending !== null ? POLLIN | POLLRDNORM : 0);
  }

  override armWait(_mask: number): void {
    if (!this.closed) edges.arm();
  }

  override available(): number {
    const r = hn().netSockIoctlInt(this.hostFd, SIOCINQ);
    return r < 0 ? r : r + (this.pending?.length ?? 0);
  }

  override ioctl(t: Task, cmd: number, arg: number): number {
    const o = ownerIoctl(this, t, cmd, arg);
    if (o !== null) return o;
    if (cmd === SIOCINQ || cmd === SIOCOUTQ) {
      const r = cmd === SIOCINQ ? this.available() : hn().netSockIoctlInt(this.hostFd, cmd);
      if (r < 0) return r;
      return t.mem.writeI32(arg, r) ? 0 : -E.EFAULT;
    }
    const r = ifreqIoctlFor(viewSourceOf(netKeyOf(t)), t, cmd, arg);
    return r === null ? -E.ENOTTY : r;
  }

  protected dgramTarget(): SocketFile | number {
    return -E.EOPNOTSUPP; // send() is overridden: no in-Sentry target
  }
  protected deliverDgram(): number {
    return -E.EOPNOTSUPP;
  }

  protected override release(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = null;
    edges.del(this.hostFd);
    hn().netClose(this.hostFd);
    this.state = SockState.Disconnected;
    this.waitQueue.notify(0xffff);
  }
}

/** The host's ancillary data, IP-level and timestamps only (an inet socket carries no fds). */
function parseHostCmsgs(b: Buffer): IpControl {
  const out: IpControl = [];
  let off = 0;
  while (off + 16 <= b.length) {
    const len = Number(b.readBigUInt64LE(off));
    if (len < 16 || off + len > b.length) break;
    const level = b.readInt32LE(off + 8);
    const type = b.readInt32LE(off + 12);
    if (CMSG_LEVELS.has(level) || (level === SOL_SOCKET && CMSG_SOCKET_TYPES.has(type))) {
      out.push([level, type, Buffer.from(b.subarray(off + 16, off + len))]);
    }
    off += (len + 7) & ~7;
  }
  return out;
}

/**
 * Whether [addr, addr+len) is all writable private memory (heap, stack, .data/.bss,
 * mmap'd buffers): a write there fails only on a private file mapping's page past the
 * file's end (a guest munmap is served by this Sentry, never during the call), so the
 * host recv may consume the bytes before they are copied (netSockRecvToGuest's
 * `checked`); when a write fails the call still says EFAULT (or returns what it wrote),
 * and the bytes it could not write come back as `pending`, read first from then on.
 */
function writablePrivate(t: Task, addr: number, len: number): boolean {
  const end = addr + len;
  for (let p = addr; p < end;) {
    const v = t.mm.find(p);
    if (v === undefined || (v.prot & PROT_WRITE) === 0 || (v.flags & MAP_TYPE) !== MAP_PRIVATE) return false;
    p = v.end;
  }
  return true;
}
