/**
 * Sending: segment construction (in place in the stack's tx buffer), the send loop
 * (window, congestion window, Nagle, cork, FIN), retransmission and the timers' actions
 * (RTO with RFC 6298 backoff, delayed ACK, zero-window probes, keepalive).
 */
import * as E from '../../../abi/errno';
import type { TcpEndpoint } from './endpoint';
import { EV_OUT } from './endpoint';
import { TcpState } from './state';
import { SYN, FIN, RST, ACK, PSH, URG, writeOptions, type OutOpts } from './segment';
import { urgentPointer } from './urgent';
import { add, diff, gt, lt } from './seq';
import { sumBytes, finish, fold, pseudoSum } from '../checksum';
import { IPPROTO_TCP } from '../ipv4';
import { rackRecord, rackReset } from './rack';

/** Fast retransmit (duplicate ACKs, SACK, RACK): recovery begins with the first unacknowledged segment. */
export function startRecovery(ep: TcpEndpoint): void {
  ep.cc.enterRecovery(ep.flight, ep.sndMax);
  ep.stack.mib.tcpSackRecovery++;
  ep.tlpHigh = -1;
  ep.probeTimer.cancel();
  ep.rackTimer.cancel();
  ep.rexmitNext = ep.sndUna;
  retransmitFirst(ep);
  ep.rexmitNext = add(ep.sndUna, Math.min(ep.mss, ep.sendQ.bytes));
}

const opts: OutOpts = { mss: 0, wscale: -1, sackOk: false, ts: false, tsVal: 0, tsEcr: 0, sack: null, sackCount: 0 };
const sackBuf = new Uint32Array(8);
const SYN_RETRIES = 6;
const SYNACK_RETRIES = 5;
const DATA_RETRIES = 15;
export const DELAYED_ACK_MS = 40;
/**
 * Segments one output() call may send before yielding to the next Sentry round: a link
 * with no queue of its own (a veth's peer takes frames into a 1000-frame backlog) drops
 * a whole window sent at once; yielding lets the receiving side drain (pacing, roughly).
 */
const BURST = 64;

/** The window to advertise (unscaled bytes), never moving the right edge left. */
function rcvWindow(ep: TcpEndpoint): number {
  let space = ep.rcvLimit - ep.recvQ.bytes - ep.ooo.bytes;
  if (space < 0) space = 0;
  // Receiver-side silly window avoidance (RFC 1122): do not offer tiny windows.
  if (space < Math.min(ep.rcvLimit >> 1, ep.advMss)) space = 0;
  const cur = diff(ep.rcvAdv, ep.rcvNxt);
  if (cur > space) space = cur;
  const max = ep.wsOn ? 65535 << ep.rcvWscale : 65535;
  return Math.min(space, max);
}

