/** struct tcp_info (linux/tcp.h) as TCP_INFO returns it, from a stack endpoint. */
import type { TcpEndpoint } from './stack/tcp/endpoint';

export function tcpInfo(ep: TcpEndpoint): Buffer {
  const b = Buffer.alloc(232);
  b[0] = ep.state; // tcpi_state
  b[1] = ep.cc.inRecovery ? 3 : 0; // tcpi_ca_state (TCP_CA_Recovery)
  b[2] = ep.retries; // tcpi_retransmits
  b[3] = ep.probes; // tcpi_probes
  b[4] = ep.rtt.backoff; // tcpi_backoff
  // tcpi_options: TIMESTAMPS 1, SACK 2, WSCALE 4
  b[5] = (ep.tsOn ? 1 : 0) | (ep.sackOn ? 2 : 0) | (ep.wsOn ? 4 : 0);
  b[6] = (ep.sndWscale & 0xf) | ((ep.rcvWscale & 0xf) << 4);
  const u32 = (off: number, v: number) => b.writeUInt32LE(Math.max(0, Math.min(0xffffffff, Math.round(v))) >>> 0, off);
  u32(8, ep.rtt.current * 1000); // tcpi_rto (us)
  u32(12, 40_000); // tcpi_ato
  u32(16, ep.mss); // tcpi_snd_mss
  u32(20, ep.advMss); // tcpi_rcv_mss
  u32(24, Math.ceil(ep.flight / Math.max(ep.mss, 1))); // tcpi_unacked
  u32(28, 0); // tcpi_sacked
  u32(32, 0); // tcpi_lost
  u32(36, ep.retransOut); // tcpi_retrans
  u32(40, 0); // tcpi_fackets
  const now = ep.nowMs();
  u32(44, now - ep.lastSendMs); // tcpi_last_data_sent
  u32(48, 0); // tcpi_last_ack_sent
  u32(52, now - ep.lastRecvMs); // tcpi_last_data_recv
  u32(56, now - ep.lastRecvMs); // tcpi_last_ack_recv
  u32(60, ep.path?.nic.mtu ?? 1500); // tcpi_pmtu
  u32(64, ep.advMss); // tcpi_rcv_ssthresh
  u32(68, ep.rtt.srtt * 1000); // tcpi_rtt (us)
  u32(72, ep.rtt.rttvar * 1000); // tcpi_rttvar
  u32(76, Math.min(ep.cc.ssthresh / Math.max(ep.mss, 1), 0x7fffffff)); // tcpi_snd_ssthresh (segments)
  u32(80, ep.cc.cwnd / Math.max(ep.mss, 1)); // tcpi_snd_cwnd
  u32(84, ep.advMss + 52); // tcpi_advmss
  u32(88, 3); // tcpi_reordering
  u32(92, 0); // tcpi_rcv_rtt
  u32(96, ep.rcvLimit); // tcpi_rcv_space
  u32(100, ep.totalRetrans); // tcpi_total_retrans
  b.writeBigUInt64LE(BigInt(ep.bytesAcked), 120); // tcpi_bytes_acked
  b.writeBigUInt64LE(BigInt(ep.bytesReceived), 128); // tcpi_bytes_received
  u32(136, ep.segsOut); // tcpi_segs_out
  u32(140, ep.segsIn); // tcpi_segs_in
  return b;
}
