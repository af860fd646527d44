/**
 * Socket syscalls. Each handler decodes the guest's arguments (sockaddrs, msghdrs,
 * iovecs, control data) and calls the socket (src/net); blocking calls are retry loops
 * that keep progress in t.sysState and sleep on the socket's blockQueue (see
 * src/net/socket-file.ts), honouring SO_RCVTIMEO/SO_SNDTIMEO.
 */
import { netCapable, netKeyOf } from '../src/net/guest-netns';
import { CAP_NET_RAW } from '../src/auth/capabilities';
import * as E from '../src/abi/errno';
import { readIovec, totalLen, copySegs, type Seg } from './iovec';
import { userBuffer } from './user-args';
import { installFd, installPair, hasFreeFd } from './fd-install';
import { bindAddr, connectAddr, sendAddr } from './sockaddr-check';
import { readTimespecNs, stage } from './fs-common';
import type { Task } from '../src/kernel/task';
import { POLLIN, POLLOUT, POLLERR, POLLHUP, POLLRDNORM, POLLWRNORM, O_NONBLOCK } from '../src/abi/fs';
import * as C from '../src/abi/socket';
import { SocketFile, credsOf, isNonblock } from '../src/net/socket-file';
import { UnixSocket } from '../src/net/unix-socket';
import { InetSocket } from '../src/net/inet-socket';
import { StackSocket } from '../src/net/stack-socket';
import { ipControlFor } from '../src/net/recv-cmsg';
import { stackOf, networkModeOf } from '../src/net/netns';
import { HostSocket } from '../src/net/host-socket';
import { IcmpSocket } from '../src/net/icmp-socket';
import { AF_PACKET, PacketSocket } from '../src/net/packet-socket';
import { NetlinkSocket } from '../src/net/netlink-route';
import { DiagSocket, NETLINK_SOCK_DIAG } from '../src/net/netlink-diag';
import { parseControl, buildControl, releaseControl, type SendControl } from '../src/net/cmsg';
import { getOpt, setOpt } from '../src/net/sockopt';
import { emptyMeta, takeChunk, giveChunk, type RecvMeta } from '../src/net/packet';
import { BLOCK } from '../src/kernel/syscall-dispatch';

const EFAULT = -E.EFAULT;
const CHUNK = 1 << 20;
const SOCKADDR_MAX = 128;

// ------------------------------------------------------------------ helpers

function sockOf(t: Task, fd: number): SocketFile | number {
  const f = t.fdTable.get(fd | 0);
  if (f === undefined || f.isPath) return -E.EBADF;
  return f instanceof SocketFile ? f : -E.ENOTSOCK;
}

const install = installFd;

function readAddr(t: Task, addr: number, len: number): Buffer | number {
  len |= 0;
  if (len < 0 || len > SOCKADDR_MAX) return -E.EINVAL;
  if (len === 0) return Buffer.alloc(0);
  return t.mem.read(addr, len) ?? EFAULT;
}

/** Writes an address the way move_addr_to_user does: truncated to the buffer, full length reported. */
function writeAddr(t: Task, addr: number, lenPtr: number, a: Buffer | null): number {
  if (addr === 0 || lenPtr === 0) return 0;
  const have = t.mem.readI32(lenPtr);
  if (have === null) return EFAULT;
  if (have < 0) return -E.EINVAL;
  const b = a ?? Buffer.alloc(0);
  const n = Math.min(have, b.length);
  if (n > 0 && !t.mem.write(addr, b, 0, n)) return EFAULT;
  return t.mem.writeI32(lenPtr, b.length) ? 0 : EFAULT;
}

interface CallState {
  done: number;
  deadline: number;
}
function callState(t: Task, timeoNs: number): CallState {
  let s = t.sysState as CallState | undefined;
  if (s === undefined || typeof s.done !== 'number') {
    s = { done: 0, deadline: timeoNs > 0 ? t.kernel.nowNs() + timeoNs : Infinity };
    t.sysState = s;
  }
  return s;
}

