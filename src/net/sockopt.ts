/**
 * getsockopt/setsockopt: SOL_SOCKET options common to all sockets, and the TCP/IP/IPv6
 * options programs set on loopback sockets (stored and read back; the in-memory
 * transport has no use for most of them).
 */
import * as E from '../abi/errno';
import type { Task } from '../kernel/task';
import * as C from '../abi/socket';
import { SocketFile, SockState } from './socket-file';
import { InetSocket } from './inet-socket';
import { StackSocket, UDP_SEGMENT_KEY, UDP_GRO_KEY } from './stack-socket';
import { HostSocket } from './host-socket';
import { IcmpSocket } from './icmp-socket';
import { tcpInfo, fastTcpInfo } from './tcp-info';
import { PacketSocket, SOL_PACKET } from './packet-socket';

function timevalNs(b: Buffer): number {
  const sec = Number(b.readBigInt64LE(0));
  const usec = Number(b.readBigInt64LE(8));
  if (usec < 0 || usec >= 1_000_000) return -E.EDOM;
  if (sec < 0) return 0;
  return sec * 1e9 + usec * 1000;
}
function timeval(ns: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigInt64LE(BigInt(Math.floor(ns / 1e9)), 0);
  b.writeBigInt64LE(BigInt(Math.floor((ns % 1e9) / 1000)), 8);
  return b;
}
function int(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v | 0, 0);
  return b;
}

