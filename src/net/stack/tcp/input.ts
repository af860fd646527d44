/**
 * Segment arrival (RFC 9293 §3.10.7) for an endpoint that is not listening: SYN_SENT,
 * then the synchronized states: sequence check, RST (RFC 5961 exact match), SYN,
 * ACK processing (RTT samples, congestion control, fast retransmit/recovery, window
 * update), data and reassembly, FIN and the closing states.
 */
import * as E from '../../../abi/errno';
import type { TcpEndpoint } from './endpoint';
import { EV_IN, EV_OUT, EV_HUP, EV_RDHUP, EV_ERR } from './endpoint';
import { TcpState, canReceive } from './state';
import { type Segment, SYN, FIN, RST, ACK, URG } from './segment';
import { checkUrg, urgArrived } from './urgent';
import { add, diff, gt, ge, lt, le } from './seq';

/** Smallest in-order payload kept in its frame's buffer (a 64 KiB block) rather than copied. */
const KEEP_MIN = 16 * 1024;
import { rackDetect, rackFirstLoss } from './rack';
import { output, sendAck, scheduleAck, sendSeg, retransmitFirst, wakeWriter, updateScoreboard, pruneScoreboard, retransmitHole, armProbe, sackSaysLost, startRecovery } from './output';

/** Applies the options of a SYN (or SYN-ACK) to the connection. */
export function applySynOptions(ep: TcpEndpoint, seg: Segment): void {
  const peerMss = seg.mss > 0 ? seg.mss : 536;
  ep.mss = Math.max(64, Math.min(peerMss, ep.advMss));
  if (seg.wscale >= 0) {
    ep.wsOn = true;
    ep.sndWscale = seg.wscale;
  } else {
    ep.wsOn = false;
    ep.sndWscale = 0;
    ep.rcvWscale = 0;
  }
  ep.sackOn = seg.sackOk;
  if (seg.hasTs) {
    ep.tsOn = true;
    ep.tsRecent = seg.tsVal;
  } else ep.tsOn = false;
  if (ep.tsOn) ep.mss -= 12;
  ep.cc.setMss(ep.mss);
}

export function established(ep: TcpEndpoint): void {
  ep.state = TcpState.ESTABLISHED;
  ep.retries = 0;
  ep.lastRecvMs = ep.nowMs();
  ep.armKeepalive();
}

