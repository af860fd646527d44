/**
 * The UDP side of a StackSocket (stack-socket.ts): its binding in the stack's UDP port
 * table, connect (and connect(AF_UNSPEC), as udp_disconnect), sends (with send-side
 * ancillary data and UDP_SEGMENT) and the datagrams delivered to its queue.
 */
import * as E from '../abi/errno';
import { POLLIN, POLLRDNORM, POLLERR } from '../abi/fs';
import { AF_UNSPEC } from '../abi/socket';
import { encodeInet, isV4Mapped } from './sockaddr';
import type { SendRequest } from './socket-file';
import type { Packet } from './packet';
import type { Nic } from './stack/nic';
import type { UdpEndpoint } from './stack/udp';
import { isAny, eq, type Addr } from './stack/addr';
import type { PktInfo } from './recv-cmsg';
import { stackSendControl } from './send-cmsg';
import type { StackSocket } from './stack-socket';

/** SOL_UDP options in intOpts: UDP_SEGMENT (the GSO size) and UDP_GRO. */
export const UDP_SEGMENT_KEY = '17:103';
export const UDP_GRO_KEY = '17:104';
/** udp_send_skb's limit on segments per GSO send. */
const UDP_MAX_SEGMENTS = 128;

export const V4_BCAST = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 255, 255, 255, 255]);

/** A UDP socket's binding in the stack's port table: its datagrams and ICMP errors come to s. */
export function bindUdp(s: StackSocket, ip: Buffer, port: number): number {
  const u: UdpEndpoint & { owner: StackSocket } = {
    owner: s,
    addr: Buffer.from(ip),
    port: 0,
    family: s.domain,
    v6only: s.v6only,
    reuseAddr: s.reuseAddr,
    reusePort: s.reusePort,
    listening: false,
    remote: null,
    rport: 0,
    deliver(buf, off, len, src, sport, dst, nic) {
      udpDeliver(s, buf, off, len, src, sport, dst, nic);
    },
    icmpError(err, dst, dport) {
      // Linux reports ICMP errors only on connected UDP sockets (without IP_RECVERR).
      if (s.remote !== null && dport === s.remote.port && eq(dst, s.remote.ip)) {
        s.err = err;
        s.waitQueue.notify(POLLERR);
      }
    },
  };
  const p = s.stack.udp.ports.bind(u, port, false);
  if (p < 0) return -E.EADDRINUSE;
  s.udpEp = u;
  s.local = { family: s.domain, ip: u.addr, port: p, flowinfo: 0, scope: 0 };
  return 0;
}

