/**
 * Socket syscalls: creation, naming, connections and options here; sends and receives in
 * net-transfer.ts (re-exported). Each handler decodes the guest's arguments (sockaddrs, msghdrs,
 * iovecs, control data) and calls the socket (src/net); blocking calls are retry loops
 * that keep progress in t.sysState and sleep on the socket's blockQueue (see
 * src/net/socket-file.ts), honouring SO_RCVTIMEO/SO_SNDTIMEO.
 */
import { netCapable, netKeyOf } from '../src/net/guest-netns';
import { CAP_NET_RAW } from '../src/auth/capabilities';
import * as E from '../src/abi/errno';
import { installPair, hasFreeFd } from './fd-install';
import { bindAddr, connectAddr } from './sockaddr-check';
import type { Task } from '../src/kernel/task';
import { POLLIN, POLLOUT, POLLRDNORM, O_NONBLOCK } from '../src/abi/fs';
import * as C from '../src/abi/socket';
import { SocketFile } from '../src/net/socket-file';
import { UnixSocket } from '../src/net/unix-socket';
import { InetSocket } from '../src/net/inet-socket';
import { StackSocket } from '../src/net/stack-socket';
import { stackOf, networkModeOf } from '../src/net/netns';
import { HostSocket } from '../src/net/host-socket';
import { IcmpSocket } from '../src/net/icmp-socket';
import { AF_PACKET, PacketSocket } from '../src/net/packet-socket';
import { NetlinkSocket } from '../src/net/netlink-route';
import { DiagSocket, NETLINK_SOCK_DIAG } from '../src/net/netlink-diag';
import { getOpt, setOpt } from '../src/net/sockopt';
import { BLOCK } from '../src/kernel/syscall-dispatch';

import { EFAULT, sockOf, install, readAddr, writeAddr, callState, sleep } from './net-common';
export { sendto, sendmsg, recvfrom, recvmsg, sendmmsg, recvmmsg } from './net-transfer';

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

