/**
 * The family and length checks Linux makes on an address before the protocol sees it
 * (inet_bind_sk/__inet_bind, inet6_bind, __inet_stream_connect and tcp_v4/v6_connect,
 * __ip4/__ip6_datagram_connect, udp_sendmsg/udpv6_sendmsg, unix_stream_sendmsg), so a
 * wrong family is EAFNOSUPPORT where Linux says so and a short one EINVAL, in Linux's
 * order. Only TCP/UDP/UDP-Lite sockets and unix streams: raw and ping sockets check
 * otherwise (in src/net). An address may come back rewritten: AF_UNSPEC taken as AF_INET,
 * an AF_INET address on an IPv6 datagram socket as its v4-mapped sockaddr_in6.
 */
import * as E from '../src/abi/errno';
import * as C from '../src/abi/socket';
import { SockState, type SocketFile } from '../src/net/socket-file';

const IN_LEN = 16;
/** SIN6_LEN_RFC2133: a sockaddr_in6 without sin6_scope_id. */
const IN6_LEN = 24;

function checked(s: SocketFile): boolean {
  if (s.domain !== C.AF_INET && s.domain !== C.AF_INET6) return false;
  if (s.type !== C.SOCK_STREAM && s.type !== C.SOCK_DGRAM) return false;
  const p = s.protocol;
  return p === 0 || p === C.IPPROTO_TCP || p === C.IPPROTO_UDP || p === C.IPPROTO_UDPLITE;
}

const family = (a: Buffer): number => (a.length >= 2 ? a.readUInt16LE(0) : -1);

/** An AF_INET address as the v4-mapped sockaddr_in6 an IPv6 socket works with. */
function mapped(a: Buffer): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16LE(C.AF_INET6, 0);
  a.copy(b, 2, 2, 4); // port
  b[18] = 0xff;
  b[19] = 0xff;
  a.copy(b, 20, 4, 8);
  return b;
}

function asInet(a: Buffer): Buffer {
  const b = Buffer.from(a);
  b.writeUInt16LE(C.AF_INET, 0);
  return b;
}

/** bind(2)'s address as the protocol should see it, or -errno. */
export function bindAddr(s: SocketFile, a: Buffer): Buffer | number {
  if (!checked(s)) return a;
  if (s.domain === C.AF_INET) {
    if (a.length < IN_LEN) return -E.EINVAL;
    const f = family(a);
    if (f === C.AF_INET) return a;
    // Linux's compatibility rule: AF_UNSPEC is AF_INET when the address is INADDR_ANY.
    if (f === C.AF_UNSPEC && a.readUInt32BE(4) === 0) return asInet(a);
    return -E.EAFNOSUPPORT;
  }
  if (a.length < IN6_LEN) return -E.EINVAL;
  return family(a) === C.AF_INET6 ? a : -E.EAFNOSUPPORT;
}

/** connect(2)'s address, 'done' for an AF_UNSPEC disconnect of a socket with nothing to undo, or -errno. */
export function connectAddr(s: SocketFile, a: Buffer): Buffer | 'done' | number {
  if (!checked(s)) return a;
  if (a.length < 2) return -E.EINVAL;
  const f = family(a);
  if (f === C.AF_UNSPEC) {
    // A stream's disconnect of a socket never connected or listening succeeds and changes
    // nothing; the rest (datagrams, live connections) is the protocol's.
    return s.type === C.SOCK_STREAM && s.state === SockState.Unconnected ? 'done' : a;
  }
  if (s.domain === C.AF_INET) {
    if (a.length < IN_LEN) return -E.EINVAL;
    return f === C.AF_INET ? a : -E.EAFNOSUPPORT;
  }
  if (f === C.AF_INET && s.type === C.SOCK_DGRAM) return a.length < IN_LEN ? -E.EINVAL : mapped(a);
  if (a.length < IN6_LEN) return -E.EINVAL;
  return f === C.AF_INET6 ? a : -E.EAFNOSUPPORT;
}

/**
 * A datagram's destination (sendto/sendmsg with a name), null for "none given", or -errno.
 * Stream sockets: TCP ignores it; a unix stream refuses one.
 */
export function sendAddr(s: SocketFile, a: Buffer): Buffer | null | number {
  if (s.domain === C.AF_UNIX && s.type === C.SOCK_STREAM) {
    if (a.length === 0) return null;
    return s.state === SockState.Connected ? -E.EISCONN : -E.EOPNOTSUPP;
  }
  if (!checked(s) || s.type !== C.SOCK_DGRAM) return a;
  const f = family(a);
  if (s.domain === C.AF_INET) {
    if (a.length < IN_LEN) return -E.EINVAL;
    if (f === C.AF_UNSPEC) return asInet(a);
    return f === C.AF_INET ? a : -E.EAFNOSUPPORT;
  }
  if (a.length < 2) return -E.EINVAL;
  if (f === C.AF_UNSPEC) return null;
  if (f === C.AF_INET) return a.length < IN_LEN ? -E.EINVAL : mapped(a);
  if (f !== C.AF_INET6 || a.length < IN6_LEN) return -E.EINVAL;
  return a;
}
