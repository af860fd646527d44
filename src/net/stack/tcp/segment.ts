/** TCP segment header and options (RFC 9293, 7323 window scale/timestamps, 2018 SACK). */
export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
export const URG = 0x20;

/** A parsed incoming segment; one instance is reused for every segment. */
export class Segment {
  sport = 0;
  dport = 0;
  seq = 0;
  ack = 0;
  flags = 0;
  wnd = 0;
  urp = 0;
  /** Payload bounds in buf. */
  buf: Buffer = Buffer.alloc(0);
  dataOff = 0;
  dataLen = 0;
  // options
  mss = 0;
  wscale = -1;
  sackOk = false;
  hasTs = false;
  tsVal = 0;
  tsEcr = 0;
  /** SACK blocks as [left, right) pairs (up to 4). */
  readonly sack = new Uint32Array(8);
  sackCount = 0;

  /** Parses b[off, off+len); false if malformed. */
  parse(b: Buffer, off: number, len: number): boolean {
    if (len < 20) return false;
    const hl = (b[off + 12] >> 4) * 4;
    if (hl < 20 || hl > len) return false;
    this.sport = b.readUInt16BE(off);
    this.dport = b.readUInt16BE(off + 2);
    this.seq = b.readUInt32BE(off + 4);
    this.ack = b.readUInt32BE(off + 8);
    this.flags = b[off + 13];
    this.wnd = b.readUInt16BE(off + 14);
    this.urp = b.readUInt16BE(off + 18);
    this.buf = b;
    this.dataOff = off + hl;
    this.dataLen = len - hl;
    this.mss = 0;
    this.wscale = -1;
    this.sackOk = false;
    this.hasTs = false;
    this.sackCount = 0;
    let p = off + 20;
    const end = off + hl;
    while (p < end) {
      const kind = b[p];
      if (kind === 0) break;
      if (kind === 1) {
        p++;
        continue;
      }
      if (p + 1 >= end) break;
      const l = b[p + 1];
      if (l < 2 || p + l > end) break;
      if (kind === 2 && l === 4) this.mss = b.readUInt16BE(p + 2);
      else if (kind === 3 && l === 3) this.wscale = Math.min(b[p + 2], 14);
      else if (kind === 4 && l === 2) this.sackOk = true;
      else if (kind === 5 && (l - 2) % 8 === 0) {
        const n = Math.min((l - 2) / 8, 4);
        for (let i = 0; i < n; i++) {
          this.sack[i * 2] = b.readUInt32BE(p + 2 + i * 8);
          this.sack[i * 2 + 1] = b.readUInt32BE(p + 6 + i * 8);
        }
        this.sackCount = n;
      } else if (kind === 8 && l === 10) {
        this.hasTs = true;
        this.tsVal = b.readUInt32BE(p + 2);
        this.tsEcr = b.readUInt32BE(p + 6);
      }
      p += l;
    }
    return true;
  }

  /** Sequence space the segment occupies (data + SYN + FIN). */
  get segLen(): number {
    return this.dataLen + (this.flags & SYN ? 1 : 0) + (this.flags & FIN ? 1 : 0);
  }
}

/** Options to put on an outgoing segment. */
export interface OutOpts {
  mss: number;
  wscale: number;
  sackOk: boolean;
  ts: boolean;
  tsVal: number;
  tsEcr: number;
  /** SACK blocks to report ([left, right) pairs), count. */
  sack: Uint32Array | null;
  sackCount: number;
}

/** Writes the options at b[o]; returns their length (a multiple of 4). */
export function writeOptions(b: Buffer, o: number, syn: boolean, x: OutOpts): number {
  let p = o;
  if (syn) {
    b[p++] = 2;
    b[p++] = 4;
    b.writeUInt16BE(x.mss, p);
    p += 2;
    if (x.sackOk) {
      b[p++] = 4;
      b[p++] = 2;
    }
  }
  if (x.ts) {
    if (!(syn && x.sackOk)) {
      b[p++] = 1;
      b[p++] = 1;
    }
    b[p++] = 8;
    b[p++] = 10;
    b.writeUInt32BE(x.tsVal >>> 0, p);
    b.writeUInt32BE(x.tsEcr >>> 0, p + 4);
    p += 8;
  } else if (syn && x.sackOk) {
    b[p++] = 1;
    b[p++] = 1;
  }
  if (syn && x.wscale >= 0) {
    b[p++] = 1;
    b[p++] = 3;
    b[p++] = 3;
    b[p++] = x.wscale;
  }
  if (!syn && x.sack !== null && x.sackCount > 0) {
    const n = Math.min(x.sackCount, x.ts ? 3 : 4);
    b[p++] = 1;
    b[p++] = 1;
    b[p++] = 5;
    b[p++] = 2 + n * 8;
    for (let i = 0; i < n; i++) {
      b.writeUInt32BE(x.sack[i * 2] >>> 0, p);
      b.writeUInt32BE(x.sack[i * 2 + 1] >>> 0, p + 4);
      p += 8;
    }
  }
  while ((p - o) % 4 !== 0) b[p++] = 0;
  return p - o;
}