/** Parks the task on the socket's chosen queue; a signal ends the call with `intr`. */
function sleep(t: Task, s: SocketFile, mask: number, st: CallState, timeoNs: number): number {
  // Linux: a socket with a timeout is never restarted after a signal (EINTR); partial progress is returned.
  t.intrResult = st.done > 0 ? st.done : timeoNs > 0 ? -E.EINTR : -512;
  t.waitOn(s.blockQueue, mask | POLLERR | POLLHUP);
  if (s.blockQueue !== s.waitQueue) t.waitOn(s.waitQueue, mask | POLLERR | POLLHUP);
  return t.block(st.deadline);
}

// ------------------------------------------------------------------ creation

export function socket(t: Task, domain: number, type: number, protocol: number): number {
  domain |= 0;
  type |= 0;
  protocol |= 0;
  const flags = type & (C.SOCK_NONBLOCK | C.SOCK_CLOEXEC);
  const base = type & ~(C.SOCK_NONBLOCK | C.SOCK_CLOEXEC);
  if (base & ~0xf) return -E.EINVAL;
  if (domain < 0 || domain >= 46) return -E.EAFNOSUPPORT;
  if (base < 0 || base >= 11) return -E.EINVAL;
  const s = create(t, domain, base, protocol, flags);
  if (typeof s === 'number') return s;
  return install(t, s, (flags & C.SOCK_CLOEXEC) !== 0);
}

function create(t: Task, domain: number, type: number, protocol: number, flags: number): SocketFile | number {
  const fl = flags & O_NONBLOCK;
  switch (domain) {
    case C.AF_UNIX:
      if (protocol !== 0 && protocol !== C.AF_UNIX) return -E.EPROTONOSUPPORT;
      if (type === C.SOCK_RAW) type = C.SOCK_DGRAM; // as Linux's unix_create
      if (type !== C.SOCK_STREAM && type !== C.SOCK_DGRAM && type !== C.SOCK_SEQPACKET) return -E.ESOCKTNOSUPPORT;
      return UnixSocket.create(t, type, fl);
    case C.AF_INET:
    case C.AF_INET6:
      if (networkModeOf(netKeyOf(t)) === 'host') return HostSocket.create(t, domain, type, protocol, fl);
      {
        const stack = stackOf(netKeyOf(t));
        const icmp = domain === C.AF_INET ? 1 : 58;
        if (stack !== null && (type === C.SOCK_RAW || (type === C.SOCK_DGRAM && protocol === icmp))) return IcmpSocket.create(t, stack, domain, type, protocol, fl);
      }
      if (type === C.SOCK_STREAM) {
        if (protocol !== 0 && protocol !== C.IPPROTO_TCP) return -E.EPROTONOSUPPORT;
      } else if (type === C.SOCK_DGRAM) {
        if (protocol === C.IPPROTO_UDPLITE) {
          // UDP-Lite on the loopback fast path (no stack, or a stack without it: not offered there).
          return stackOf(netKeyOf(t)) === null ? InetSocket.create(t, domain, type, protocol, fl) : -E.EPROTONOSUPPORT;
        }
        if (protocol !== 0 && protocol !== C.IPPROTO_UDP) return -E.EPROTONOSUPPORT;
      } else if (type === C.SOCK_RAW) {
        return !netCapable(t, CAP_NET_RAW) ? -E.EPERM : -E.EPROTONOSUPPORT;
      } else {
        return -E.ESOCKTNOSUPPORT;
      }
      {
        const stack = stackOf(netKeyOf(t));
        if (stack !== null) return StackSocket.create(t, stack, domain, type, protocol, fl);
      }
      return InetSocket.create(t, domain, type, protocol, fl);
    case AF_PACKET:
      return PacketSocket.create(t, networkModeOf(netKeyOf(t)) === 'host' ? null : stackOf(netKeyOf(t)), type, protocol, fl);
    case C.AF_NETLINK:
      if (type !== C.SOCK_RAW && type !== C.SOCK_DGRAM) return -E.ESOCKTNOSUPPORT;
      if (protocol === NETLINK_SOCK_DIAG) return DiagSocket.createDiag(t, type, protocol, fl);
      return NetlinkSocket.create(t, type, protocol, fl);
    default:
      return -E.EAFNOSUPPORT;
  }
}

