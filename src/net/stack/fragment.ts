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

/** Reassembly counters of one IP version (/proc/net/snmp's Ip Reasm*, snmp6's Ip6Reasm*). */
export interface ReasmCounts {
  /** Fragments received (ip_defrag counts each). */
  reqds: number;
  /** Datagrams reassembled. */
  oks: number;
  /** Datagrams given up: timed out, or over the memory limit. */
  fails: number;
  timeouts: number;
}
const counts = (): ReasmCounts => ({ reqds: 0, oks: 0, fails: 0, timeouts: 0 });

export class Reassembler {
  private readonly table = new Map<string, Entry>();
  private bytes = 0;
  readonly v4 = counts();
  readonly v6 = counts();
  constructor(private readonly clock: Clock) {}

  /** Adds a fragment (key: "4|..." or "6|..."); returns the whole payload once complete, else null. */
  add(key: string, off: number, data: Buffer, more: boolean): Buffer | null {
    const c = key.charCodeAt(0) === 0x36 ? this.v6 : this.v4;
    c.reqds++;
    let e = this.table.get(key);
    if (e === undefined) {
      if (this.bytes + data.length > MAX_BYTES) {
        c.fails++;
        return null;
      }
      const timer = new StackTimer(this.clock, () => {
        c.fails++;
        c.timeouts++;
        this.drop(key);
      });
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
    c.oks++;
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
