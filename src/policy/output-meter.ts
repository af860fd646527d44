/**
 * --output-limit: the guest's stdout and stderr (the host fds 1 and 2 the Sentry hands
 * it) share one byte budget. A write past it puts through only what is left, then the
 * limit is reached and the run ends: exactly the limit's bytes reach the host.
 */
import { HostFile } from '../../fs/fsimpl/host/host-file';

export class OutputMeter {
  used = 0;
  constructor(readonly limit: number, private readonly reached: () => void) {}

  /** How many of n bytes may go out now (0 once spent: the limit is reached). */
  allow(n: number): number {
    const left = this.limit - this.used;
    if (n <= left) return n;
    this.reached();
    return Math.max(0, left);
  }
}

/** A stdio HostFile whose writes draw from the meter. */
export class MeteredHostFile extends HostFile {
  constructor(hostFd: number, flags: number, private readonly meter: OutputMeter) {
    super(hostFd, flags);
  }

  override write(buf: Uint8Array): number {
    const n = this.meter.allow(buf.length);
    if (n === 0 && buf.length > 0) return buf.length; // dropped: the sandbox is ending
    const r = super.write(n === buf.length ? buf : buf.subarray(0, n));
    if (r > 0) this.meter.used += r;
    return n === buf.length ? r : buf.length;
  }

  override pwrite(buf: Uint8Array, pos: number): number {
    const n = this.meter.allow(buf.length);
    if (n === 0 && buf.length > 0) return buf.length;
    const r = super.pwrite(n === buf.length ? buf : buf.subarray(0, n), pos);
    if (r > 0) this.meter.used += r;
    return n === buf.length ? r : buf.length;
  }
}