export function socketpair(t: Task, domain: number, type: number, protocol: number, sv: number): number {
  domain |= 0;
  type |= 0;
  const flags = type & (C.SOCK_NONBLOCK | C.SOCK_CLOEXEC);
  const base = type & ~(C.SOCK_NONBLOCK | C.SOCK_CLOEXEC);
  if (base & ~0xf) return -E.EINVAL;
  if (domain < 0 || domain >= 46) return -E.EAFNOSUPPORT;
  if (domain === C.AF_INET || domain === C.AF_INET6) {
    const probe = create(t, domain, base, protocol | 0, 0);
    if (typeof probe === 'number') return probe;
    probe.decRef();
    return -E.EOPNOTSUPP;
  }
  if (domain !== C.AF_UNIX) return -E.EAFNOSUPPORT;
  if ((protocol | 0) !== 0 && (protocol | 0) !== C.AF_UNIX) return -E.EPROTONOSUPPORT;
  let ty = base === C.SOCK_RAW ? C.SOCK_DGRAM : base;
  if (ty !== C.SOCK_STREAM && ty !== C.SOCK_DGRAM && ty !== C.SOCK_SEQPACKET) return -E.ESOCKTNOSUPPORT;
  const [a, b] = UnixSocket.pair(t, ty, flags & O_NONBLOCK);
  const r = installPair(t, a, b, (flags & C.SOCK_CLOEXEC) !== 0, sv);
  if (r < 0) return r;
  ty = 0;
  return ty;
}

// ------------------------------------------------------------------ naming and connections

export function bind(t: Task, fd: number, addr: number, len: number): number {
  const s = sockOf(t, fd);
  if (typeof s === 'number') return s;
  const a = readAddr(t, addr, len);
  if (typeof a === 'number') return a;
  const b = bindAddr(s, a);
  return typeof b === 'number' ? b : s.bind(t, b);
}

export function listen(t: Task, fd: number, backlog: number): number {
  const s = sockOf(t, fd);
  if (typeof s === 'number') return s;
  return s.listen(t, backlog | 0);
}

export function connect(t: Task, fd: number, addr: number, len: number): number {
  const s = sockOf(t, fd);
  if (typeof s === 'number') return s;
  const raw = readAddr(t, addr, len);
  if (typeof raw === 'number') return raw;
  let a = connectAddr(s, raw);
  if (a === 'done' || typeof a === 'number') return a === 'done' ? 0 : a;
  const h = t.kernel.hooks;
  if (h === null) return connectTo(t, s, a);
  if (t.sysState === undefined) {
    const d = h.connect(t, a);
    if (typeof d !== 'number') a = Buffer.from(d);
    else if (d !== 0) {
      h.connected(t, s, a, d);
      return d;
    }
  }
  const r = connectTo(t, s, a);
  if (r !== BLOCK) h.connected(t, s, a, r);
  return r;
}

function connectTo(t: Task, s: SocketFile, a: Buffer): number {
  const nonblock = (s.flags & O_NONBLOCK) !== 0;
  const r = s.connect(t, a, nonblock);
  if (r === -E.EAGAIN && !nonblock) {
    const st = callState(t, s.sndTimeoNs);
    if (t.timedOut) return -E.EINPROGRESS;
    return sleep(t, s, POLLOUT | POLLIN, st, s.sndTimeoNs);
  }
  if (r !== BLOCK) t.sysState = undefined;
  return r;
}

export function accept(t: Task, fd: number, addr: number, lenPtr: number): number {
  return accept4(t, fd, addr, lenPtr, 0);
}

