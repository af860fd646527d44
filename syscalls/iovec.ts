/** struct iovec arrays (readv/writev/preadv/sendmsg/recvmsg...): read and checked once. */
import type { Task } from '../src/kernel/task';
import * as E from '../src/abi/errno';
import { accessOk, MAX_RW_COUNT } from './user-args';

export interface Seg {
  base: number;
  len: number;
}

export const IOV_MAX = 1024;

/**
 * The cnt iovecs at addr, or -errno, as import_iovec gives them: `tooMany` (EINVAL for
 * readv, EMSGSIZE for sendmsg) for more than IOV_MAX entries, EFAULT for an unreadable
 * array, EINVAL for a negative length (any segment), EFAULT for a segment outside the
 * user half; lengths past MAX_RW_COUNT in total are cut down to it.
 */
export function readIovec(t: Task, addr: number, cnt: number, tooMany = -E.EINVAL): Seg[] | number {
  if (cnt < 0 || cnt > IOV_MAX) return tooMany;
  if (cnt === 0) return [];
  const raw = t.mem.read(addr, cnt * 16);
  if (raw === null) return -E.EFAULT;
  const segs: Seg[] = [];
  let total = 0;
  let fault = false;
  for (let i = 0; i < cnt; i++) {
    const base = Number(raw.readBigUInt64LE(i * 16));
    let len = Number(raw.readBigInt64LE(i * 16 + 8));
    if (len < 0) return -E.EINVAL;
    if (!accessOk(base, len)) fault = true;
    len = Math.min(len, MAX_RW_COUNT - total);
    total += len;
    segs.push({ base, len });
  }
  return fault ? -E.EFAULT : segs;
}

export function totalLen(segs: Seg[]): number {
  let n = 0;
  for (const s of segs) n += s.len;
  return n;
}

/** Copies n bytes between b and the guest segments (starting `skip` bytes into them): into the guest when toGuest. */
export function copySegs(t: Task, segs: Seg[], skip: number, b: Uint8Array, n: number, toGuest: boolean): boolean {
  let off = 0;
  for (const s of segs) {
    if (off >= n) break;
    if (skip >= s.len) {
      skip -= s.len;
      continue;
    }
    const k = Math.min(s.len - skip, n - off);
    const ok = toGuest ? t.mem.write(s.base + skip, b, off, k) : t.mem.readInto(s.base + skip, b, off, k);
    if (!ok) return false;
    off += k;
    skip = 0;
  }
  return true;
}