export function segmentArrives(ep: TcpEndpoint, seg: Segment): void {
  ep.segsIn++;
  ep.stack.mib.tcpInSegs++;
  const f = seg.flags;
  if (ep.state === TcpState.SYN_SENT) return synSent(ep, seg);
  if (ep.state === TcpState.CLOSED) return;
  if (ep.state === TcpState.SYN_RECV && (f & SYN) && seg.seq === ep.irs) {
    // Our SYN crossed theirs (simultaneous open), or their SYN was retransmitted.
    if ((f & ACK) && seg.ack === ep.sndMax) {
      ep.sndUna = seg.ack;
      ep.sndWnd = seg.wnd << ep.sndWscale;
      ep.sndWl1 = seg.seq;
      ep.sndWl2 = seg.ack;
      ep.rtoTimer.cancel();
      established(ep);
      sendAck(ep);
      ep.tcp.childEstablished(ep);
      return;
    }
    sendSeg(ep, ep.iss, SYN | ACK, 0);
    return;
  }

  // PAWS (RFC 7323): a timestamp older than the last one seen is a stale duplicate.
  if (ep.tsOn && seg.hasTs && !(f & RST) && lt(seg.tsVal, ep.tsRecent) && ep.state !== TcpState.SYN_RECV) {
    if (seg.segLen > 0) sendAck(ep);
    return;
  }

  // 1. Sequence number acceptable? (RFC 9293 table: zero-length and zero-window cases.)
  const len = seg.segLen;
  const wnd = Math.max(diff(ep.rcvAdv, ep.rcvNxt), 0);
  let ok: boolean;
  if (len === 0) ok = wnd === 0 ? seg.seq === ep.rcvNxt : ge(seg.seq, ep.rcvNxt) && lt(seg.seq, add(ep.rcvNxt, wnd)) || seg.seq === ep.rcvNxt;
  else if (wnd === 0) ok = false;
  else ok = (ge(seg.seq, ep.rcvNxt) && lt(seg.seq, add(ep.rcvNxt, wnd))) || (gt(add(seg.seq, len), ep.rcvNxt) && le(add(seg.seq, len - 1), add(ep.rcvNxt, wnd)));
  if (!ok && len > 0 && lt(seg.seq, ep.rcvNxt) && le(add(seg.seq, len), ep.rcvNxt)) ok = false;
  if (!ok) {
    if (f & RST) return;
    if (ep.state === TcpState.TIME_WAIT && (f & SYN) && !(f & ACK)) return ep.tcp.timeWaitSyn(ep, seg);
    // A zero window still takes ACKs and window updates: process the ACK part only.
    if (len > 0 && wnd === 0 && seg.seq === ep.rcvNxt && (f & ACK)) {
      processAck(ep, seg);
      sendAck(ep);
      return;
    }
    sendAck(ep);
    return;
  }

  // 2. RST: only an exact match resets (RFC 5961 §3); in window otherwise: challenge ACK.
  if (f & RST) {
    if (seg.seq !== ep.rcvNxt) return sendAck(ep);
    switch (ep.state) {
      case TcpState.SYN_RECV:
        // A passive open goes back to nothing (the listener never saw it).
        if (ep.parent !== null) return ep.abortQuiet();
        return ep.fail(E.ECONNREFUSED);
      case TcpState.CLOSE_WAIT:
        // The peer had closed: its RST answers our data; writes fail with EPIPE (Linux's tcp_reset).
        return ep.fail(E.EPIPE);
      case TcpState.ESTABLISHED:
      case TcpState.FIN_WAIT1:
      case TcpState.FIN_WAIT2:
        return ep.fail(E.ECONNRESET);
      default:
        // CLOSING, LAST_ACK, TIME_WAIT: just close.
        return ep.fail(ep.state === TcpState.TIME_WAIT ? 0 : 0);
    }
  }

  // 3. SYN in a synchronized state: challenge ACK (RFC 5961 §4); a retransmitted SYN in SYN_RECV: resend SYN-ACK.
  if (f & SYN) {
    if (ep.state === TcpState.SYN_RECV && seg.seq === ep.irs) {
      sendSeg(ep, ep.iss, SYN | ACK, 0);
      return;
    }
    return sendAck(ep);
  }

  if (!(f & ACK)) return;

  if (seg.hasTs && ep.tsOn && le(seg.seq, ep.rcvNxt)) ep.tsRecent = seg.tsVal;
  ep.lastRecvMs = ep.nowMs();
  ep.probes = 0;

  // 4. ACK.
  if (ep.state === TcpState.SYN_RECV) {
    if (!(gt(seg.ack, ep.sndUna) && le(seg.ack, ep.sndMax))) {
      ep.tcp.sendResetFor(ep, seg);
      return;
    }
    // Accept queue full: ignore the ACK (Linux, tcp_abort_on_overflow=0); our SYN-ACK retransmits later.
    if (ep.parent !== null && ep.parent.acceptQ.length > ep.parent.backlog) return;
    ep.sndUna = seg.ack;
    ep.sndWnd = seg.wnd << ep.sndWscale;
    ep.maxSndWnd = Math.max(ep.maxSndWnd, ep.sndWnd);
    ep.sndWl1 = seg.seq;
    ep.sndWl2 = seg.ack;
    ep.rtoTimer.cancel();
    if (ep.tsOn && seg.hasTs && seg.tsEcr !== 0) ep.rtt.sample(ep.nowMs() - seg.tsEcr);
    established(ep);
    ep.tcp.childEstablished(ep);
  } else {
    const r = processAck(ep, seg);
    if (r < 0) return;
  }

  // Closing states driven by the ACK of our FIN.
  const finAcked = finWasSent(ep);
  switch (ep.state) {
    case TcpState.FIN_WAIT1:
      if (finAcked) {
        ep.state = TcpState.FIN_WAIT2;
        if (ep.orphan) ep.waitTimer.arm(60_000);
        ep.notify(EV_OUT);
      }
      break;
    case TcpState.CLOSING:
      if (finAcked) return ep.enterTimeWait();
      return output(ep);
    case TcpState.LAST_ACK:
      if (finAcked) return ep.finalClose();
      return output(ep);
    case TcpState.TIME_WAIT:
      // A retransmitted FIN: acknowledge it and restart 2MSL.
      if (f & FIN) {
        sendAck(ep);
        ep.enterTimeWait();
      }
      return;
    default:
      break;
  }

  // 5. Urgent pointer (before the data it may point into), then data.
  if ((f & URG) && canReceive(ep.state)) checkUrg(ep, seg);
  let advanced = false;
  if (seg.dataLen > 0 && canReceive(ep.state)) {
    if (ep.orphan || ep.rdShut && ep.orphan) {
      // Data for a socket nobody will read: reset (as Linux does for a closed socket).
      return ep.abort(0);
    }
    let seq = seg.seq;
    let off = seg.dataOff;
    let n = seg.dataLen;
    if (lt(seq, ep.rcvNxt)) {
      const skip = diff(ep.rcvNxt, seq);
      seq = ep.rcvNxt;
      off += skip;
      n -= skip;
    }
    const room = diff(add(ep.rcvAdv, 0), seq);
    if (n > room) n = Math.max(room, 0);
    if (n > 0) {
      if (seq === ep.rcvNxt) {
        const hadHoles = !ep.ooo.empty;
        const keep = ep.stack.rxKeep;
        if (keep !== null && n >= KEEP_MIN && seg.buf === ep.stack.rxKeepFrame) {
          // The frame's pool buffer becomes a receive-queue block: no copy.
          ep.stack.rxKeep = null;
          ep.recvQ.pushBlock(seg.buf.subarray(off, off + n), keep);
        } else ep.recvQ.push(seg.buf.subarray(off, off + n), false);
        ep.rcvNxt = add(ep.rcvNxt, n);
        ep.bytesReceived += n;
        if (hadHoles) {
          ep.rcvNxt = ep.ooo.take(ep.rcvNxt, (d) => {
            ep.recvQ.push(d, false);
            ep.bytesReceived += d.length;
          });
        }
        advanced = true;
        if (ep.ooo.finSeq >= 0 && ep.ooo.finSeq === ep.rcvNxt) {
          ep.ooo.finSeq = -1;
          receiveFin(ep);
        } else scheduleAck(ep, hadHoles || !ep.ooo.empty);
      } else {
        ep.ooo.add(seq, seg.buf, off, n);
        sendAck(ep);
      }
    } else if (seg.dataLen > 0) sendAck(ep);
  }

  // 6. FIN.
  if ((f & FIN) && canReceive(ep.state)) {
    const finSeq = add(seg.seq, seg.dataLen);
    if (finSeq === ep.rcvNxt) receiveFin(ep);
    else if (gt(finSeq, ep.rcvNxt)) ep.ooo.finSeq = finSeq;
  } else if ((f & FIN) && ep.state === TcpState.CLOSE_WAIT) {
    sendAck(ep);
  }
  if (advanced) {
    ep.notify(EV_IN);
    if (ep.urgState !== 0) urgArrived(ep);
  }
  output(ep);
}