/** The option's value, or -errno. */
export function getOpt(s: SocketFile, level: number, name: number, len = 512): Buffer | number {
  if (s instanceof HostSocket) {
    const h = s.hostGetOpt(level, name, len);
    if (h !== undefined) return h;
    if (level !== C.SOL_SOCKET || (name !== C.SO_RCVTIMEO && name !== C.SO_SNDTIMEO)) return -E.ENOPROTOOPT;
  }
  if (level === C.SOL_SOCKET) {
    switch (name) {
      case C.SO_TYPE: return int(s.type);
      case C.SO_DOMAIN: return int(s.domain);
      case C.SO_PROTOCOL:
        if ((s instanceof InetSocket || s instanceof StackSocket) && s.protocol === 0) return int(s.type === C.SOCK_STREAM ? C.IPPROTO_TCP : C.IPPROTO_UDP);
        return int(s.protocol);
      case C.SO_ERROR: return int(s.takeErr());
      case C.SO_ACCEPTCONN: return int(s.state === SockState.Listening ? 1 : 0);
      case C.SO_REUSEADDR: return int(s.reuseAddr ? 1 : 0);
      case C.SO_REUSEPORT: return int(s.reusePort ? 1 : 0);
      case C.SO_KEEPALIVE: return int(s.keepAlive ? 1 : 0);
      case C.SO_PASSCRED: return int(s.passCred ? 1 : 0);
      case C.SO_SNDBUF: return int(s.sndbuf);
      case C.SO_RCVBUF: return int(s.rcvbuf);
      case C.SO_RCVTIMEO: return timeval(s.rcvTimeoNs);
      case C.SO_SNDTIMEO: return timeval(s.sndTimeoNs);
      case C.SO_LINGER: return Buffer.concat([int(s.linger[0]), int(s.linger[1])]);
      case C.SO_PEERCRED: {
        const c = s.peerCreds;
        const b = Buffer.alloc(12);
        if (c === null) {
          b.writeInt32LE(0, 0);
          b.writeInt32LE(-1, 4);
          b.writeInt32LE(-1, 8);
        } else {
          b.writeInt32LE(c.pid, 0);
          b.writeUInt32LE(c.uid >>> 0, 4);
          b.writeUInt32LE(c.gid >>> 0, 8);
        }
        return b;
      }
      case C.SO_RCVLOWAT: return int(s.intOpts.get('1:18') ?? 1);
      case C.SO_SNDLOWAT: return int(1);
      case C.SO_COOKIE: {
        const b = Buffer.alloc(8);
        b.writeBigUInt64LE(BigInt(s.inode.ino), 0);
        return b;
      }
      case C.SO_DEBUG: case C.SO_DONTROUTE: case C.SO_BROADCAST: case C.SO_OOBINLINE: case C.SO_NO_CHECK:
      case C.SO_PRIORITY: case C.SO_TIMESTAMP: case C.SO_MARK: case C.SO_PASSSEC: case C.SO_RXQ_OVFL:
      case C.SO_BUSY_POLL: case C.SO_INCOMING_CPU:
        return int(s.intOpts.get(`1:${name}`) ?? 0);
      case C.SO_PEEK_OFF: return int(s.intOpts.get('1:42') ?? -1);
      default: return -E.ENOPROTOOPT;
    }
  }
  if (s instanceof IcmpSocket) return icmpGetOpt(s, level, name);
  if (s instanceof PacketSocket) return level === SOL_PACKET ? s.getPacketOpt(name) : -E.ENOPROTOOPT;
  if (!(s instanceof InetSocket || s instanceof StackSocket)) return -E.EOPNOTSUPP;
  if (level === C.SOL_TCP) {
    if (s.type !== C.SOCK_STREAM) return -E.EOPNOTSUPP;
    if (s instanceof StackSocket && s.ep !== null) {
      if (name === C.TCP_INFO) return tcpInfo(s.ep);
      if (name === C.TCP_MAXSEG) return int(s.ep.state === 1 || s.ep.state > 3 ? s.ep.mss : s.intOpts.get('6:2') ?? 536);
    }
    switch (name) {
      case C.TCP_NODELAY: return int(s.nodelay ? 1 : 0);
      case C.TCP_MAXSEG: return int(s.intOpts.get('6:2') ?? 65483);
      case C.TCP_KEEPIDLE: return int(s.intOpts.get('6:4') ?? 7200);
      case C.TCP_KEEPINTVL: return int(s.intOpts.get('6:5') ?? 75);
      case C.TCP_KEEPCNT: return int(s.intOpts.get('6:6') ?? 9);
      case C.TCP_INFO:
        // A stack socket without an endpoint yet (unconnected) has the fast path's record of one.
        return fastTcpInfo(s instanceof InetSocket ? s : { tcpState: s.state === SockState.Listening ? 10 : 7, v4Path: s.domain === C.AF_INET, activeOpen: false, bytesAcked: 0, bytesReceived: 0, rcvbuf: s.rcvbuf });
      case C.TCP_CORK: case C.TCP_QUICKACK: case C.TCP_USER_TIMEOUT: case C.TCP_FASTOPEN:
        return int(s.intOpts.get(`6:${name}`) ?? (name === C.TCP_QUICKACK ? 1 : 0));
      default: return -E.ENOPROTOOPT;
    }
  }
  if (level === C.SOL_IP) {
    if (name === C.IP_TTL) return int(s.intOpts.get('0:2') ?? 64);
    if (name === C.IP_TOS || name === C.IP_RECVERR) return int(s.intOpts.get(`0:${name}`) ?? 0);
    if (name === C.IP_HDRINCL) return int(0);
    if (name === C.IP_MULTICAST_TTL || name === C.IP_MULTICAST_LOOP) return int(s.intOpts.get(`0:${name}`) ?? 1);
    return -E.ENOPROTOOPT;
  }
  if (level === C.SOL_IPV6) {
    if (s.domain !== C.AF_INET6) return -E.ENOPROTOOPT;
    if (name === C.IPV6_V6ONLY) return int(s.v6only ? 1 : 0);
    if (name === C.IPV6_UNICAST_HOPS) return int(s.intOpts.get('41:16') ?? 64);
    if (name === C.IPV6_TCLASS || name === C.IPV6_RECVERR) return int(s.intOpts.get(`41:${name}`) ?? 0);
    if (name === C.IPV6_MULTICAST_LOOP) return int(1);
    return -E.ENOPROTOOPT;
  }
  if (level === C.SOL_UDP) {
    // UDP GSO/GRO on the stack's UDP sockets (the loopback fast path has none yet).
    if (!(s instanceof StackSocket) || s.type !== C.SOCK_DGRAM) return -E.ENOPROTOOPT;
    if (name === C.UDP_SEGMENT) return int(s.intOpts.get(UDP_SEGMENT_KEY) ?? 0);
    if (name === C.UDP_GRO) return int(s.intOpts.get(UDP_GRO_KEY) ?? 0);
    return -E.ENOPROTOOPT;
  }
  if (level === C.SOL_UDPLITE) {
    // udp_lib_getsockopt answers these for any UDP socket (plain UDP has 0).
    if (!(s instanceof InetSocket) || s.type !== C.SOCK_DGRAM) return -E.ENOPROTOOPT;
    if (name === C.UDPLITE_SEND_CSCOV) return int(s.sendCscov ?? 0);
    if (name === C.UDPLITE_RECV_CSCOV) return int(s.recvCscov ?? 0);
    return -E.ENOPROTOOPT;
  }
  return -E.EOPNOTSUPP;
}