/** Builds and sends one segment: seq, flags, dataLen bytes from the send queue at seq. */
export function sendSeg(ep: TcpEndpoint, seq: number, flags: number, dataLen: number): number {
  const s = ep.stack;
  const path = ep.path;
  if (path === null) return -E.ENETUNREACH;
  const syn = (flags & SYN) !== 0;
  const o = s.l4Off(ep.v6);
  const b = s.tx;
  opts.mss = ep.advMss;
  opts.wscale = syn && (ep.state === TcpState.SYN_SENT || ep.wsOn) ? ep.rcvWscale : -1;
  opts.sackOk = syn && (ep.state === TcpState.SYN_SENT || ep.sackOn);
  opts.ts = syn ? ep.state === TcpState.SYN_SENT || ep.tsOn : ep.tsOn;
  opts.tsVal = ep.nowMs() >>> 0;
  opts.tsEcr = ep.tsRecent;
  opts.sack = null;
  opts.sackCount = 0;
  if (!syn && ep.sackOn && !ep.ooo.empty) {
    opts.sackCount = ep.ooo.sackBlocks(sackBuf);
    opts.sack = sackBuf;
  }
  const olen = writeOptions(b, o + 20, syn, opts);
  const hl = 20 + olen;
  b.writeUInt16BE(ep.port, o);
  b.writeUInt16BE(ep.rport, o + 2);
  b.writeUInt32BE(seq >>> 0, o + 4);
  let wnd = 0;
  if (flags & ACK) {
    b.writeUInt32BE(ep.rcvNxt >>> 0, o + 8);
    const w = rcvWindow(ep);
    wnd = syn ? Math.min(w, 65535) : w >>> (ep.wsOn ? ep.rcvWscale : 0);
    if (wnd > 65535) wnd = 65535;
    if (!syn) {
      const edge = add(ep.rcvNxt, wnd << (ep.wsOn ? ep.rcvWscale : 0));
      if (gt(edge, ep.rcvAdv)) ep.rcvAdv = edge;
    } else ep.rcvAdv = add(ep.rcvNxt, wnd);
  } else b.writeUInt32BE(0, o + 8);
  if (flags & RST) wnd = 0;
  if (flags & FIN) ep.finSentSeq = add(seq, dataLen);
  b[o + 12] = (hl / 4) << 4;
  const urp = ep.sndUrgent ? urgentPointer(ep, seq) : 0;
  b[o + 13] = urp > 0 ? flags | URG : flags;
  b.writeUInt16BE(wnd, o + 14);
  b.writeUInt16BE(0, o + 16);
  b.writeUInt16BE(urp, o + 18);
  if (dataLen > 0) ep.sendQ.copyAt(diff(seq, ep.sndUna), dataLen, b, o + hl);
  const len = hl + dataLen;
  // The checksum: left out where the receiver trusts the link (loopback, the user-mode
  // wire); only the pseudo-header's where the host finishes it (a GSO link; segments with
  // data only: pure ACKs so sent stalled transfers); else whole. A capture or a raw
  // socket sees whole checksums.
  const link = path.nic.link;
  const exact = s.wantsWireFrames;
  let partial = 0;
  if (exact || link.csumOffload?.() !== true) {
    const ps = pseudoSum(path.src, ep.remote, IPPROTO_TCP, len, ep.v6);
    if (!exact && dataLen > 0 && link.gso !== undefined && link.gso > 0) {
      b.writeUInt16BE(fold(ps), o + 16);
      partial = ep.mss;
    } else b.writeUInt16BE(finish(sumBytes(b, o, len, ps)), o + 16);
  }
  if (flags & ACK) {
    ep.ackPending = 0;
    ep.dackTimer.cancel();
  }
  ep.segsOut++;
  s.mib.tcpOutSegs++;
  ep.lastSendMs = opts.tsVal;
  s.txPartial = partial;
  s.txGive = dataLen > 0; // b is not touched after the send: a link may take it as the frame
  try {
    return s.sendOn(path, ep.remote, IPPROTO_TCP, len, ep.ttl, ep.tos, true);
  } finally {
    s.txPartial = 0;
    s.txGive = false;
  }
}

/**
 * The most payload one segment of ours may carry: the MSS, or on a link where the host
 * segments (GSO) as many whole MSS as fit in one IP packet (a capture or raw socket on
 * the stack wants the wire's segments, so none then).
 */
function segmentLimit(ep: TcpEndpoint): number {
  const path = ep.path;
  const gso = path?.nic.link.gso;
  // Urgent data goes in wire-sized segments: each carries its own pointer.
  if (gso === undefined || gso <= 0 || ep.sndUrgent || ep.stack.wantsWireFrames) return ep.mss;
  const room = Math.min(gso, 0xffff - 20 - 60);
  return Math.max(ep.mss, Math.floor(room / ep.mss) * ep.mss);
}

export function sendControl(ep: TcpEndpoint, seq: number, flags: number): void {
  if (ep.state === TcpState.SYN_SENT && (flags & SYN) !== 0) return void sendSeg(ep, seq, SYN, 0);
  sendSeg(ep, seq, flags, 0);
}

export function sendAck(ep: TcpEndpoint): void {
  sendSeg(ep, ep.sndNxt, ACK, 0);
}

/** The ACK policy after receiving data: every second full segment at once, else within 40 ms. */
/** Segments a batch of received frames may hold back its ACK for (see scheduleAck). */
const BATCH_ACK_SEGS = 16;

