/**
 * A byte stream as a list of Buffers: the send queue (data from snd_una on, read at any
 * offset for (re)transmission) and the receive queue (in-order data for the reader).
 * Bytes are copied into 64 KiB blocks taken from the stack's pool (frame-pool.ts) and given
 * back once consumed (or a received frame's payload is kept as is, `pushBlock`):
 * a fresh buffer per segment or per write costs a page fault on every 4 KiB touched
 * (dearer than the copy on this kind of machine), and GC work besides. The tail block
 * is filled up before the next is taken, so a stream of tiny sends stays a few blocks.
 */
import { FRAME, takeFrame, giveFrame } from '../frame-pool';

const BLOCK = FRAME;
const takeBlock = takeFrame;
const giveBlock = giveFrame;

export class ByteQueue {
  private chunks: Buffer[] = [];
  /** chunks[i]'s pool block (given back when the chunk is consumed), or null for a caller's buffer. */
  private blocks: Array<Buffer | null> = [];
  /** Bytes of chunks[0] already consumed. */
  private head = 0;
  /** Used bytes of the last chunk when it is a pool block still being filled (else -1). */
  private tailUsed = -1;
  bytes = 0;

  /**
   * Appends data. `owned`: the caller gives a large Buffer away, queued as is (no copy);
   * otherwise the bytes are copied into pool blocks.
   */
  push(data: Buffer, owned: boolean): void {
    let n = data.length;
    if (n === 0) return;
    this.bytes += n;
    if (owned && n >= BLOCK) {
      this.sealTail();
      this.chunks.push(data);
      this.blocks.push(null);
      return;
    }
    let src = 0;
    while (n > 0) {
      const tail = this.roomyTail();
      const k = Math.min(n, BLOCK - this.tailUsed);
      data.copy(tail, this.tailUsed, src, src + k);
      this.tailUsed += k;
      src += k;
      n -= k;
    }
  }

  /**
   * Appends up to max bytes written in place by fill(buf, off, len) into the tail block
   * (a host socket's recv: no staging copy); returns fill's result (bytes, or <= 0: none).
   */
  fillTail(max: number, fill: (b: Buffer, off: number, len: number) => number): number {
    const n = fill(this.roomyTail(), this.tailUsed, Math.min(max, BLOCK - this.tailUsed));
    if (n > 0) {
      this.tailUsed += n;
      this.bytes += n;
    }
    return n;
  }

  /** Appends data, a view into the pool buffer `whole` which the queue now owns (no copy). */
  pushBlock(data: Buffer, whole: Buffer): void {
    if (data.length === 0) return giveBlock(whole);
    this.bytes += data.length;
    this.sealTail();
    this.chunks.push(data);
    this.blocks.push(whole);
  }

  /** The tail pool block, a fresh one when there is none or it is full (tailUsed: its fill). */
  private roomyTail(): Buffer {
    if (this.tailUsed < 0 || this.tailUsed === BLOCK) {
      this.sealTail();
      const blk = takeBlock();
      this.chunks.push(blk);
      this.blocks.push(blk);
      this.tailUsed = 0;
    }
    return this.chunks[this.chunks.length - 1];
  }

  /** The tail block stops growing: it becomes a chunk of its used length. */
  private sealTail(): void {
    if (this.tailUsed < 0) return;
    const i = this.chunks.length - 1;
    if (this.tailUsed < BLOCK) this.chunks[i] = this.chunks[i].subarray(0, this.tailUsed);
    this.tailUsed = -1;
  }

  private chunkLen(i: number): number {
    return i === this.chunks.length - 1 && this.tailUsed >= 0 ? this.tailUsed : this.chunks[i].length;
  }

  /** Copies len bytes starting `offset` bytes into the queue to dst[dOff]. */
  copyAt(offset: number, len: number, dst: Uint8Array, dOff: number): void {
    let i = 0;
    let pos = offset + this.head;
    while (i < this.chunks.length && pos >= this.chunkLen(i)) {
      pos -= this.chunkLen(i);
      i++;
    }
    while (len > 0 && i < this.chunks.length) {
      const c = this.chunks[i];
      const k = Math.min(len, this.chunkLen(i) - pos);
      dst.set(c.subarray(pos, pos + k), dOff);
      dOff += k;
      len -= k;
      pos = 0;
      i++;
    }
  }

  /** Drops n bytes from the front. */
  consume(n: number): void {
    this.bytes -= n;
    while (n > 0 && this.chunks.length) {
      const l = this.chunkLen(0) - this.head;
      if (n < l) {
        this.head += n;
        return;
      }
      n -= l;
      this.shift();
    }
  }

  private shift(): void {
    this.chunks.shift();
    const blk = this.blocks.shift();
    if (blk !== null && blk !== undefined) giveBlock(blk);
    if (this.chunks.length === 0) this.tailUsed = -1;
    this.head = 0;
  }

  /**
   * Hands up to max bytes from the front to put, piece by piece, consuming each piece put
   * takes (false: refused, it stays queued, and the walk stops); returns bytes consumed.
   */
  drainTo(max: number, put: (b: Uint8Array) => boolean): number {
    let done = 0;
    while (done < max && this.bytes > 0) {
      const k = Math.min(this.chunkLen(0) - this.head, max - done);
      if (k > 0 && !put(this.chunks[0].subarray(this.head, this.head + k))) break;
      if (k === 0) this.shift(); // an empty block ahead of the tail
      else this.consume(k);
      done += k;
    }
    return done;
  }

  /** Copies up to dst.length bytes out of the front (consuming unless peek). */
  read(dst: Uint8Array, peek: boolean): number {
    const n = Math.min(dst.length, this.bytes);
    this.copyAt(0, n, dst, 0);
    if (!peek) this.consume(n);
    return n;
  }

  clear(): void {
    for (const b of this.blocks) if (b !== null) giveBlock(b);
    this.chunks = [];
    this.blocks = [];
    this.head = 0;
    this.tailUsed = -1;
    this.bytes = 0;
  }
}
