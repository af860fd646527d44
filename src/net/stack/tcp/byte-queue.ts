/**
 * A byte stream as a list of Buffers: the send queue (data from snd_una on, read at any
 * offset for (re)transmission) and the receive queue (in-order data for the reader).
 * Small writes are coalesced into a tail block so a stream of tiny sends stays a few chunks.
 */
const BLOCK = 64 * 1024;

export class ByteQueue {
  private chunks: Buffer[] = [];
  /** Bytes of chunks[0] already consumed. */
  private head = 0;
  /** Used bytes of the last chunk when it is our own coalescing block (else -1). */
  private tailUsed = -1;
  bytes = 0;

  /** Appends data; `owned`: the caller gives the Buffer away (no copy). */
  push(data: Buffer, owned: boolean): void {
    const n = data.length;
    if (n === 0) return;
    if (this.tailUsed >= 0) {
      const tail = this.chunks[this.chunks.length - 1];
      if (tail.length - this.tailUsed >= n) {
        data.copy(tail, this.tailUsed);
        this.tailUsed += n;
        this.bytes += n;
        return;
      }
      this.chunks[this.chunks.length - 1] = tail.subarray(0, this.tailUsed);
      this.tailUsed = -1;
    }
    if (n < 2048) {
      const blk = Buffer.allocUnsafe(BLOCK);
      data.copy(blk, 0);
      this.chunks.push(blk);
      this.tailUsed = n;
    } else {
      this.chunks.push(owned ? data : Buffer.from(data));
    }
    this.bytes += n;
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
      this.chunks.shift();
      if (this.chunks.length === 0) this.tailUsed = -1;
      this.head = 0;
    }
  }

  /** Copies up to dst.length bytes out of the front (consuming unless peek). */
  read(dst: Uint8Array, peek: boolean): number {
    const n = Math.min(dst.length, this.bytes);
    this.copyAt(0, n, dst, 0);
    if (!peek) this.consume(n);
    return n;
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.tailUsed = -1;
    this.bytes = 0;
  }
}