export function accept4(t: Task, fd: number, addr: number, lenPtr: number, flags: number): number {
  // Linux's order: the fd, the flags, then a free fd taken first, so with none free the
  // connection stays queued; only then is the file a socket.
  const f = t.fdTable.get(fd | 0);
  if (f === undefined || f.isPath) return -E.EBADF;
  if (flags & ~(C.SOCK_NONBLOCK | C.SOCK_CLOEXEC)) return -E.EINVAL;
  if (!hasFreeFd(t)) return -E.EMFILE;
  const s = sockOf(t, fd);
  if (typeof s === 'number') return s;
  if (!s.connectionOriented) return -E.EOPNOTSUPP;
  const n = s.accept();
  if (n === -E.EAGAIN) {
    if (s.rcvShut) return -E.EINVAL;
    if (s.flags & O_NONBLOCK) return -E.EAGAIN;
    const st = callState(t, s.rcvTimeoNs);
    if (t.timedOut) return -E.EAGAIN;
    return sleep(t, s, POLLIN | POLLRDNORM, st, s.rcvTimeoNs);
  }
  t.sysState = undefined;
  if (typeof n === 'number') return n;
  n.flags = (n.flags & ~O_NONBLOCK) | (flags & O_NONBLOCK);
  const peer = n.peerName();
  const nfd = install(t, n, (flags & C.SOCK_CLOEXEC) !== 0);
  if (nfd < 0) return nfd;
  // As do_accept: the address is written after the connection is taken; a bad length or
  // pointer fails the call and the connection goes with the new fd.
  const w = writeAddr(t, addr, lenPtr, typeof peer === 'number' ? null : peer);
  if (w < 0) t.fdTable.close(nfd);
  return w < 0 ? w : nfd;
}

export function getsockname(t: Task, fd: number, addr: number, lenPtr: number): number {
  const s = sockOf(t, fd);
  if (typeof s === 'number') return s;
  return writeAddrStrict(t, addr, lenPtr, s.sockName());
}

export function getpeername(t: Task, fd: number, addr: number, lenPtr: number): number {
  const s = sockOf(t, fd);
  if (typeof s === 'number') return s;
  const p = s.peerName();
  if (typeof p === 'number') return p;
  return writeAddrStrict(t, addr, lenPtr, p);
}

/** getsockname/getpeername: a NULL address with a nonzero length is EFAULT. */
function writeAddrStrict(t: Task, addr: number, lenPtr: number, a: Buffer): number {
  const have = t.mem.readI32(lenPtr);
  if (have === null) return EFAULT;
  if (have < 0) return -E.EINVAL;
  const n = Math.min(have, a.length);
  if (n > 0 && !t.mem.write(addr, a, 0, n)) return EFAULT;
  return t.mem.writeI32(lenPtr, a.length) ? 0 : EFAULT;
}

export function shutdown(t: Task, fd: number, how: number): number {
  const s = sockOf(t, fd);
  if (typeof s === 'number') return s;
  return s.shutdown(how | 0);
}

// ------------------------------------------------------------------ options

export function getsockopt(t: Task, fd: number, level: number, name: number, val: number, lenPtr: number): number {
  const s = sockOf(t, fd);
  if (typeof s === 'number') return s;
  const have = t.mem.readI32(lenPtr);
  if (have === null) return EFAULT;
  if (have < 0) return -E.EINVAL;
  const v = getOpt(s, level | 0, name | 0, have);
  if (typeof v === 'number') return v;
  const n = Math.min(have, v.length);
  if (n > 0 && !t.mem.write(val, v, 0, n)) return EFAULT;
  return t.mem.writeI32(lenPtr, n) ? 0 : EFAULT;
}

export function setsockopt(t: Task, fd: number, level: number, name: number, val: number, len: number): number {
  const s = sockOf(t, fd);
  if (typeof s === 'number') return s;
  len |= 0;
  if (len < 0) return -E.EINVAL;
  const b = len === 0 ? Buffer.alloc(0) : t.mem.read(val, Math.min(len, 4096));
  if (b === null) return EFAULT;
  return setOpt(t, s, level | 0, name | 0, b);
}