/** Applies an option; `b` holds the optlen bytes the guest passed. */
export function setOpt(_t: Task, s: SocketFile, level: number, name: number, b: Buffer): number {
  const needInt = () => (b.length < 4 ? -E.EINVAL : b.readInt32LE(0));
  if (s instanceof HostSocket) {
    const h = s.hostSetOpt(level, name, b);
    if (h !== undefined) return h;
    if (level !== C.SOL_SOCKET || (name !== C.SO_RCVTIMEO && name !== C.SO_SNDTIMEO)) return -E.ENOPROTOOPT;
  }
  if (level === C.SOL_SOCKET) {
    switch (name) {
      case C.SO_RCVTIMEO:
      case C.SO_SNDTIMEO: {
        if (b.length < 16) return -E.EINVAL;
        const ns = timevalNs(b);
        if (ns < 0) return ns;
        if (name === C.SO_RCVTIMEO) s.rcvTimeoNs = ns;
        else s.sndTimeoNs = ns;
        return 0;
      }
      case C.SO_LINGER: {
        if (b.length < 8) return -E.EINVAL;
        s.linger = [b.readInt32LE(0) !== 0 ? 1 : 0, b.readInt32LE(4)];
        return 0;
      }
    }
    const v = needInt();
    if (b.length < 4) return v;
    switch (name) {
      case C.SO_REUSEADDR: s.reuseAddr = v !== 0; return 0;
      case C.SO_REUSEPORT: s.reusePort = v !== 0; return 0;
      case C.SO_KEEPALIVE: s.keepAlive = v !== 0; return 0;
      case C.SO_PASSCRED: s.passCred = v !== 0; return 0;
      case C.SO_SNDBUF: case C.SO_SNDBUFFORCE:
        // Linux doubles the value (bookkeeping overhead) after clamping to wmem_max.
        s.sndbuf = Math.max(C.MIN_SNDBUF, Math.min(v >>> 0 > C.MAX_BUF ? C.MAX_BUF : Math.max(v, 0), C.MAX_BUF) * 2);
        return 0;
      case C.SO_RCVBUF: case C.SO_RCVBUFFORCE:
        s.rcvbuf = Math.max(C.MIN_RCVBUF, Math.min(v >>> 0 > C.MAX_BUF ? C.MAX_BUF : Math.max(v, 0), C.MAX_BUF) * 2);
        return 0;
      case C.SO_TYPE: case C.SO_ERROR: case C.SO_DOMAIN: case C.SO_PROTOCOL: case C.SO_ACCEPTCONN: case C.SO_PEERCRED:
        return -E.ENOPROTOOPT;
      case C.SO_DEBUG: case C.SO_DONTROUTE: case C.SO_BROADCAST: case C.SO_OOBINLINE: case C.SO_NO_CHECK:
      case C.SO_PRIORITY: case C.SO_TIMESTAMP: case C.SO_MARK: case C.SO_PASSSEC: case C.SO_RXQ_OVFL:
      case C.SO_BUSY_POLL: case C.SO_INCOMING_CPU: case C.SO_RCVLOWAT: case C.SO_PEEK_OFF: case C.SO_SNDLOWAT:
        s.intOpts.set(`1:${name}`, name === C.SO_RCVLOWAT ? Math.max(v, 1) : v);
        if (name === C.SO_OOBINLINE && s instanceof StackSocket) s.pushOptions(); // the endpoint reads it
        return 0;
      default:
        return -E.ENOPROTOOPT;
    }
  }
  if (s instanceof IcmpSocket) return icmpSetOpt(s, level, name, b);
  if (s instanceof PacketSocket) return level === SOL_PACKET ? s.setPacketOpt(name, b) : -E.ENOPROTOOPT;
  if (!(s instanceof InetSocket || s instanceof StackSocket)) return -E.EOPNOTSUPP;
  const r = setInetOpt(s, level, name, b, needInt);
  if (r === 0 && s instanceof StackSocket) s.pushOptions();
  return r;
}