export function scheduleAck(ep: TcpEndpoint, now: boolean): void {
  if (ep.quickAcks > 0) {
    ep.quickAcks--;
    now = true;
  }
  if (now) return sendAck(ep);
  if (++ep.ackPending >= 2) {
    // Over a link of this Sentry's own that delivers a round's frames together
    // (loopback, the user-mode wire), one ACK after the batch.
    if (ep.path !== null && ep.path.nic.link.csumOffload?.() === true) return ep.tcp.deferAck(ep);
    // Within a host link's batch (FdLink: the frames one wake read), one ACK at its end,
    // or every BATCH_ACK_SEGS segments of a long batch so the sender's window keeps moving.
    if (ep.tcp.batching && ep.ackPending < BATCH_ACK_SEGS) return ep.tcp.deferAck(ep);
    return sendAck(ep);
  }
  ep.dackTimer.ensure(DELAYED_ACK_MS);
}

export function onDelayedAck(ep: TcpEndpoint): void {
  if (ep.state === TcpState.CLOSED || ep.state === TcpState.LISTEN) return;
  if (ep.ackPending > 0) sendAck(ep);
}

/** Sends what the windows allow: new data, then the FIN once all data is out. */
export function output(ep: TcpEndpoint): void {
  const st = ep.state;
  if (st !== TcpState.ESTABLISHED && st !== TcpState.CLOSE_WAIT && st !== TcpState.FIN_WAIT1 && st !== TcpState.LAST_ACK && st !== TcpState.CLOSING) return;
  const dataEnd = add(ep.sndUna, ep.sendQ.bytes);
  const finSeq = dataEnd; // the FIN's sequence number once queued
  const segMax = segmentLimit(ep);
  // RACK's send times (rack.ts): with SACK, on links that can lose (not loopback, not the
  // user-mode wire between two stacks of this Sentry).
  const timed = ep.sackOn && ep.path !== null && !ep.path.nic.loopback && ep.path.nic.link.csumOffload?.() !== true;
  let sent = 0;
  for (;;) {
    if (sent >= BURST && ep.path !== null && !ep.path.nic.loopback) {
      ep.burstTimer.ensure(0);
      break;
    }
    const unsent = diff(dataEnd, ep.sndNxt);
    const inFlight = diff(ep.sndNxt, ep.sndUna);
    const wnd = Math.min(ep.sndWnd, ep.cc.cwnd);
    if (unsent > 0) {
      const usable = Math.min(ep.sndWnd, ep.cc.cwnd) - inFlight;
      let len = Math.min(unsent, segMax, usable);
      if (len <= 0) {
        if (ep.sndWnd === 0 && inFlight === 0) ep.persistTimer.ensure(ep.rtt.current);
        break;
      }
      if (len < ep.mss && len < unsent) {
        // The window, not the data, limits this segment; wait for more room unless nothing is in flight.
        if (inFlight > 0) break;
      }
      if (len < ep.mss && len === unsent && !ep.finQueued) {
        // Nagle (RFC 896): one small segment in flight at a time, unless TCP_NODELAY; TCP_CORK holds partial segments.
        if (ep.cork) break;
        if (!ep.nodelay && inFlight > 0) break;
      }
      if (lt(ep.sndNxt, ep.sndMax) && ep.sacked.length) {
        // Resending after a timeout: what the peer SACKed needs no second copy.
        const e = sackedEnd(ep, ep.sndNxt);
        if (e >= 0) {
          ep.sndNxt = e;
          continue;
        }
        let stop = -1;
        for (let j = 0; j < ep.sacked.length; j += 2) if (gt(ep.sacked[j], ep.sndNxt)) {
          stop = ep.sacked[j];
          break;
        }
        if (stop >= 0 && diff(stop, ep.sndNxt) < len) len = diff(stop, ep.sndNxt);
      }
      if (len > unsent) len = unsent;
      const last = len === unsent;
      const withFin = last && ep.finQueued && wnd - inFlight > len;
      const seq = ep.sndNxt;
      const rexmit = lt(seq, ep.sndMax);
      if (rexmit) {
        ep.totalRetrans++;
        ep.stack.mib.tcpRetransSegs++;
      } else if (ep.rttSeq < 0 && !ep.tsOn) {
        ep.rttSeq = add(seq, len);
        ep.rttStart = ep.nowMs();
      }
      sendSeg(ep, seq, ACK | (last ? PSH : 0) | (withFin ? FIN : 0), len);
      if (timed && !rexmit) ep.sentTimes.push(seq, add(seq, len), ep.nowMs());
      sent++;
      ep.sndNxt = add(seq, len + (withFin ? 1 : 0));
      if (gt(ep.sndNxt, ep.sndMax)) ep.sndMax = ep.sndNxt;
      ep.rtoTimer.ensure(ep.rtt.current);
      if (withFin) break;
      continue;
    }
    if (ep.finQueued && ep.sndNxt === finSeq) {
      sendSeg(ep, finSeq, ACK | FIN, 0);
      sent++;
      ep.sndNxt = add(finSeq, 1);
      if (gt(ep.sndNxt, ep.sndMax)) ep.sndMax = ep.sndNxt;
      ep.rtoTimer.ensure(ep.rtt.current);
    }
    break;
  }
  if (sent > 0) armProbe(ep);
}