// ------------------------------------------------------------------ data transfer

/** One send of the bytes in segs (chunked for streams), with optional control data. */
function doSend(t: Task, s: SocketFile, segs: Seg[], flags: number, to: Buffer | null, ctl: Buffer | null): number {
  const nonblock = isNonblock(s, flags);
  const st = callState(t, nonblock ? 0 : s.sndTimeoNs);
  const total = totalLen(segs);
  let control: SendControl = { rights: null, creds: null };
  if (ctl !== null && ctl.length > 0 && st.done === 0) {
    const c = parseControl(t, s.domain, ctl);
    if (typeof c === 'number') return c;
    control = c;
  }
  const creds = control.creds ?? credsOf(t);
  const stream = s.type === C.SOCK_STREAM;
  // unix_dgram_sendmsg's EMSGSIZE comes before any copy: never stage a datagram that cannot go.
  if (!stream && s instanceof UnixSocket && total > s.sndbuf - 32) {
    releaseControl(control);
    return -E.EMSGSIZE;
  }
  // Unix and loopback streams without ancillary data: queued straight from guest memory.
  const direct = stream && s.directStream && control.rights === null && control.creds === null && (flags & ~(C.MSG_NOSIGNAL | C.MSG_DONTWAIT)) === 0;
  // Host-mode streams without ancillary data: straight from guest memory to the host socket.
  if (stream && segs.length === 1 && ctl === null && to === null && (flags & ~(C.MSG_NOSIGNAL | C.MSG_DONTWAIT)) === 0) {
    const r = sendGuest(t, s, segs[0], flags, st, nonblock);
    if (r !== null) return r;
  }
  for (;;) {
    const want = stream ? Math.min(total - st.done, CHUNK) : total;
    const data = direct ? takeChunk(want) : s.sendCopies ? stage(want).subarray(0, want) : Buffer.allocUnsafe(want);
    if (!copySegs(t, segs, st.done, data, want, false)) {
      if (direct) giveChunk(data);
      releaseControl(control);
      return st.done > 0 ? st.done : EFAULT;
    }
    const req = { data, flags, rights: control.rights, creds, to, nonblock, ipCtl: control.ip };
    const r = direct ? s.writeChunk(data, t, flags, nonblock) : s.send(t, req);
    control.rights = req.rights; // null once the packet took them
    if (r < 0) {
      releaseControl(control);
      if (r === -E.EAGAIN && !nonblock && !t.timedOut) return sleep(t, s, POLLOUT | POLLWRNORM, st, s.sndTimeoNs);
      // Only stream sockets raise SIGPIPE (unix seqpacket/dgram return EPIPE quietly, as Linux).
      if (r === -E.EPIPE && stream && !(flags & C.MSG_NOSIGNAL)) t.sendSignalSelf(13);
      return st.done > 0 ? st.done : r;
    }
    st.done += r;
    if (t.kernel.hooks !== null && r > 0) t.kernel.hooks.wrote(t, s, r);
    if (!stream || st.done >= total) break;
  }
  return st.done;
}

/** doSend through s.writeGuest until seg is sent (blocking) or the socket is full; null: not such a socket. */
function sendGuest(t: Task, s: SocketFile, seg: Seg, flags: number, st: CallState, nonblock: boolean): number | null {
  while (st.done < seg.len) {
    const r = s.writeGuest(t, seg.base + st.done, seg.len - st.done);
    if (r === null) return st.done > 0 ? st.done : null;
    if (r < 0) {
      if (r === -E.EAGAIN && !nonblock && !t.timedOut) return sleep(t, s, POLLOUT | POLLWRNORM, st, s.sndTimeoNs);
      if (r === -E.EPIPE && !(flags & C.MSG_NOSIGNAL)) t.sendSignalSelf(13);
      return st.done > 0 ? st.done : r;
    }
    st.done += r;
    if (t.kernel.hooks !== null && r > 0) t.kernel.hooks.wrote(t, s, r);
  }
  return st.done;
}