export function connectUdp(s: StackSocket, b: Buffer): number {
  if (b.length >= 2 && b.readUInt16LE(0) === AF_UNSPEC) {
    s.remote = null;
    const u = s.udpEp;
    if (u) {
      u.remote = null;
      u.rport = 0;
      // As udp_disconnect: an address or port bind(2) did not name is given back.
      if (!s.addrLocked) u.addr = s.anyAddr();
      if (!s.portLocked) {
        s.stack.udp.ports.unbind(u);
        s.udpEp = null;
        s.local = null;
      } else if (s.local !== null) {
        s.local = { ...s.local, ip: u.addr };
      }
    }
    return 0;
  }
  const a = s.decode(b, false);
  if (typeof a === 'number') return a;
  let ip = a.ip;
  if (isAny(ip)) ip = Buffer.from(isV4Mapped(ip) ? [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1] : [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  const p = s.stack.path(ip);
  if (typeof p === 'number') return p;
  if (s.policy !== null && !s.policy.permits(ip, a.port)) return -E.ECONNREFUSED;
  const r = s.autobindUdp();
  if (r < 0) return r;
  s.remote = { ...a, ip };
  s.udpEp!.remote = ip;
  s.udpEp!.rport = a.port;
  return 0;
}

export function sendUdp(s: StackSocket, req: SendRequest): number {
  let ip: Buffer;
  let port: number;
  if (s.sndShut) return -E.EPIPE;
  if (req.to !== null && req.to.length > 0) {
    const a = s.decode(req.to, false);
    if (typeof a === 'number') return a;
    ip = isAny(a.ip) ? Buffer.from(isV4Mapped(a.ip) ? [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1] : [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]) : a.ip;
    port = a.port;
    if (port === 0) return -E.EINVAL;
  } else {
    if (s.remote === null) return -E.EDESTADDRREQ;
    ip = s.remote.ip;
    port = s.remote.port;
  }
  if (s.err !== 0) return -s.takeErr();
  const len = req.data.length;
  if (len > (isV4Mapped(ip) ? 65507 : 65527)) return -E.EMSGSIZE;
  if (eq(ip, V4_BCAST) && !s.intOpts.get('1:6')) return -E.EACCES;
  if (s.policy !== null && !s.policy.permits(ip, port)) return -E.ECONNREFUSED;
  const c = stackSendControl(s.domain, req.ipCtl);
  if (typeof c === 'number') return c;
  let nic: Nic | null = null;
  if (c !== null && c.ifindex !== 0) {
    nic = s.stack.nicByIndex(c.ifindex) ?? null;
    if (nic === null) return -E.ENODEV;
  }
  if (c?.src != null && !s.stack.isLocal(c.src)) return -E.EINVAL;
  const r = s.autobindUdp();
  if (r < 0) return r;
  const ttl = c?.ttl ?? s.intOpts.get(isV4Mapped(ip) ? '0:2' : '41:16') ?? 64;
  const tos = c?.tos ?? s.intOpts.get(isV4Mapped(ip) ? '0:1' : '41:67') ?? 0;
  const src = c?.src != null && isAny(s.local!.ip) ? c.src : s.local!.ip;
  const gso = c?.gso ?? s.intOpts.get(UDP_SEGMENT_KEY) ?? 0;
  if (gso > 0 && len > gso) return sendUdpSegments(s, src, ip, port, req.data, gso, ttl, tos, nic);
  const r2 = s.stack.udp.send(src, s.local!.port, ip, port, req.data, 0, len, ttl, tos, nic);
  if (r2 < 0) return r2;
  return len;
}

/**
 * UDP_SEGMENT (GSO): one send cut into datagrams of gso bytes, the last shorter, with
 * udp_send_skb's checks (at most UDP_MAX_SEGMENTS, a segment fits the path's MTU).
 * A receiver gets them one by one (Linux's loopback would hand a UDP_GRO socket the
 * whole send at once; the stack does not coalesce).
 */
function sendUdpSegments(s: StackSocket, src: Addr, ip: Addr, port: number, data: Buffer, gso: number, ttl: number, tos: number, nic: Nic | null): number {
  const len = data.length;
  if (len > gso * UDP_MAX_SEGMENTS) return -E.EINVAL;
  const p = s.stack.path(ip, nic, src);
  if (typeof p === 'number') return p;
  if (gso + 8 + (isV4Mapped(ip) ? 20 : 40) > p.nic.mtu) return -E.EINVAL;
  for (let at = 0; at < len; at += gso) {
    const r = s.stack.udp.send(src, s.local!.port, ip, port, data, at, Math.min(gso, len - at), ttl, tos, nic);
    if (r < 0) return r;
  }
  return len;
}

function udpDeliver(s: StackSocket, b: Buffer, off: number, len: number, src: Addr, sport: number, dst: Addr, nic: Nic): void {
  if (s.rcvShut) return;
  if (s.rq.bytes + len > s.rcvbuf) return; // full: dropped, as UDP does
  const from = encodeInet({ family: s.domain, ip: src, port: sport, flowinfo: 0, scope: 0 }, s.domain);
  const pkt = { data: Buffer.from(b.subarray(off, off + len)), off: 0, rights: null, creds: null, from } as Packet & { info?: PktInfo };
  if (s.recvPktinfo || s.recvTtl || s.recvTos) pkt.info = { ifindex: nic.index, dst: Buffer.from(dst), ttl: s.stack.rxTtl, tos: s.stack.rxTos };
  s.rq.push(pkt);
  s.waitQueue.notify(POLLIN | POLLRDNORM);
}