function finWasSent(ep: TcpEndpoint): boolean {
  // The FIN occupies the sequence number after the data; all of it acked means FIN acked.
  return ep.finQueued && ep.finSentSeq >= 0 && ep.sndUna === add(ep.finSentSeq, 1);
}

function receiveFin(ep: TcpEndpoint): void {
  ep.rcvNxt = add(ep.rcvNxt, 1);
  ep.rcvFin = true;
  sendAck(ep);
  switch (ep.state) {
    case TcpState.ESTABLISHED:
      ep.state = TcpState.CLOSE_WAIT;
      break;
    case TcpState.FIN_WAIT1:
      // Our FIN not yet acked: simultaneous close.
      if (finWasSent(ep)) ep.enterTimeWait();
      else ep.state = TcpState.CLOSING;
      break;
    case TcpState.FIN_WAIT2:
      ep.enterTimeWait();
      break;
    default:
      break;
  }
  ep.notify(EV_IN | EV_RDHUP | (ep.finQueued ? EV_HUP : 0));
}

/** ACK processing in the synchronized states; -1 when the segment must be dropped. */
function processAck(ep: TcpEndpoint, seg: Segment): number {
  const ack = seg.ack;
  if (gt(ack, ep.sndMax)) {
    sendAck(ep);
    return -1;
  }
  const wndScaled = seg.wnd << ep.sndWscale;
  if (ep.sackOn && seg.sackCount > 0) updateScoreboard(ep, seg.sack, seg.sackCount);
  if (gt(ack, ep.sndUna)) {
    const acked = diff(ack, ep.sndUna);
    const dataAcked = Math.min(acked, ep.sendQ.bytes);
    ep.sendQ.consume(dataAcked);
    ep.bytesAcked += dataAcked;
    const flightBefore = ep.flight;
    ep.sndUna = ack;
    if (ep.sentTimes.count > 0) ep.sentTimes.ack(ack);
    if (lt(ep.sndNxt, ack)) ep.sndNxt = ack;
    ep.retries = 0;
    if (ep.tlpHigh >= 0 && ge(ack, ep.tlpHigh)) ep.tlpHigh = -1;
    if (ep.sacked.length) pruneScoreboard(ep);
    // RTT: the echoed timestamp, else Karn's rule on the one timed segment.
    if (ep.tsOn && seg.hasTs && seg.tsEcr !== 0) ep.rtt.sample(((ep.nowMs() >>> 0) - seg.tsEcr) | 0);
    else if (ep.rttSeq >= 0 && ge(ack, ep.rttSeq)) {
      ep.rtt.sample(ep.nowMs() - ep.rttStart);
      ep.rttSeq = -1;
    }
    const cc = ep.cc;
    if (cc.inRecovery) {
      if (cc.recoveryAck(ack, acked, flightBefore)) {
        if (!retransmitHole(ep)) retransmitFirst(ep);
      }
    } else {
      cc.dupAcks = 0;
      cc.onAck(acked);
      if (sackSaysLost(ep)) startRecovery(ep);
    }
    if (ep.sndUna === ep.sndMax) ep.rtoTimer.cancel();
    else ep.rtoTimer.arm(ep.rtt.current);
    armProbe(ep);
    if (dataAcked > 0) wakeWriter(ep);
  } else if (ack === ep.sndUna && seg.dataLen === 0 && !(seg.flags & (SYN | FIN)) && ep.sndUna !== ep.sndMax && (wndScaled === ep.sndWnd || seg.sackCount > 0)) {
    // Duplicate ACK (RFC 5681 §2; with SACK, RFC 6675: one carrying SACK blocks counts even if
    // the window moved, as a receiver that autotunes its buffer moves it all the time).
    const cc = ep.cc;
    cc.dupAcks++;
    if (cc.inRecovery) {
      if (!retransmitHole(ep)) cc.cwnd += ep.mss;
    } else if (cc.dupAcks === 3 || sackSaysLost(ep)) startRecovery(ep);
  }
  // RACK: a retransmission of this recovery that is lost again, or a first loss (rack.ts).
  if (ep.rackRecs.length) rackDetect(ep);
  else if (ep.sacked.length && ep.sentTimes.count > 0 && !ep.cc.inRecovery) rackFirstLoss(ep);
  // Window update (RFC 9293: SND.WL1/WL2).
  if (lt(ep.sndWl1, seg.seq) || (ep.sndWl1 === seg.seq && le(ep.sndWl2, ack))) {
    const opened = wndScaled > ep.sndWnd;
    ep.sndWnd = wndScaled;
    ep.maxSndWnd = Math.max(ep.maxSndWnd, wndScaled);
    ep.sndWl1 = seg.seq;
    ep.sndWl2 = ack;
    if (opened && wndScaled > 0) ep.persistTimer.cancel();
  }
  return 0;
}