function setInetOpt(s: InetSocket | StackSocket, level: number, name: number, b: Buffer, needInt: () => number): number {
  if (level === C.SOL_UDPLITE) {
    if (!(s instanceof InetSocket) || s.protocol !== C.IPPROTO_UDPLITE) return -E.ENOPROTOOPT;
    if (name !== C.UDPLITE_SEND_CSCOV && name !== C.UDPLITE_RECV_CSCOV) return -E.ENOPROTOOPT;
    if (b.length < 4) return -E.EINVAL;
    // udp_lib_setsockopt: 1..7 become 8 (the header), beyond 65535 becomes 65535.
    let v = b.readInt32LE(0);
    if (v !== 0 && v < 8) v = 8;
    else if (v > 0xffff) v = 0xffff;
    if (name === C.UDPLITE_SEND_CSCOV) s.sendCscov = v;
    else s.recvCscov = v;
    return 0;
  }
  if (level === C.SOL_TCP) {
    if (s.type !== C.SOCK_STREAM) return -E.EOPNOTSUPP;
    const v = needInt();
    if (b.length < 4) return v;
    if (name === C.TCP_NODELAY) {
      s.nodelay = v !== 0;
      return 0;
    }
    if ([C.TCP_MAXSEG, C.TCP_CORK, C.TCP_KEEPIDLE, C.TCP_KEEPINTVL, C.TCP_KEEPCNT, C.TCP_QUICKACK, C.TCP_USER_TIMEOUT, C.TCP_FASTOPEN].includes(name)) {
      if ((name === C.TCP_KEEPIDLE || name === C.TCP_KEEPINTVL || name === C.TCP_KEEPCNT) && v < 1) return -E.EINVAL;
      s.intOpts.set(`6:${name}`, v);
      return 0;
    }
    return -E.ENOPROTOOPT;
  }
  if (level === C.SOL_IP || level === C.SOL_IPV6) {
    if (level === C.SOL_IPV6 && s.domain !== C.AF_INET6) return -E.ENOPROTOOPT;
    // IP_HDRINCL: raw sockets only (icmpSetOpt); reading it elsewhere gives 0, as Linux.
    if (level === C.SOL_IP && name === C.IP_HDRINCL) return -E.ENOPROTOOPT;
    const v = needInt();
    if (b.length < 1) return -E.EINVAL;
    if (level === C.SOL_IPV6 && name === C.IPV6_V6ONLY) {
      if (b.length < 4) return -E.EINVAL;
      if (s.local !== null) return -E.EINVAL;
      s.v6only = v !== 0;
      return 0;
    }
    if (level === C.SOL_IP && name === C.IP_TTL && b.length >= 4) {
      if (v < -1 || v === 0 || v > 255) return -E.EINVAL;
      if (v === -1) {
        s.intOpts.delete('0:2');
        return 0;
      }
    }
    if (s instanceof StackSocket) {
      const on = (b.length >= 4 ? v : b[0]) !== 0;
      if (level === C.SOL_IP && name === C.IP_PKTINFO) s.recvPktinfo = on;
      if (level === C.SOL_IPV6 && name === C.IPV6_RECVPKTINFO) s.recvPktinfo = on;
      if (level === C.SOL_IP && name === C.IP_RECVTTL) s.recvTtl = on;
      if (level === C.SOL_IP && name === C.IP_RECVTOS) s.recvTos = on;
      if (level === C.SOL_IPV6 && name === C.IPV6_RECVHOPLIMIT) s.recvTtl = on;
      if (level === C.SOL_IPV6 && name === C.IPV6_RECVTCLASS) s.recvTos = on;
      if (level === C.SOL_IP && name === C.IP_TTL && (v < -1 || v === 0 || v > 255)) return -E.EINVAL;
      if (level === C.SOL_IP && name === C.IP_TTL && v === -1) {
        s.intOpts.delete('0:2');
        return 0;
      }
    }
    s.intOpts.set(`${level}:${name}`, b.length >= 4 ? v : b[0]);
    return 0;
  }
  if (level === C.SOL_UDP && s instanceof StackSocket && s.type === C.SOCK_DGRAM && (name === C.UDP_SEGMENT || name === C.UDP_GRO)) {
    const v = needInt();
    if (v < 0 && b.length < 4) return v; // needInt's -EINVAL for a short option
    if (name === C.UDP_SEGMENT) {
      if (v < 0 || v > 0xffff) return -E.EINVAL; // udp_lib_setsockopt
      s.intOpts.set(UDP_SEGMENT_KEY, v);
    } else s.intOpts.set(UDP_GRO_KEY, v ? 1 : 0);
    return 0;
  }
  return -E.ENOPROTOOPT;
}

