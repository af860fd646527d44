/** The retransmission timer's value (RFC 6298): SRTT, RTTVAR, RTO with Linux's bounds. */
export const RTO_MIN_MS = 200;
export const RTO_MAX_MS = 120_000;
export const RTO_INITIAL_MS = 1000;

export class RttEstimator {
  srtt = 0;
  rttvar = 0;
  rto = RTO_INITIAL_MS;
  /** Consecutive backoffs (doubling) since the last valid sample. */
  backoff = 0;
  samples = 0;
  /** Latest sample (TCP_INFO tcpi_rtt). */
  last = 0;

  sample(ms: number): void {
    if (ms < 0) return;
    if (ms === 0) ms = 0.1;
    this.last = ms;
    if (this.samples++ === 0) {
      this.srtt = ms;
      this.rttvar = ms / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - ms);
      this.srtt = 0.875 * this.srtt + 0.125 * ms;
    }
    this.backoff = 0;
    this.rto = Math.min(RTO_MAX_MS, Math.max(RTO_MIN_MS, this.srtt + Math.max(1, 4 * this.rttvar)));
  }

  /** The timer to arm now (with exponential backoff). */
  get current(): number {
    if (this.backoff === 0) return this.rto; // every arm asks: no pow on the hot path
    return Math.min(RTO_MAX_MS, this.rto * 2 ** this.backoff);
  }

  onTimeout(): void {
    this.backoff++;
  }
}
