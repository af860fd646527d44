/**
 * Urgent data (RFC 9293 §3.8.5), as Linux has it: the urgent pointer points just past the
 * urgent byte (BSD's reading, net.ipv4.tcp_stdurg=0). Without SO_OOBINLINE that one byte
 * leaves the stream: reads stop at it (the mark), recv(MSG_OOB) takes it, and the next
 * read skips it; with SO_OOBINLINE it stays in the stream, reads still stopping at the
 * mark. A newer urgent pointer replaces an older one (Linux's tcp_check_urg / tcp_urg /
 * tcp_recv_urg). Sending with MSG_OOB makes the last byte written urgent.
 */
import * as E from '../../../abi/errno';
import type { TcpEndpoint } from './endpoint';
import { TcpState } from './state';
import type { Segment } from './segment';
import { add, diff, ge, gt, lt } from './seq';

export const URG_NONE = 0;
/** A pointer seen; its byte is valid once it arrived (before rcvNxt). */
export const URG_PENDING = 1;
/** recv(MSG_OOB) took the byte; it is still skipped in the stream. */
export const URG_READ = 2;

const POLLPRI = 0x002;
const POLLIN = 0x001 | 0x040;

/** The next sequence a read takes (Linux's copied_seq). */
export function copiedSeq(ep: TcpEndpoint): number {
  return add(ep.rcvNxt, -(ep.recvQ.bytes + (ep.rcvFin ? 1 : 0)));
}

/** A segment with URG set (tcp_check_urg): a new mark unless it is old or already read past. */
export function checkUrg(ep: TcpEndpoint, seg: Segment): void {
  if (seg.urp === 0) return;
  const ptr = add(seg.seq, seg.urp - 1);
  const copied = copiedSeq(ep);
  if (gt(copied, ptr) || lt(ptr, ep.rcvNxt)) return;
  if (ep.urgState !== URG_NONE && !gt(ptr, ep.urgSeq)) return;
  // An older urgent byte unread at the head leaves the stream (Linux does the same).
  if (ep.urgState !== URG_NONE && !ep.oobInline && ep.urgSeq === copied && ep.recvQ.bytes > 0) ep.recvQ.consume(1);
  ep.urgState = URG_PENDING;
  ep.urgSeq = ptr;
  ep.urgSignalled = false;
  ep.onUrgent();
}

/** After data arrived: POLLPRI (and readers) woken once the urgent byte is in. */
export function urgArrived(ep: TcpEndpoint): void {
  if (ep.urgState === URG_PENDING && !ep.urgSignalled && lt(ep.urgSeq, ep.rcvNxt)) {
    ep.urgSignalled = true;
    ep.notify(POLLIN | POLLPRI);
  }
}

/** The urgent byte has arrived and recv(MSG_OOB) has not taken it (tcp_poll's POLLPRI). */
export function urgValid(ep: TcpEndpoint): boolean {
  return ep.urgState === URG_PENDING && lt(ep.urgSeq, ep.rcvNxt) && ge(ep.urgSeq, copiedSeq(ep));
}

/** SIOCATMARK: the next byte read is the urgent one. */
export function atMark(ep: TcpEndpoint): boolean {
  return ep.urgState !== URG_NONE && ep.urgSeq === copiedSeq(ep);
}

/** FIONREAD: with an urgent byte ahead (not inline), the bytes before it (tcp_ioctl's SIOCINQ). */
export function inqBytes(ep: TcpEndpoint): number {
  if (ep.oobInline || ep.urgState === URG_NONE || !lt(ep.urgSeq, ep.rcvNxt)) return ep.recvQ.bytes;
  const off = diff(ep.urgSeq, copiedSeq(ep));
  return off < 0 ? ep.recvQ.bytes : off;
}

/** Bytes queued that a read can take now (POLLIN's test): the urgent byte at the head is not one. */
export function readableBytes(ep: TcpEndpoint): number {
  return ep.recvQ.bytes - (!ep.oobInline && ep.recvQ.bytes > 0 && atMark(ep) ? 1 : 0);
}

/**
 * Before a read: how many bytes it may take (up to the mark), having dropped the urgent
 * byte when it is at the head (not for a peek: `skip` tells the peek to step over it).
 */
export function readLimit(ep: TcpEndpoint, peek: boolean): { max: number; skip: number } {
  if (ep.urgState === URG_NONE) return NO_LIMIT;
  const off = diff(ep.urgSeq, copiedSeq(ep));
  if (off < 0) {
    ep.urgState = URG_NONE;
    return NO_LIMIT;
  }
  if (off > 0) return { max: off, skip: 0 };
  if (ep.oobInline || ep.recvQ.bytes === 0) return NO_LIMIT;
  if (peek) return { max: Infinity, skip: 1 };
  ep.recvQ.consume(1);
  ep.urgState = URG_NONE; // read past (tcp_recvmsg clears urg_data once copied_seq passes it)
  return NO_LIMIT;
}
const NO_LIMIT = { max: Infinity, skip: 0 };

/** After a read took bytes: a mark read past (inline) is forgotten. */
export function afterRead(ep: TcpEndpoint): void {
  if (ep.urgState !== URG_NONE && gt(copiedSeq(ep), ep.urgSeq)) ep.urgState = URG_NONE;
}

/**
 * recv(MSG_OOB) (tcp_recv_urg): the urgent byte (1, or 0 with MSG_TRUNC when dst is empty:
 * `truncated`), EINVAL with none (or inline, or taken), EAGAIN before it arrived; never waits.
 */
export function recvUrgent(ep: TcpEndpoint, dst: Uint8Array, peek: boolean): { n: number; truncated: boolean } {
  if (ep.oobInline || ep.urgState !== URG_PENDING) return { n: -E.EINVAL, truncated: false };
  if (urgValid(ep)) {
    if (dst.length > 0) ep.recvQ.copyAt(diff(ep.urgSeq, copiedSeq(ep)), 1, dst, 0);
    if (!peek) ep.urgState = URG_READ;
    return dst.length > 0 ? { n: 1, truncated: false } : { n: 0, truncated: true };
  }
  if (ep.state === TcpState.CLOSED || ep.rcvFin || ep.rdShut) return { n: 0, truncated: false };
  return { n: -E.EAGAIN, truncated: false };
}

/** send(MSG_OOB): the last byte queued is urgent; it goes at once (no Nagle wait), as tcp_push does. */
export function markUrgent(ep: TcpEndpoint): void {
  ep.sndUp = add(ep.sndUna, ep.sendQ.bytes);
  ep.sndUrgent = true;
}

/** The urgent pointer a segment starting at seq carries (0: none), as tcp_transmit_skb sets it. */
export function urgentPointer(ep: TcpEndpoint, seq: number): number {
  if (!ep.sndUrgent) return 0;
  if (ge(ep.sndUna, ep.sndUp)) {
    ep.sndUrgent = false;
    return 0;
  }
  if (!lt(seq, ep.sndUp)) return 0;
  return Math.min(diff(ep.sndUp, seq), 0xffff);
}
