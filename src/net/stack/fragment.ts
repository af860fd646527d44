/**
 * IP fragment reassembly (IPv4 and IPv6): fragments are kept per (src, dst, id, proto)
 * until the hole list is empty, for at most 30 s (Linux's ipfrag_time) and 4 MB in all.
 */
import { StackTimer, type Clock } from './timer';

interface Frag {
  off: number;
  data: Buffer;
}
interface Entry {
  frags: Frag[];
  /** Total payload length once the last fragment arrived, else -1. */
  total: number;
  bytes: number;
  timer: StackTimer;
}

const TIMEOUT_MS = 30_000;
const MAX_BYTES = 4 << 20;

export class Reassembler {
  private readonly table = new Map<string, Entry>();
  private bytes = 0;
  constructor(private readonly clock: Clock) {}

  /** Adds a fragment; returns the whole payload once complete, else null. */
  add(key: string, off: number, data: Buffer, more: boolean): Buffer | null {
    let e = this.table.get(key);
    if (e === undefined) {
      if (this.bytes + data.length > MAX_BYTES) return null;
      const timer = new StackTimer(this.clock, () => this.drop(key));
      e = { frags: [], total: -1, bytes: 0, timer };
      timer.arm(TIMEOUT_MS);
      this.table.set(key, e);
    }
    if (!more) e.total = off + data.length;
    // Overlaps: keep the first copy of every byte (later duplicates are ignored by the copy order).
    e.frags.push({ off, data: Buffer.from(data) });
    e.bytes += data.length;
    this.bytes += data.length;
    if (e.total < 0) return null;
    e.frags.sort((a, b) => a.off - b.off);
    let have = 0;
    for (const f of e.frags) {
      if (f.off > have) return null;
      have = Math.max(have, f.off + f.data.length);
    }
    if (have < e.total) return null;
    const out = Buffer.alloc(e.total);
    for (let i = e.frags.length - 1; i >= 0; i--) {
      const f = e.frags[i];
      f.data.copy(out, f.off, 0, Math.min(f.data.length, e.total - f.off));
    }
    this.drop(key);
    return out;
  }

  private drop(key: string): void {
    const e = this.table.get(key);
    if (e === undefined) return;
    e.timer.cancel();
    this.bytes -= e.bytes;
    this.table.delete(key);
  }
}
