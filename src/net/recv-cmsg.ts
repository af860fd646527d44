/**
 * Receive-side IP ancillary data of inet sockets: the IP_PKTINFO / IPV6_PKTINFO, TTL /
 * hop limit and TOS / traffic class cmsgs a received datagram gets, as the socket asked
 * (host-mode sockets bring the host's own, `meta.ipCtl`).
 */
import { AF_INET, AF_INET6 } from '../abi/socket';
import type { SocketFile } from './socket-file';
import type { RecvMeta } from './packet';
import type { IpControl } from './cmsg';
import { isV4Mapped } from './sockaddr';
import { StackSocket } from './stack-socket';

/** The IP ancillary data (cmsgs) a received datagram gets, as the socket asked. */
export function ipControlFor(s: SocketFile, meta: RecvMeta): IpControl | null {
  if (meta.ipCtl !== undefined) return meta.ipCtl;
  const info = meta.info;
  if (info === undefined || (s.domain !== AF_INET && s.domain !== AF_INET6)) return null;
  const out: IpControl = [];
  const v4 = s.domain === AF_INET || isV4Mapped(info.dst);
  const o = s.intOpts;
  const want = s instanceof StackSocket
    ? { pktinfo: s.recvPktinfo, ttl: s.recvTtl, tos: s.recvTos }
    : s.domain === AF_INET
      ? { pktinfo: !!o.get('0:8'), ttl: !!o.get('0:12'), tos: !!o.get('0:13') }
      : { pktinfo: !!o.get('41:49'), ttl: !!o.get('41:51'), tos: !!o.get('41:66') };
  if (want.pktinfo) {
    if (s.domain === AF_INET) {
      // struct in_pktinfo: ifindex, spec_dst (local address), addr (header destination).
      const d = Buffer.alloc(12);
      d.writeInt32LE(info.ifindex, 0);
      info.dst.copy(d, 4, 12, 16);
      info.dst.copy(d, 8, 12, 16);
      out.push([0, 8, d]);
    } else {
      const d = Buffer.alloc(20);
      info.dst.copy(d, 0, 0, 16);
      d.writeInt32LE(info.ifindex, 16);
      out.push([41, 50, d]);
    }
  }
  if (want.ttl) {
    const d = Buffer.alloc(4);
    d.writeInt32LE(info.ttl, 0);
    out.push(s.domain === AF_INET ? [0, 2, d] : [41, 52, d]);
  }
  if (want.tos) {
    if (s.domain === AF_INET) out.push([0, 1, Buffer.from([info.tos])]);
    else {
      const d = Buffer.alloc(4);
      d.writeInt32LE(info.tos, 0);
      out.push([41, 67, d]);
    }
  }
  void v4;
  return out.length ? out : null;
}

/** What IP_PKTINFO / IPV6_PKTINFO / IP_TTL / IP_TOS ancillary data report for a datagram. */
export interface PktInfo {
  ifindex: number;
  dst: Buffer;
  ttl: number;
  tos: number;
}
