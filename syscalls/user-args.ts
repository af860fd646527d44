/**
 * Arguments checked as Linux checks them when they are near 2^64. Handlers get registers
 * as numbers (src/platform/event-buffer.ts argToNumber): exact below 2^53, beyond that
 * saturated into [2^52, 2^53) with the low bits kept. Where Linux compares a 64-bit value
 * exactly (an offset plus a count against 2^63, a length against 2^64), these read the
 * exact register (Task.rawArg) — only when the number says it may be inexact.
 */
import * as E from '../src/abi/errno';
import type { Task } from '../src/kernel/task';
import { ARG_INEXACT } from '../src/platform/event-buffer';
import { TASK_SIZE } from '../src/mm/guest-memory';

/** MAX_RW_COUNT: the most one read-like call transfers. */
export const MAX_RW_COUNT = 0x7ffff000;

/**
 * Linux's access_ok: [addr, addr + len) lies in the user half. Both are unsigned there,
 * so a negative number (a register at or above 2^63) is huge and fails.
 */
export function accessOk(addr: number, len: number): boolean {
  return addr >= 0 && len >= 0 && addr + len <= TASK_SIZE;
}

/** Argument i exactly, as a signed 64-bit value. */
export function i64Arg(t: Task, i: number): bigint {
  return BigInt.asIntN(64, t.rawArg(i));
}

/** Argument i exactly, as an unsigned 64-bit value. */
export function u64Arg(t: Task, i: number): bigint {
  return t.rawArg(i);
}

const LLONG_MAX = 0x7fffffffffffffffn;

/**
 * rw_verify_area for an explicit offset (argument i, already pos) and a count the call
 * has already bounded: EINVAL when pos is negative or pos + count passes 2^63 - 1.
 */
export function verifyPos(t: Task, i: number, pos: number, count: number): number {
  if (pos < 0) return -E.EINVAL;
  if (pos + count < ARG_INEXACT) return 0;
  return i64Arg(t, i) + BigInt(count) > LLONG_MAX ? -E.EINVAL : 0;
}

/** A size_t argument i as Linux sees it, exact (numbers below 2^52 are taken as they are). */
export function sizeArg(t: Task, i: number, n: number): bigint {
  return n >= 0 && n < ARG_INEXACT ? BigInt(n) : u64Arg(t, i);
}

/**
 * One user buffer as import_ubuf takes it (send/recv): the size_t len cut to
 * MAX_RW_COUNT, then EFAULT unless the range is in the user half.
 */
export function userBuffer(buf: number, len: number): { base: number; len: number }[] | number {
  const n = len < 0 ? MAX_RW_COUNT : Math.min(len, MAX_RW_COUNT);
  return accessOk(buf, n) ? [{ base: buf, len: n }] : -E.EFAULT;
}