function finish(t: Task, r: number): number {
  if (r !== BLOCK) t.sysState = undefined;
  return r;
}

export function sendto(t: Task, fd: number, buf: number, len: number, flags: number, addr: number, alen: number): number {
  const s = sockOf(t, fd);
  if (typeof s === 'number') return s;
  let to: Buffer | null = null;
  if (addr !== 0) {
    const a = readAddr(t, addr, alen);
    if (typeof a === 'number') return a;
    const d = sendAddr(s, a);
    if (typeof d === 'number') return d;
    to = d;
  }
  const segs = userBuffer(buf, len);
  if (typeof segs === 'number') return segs;
  return finish(t, doSend(t, s, segs, flags | 0, connTo(s, to), null));
}

/** Connection-oriented sockets ignore a destination (Linux: EISCONN only for unconnected TCP...). */
function connTo(s: SocketFile, to: Buffer | null): Buffer | null {
  return s.connectionOriented ? null : to;
}

interface MsgHdr {
  name: number;
  namelen: number;
  iov: Seg[];
  control: number;
  controllen: number;
}
function readMsg(t: Task, addr: number): MsgHdr | number {
  const b = t.mem.read(addr, 56);
  if (b === null) return EFAULT;
  const iov = readIovec(t, Number(b.readBigUInt64LE(16)), Number(b.readBigUInt64LE(24)), -E.EMSGSIZE);
  if (typeof iov === 'number') return iov;
  return {
    name: Number(b.readBigUInt64LE(0)),
    namelen: b.readInt32LE(8),
    iov,
    control: Number(b.readBigUInt64LE(32)),
    controllen: Number(b.readBigUInt64LE(40)),
  };
}

function sendOne(t: Task, s: SocketFile, msgAddr: number, flags: number): number {
  const m = readMsg(t, msgAddr);
  if (typeof m === 'number') return m;
  let to: Buffer | null = null;
  if (m.name !== 0 && m.namelen !== 0) {
    // copy_msghdr_from_user: a negative length is EINVAL, a longer one is cut to the storage's.
    const a = readAddr(t, m.name, m.namelen < 0 ? m.namelen : Math.min(m.namelen, SOCKADDR_MAX));
    if (typeof a === 'number') return a;
    const d = sendAddr(s, a);
    if (typeof d === 'number') return d;
    to = d;
  }
  let ctl: Buffer | null = null;
  if (m.controllen > 0) {
    if (m.controllen > 0x7fffffff) return -E.ENOBUFS;
    ctl = t.mem.read(m.control, Math.min(m.controllen, 1 << 16));
    if (ctl === null) return EFAULT;
  }
  return doSend(t, s, m.iov, flags, connTo(s, to), ctl);
}

export function sendmsg(t: Task, fd: number, msg: number, flags: number): number {
  const s = sockOf(t, fd);
  if (typeof s === 'number') return s;
  return finish(t, sendOne(t, s, msg, flags | 0));
}