/** Ping and raw sockets: IP-level options kept and read back (TTL used on send); no TCP. */
function icmpGetOpt(s: IcmpSocket, level: number, name: number): Buffer | number {
  if (level === C.SOL_TCP || level === C.SOL_UDP) return -E.EOPNOTSUPP;
  if (level === C.SOL_IPV6 && s.domain !== C.AF_INET6) return -E.ENOPROTOOPT;
  if (level !== C.SOL_IP && level !== C.SOL_IPV6 && level !== 255 /* SOL_RAW */ && level !== 58) return -E.ENOPROTOOPT;
  if (level === C.SOL_IP && name === C.IP_HDRINCL) return int(s.hdrincl ? 1 : 0);
  const ttlDefault = (level === C.SOL_IP && name === C.IP_TTL) || (level === C.SOL_IPV6 && name === C.IPV6_UNICAST_HOPS) ? 64 : 0;
  return int(s.intOpts.get(`${level}:${name}`) ?? ttlDefault);
}

function icmpSetOpt(s: IcmpSocket, level: number, name: number, b: Buffer): number {
  if (level === C.SOL_TCP || level === C.SOL_UDP) return -E.EOPNOTSUPP;
  if (level === C.SOL_IPV6 && s.domain !== C.AF_INET6) return -E.ENOPROTOOPT;
  if (level !== C.SOL_IP && level !== C.SOL_IPV6 && level !== 255 && level !== 58) return -E.ENOPROTOOPT;
  if (b.length < 1) return -E.EINVAL;
  const v = b.length >= 4 ? b.readInt32LE(0) : b[0];
  if (level === C.SOL_IP && name === C.IP_HDRINCL) return s.setHdrincl(v !== 0);
  if ((level === C.SOL_IP && name === C.IP_TTL) || (level === C.SOL_IPV6 && name === C.IPV6_UNICAST_HOPS)) {
    if (v < -1 || v === 0 || v > 255) return -E.EINVAL;
    if (v === -1) {
      s.intOpts.delete(`${level}:${name}`);
      return 0;
    }
  }
  s.intOpts.set(`${level}:${name}`, v);
  return 0;
}
