/**
 * struct tcp_info (linux/tcp.h) as TCP_INFO and sock_diag's INET_DIAG_INFO return it: from
 * a stack endpoint, or from a loopback fast-path socket (mode none: a lossless path with
 * no round trip, whose every byte the peer's queue took is acknowledged at once).
 */
import type { TcpEndpoint } from './stack/tcp/endpoint';
import { WSCALE } from './stack/tcp/endpoint';
import { TcpState } from './stack/tcp/state';

/** Linux's loopback MTU, and IPv4's largest path MTU (IP_MAX_MTU: ip_dst_mtu_maybe_forward). */
const LO_MTU = 65536;
const IPV4_MAX_MTU = 65535;
/** TCP_RTO_MIN (us): the RTO of a path whose round trip is ~0 (rttvar floors at it). */
const RTO_MIN_US = 200_000;
/** A measured round trip of ~0 as Linux keeps it: its estimator's floor, 1 us (0 would read as "never measured"). */
const RTT_FLOOR_US = 1;
/** TCP_INIT_CWND; TCP_INFINITE_SSTHRESH (an ssthresh no loss has set yet). */
const INIT_CWND = 10;
const INFINITE_SSTHRESH = 0x7fffffff;
/** TCPOLEN_TSTAMP_ALIGNED: what timestamps take from each segment (tp->advmss less it). */
const TS_LEN = 12;

interface Fields {
  state: number; caState: number; retransmits: number; probes: number; backoff: number;
  options: number; sndWscale: number; rcvWscale: number;
  rtoUs: number; sndMss: number; rcvMss: number; unacked: number; retrans: number;
  lastSendMs: number; lastRecvMs: number; pmtu: number; rcvSsthresh: number;
  rttUs: number; rttvarUs: number; ssthresh: number; cwnd: number; advmss: number;
  rcvSpace: number; totalRetrans: number; bytesAcked: number; bytesReceived: number;
  segsOut: number; segsIn: number;
}

function encode(f: Fields): Buffer {
  const b = Buffer.alloc(232);
  b[0] = f.state; // tcpi_state
  b[1] = f.caState; // tcpi_ca_state
  b[2] = f.retransmits;
  b[3] = f.probes;
  b[4] = f.backoff;
  b[5] = f.options; // TIMESTAMPS 1, SACK 2, WSCALE 4
  b[6] = (f.sndWscale & 0xf) | ((f.rcvWscale & 0xf) << 4);
  const u32 = (off: number, v: number) => b.writeUInt32LE(Math.max(0, Math.min(0xffffffff, Math.round(v))) >>> 0, off);
  u32(8, f.rtoUs); // tcpi_rto
  u32(12, 40_000); // tcpi_ato (TCP_ATO_MIN... as Linux reports a quiet connection: 40 ms)
  u32(16, f.sndMss);
  u32(20, f.rcvMss);
  u32(24, f.unacked);
  u32(36, f.retrans);
  u32(44, f.lastSendMs); // tcpi_last_data_sent
  u32(52, f.lastRecvMs); // tcpi_last_data_recv
  u32(56, f.lastRecvMs); // tcpi_last_ack_recv
  u32(60, f.pmtu);
  u32(64, f.rcvSsthresh);
  u32(68, f.rttUs);
  u32(72, f.rttvarUs);
  u32(76, f.ssthresh); // tcpi_snd_ssthresh (segments)
  u32(80, f.cwnd); // tcpi_snd_cwnd (segments)
  u32(84, f.advmss);
  u32(88, 3); // tcpi_reordering
  u32(96, f.rcvSpace);
  u32(100, f.totalRetrans);
  b.writeBigUInt64LE(BigInt(f.bytesAcked), 120);
  b.writeBigUInt64LE(BigInt(f.bytesReceived), 128);
  u32(136, f.segsOut);
  u32(140, f.segsIn);
  return b;
}

/** Path MTU of a loopback or interface path: IPv4's is capped at 65535 (a v4-mapped v6 socket's too). */
const pathMtu = (mtu: number, v4: boolean) => (v4 ? Math.min(mtu, IPV4_MAX_MTU) : mtu);