/**
 * Arms the tail loss probe (RFC 8985 §7.2): PTO = 2·SRTT (at least 10 ms, plus a delayed
 * ACK's wait when one segment is out), when that comes before the RTO. Only with SACK (the
 * probe's SACK is what reveals the hole), one probe per flight, none in recovery.
 */
export function armProbe(ep: TcpEndpoint): void {
  const flight = ep.flight;
  if (!ep.sackOn || ep.cc.inRecovery || ep.tlpHigh >= 0 || flight === 0 || ep.rtt.samples === 0 || ep.path?.nic.loopback !== false) {
    return ep.probeTimer.cancel();
  }
  let pto = Math.max(2 * ep.rtt.srtt, 10);
  if (flight <= ep.mss) pto += DELAYED_ACK_MS;
  if (pto >= ep.rtt.current) return ep.probeTimer.cancel();
  ep.probeTimer.arm(pto);
}

/** The probe: the last segment sent, again (its SACK shows what before it is missing). */
export function onProbe(ep: TcpEndpoint): void {
  const st = ep.state;
  if (st !== TcpState.ESTABLISHED && st !== TcpState.CLOSE_WAIT && st !== TcpState.FIN_WAIT1 && st !== TcpState.LAST_ACK && st !== TcpState.CLOSING) return;
  if (ep.cc.inRecovery || ep.flight === 0 || ep.tlpHigh >= 0) return;
  const fin = finSent(ep);
  const sent = sentData(ep);
  const len = Math.min(ep.mss, sent);
  if (len === 0 && !fin) return;
  ep.totalRetrans++;
  ep.stack.mib.tcpRetransSegs++;
  ep.stack.mib.tcpLossProbes++;
  ep.tlpHigh = ep.sndMax;
  sendSeg(ep, add(ep.sndUna, sent - len), ACK | (fin ? FIN : 0), len);
  ep.rtoTimer.arm(ep.rtt.current);
}

/**
 * SACK says the first unacknowledged segment is lost before three duplicate ACKs came
 * (RFC 6675 IsLost: more than two segments' worth SACKed above it), or the tail probe
 * arrived and the hole did not.
 */
export function sackSaysLost(ep: TcpEndpoint): boolean {
  const r = ep.sacked;
  if (!ep.sackOn || r.length === 0) return false;
  if (ep.tlpHigh >= 0 && !lt(r[r.length - 1], ep.tlpHigh)) return true;
  let bytes = 0;
  for (let j = 0; j < r.length; j += 2) bytes += diff(r[j + 1], r[j]);
  return bytes > 2 * ep.mss;
}

