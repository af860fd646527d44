/**
 * Every random byte the guest can see (getrandom, /dev/urandom, /dev/random, AT_RANDOM,
 * /proc's boot_id and uuid) comes from here. By default it is the host's CSPRNG; under
 * --deterministic it is SHA-256 in counter mode over the seed, so the same seed gives
 * the same stream in the same order (the schedule makes the order of requests fixed).
 */
import { createHash, randomFillSync } from 'crypto';

let seed: string | null = null;
let counter = 0;
let pool = Buffer.alloc(0);
let poolOff = 0;

const reseeders: Array<() => void> = [];

/**
 * Module-level values drawn at load time (the network stack's first ephemeral port, IP
 * ids, TCP sequence numbers) register here to be drawn again from the seeded stream.
 */
export function onEntropySeeded(fn: () => void): void {
  reseeders.push(fn);
}

/** Switches to the seeded stream (before the first guest instruction). */
export function seedEntropy(s: string): void {
  seed = s;
  counter = 0;
  pool = Buffer.alloc(0);
  poolOff = 0;
  for (const fn of reseeders) fn();
}

const word = Buffer.alloc(4);
/** A random 32-bit unsigned integer. */
export function randomUint32(): number {
  fillRandom(word);
  return word.readUInt32LE(0);
}

/** A random integer in [0, n) (n <= 2^32; the bias is negligible for the sizes used). */
export function randomBelow(n: number): number {
  return Math.floor((randomUint32() / 0x1_0000_0000) * n);
}

export function entropySeeded(): boolean {
  return seed !== null;
}

function refill(): void {
  const h = createHash('sha256');
  h.update(`tssandbox-entropy\0${seed}\0${counter++}`);
  pool = h.digest();
  poolOff = 0;
}

/** Fills buf[off, off+len) with random bytes. */
export function fillRandom(buf: Uint8Array, off = 0, len = buf.length - off): void {
  if (seed === null) {
    randomFillSync(buf, off, len);
    return;
  }
  let i = off;
  const end = off + len;
  while (i < end) {
    if (poolOff >= pool.length) refill();
    const n = Math.min(end - i, pool.length - poolOff);
    pool.copy(buf, i, poolOff, poolOff + n);
    poolOff += n;
    i += n;
  }
}

export function randomBytes(n: number): Buffer {
  const b = Buffer.alloc(n);
  fillRandom(b);
  return b;
}

/** A version-4 UUID string from the stream (as /proc/sys/kernel/random/uuid). */
export function randomUuid(): string {
  const b = randomBytes(16);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