export function tcpInfo(ep: TcpEndpoint): Buffer {
  const mss = Math.max(ep.mss, 1);
  const now = ep.nowMs();
  // tp->advmss: the MSS option less what timestamps take from every segment.
  const advmss = ep.advMss - (ep.tsOn ? TS_LEN : 0);
  return encode({
    state: ep.state, caState: ep.cc.inRecovery ? 3 : 0, retransmits: ep.retries, probes: ep.probes, backoff: ep.rtt.backoff,
    options: (ep.tsOn ? 1 : 0) | (ep.sackOn ? 2 : 0) | (ep.wsOn ? 4 : 0), sndWscale: ep.sndWscale, rcvWscale: ep.rcvWscale,
    rtoUs: ep.rtt.current * 1000, sndMss: ep.mss, rcvMss: ep.advMss, unacked: Math.ceil(ep.flight / mss), retrans: ep.retransOut,
    lastSendMs: now - ep.lastSendMs, lastRecvMs: now - ep.lastRecvMs, pmtu: pathMtu(ep.path?.nic.mtu ?? 1500, !ep.v6),
    rcvSsthresh: ep.advMss, rttUs: ep.rtt.srtt * 1000, rttvarUs: ep.rtt.rttvar * 1000,
    ssthresh: ep.cc.ssthresh >= INFINITE_SSTHRESH ? INFINITE_SSTHRESH : ep.cc.ssthresh / mss, cwnd: ep.cc.cwnd / mss, advmss,
    rcvSpace: ep.rcvLimit, totalRetrans: ep.totalRetrans, bytesAcked: ep.bytesAcked, bytesReceived: ep.bytesReceived,
    segsOut: ep.segsOut, segsIn: ep.segsIn,
  });
}

/** What tcp_info needs of a loopback fast-path socket (inet-socket.ts). */
export interface FastTcp {
  /** TCP state (stack/tcp/state.ts numbering). */
  readonly tcpState: number;
  /** An IPv4 path (AF_INET, or a v4-mapped AF_INET6 connection). */
  readonly v4Path: boolean;
  /** This end connected (its SYN was acknowledged: counted in bytes_acked, as tcp_snd_una_update does). */
  readonly activeOpen: boolean;
  /** Bytes the peer took, less what its full buffer holds unacknowledged (SIOCOUTQ). */
  readonly bytesAcked: number;
  readonly bytesReceived: number;
  readonly rcvbuf: number;
}

/**
 * tcp_info of a fast-path connection: loopback's MSS (MTU less headers and timestamps),
 * the options Linux's loopback negotiates, nothing in flight or lost, the initial window
 * (no congestion control runs: nothing is ever lost), a zero round trip (the estimator's
 * 1 us floor) and its RTO.
 */
export function fastTcpInfo(s: FastTcp): Buffer {
  const open = s.tcpState !== TcpState.LISTEN && s.tcpState !== TcpState.CLOSED;
  // ipv4_default_advmss / ipv6_default_advmss, less the timestamps.
  const mss = (s.v4Path ? Math.min(LO_MTU - 40, IPV4_MAX_MTU - 40) : LO_MTU - 60) - TS_LEN;
  return encode({
    state: s.tcpState, caState: 0, retransmits: 0, probes: 0, backoff: 0,
    options: open ? 7 : 0, sndWscale: open ? WSCALE : 0, rcvWscale: open ? WSCALE : 0,
    rtoUs: RTO_MIN_US, sndMss: open ? mss : 536, rcvMss: open ? mss : 0, unacked: 0, retrans: 0,
    lastSendMs: 0, lastRecvMs: 0, pmtu: open ? pathMtu(LO_MTU, s.v4Path) : 0, rcvSsthresh: open ? mss : 0,
    rttUs: open ? RTT_FLOOR_US : 0, rttvarUs: 0, ssthresh: INFINITE_SSTHRESH, cwnd: INIT_CWND, advmss: open ? mss : 0,
    rcvSpace: s.rcvbuf, totalRetrans: 0, bytesAcked: s.bytesAcked + (open && s.activeOpen ? 1 : 0), bytesReceived: s.bytesReceived,
    segsOut: 0, segsIn: 0,
  });
}
