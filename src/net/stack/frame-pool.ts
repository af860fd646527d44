/**
 * The stack's one pool of 64 KiB (+ header room) buffers: transmit buffers, frames queued
 * on in-memory links, and the blocks of TCP's send and receive queues. One pool lets a
 * frame move between those jobs without a copy (a link takes the stack's tx buffer as the
 * frame, a receiver keeps a frame's payload as a queue block); a fresh buffer per frame
 * costs page faults on every 4 KiB touched, more than the copy it saves.
 */
export const FRAME = 65536 + 256;
/** Free buffers kept (about 32 MiB); more are left to the GC. */
const POOL_MAX = 512;
const pool: Buffer[] = [];

export function takeFrame(): Buffer {
  return pool.pop() ?? Buffer.allocUnsafeSlow(FRAME);
}

/** Gives back a buffer from takeFrame (whole: offset 0, FRAME bytes); others are ignored. */
export function giveFrame(b: Buffer): void {
  if (b.length === FRAME && b.byteOffset === 0 && b.buffer.byteLength === FRAME && pool.length < POOL_MAX) pool.push(b);
}