/** SYN_SENT (RFC 9293 §3.10.7.3). */
function synSent(ep: TcpEndpoint, seg: Segment): void {
  const f = seg.flags;
  if (f & ACK) {
    if (le(seg.ack, ep.iss) || gt(seg.ack, ep.sndMax)) {
      if (!(f & RST)) ep.tcp.sendResetFor(ep, seg);
      return;
    }
  }
  if (f & RST) {
    if (f & ACK) ep.fail(E.ECONNREFUSED);
    return;
  }
  if (!(f & SYN)) return;
  ep.irs = seg.seq;
  ep.rcvNxt = add(seg.seq, 1);
  applySynOptions(ep, seg);
  ep.rcvAdv = ep.rcvNxt;
  if (f & ACK) {
    ep.sndUna = seg.ack;
    // The SYN counts as acknowledged (tcp_snd_una_update on the SYN-ACK; a passive open's child starts past its SYN).
    ep.bytesAcked += 1;
    ep.sndWnd = seg.wnd << ep.sndWscale;
    ep.maxSndWnd = ep.sndWnd;
    ep.sndWl1 = seg.seq;
    ep.sndWl2 = seg.ack;
    ep.rtoTimer.cancel();
    if (ep.retries === 0) {
      if (ep.tsOn && seg.hasTs && seg.tsEcr !== 0) ep.rtt.sample(((ep.nowMs() >>> 0) - seg.tsEcr) | 0);
    }
    established(ep);
    sendAck(ep);
    ep.notify(EV_OUT);
    output(ep);
    return;
  }
  // Simultaneous open: SYN_RECV, answer with SYN-ACK on our ISS.
  ep.state = TcpState.SYN_RECV;
  ep.sndWnd = seg.wnd;
  sendSeg(ep, ep.iss, SYN | ACK, 0);
  void EV_HUP;
  void EV_ERR;
}
