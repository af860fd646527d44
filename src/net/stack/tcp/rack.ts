/**
 * RACK (RFC 8985 §6). First losses: each original transmission's send time is kept
 * (`SentTimes`, ranges in send order); once the peer SACKs data sent after the first
 * unacknowledged segment, that segment is lost when a reordering window has passed
 * since the SACKed data's round trip would have brought it too: recovery then starts
 * at once, where duplicate ACKs (three) or SACK's IsLost (more than two segments
 * SACKed above the hole) wait for more data to follow it, and the tail loss probe
 * for two SRTTs. Retransmissions of a SACK recovery: one is lost
 * when something sent after it was delivered (new data above snd_max as it was then, SACKed;
 * or a later retransmission, SACKed) and it is still missing a reordering window after
 * RACK.rtt. Without this, a retransmission lost inside recovery waited for the RTO
 * (retransmitHole walks each hole once). Records are [seq, end, sentMs, sndMax] per
 * retransmission (output.ts pushes them), dropped when delivered, at recovery's end and
 * at an RTO.
 */
import type { TcpEndpoint } from './endpoint';
import { sendSeg, startRecovery } from './output';
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

/**
 * Send times of original transmissions: contiguous ranges [start, end) in send order,
 * a ring that grows as the flight does; dropped as they are acknowledged.
 */
export class SentTimes {
  private ends = new Float64Array(64);
  private times = new Float64Array(64);
  private head = 0;
  count = 0;
  /** Sequence number the first range starts at. */
  private start = 0;

  push(seq: number, end: number, ms: number): void {
    const cap = this.ends.length;
    if (this.count > 0 && this.ends[(this.head + this.count - 1) % cap] !== seq) this.count = 0; // not contiguous: start over
    if (this.count === 0) {
      this.head = 0;
      this.start = seq;
    } else if (this.count === cap) this.grow();
    const i = (this.head + this.count) % this.ends.length;
    this.ends[i] = end;
    this.times[i] = ms;
    this.count++;
  }

  private grow(): void {
    const cap = this.ends.length;
    const ends = new Float64Array(cap * 2);
    const times = new Float64Array(cap * 2);
    for (let k = 0; k < this.count; k++) {
      ends[k] = this.ends[(this.head + k) % cap];
      times[k] = this.times[(this.head + k) % cap];
    }
    this.ends = ends;
    this.times = times;
    this.head = 0;
  }

  /** Forgets the ranges una has passed. */
  ack(una: number): void {
    const cap = this.ends.length;
    while (this.count > 0 && !lt(una, this.ends[this.head])) {
      this.start = this.ends[this.head];
      this.head = (this.head + 1) % cap;
      this.count--;
    }
  }

  /** When the range holding seq was sent, or -1 (not recorded). */
  timeOf(seq: number): number {
    if (this.count === 0 || lt(seq, this.start)) return -1;
    const cap = this.ends.length;
    let lo = 0;
    let hi = this.count - 1;
    if (!lt(seq, this.ends[(this.head + hi) % cap])) return -1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (lt(seq, this.ends[(this.head + mid) % cap])) hi = mid;
      else lo = mid + 1;
    }
    return this.times[(this.head + lo) % cap];
  }

  clear(): void {
    this.count = 0;
  }
}

/**
 * Outside recovery, after an ACK with SACK blocks (or the timer): the first
 * unacknowledged segment is lost once RACK.rtt (the newest SACKed data's round trip)
 * plus the reordering window has passed since it was sent; else the timer waits for that.
 */
export function rackFirstLoss(ep: TcpEndpoint): void {
  const r = ep.sacked;
  if (ep.cc.inRecovery || r.length === 0 || ep.sendQ.bytes === 0) return;
  const lostSent = ep.sentTimes.timeOf(ep.sndUna);
  const newest = ep.sentTimes.timeOf(add(r[r.length - 1], -1));
  if (lostSent < 0 || newest < 0 || newest < lostSent) return;
  const now = ep.nowMs();
  // RACK.rtt: taken from an original send; a SACK of a later retransmission (the probe)
  // makes it longer, so the loss is called later, never sooner.
  if (newest > ep.rackXmit) {
    ep.rackXmit = newest;
    ep.rackRtt = now - newest;
  }
  const due = lostSent + ep.rackRtt + reoWnd(ep) - now;
  if (due > 0) return ep.rackTimer.arm(Math.max(1, Math.ceil(due)));
  ep.stack.mib.tcpRackFirst++;
  startRecovery(ep);
}

/** The RACK timer: a first loss outside recovery, a lost retransmission inside it. */
export function onRackTimer(ep: TcpEndpoint): void {
  if (ep.cc.inRecovery) rackDetect(ep);
  else rackFirstLoss(ep);
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
