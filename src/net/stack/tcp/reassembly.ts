/**
 * Out-of-order segments waiting for the hole before them to fill, sorted by sequence
 * number and kept disjoint; also the SACK blocks we report (RFC 2018).
 */
import { lt, le, gt, add, diff } from './seq';

interface Piece {
  seq: number;
  data: Buffer;
}

export class Reassembly {
  private pieces: Piece[] = [];
  bytes = 0;
  /** A FIN seen beyond a hole: its sequence number, or -1. */
  finSeq = -1;

  get empty(): boolean {
    return this.pieces.length === 0;
  }

  /** Stores data at seq (a copy); overlapping bytes keep the copy held first. */
  add(seq: number, b: Buffer, off: number, len: number): void {
    if (len <= 0) return;
    const fresh: Piece = { seq, data: Buffer.from(b.subarray(off, off + len)) };
    const all = this.pieces;
    // Insertion point: pieces are few and sorted; walk from the end (arrivals are mostly in order).
    let i = all.length;
    while (i > 0 && gt(all[i - 1].seq, seq)) i--;
    all.splice(i, 0, fresh);
    const out: Piece[] = [];
    for (const p of all) {
      let q = p;
      if (out.length) {
        const last = out[out.length - 1];
        const lastEnd = add(last.seq, last.data.length);
        const pe = add(q.seq, q.data.length);
        if (le(pe, lastEnd)) continue;
        if (lt(q.seq, lastEnd)) q = { seq: lastEnd, data: q.data.subarray(diff(lastEnd, q.seq)) };
      }
      out.push(q);
    }
    this.pieces = out;
    let n = 0;
    for (const p of out) n += p.data.length;
    this.bytes = n;
  }

  /** Removes and returns the pieces now contiguous with rcvNxt (trimmed), in order. */
  take(rcvNxt: number, sink: (data: Buffer) => void): number {
    let nxt = rcvNxt;
    while (this.pieces.length) {
      const p = this.pieces[0];
      const pe = add(p.seq, p.data.length);
      if (gt(p.seq, nxt)) break;
      this.pieces.shift();
      this.bytes -= p.data.length;
      if (le(pe, nxt)) continue;
      sink(p.data.subarray(diff(nxt, p.seq)));
      nxt = pe;
    }
    return nxt;
  }

  /** Fills blocks with up to 4 SACK ranges (most recent first would be ideal; lowest first here). */
  sackBlocks(out: Uint32Array): number {
    let n = 0;
    let i = 0;
    while (i < this.pieces.length && n < 4) {
      const l = this.pieces[i].seq;
      let r = add(l, this.pieces[i].data.length);
      i++;
      while (i < this.pieces.length && this.pieces[i].seq === r) {
        r = add(r, this.pieces[i].data.length);
        i++;
      }
      out[n * 2] = l;
      out[n * 2 + 1] = r;
      n++;
    }
    return n;
  }

  clear(): void {
    this.pieces = [];
    this.bytes = 0;
    this.finSeq = -1;
  }
}