/** One receive into segs (MSG_WAITALL loops for streams); fills meta. */
function doRecv(t: Task, s: SocketFile, segs: Seg[], flags: number, meta: RecvMeta): number {
  if (flags & C.MSG_OOB && !s.passesOobFlags) return s.domain === C.AF_UNIX ? -E.EOPNOTSUPP : -E.EINVAL;
  if (flags & C.MSG_ERRQUEUE && !s.passesOobFlags) return -E.EAGAIN;
  // Urgent data and the error queue are never waited for (tcp_recv_urg, ip_recv_error: EAGAIN).
  const nonblock = isNonblock(s, flags) || (flags & (C.MSG_OOB | C.MSG_ERRQUEUE)) !== 0;
  const st = callState(t, nonblock ? 0 : s.rcvTimeoNs);
  const total = totalLen(segs);
  const stream = s.type === C.SOCK_STREAM;
  const waitAll = stream && (flags & (C.MSG_WAITALL | C.MSG_PEEK)) === C.MSG_WAITALL;
  if (stream && s.directStream && (flags & ~(C.MSG_DONTWAIT | C.MSG_WAITALL | C.MSG_CMSG_CLOEXEC)) === 0) {
    return recvDirect(t, s, segs, meta, st, total, nonblock, waitAll);
  }
  // Host-mode streams: from the host socket straight into guest memory.
  if (stream && segs.length === 1 && (flags & ~(C.MSG_DONTWAIT | C.MSG_CMSG_CLOEXEC)) === 0) {
    const r = s.readGuest(t, segs[0].base, segs[0].len);
    if (r !== null) return r === -E.EAGAIN && !nonblock && !t.timedOut ? sleep(t, s, POLLIN | POLLRDNORM, st, s.rcvTimeoNs) : r;
  }
  for (;;) {
    const room = stream ? Math.min(total - st.done, Math.max(s.inBytes, 1)) : Math.min(total, 1 << 22);
    // A staging buffer only (recv copies into it, nothing keeps it): large ones from the pool.
    const pooled = room >= 65536 && room <= CHUNK;
    const buf = pooled ? takeChunk(room) : Buffer.allocUnsafe(Math.max(room, 0));
    const r = s.recv(buf, flags, meta);
    if (r < 0) {
      if (pooled) giveChunk(buf);
      if (st.done > 0) return st.done;
      if (r === -E.EAGAIN && !nonblock && !t.timedOut) return sleep(t, s, POLLIN | POLLRDNORM, st, s.rcvTimeoNs);
      return r;
    }
    const copied = Math.min(r, buf.length);
    const discard = (meta as RecvMeta & { discard?: boolean }).discard === true;
    const ok = copied === 0 || discard || copySegs(t, segs, st.done, buf, copied, true);
    if (pooled) giveChunk(buf);
    if (!ok) return st.done > 0 ? st.done : EFAULT;
    if (!stream) return r;
    st.done += copied;
    if (meta.rights !== null || !waitAll || r === 0 || st.done >= total) return st.done;
    if (s.inBytes === 0 && (nonblock || s.rcvShut)) return st.done;
  }
}

/** doRecv for unix and loopback streams: from the queued packets straight into guest memory. */
function recvDirect(t: Task, s: SocketFile, segs: Seg[], meta: RecvMeta, st: CallState, total: number, nonblock: boolean, waitAll: boolean): number {
  for (;;) {
    let got = 0;
    const r = s.readTo(total - st.done, (b) => {
      if (!copySegs(t, segs, st.done + got, b, b.length, true)) return false;
      got += b.length;
      return true;
    }, meta);
    if (r < 0) {
      if (st.done > 0) return st.done;
      if (r === -E.EAGAIN && !nonblock && !t.timedOut) return sleep(t, s, POLLIN | POLLRDNORM, st, s.rcvTimeoNs);
      return r;
    }
    st.done += r;
    if (meta.rights !== null || !waitAll || r === 0 || st.done >= total) return st.done;
    if (s.inBytes === 0 && (nonblock || s.rcvShut)) return st.done;
  }
}

export function recvfrom(t: Task, fd: number, buf: number, len: number, flags: number, addr: number, lenPtr: number): number {
  const s = sockOf(t, fd);
  if (typeof s === 'number') return s;
  const segs = userBuffer(buf, len);
  if (typeof segs === 'number') return segs;
  const meta = emptyMeta();
  const r = doRecv(t, s, segs, flags | 0, meta);
  if (meta.rights !== null) for (const f of meta.rights) f.decRef();
  if (r < 0) return finish(t, r);
  t.sysState = undefined;
  const w = writeAddr(t, addr, lenPtr, meta.from);
  return w < 0 ? w : r;
}

