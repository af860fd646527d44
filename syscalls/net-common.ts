/**
 * What the socket syscalls (net.ts, net-transfer.ts) share: the socket behind an fd,
 * sockaddrs in and out of guest memory, and the retry state of a blocking call (progress
 * in t.sysState, sleeping on the socket's blockQueue until SO_RCVTIMEO/SO_SNDTIMEO).
 */
import * as E from '../src/abi/errno';
import { installFd } from './fd-install';
import type { Task } from '../src/kernel/task';
import { POLLERR, POLLHUP } from '../src/abi/fs';
import { SocketFile } from '../src/net/socket-file';

export const EFAULT = -E.EFAULT;
export const SOCKADDR_MAX = 128;

export function sockOf(t: Task, fd: number): SocketFile | number {
  const f = t.fdTable.get(fd | 0);
  if (f === undefined || f.isPath) return -E.EBADF;
  return f instanceof SocketFile ? f : -E.ENOTSOCK;
}

export const install = installFd;

export function readAddr(t: Task, addr: number, len: number): Buffer | number {
  len |= 0;
  if (len < 0 || len > SOCKADDR_MAX) return -E.EINVAL;
  if (len === 0) return Buffer.alloc(0);
  return t.mem.read(addr, len) ?? EFAULT;
}

/** Writes an address the way move_addr_to_user does: truncated to the buffer, full length reported. */
export function writeAddr(t: Task, addr: number, lenPtr: number, a: Buffer | null): number {
  if (addr === 0 || lenPtr === 0) return 0;
  const have = t.mem.readI32(lenPtr);
  if (have === null) return EFAULT;
  if (have < 0) return -E.EINVAL;
  const b = a ?? Buffer.alloc(0);
  const n = Math.min(have, b.length);
  if (n > 0 && !t.mem.write(addr, b, 0, n)) return EFAULT;
  return t.mem.writeI32(lenPtr, b.length) ? 0 : EFAULT;
}

export interface CallState {
  done: number;
  deadline: number;
}
export function callState(t: Task, timeoNs: number): CallState {
  let s = t.sysState as CallState | undefined;
  if (s === undefined || typeof s.done !== 'number') {
    s = { done: 0, deadline: timeoNs > 0 ? t.kernel.nowNs() + timeoNs : Infinity };
    t.sysState = s;
  }
  return s;
}

/** Parks the task on the socket's chosen queue; a signal ends the call with `intr`. */
export function sleep(t: Task, s: SocketFile, mask: number, st: CallState, timeoNs: number): number {
  // Linux: a socket with a timeout is never restarted after a signal (EINTR); partial progress is returned.
  t.intrResult = st.done > 0 ? st.done : timeoNs > 0 ? -E.EINTR : -512;
  t.waitOn(s.blockQueue, mask | POLLERR | POLLHUP);
  if (s.blockQueue !== s.waitQueue) t.waitOn(s.waitQueue, mask | POLLERR | POLLHUP);
  return t.block(st.deadline);
}

