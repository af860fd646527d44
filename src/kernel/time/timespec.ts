import type { Task } from '../task';
import { EFAULT, EINVAL } from '../../abi/errno';

/**
 * Guest time structures (x86-64 layouts): struct timespec {i64 sec; i64 nsec},
 * struct timeval {i64 sec; i64 usec}, and the itimerspec / itimerval pairs.
 * Reads return a bigint nanosecond count or -errno; validation follows the kernel's
 * timespec64_valid / timeval_valid (sec >= 0, sub-second part in range).
 */

export const NS_PER_SEC = 1_000_000_000n;

/** A decoded timespec or timeval, not yet validated. */
export interface RawTime {
  sec: bigint;
  frac: bigint; // nsec for timespec, usec for timeval
}

function readPair(t: Task, addr: number): RawTime | null {
  const b = t.mem.read(addr, 16);
  if (!b || b.length < 16) return null;
  return { sec: b.readBigInt64LE(0), frac: b.readBigInt64LE(8) };
}

/** True when sec >= 0 and 0 <= nsec < 1e9 (kernel timespec64_valid). */
export function timespecValid(r: RawTime): boolean {
  return r.sec >= 0n && r.frac >= 0n && r.frac < NS_PER_SEC;
}

/** Reads a timespec and converts it to ns. -EFAULT / -EINVAL on failure. */
export function readTimespecNs(t: Task, addr: number): bigint | number {
  const r = readPair(t, addr);
  if (!r) return -EFAULT;
  if (!timespecValid(r)) return -EINVAL;
  return r.sec * NS_PER_SEC + r.frac;
}

/** Reads a timeval and converts it to ns. -EFAULT / -EINVAL (usec outside 0..999999, sec < 0). */
export function readTimevalNs(t: Task, addr: number): bigint | number {
  const r = readPair(t, addr);
  if (!r) return -EFAULT;
  if (r.sec < 0n || r.frac < 0n || r.frac >= 1_000_000n) return -EINVAL;
  return r.sec * NS_PER_SEC + r.frac * 1000n;
}

/** Encodes ns as a 16-byte timespec (negative values clamp to 0). */
export function timespecBytes(ns: bigint, out: Buffer = Buffer.alloc(16), off = 0): Buffer {
  if (ns < 0n) ns = 0n;
  out.writeBigInt64LE(ns / NS_PER_SEC, off);
  out.writeBigInt64LE(ns % NS_PER_SEC, off + 8);
  return out;
}

/** Encodes ns as a 16-byte timeval; like the kernel, the microseconds are truncated. */
export function timevalBytes(ns: bigint, out: Buffer = Buffer.alloc(16), off = 0): Buffer {
  if (ns < 0n) ns = 0n;
  out.writeBigInt64LE(ns / NS_PER_SEC, off);
  out.writeBigInt64LE((ns % NS_PER_SEC) / 1000n, off + 8);
  return out;
}

export function writeTimespec(t: Task, addr: number, ns: bigint): number {
  return t.mem.write(addr, timespecBytes(ns)) ? 0 : -EFAULT;
}

export function writeTimeval(t: Task, addr: number, ns: bigint): number {
  return t.mem.write(addr, timevalBytes(ns)) ? 0 : -EFAULT;
}

/** An interval timer setting: interval and first expiry (value), in ns. */
export interface TimerSpec {
  interval: bigint;
  value: bigint;
}

/** Reads struct itimerspec {it_interval; it_value}. */
export function readItimerspec(t: Task, addr: number): TimerSpec | number {
  const b = t.mem.read(addr, 32);
  if (!b || b.length < 32) return -EFAULT;
  const i = { sec: b.readBigInt64LE(0), frac: b.readBigInt64LE(8) };
  const v = { sec: b.readBigInt64LE(16), frac: b.readBigInt64LE(24) };
  if (!timespecValid(i) || !timespecValid(v)) return -EINVAL;
  return { interval: i.sec * NS_PER_SEC + i.frac, value: v.sec * NS_PER_SEC + v.frac };
}

export function writeItimerspec(t: Task, addr: number, s: TimerSpec): number {
  const b = Buffer.alloc(32);
  timespecBytes(s.interval, b, 0);
  timespecBytes(s.value, b, 16);
  return t.mem.write(addr, b) ? 0 : -EFAULT;
}

/** Reads struct itimerval {it_interval; it_value} (timevals). */
export function readItimerval(t: Task, addr: number): TimerSpec | number {
  const b = t.mem.read(addr, 32);
  if (!b || b.length < 32) return -EFAULT;
  const vals: bigint[] = [];
  for (const off of [0, 16]) {
    const sec = b.readBigInt64LE(off);
    const usec = b.readBigInt64LE(off + 8);
    if (sec < 0n || usec < 0n || usec >= 1_000_000n) return -EINVAL;
    vals.push(sec * NS_PER_SEC + usec * 1000n);
  }
  return { interval: vals[0], value: vals[1] };
}

export function writeItimerval(t: Task, addr: number, s: TimerSpec): number {
  const b = Buffer.alloc(32);
  timevalBytes(s.interval, b, 0);
  timevalBytes(s.value, b, 16);
  return t.mem.write(addr, b) ? 0 : -EFAULT;
}