/** Records the SACK blocks of an ACK (RFC 2018) in the scoreboard; drops what sndUna passed. */
export function updateScoreboard(ep: TcpEndpoint, blocks: Uint32Array, n: number): void {
  const r = ep.sacked;
  for (let i = 0; i < n; i++) {
    let l = blocks[i * 2];
    let h = blocks[i * 2 + 1];
    if (!lt(ep.sndUna, h) || gt(h, ep.sndMax) || !lt(l, h)) continue;
    if (lt(l, ep.sndUna)) l = ep.sndUna;
    // Insert and merge.
    const out: number[] = [];
    let placed = false;
    for (let j = 0; j < r.length; j += 2) {
      const a = r[j], b = r[j + 1];
      if (lt(b, l)) out.push(a, b);
      else if (lt(h, a)) {
        if (!placed) {
          out.push(l, h);
          placed = true;
        }
        out.push(a, b);
      } else {
        l = lt(a, l) ? a : l;
        h = gt(b, h) ? b : h;
      }
    }
    if (!placed) out.push(l, h);
    ep.sacked = out;
  }
  pruneScoreboard(ep);
}

export function pruneScoreboard(ep: TcpEndpoint): void {
  const r = ep.sacked;
  let k = 0;
  while (k < r.length && !lt(ep.sndUna, r[k + 1])) k += 2;
  if (k > 0) ep.sacked = r.slice(k);
  if (ep.sacked.length && lt(ep.sacked[0], ep.sndUna)) ep.sacked[0] = ep.sndUna;
}

/** If seq lies in a SACKed range, the end of that range; else -1. */
function sackedEnd(ep: TcpEndpoint, seq: number): number {
  const r = ep.sacked;
  for (let j = 0; j < r.length; j += 2) if (!lt(seq, r[j]) && lt(seq, r[j + 1])) return r[j + 1];
  return -1;
}

/**
 * SACK loss recovery (RFC 6675, simplified): each ACK in recovery clocks out the next hole
 * below the highest SACKed byte; returns false when there is no hole left to repair.
 */
export function retransmitHole(ep: TcpEndpoint): boolean {
  const r = ep.sacked;
  if (!ep.sackOn || r.length === 0) return false;
  let seq = lt(ep.rexmitNext, ep.sndUna) ? ep.sndUna : ep.rexmitNext;
  const top = r[r.length - 2];
  for (;;) {
    const e = sackedEnd(ep, seq);
    if (e < 0) break;
    seq = e;
  }
  if (!lt(seq, top)) return false;
  // The hole runs up to the next SACKed range.
  let holeEnd = top;
  for (let j = 0; j < r.length; j += 2) if (gt(r[j], seq)) {
    holeEnd = r[j];
    break;
  }
  const off = diff(seq, ep.sndUna);
  const len = Math.min(ep.mss, diff(holeEnd, seq), ep.sendQ.bytes - off);
  if (len <= 0) return false;
  ep.totalRetrans++;
  ep.stack.mib.tcpRetransSegs++;
  ep.rttSeq = -1;
  sendSeg(ep, seq, ACK, len);
  rackRecord(ep, seq, len);
  ep.rexmitNext = add(seq, len);
  return true;
}

/**
 * Queued bytes already sent once (below snd_max). A retransmission carries only these:
 * bytes written since (held by Nagle, cork or the window) are new data, and sent from a
 * retransmission path they would pass snd_max unrecorded, so the peer's ACK of them
 * would be "ACK of unsent data", dropped, and the connection would retransmit forever.
 */
function sentData(ep: TcpEndpoint): number {
  return Math.min(ep.sendQ.bytes, diff(ep.sndMax, ep.sndUna));
}

/** Our FIN has been sent (it sits at snd_max - 1, after all the queued data). */
function finSent(ep: TcpEndpoint): boolean {
  return ep.finQueued && diff(ep.sndMax, ep.sndUna) > ep.sendQ.bytes;
}

/** Retransmits the first unacknowledged segment (fast retransmit, partial ACKs). */
export function retransmitFirst(ep: TcpEndpoint): void {
  const dataLen = Math.min(sentData(ep), ep.mss);
  const finHere = finSent(ep) && dataLen === ep.sendQ.bytes;
  if (dataLen === 0 && !finHere) return;
  ep.totalRetrans++;
  ep.stack.mib.tcpRetransSegs++;
  ep.rttSeq = -1;
  sendSeg(ep, ep.sndUna, ACK | (finHere ? FIN : 0) | (dataLen > 0 ? PSH : 0), dataLen);
  rackRecord(ep, ep.sndUna, dataLen);
}

