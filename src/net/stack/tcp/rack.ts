/**
 * RACK (RFC 8985 §6) for the retransmissions of a SACK recovery: a retransmission is lost
 * when something sent after it was delivered (new data above snd_max as it was then, SACKed;
 * or a later retransmission, SACKed) and it is still missing a reordering window after
 * RACK.rtt. Without this, a retransmission lost inside recovery waited for the RTO
 * (retransmitHole walks each hole once). Records are [seq, end, sentMs, sndMax] per
 * retransmission (output.ts pushes them), dropped when delivered, at recovery's end and
 * at an RTO.
 */
import type { TcpEndpoint } from './endpoint';
import { sendSeg } from './output';
import { ACK } from './segment';
import { add, diff, gt, lt } from './seq';

/** The reordering window (RFC 8985 §6.2.4: min_rtt/4; SRTT/4 here), at least 1 ms. */
function reoWnd(ep: TcpEndpoint): number {
  return Math.max(1, ep.rtt.srtt / 4);
}

function sackCovers(ep: TcpEndpoint, seq: number, end: number): boolean {
  const r = ep.sacked;
  for (let j = 0; j < r.length; j += 2) if (!lt(seq, r[j]) && !gt(end, r[j + 1])) return true;
  return false;
}

/** Records a retransmission of [seq, seq+len) made in recovery. */
export function rackRecord(ep: TcpEndpoint, seq: number, len: number): void {
  if (!ep.cc.inRecovery || len <= 0) return;
  ep.rackRecs.push(seq, add(seq, len), ep.nowMs(), ep.sndMax);
}

export function rackReset(ep: TcpEndpoint): void {
  ep.rackRecs.length = 0;
  ep.rackTimer.cancel();
}

/** After an ACK in recovery: retransmits again what RACK finds lost; arms its timer for what may be soon. */
export function rackDetect(ep: TcpEndpoint): void {
  const recs = ep.rackRecs;
  if (recs.length === 0) return;
  if (!ep.cc.inRecovery) return rackReset(ep);
  // The latest record delivered (by index: records are in send order).
  let latest = -1;
  for (let i = 0; i < recs.length; i += 4) {
    if (!lt(ep.sndUna, recs[i + 1]) || sackCovers(ep, recs[i], recs[i + 1])) latest = i;
  }
  const r = ep.sacked;
  const top = r.length ? r[r.length - 1] : ep.sndUna;
  const now = ep.nowMs();
  const wait = ep.rtt.srtt + reoWnd(ep);
  const keep: number[] = [];
  const again: number[] = [];
  let next = Infinity;
  for (let i = 0; i < recs.length; i += 4) {
    const seq = recs[i], end = recs[i + 1], ms = recs[i + 2], high = recs[i + 3];
    if (!lt(ep.sndUna, end) || sackCovers(ep, seq, end)) continue; // delivered
    if (i < latest || gt(top, high)) {
      const due = ms + wait - now;
      if (due <= 0) {
        again.push(lt(seq, ep.sndUna) ? ep.sndUna : seq, end);
        continue;
      }
      if (due < next) next = due;
    }
    keep.push(seq, end, ms, high);
  }
  ep.rackRecs = keep;
  for (let k = 0; k < again.length; k += 2) {
    const seq = again[k];
    const off = diff(seq, ep.sndUna);
    const len = Math.min(ep.mss, diff(again[k + 1], seq), ep.sendQ.bytes - off);
    if (len <= 0) continue;
    ep.totalRetrans++;
    ep.stack.mib.tcpRetransSegs++;
    ep.rttSeq = -1;
    sendSeg(ep, seq, ACK, len);
    rackRecord(ep, seq, len);
  }
  if (next < Infinity) ep.rackTimer.arm(Math.max(1, Math.ceil(next)));
  else ep.rackTimer.cancel();
}
