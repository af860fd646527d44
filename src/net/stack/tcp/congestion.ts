/**
 * NewReno congestion control (RFC 5681 + RFC 6582): slow start, congestion avoidance,
 * fast retransmit on three duplicate ACKs and fast recovery with partial ACKs.
 * Windows in bytes.
 */
import { ge } from './seq';

export class NewReno {
  cwnd: number;
  ssthresh = 0x7fffffff;
  inRecovery = false;
  /** snd_max when recovery began: an ACK at or past it ends recovery. */
  recover = 0;
  dupAcks = 0;
  private acc = 0;

  constructor(private mss: number) {
    this.cwnd = 10 * mss; // RFC 6928 initial window
  }

  setMss(mss: number): void {
    if (this.cwnd === 10 * this.mss) this.cwnd = 10 * mss;
    this.mss = mss;
  }

  /** New data acked outside recovery. */
  onAck(acked: number): void {
    if (this.cwnd < this.ssthresh) {
      // Slow start grows by what was acked, as Linux's tcp_slow_start (no RFC 3465 cap
      // of one MSS per ACK: a GSO segment's one ACK covers dozens of them).
      this.cwnd = Math.min(this.cwnd + acked, Math.max(this.ssthresh, this.cwnd));
    } else {
      this.acc += acked;
      if (this.acc >= this.cwnd) {
        this.acc -= this.cwnd;
        this.cwnd += this.mss;
      }
    }
  }

  /** Third duplicate ACK: enters fast recovery. */
  enterRecovery(flight: number, sndMax: number): void {
    this.ssthresh = Math.max(flight >> 1, 2 * this.mss);
    this.cwnd = this.ssthresh + 3 * this.mss;
    this.inRecovery = true;
    this.recover = sndMax;
  }

  /** An ACK during recovery; returns true if it was partial (retransmit the next hole). */
  recoveryAck(ack: number, acked: number, flight: number): boolean {
    if (ge(ack, this.recover)) {
      this.cwnd = Math.max(Math.min(this.ssthresh, flight + this.mss), 2 * this.mss);
      this.inRecovery = false;
      this.dupAcks = 0;
      return false;
    }
    this.cwnd = Math.max(this.cwnd - acked + this.mss, this.mss);
    return true;
  }

  /** RTO: back to one segment. */
  onTimeout(flight: number): void {
    this.ssthresh = Math.max(flight >> 1, 2 * this.mss);
    this.cwnd = this.mss;
    this.inRecovery = false;
    this.dupAcks = 0;
    this.acc = 0;
  }
}