function recvOne(t: Task, s: SocketFile, msgAddr: number, flags: number): number {
  const m = readMsg(t, msgAddr);
  if (typeof m === 'number') return m;
  if (m.name !== 0 && m.namelen < 0) return -E.EINVAL;
  const meta = emptyMeta();
  const r = doRecv(t, s, m.iov, flags, meta);
  if (r < 0) return r;
  // Name.
  let namelen = 0;
  if (m.name !== 0 && meta.from !== null) {
    const n = Math.min(m.namelen, meta.from.length);
    if (n > 0 && !t.mem.write(m.name, meta.from, 0, n)) return EFAULT;
    namelen = meta.from.length;
  }
  // Control: creds when the receiver asked for them (SO_PASSCRED), then passed fds.
  const creds = s.passCred && s.domain === C.AF_UNIX ? meta.creds ?? { pid: 0, uid: 65534, gid: 65534 } : null;
  const ctl = buildControl(t, m.control === 0 ? 0 : m.controllen, creds, meta.rights, (flags & C.MSG_CMSG_CLOEXEC) !== 0, ipControlFor(s, meta));
  if (ctl.bytes.length > 0 && !t.mem.write(m.control, ctl.bytes)) return EFAULT;
  const out = Buffer.alloc(4);
  out.writeInt32LE(namelen, 0);
  if (!t.mem.write(msgAddr + 8, out)) return EFAULT;
  const cl = Buffer.alloc(8);
  cl.writeBigUInt64LE(BigInt(ctl.bytes.length), 0);
  if (!t.mem.write(msgAddr + 40, cl)) return EFAULT;
  out.writeInt32LE(meta.msgFlags | ctl.msgFlags | (flags & C.MSG_CMSG_CLOEXEC), 0);
  if (!t.mem.write(msgAddr + 48, out)) return EFAULT;
  return r;
}

export function recvmsg(t: Task, fd: number, msg: number, flags: number): number {
  const s = sockOf(t, fd);
  if (typeof s === 'number') return s;
  return finish(t, recvOne(t, s, msg, flags | 0));
}

/**
 * sendmmsg/recvmmsg: the first message may block; later ones are tried without waiting
 * (a simplification: Linux's recvmmsg without MSG_WAITFORONE would keep waiting).
 */
/**
 * sendmmsg/recvmmsg: one message after another (struct mmsghdr is 64 bytes, msg_len at
 * 56). Only the first may block; later ones stop the batch when they would.
 */
function eachMsg(t: Task, vec: number, vlen: number, one: (addr: number, dontWait: number) => number): number {
  vlen = Math.min(vlen >>> 0, 1024);
  let i = 0;
  for (; i < vlen; i++) {
    if (i > 0) t.sysState = undefined;
    const r = one(vec + i * 64, i > 0 ? C.MSG_DONTWAIT : 0);
    if (r === BLOCK) return BLOCK;
    if (r < 0) {
      t.sysState = undefined;
      return i > 0 ? i : r;
    }
    if (!t.mem.writeU32(vec + i * 64 + 56, r)) break;
  }
  t.sysState = undefined;
  return i;
}

export function sendmmsg(t: Task, fd: number, vec: number, vlen: number, flags: number): number {
  const s = sockOf(t, fd);
  if (typeof s === 'number') return s;
  return eachMsg(t, vec, vlen, (addr, more) => sendOne(t, s, addr, (flags | 0) | more));
}

export function recvmmsg(t: Task, fd: number, vec: number, vlen: number, flags: number, timeout: number): number {
  const s = sockOf(t, fd);
  if (typeof s === 'number') return s;
  // Linux checks the timeout before anything else (EFAULT/EINVAL) and, as here, only
  // between datagrams: the first one is waited for however long it takes.
  if (timeout !== 0 && t.sysState === undefined) {
    const ns = readTimespecNs(t, timeout);
    if (ns < 0) return ns;
  }
  const f = (flags | 0) & ~C.MSG_WAITFORONE;
  return eachMsg(t, vec, vlen, (addr, more) => recvOne(t, s, addr, f | more));
}
