/**
 * The sandbox's TCP and UDP sockets as rows, for the two readers Linux has:
 * /proc/net/{tcp,udp}[6] (`procnet.ts`) and NETLINK_SOCK_DIAG (`netlink-diag.ts`).
 * From the stack's port tables and connections, or the loopback fast path's (mode none).
 */
import type { Stack } from './stack/stack';
import type { Addr } from './stack/addr';
import type { TcpEndpoint } from './stack/tcp/endpoint';
import { TcpState } from './stack/tcp/state';
import { listInet } from './inet-socket';
import { SockState } from './socket-file';
import { AF_INET } from '../abi/socket';
import { rawSockets } from './icmp-socket';
import { V4_ANY, V6_ANY } from './sockaddr';
import { tcpInfo, fastTcpInfo } from './tcp-info';

export interface SockRow {
  /** The socket's own family (an AF_INET6 socket with a v4-mapped address stays AF_INET6). */
  family: number;
  local: Addr;
  lport: number;
  remote: Addr;
  rport: number;
  state: number;
  txq: number;
  rxq: number;
  /** A listener's backlog (listen's argument, capped as somaxconn), else 0. */
  backlog: number;
  uid: number;
  ino: number;
  /** IPV6_V6ONLY (an AF_INET6 socket). */
  v6only: boolean;
  /** SO_RCVBUF / SO_SNDBUF (sock_diag's skmem); 0 when no socket holds the connection. */
  rcvbuf?: number;
  sndbuf?: number;
  /** The stack's endpoint (/proc/net/tcp's timers and queues). */
  ep?: TcpEndpoint;
  /** struct tcp_info for sock_diag's INET_DIAG_INFO (the endpoint's, or the fast path's); absent for UDP. */
  info?: () => Buffer;
  /** IP_TOS, IPV6_TCLASS and SO_PRIORITY (sock_diag's TOS, TCLASS and CLASS_ID); 0 without a socket. */
  tos: number;
  tclass: number;
  priority: number;
}

/** A socket's IP_TOS / IPV6_TCLASS / SO_PRIORITY as its option map holds them (sockopt.ts keys). */
function qos(o: ReadonlyMap<string, number> | undefined): { tos: number; tclass: number; priority: number } {
  return { tos: (o?.get('0:1') ?? 0) & 0xff, tclass: (o?.get('41:67') ?? 0) & 0xff, priority: o?.get('1:12') ?? 0 };
}

const zero16 = () => Buffer.alloc(16);

export function tcpRows(stack: Stack | null): SockRow[] {
  if (stack === null) {
    return listInet(true).map((s) => ({
      family: s.domain,
      local: s.local!.ip, lport: s.local!.port, remote: s.remote?.ip ?? zero16(), rport: s.remote?.port ?? 0,
      state: s.state === SockState.Listening ? TcpState.LISTEN : s.state === SockState.Connected ? TcpState.ESTABLISHED : TcpState.CLOSED,
      txq: 0, rxq: s.state === SockState.Listening ? s.acceptQ.length : s.rq.bytes,
      backlog: s.state === SockState.Listening ? s.backlog : 0, uid: s.inode.uid, ino: s.inode.ino, v6only: s.v6only,
      rcvbuf: s.rcvbuf, sndbuf: s.sndbuf, ...qos(s.intOpts), info: () => fastTcpInfo(s),
    }));
  }
  const rows: SockRow[] = [];
  const seen = new Set<object>();
  for (const list of stack.tcp.ports.byPort.values()) {
    for (const ep of list) {
      seen.add(ep);
      const listen = ep.state === TcpState.LISTEN;
      rows.push({ family: ep.family, local: ep.addr, lport: ep.port, remote: ep.remote, rport: listen ? 0 : ep.rport, state: ep.state, txq: ep.sendQ.bytes, rxq: listen ? ep.acceptQ.length : ep.recvQ.bytes, backlog: listen ? ep.backlog : 0, uid: ep.uid, ino: ep.ino, v6only: ep.v6only, ep, info: () => tcpInfo(ep), rcvbuf: ep.owner?.rcvbuf ?? 0, sndbuf: ep.owner?.sndbuf ?? 0, ...qos(ep.owner?.intOpts) });
    }
  }
  for (const ep of stack.tcp.allConns()) {
    if (seen.has(ep)) continue;
    rows.push({ family: ep.family, local: ep.addr, lport: ep.port, remote: ep.remote, rport: ep.rport, state: ep.state, txq: ep.sendQ.bytes, rxq: ep.recvQ.bytes, backlog: 0, uid: ep.uid, ino: ep.ino, v6only: ep.v6only, ep, info: () => tcpInfo(ep), rcvbuf: ep.owner?.rcvbuf ?? 0, sndbuf: ep.owner?.sndbuf ?? 0, ...qos(ep.owner?.intOpts) });
  }
  return rows;
}

export function udpRows(stack: Stack | null): SockRow[] {
  if (stack === null) {
    return listInet(false).map((s) => ({ family: s.domain, local: s.local!.ip, lport: s.local!.port, remote: s.remote?.ip ?? zero16(), rport: s.remote?.port ?? 0, state: s.remote ? TcpState.ESTABLISHED : TcpState.CLOSED, txq: 0, rxq: s.rq.bytes, backlog: 0, uid: s.inode.uid, ino: s.inode.ino, v6only: s.v6only, rcvbuf: s.rcvbuf, sndbuf: s.sndbuf, ...qos(s.intOpts) }));
  }
  const rows: SockRow[] = [];
  for (const list of stack.udp.ports.byPort.values()) {
    for (const e of list) {
      const o = (e as unknown as { owner?: { domain: number; v6only: boolean; rq: { bytes: number }; inode: { ino: number; uid: number }; intOpts?: ReadonlyMap<string, number> } }).owner;
      rows.push({ family: o?.domain ?? AF_INET, local: e.addr, lport: e.port, remote: e.remote ?? zero16(), rport: e.rport, state: e.remote ? TcpState.ESTABLISHED : TcpState.CLOSED, txq: 0, rxq: o?.rq.bytes ?? 0, backlog: 0, uid: o?.inode.uid ?? 0, ino: o?.inode.ino ?? 0, v6only: o?.v6only ?? false, ...qos(o?.intOpts) });
    }
  }
  return rows;
}

/**
 * Raw sockets (raw_diag): the "port" is the protocol, unconnected ones CLOSE (ss: UNCONN),
 * connected ones ESTABLISHED with no peer port. None without a stack (mode none has no raw sockets).
 */
export function rawRows(stack: Stack | null): SockRow[] {
  if (stack === null) return [];
  return rawSockets(stack).map((s) => {
    const any = Buffer.from(s.domain === AF_INET ? V4_ANY : V6_ANY);
    const peer = s.peerAddr;
    return {
      family: s.domain, local: s.boundAddr ?? any, lport: s.protocol, remote: peer ?? any, rport: 0,
      state: peer !== null ? TcpState.ESTABLISHED : TcpState.CLOSED, txq: 0, rxq: s.rq.bytes, backlog: 0,
      uid: s.inode.uid, ino: s.inode.ino, v6only: false, rcvbuf: s.rcvbuf, sndbuf: s.sndbuf, ...qos(s.intOpts),
    };
  });
}