export function onRto(ep: TcpEndpoint): void {
  const st = ep.state;
  if (st === TcpState.CLOSED || st === TcpState.LISTEN || st === TcpState.TIME_WAIT) return;
  ep.retries++;
  ep.rtt.onTimeout();
  ep.rttSeq = -1;
  ep.stack.mib.tcpTimeouts++;
  if (st === TcpState.SYN_SENT) {
    if (ep.retries > SYN_RETRIES) return ep.fail(E.ETIMEDOUT);
    sendSeg(ep, ep.iss, SYN, 0);
    ep.rtoTimer.arm(ep.rtt.current);
    return;
  }
  if (st === TcpState.SYN_RECV) {
    if (ep.retries > SYNACK_RETRIES) return ep.abortQuiet();
    sendSeg(ep, ep.iss, SYN | ACK, 0);
    ep.rtoTimer.arm(ep.rtt.current);
    return;
  }
  if (ep.sndUna === ep.sndMax) return;
  if (ep.retries > DATA_RETRIES || (ep.userTimeout > 0 && ep.nowMs() - ep.lastRecvMs > ep.userTimeout)) return ep.fail(E.ETIMEDOUT);
  ep.cc.onTimeout(ep.flight);
  ep.tlpHigh = -1;
  ep.probeTimer.cancel();
  rackReset(ep);
  ep.sentTimes.clear(); // what goes again goes as retransmissions: no first loss to find
  // Go back to the first unacknowledged byte; the receiver's reassembly keeps what arrived.
  ep.sndNxt = ep.sndUna;
  ep.totalRetrans++;
  ep.stack.mib.tcpRetransSegs++;
  const dataLen = Math.min(sentData(ep), ep.mss);
  const fin = finSent(ep) && dataLen === ep.sendQ.bytes;
  sendSeg(ep, ep.sndUna, ACK | (fin ? FIN : 0), dataLen);
  ep.sndNxt = add(ep.sndUna, dataLen + (fin ? 1 : 0));
  ep.rtoTimer.arm(ep.rtt.current);
}

/** Zero window: probe with an old sequence number so the peer answers with its window. */
export function onPersist(ep: TcpEndpoint): void {
  if (ep.state === TcpState.CLOSED || ep.sndWnd > 0 || ep.sendQ.bytes === 0) return output(ep);
  ep.rtt.onTimeout();
  sendSeg(ep, add(ep.sndUna, -1), ACK, 0);
  ep.persistTimer.arm(ep.rtt.current);
}

export function onKeepalive(ep: TcpEndpoint): void {
  if (!ep.keepalive || (ep.state !== TcpState.ESTABLISHED && ep.state !== TcpState.CLOSE_WAIT)) return;
  const idleMs = ep.nowMs() - ep.lastRecvMs;
  if (ep.probes === 0 && idleMs < ep.keepIdle * 1000) return ep.keepTimer.arm(ep.keepIdle * 1000 - idleMs);
  if (ep.probes >= ep.keepCnt) return ep.fail(E.ETIMEDOUT);
  ep.probes++;
  sendSeg(ep, add(ep.sndUna, -1), ACK, 0);
  ep.keepTimer.arm(ep.keepIntvl * 1000);
}

/** After the reader freed space: advertise the larger window if it grew enough to matter. */
export function sendWindowUpdateIfNeeded(ep: TcpEndpoint): void {
  if (ep.state !== TcpState.ESTABLISHED && ep.state !== TcpState.FIN_WAIT1 && ep.state !== TcpState.FIN_WAIT2) return;
  const cur = diff(ep.rcvAdv, ep.rcvNxt);
  const space = ep.rcvLimit - ep.recvQ.bytes - ep.ooo.bytes;
  if (space - cur >= Math.min(ep.rcvLimit >> 1, 2 * ep.advMss)) sendAck(ep);
}

/** Wakes the writer when the send queue drained enough. */
export function wakeWriter(ep: TcpEndpoint): void {
  if (ep.writable) ep.notify(EV_OUT);
}
