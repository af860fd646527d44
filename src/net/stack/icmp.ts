/**
 * ICMP (RFC 792) and ICMPv6 (RFC 4443): echo replies, errors we send (port
 * unreachable), and errors we receive turned into socket errors.
 */
import * as E from '../../abi/errno';
import type { Stack } from './stack';
import type { Nic } from './nic';
import { sumBytes, finish, pseudoSum } from './checksum';
import { type Addr, isV4, isMulticast, mapped } from './addr';
import { IPPROTO_ICMP } from './ipv4';
import { IPPROTO_ICMPV6 } from './ipv6';
import { ndpInput } from './ndp';

export function icmp4Input(s: Stack, nic: Nic, b: Buffer, off: number, len: number, ipOff: number, src: Addr, dst: Addr): void {
  if (len < 8 || finish(sumBytes(b, off, len, 0)) !== 0) {
    s.mib.icmpInErrors++;
    if (len >= 8) s.mib.icmpInCsumErrors++;
    return;
  }
  const type = b[off];
  const code = b[off + 1];
  s.mib.icmpIn[type]++;
  if (type === 8) {
    if (isMulticast(dst) || nic.isBroadcast(dst)) return;
    const o = s.l4Off(false);
    b.copy(s.tx, o, off, off + len);
    s.tx[o] = 0;
    s.tx.writeUInt16BE(0, o + 2);
    s.tx.writeUInt16BE(finish(sumBytes(s.tx, o, len, 0)), o + 2);
    s.sendIp(Buffer.from(dst), Buffer.from(src), IPPROTO_ICMP, len, 64, 0, false);
    return;
  }
  if (type === 0) return s.pingInput(false, b, off, len, src);
  if (type === 3 || type === 11 || type === 12) {
    // The quoted datagram: its header (ours) and 8 bytes of its transport header.
    const q = off + 8;
    if (len < 8 + 20 + 8) return;
    const ihl = (b[q] & 0xf) * 4;
    if (len < 8 + ihl + 8) return;
    const proto = b[q + 9];
    const qsrc = mapped(b, q + 12);
    const qdst = mapped(b, q + 16);
    let err = E.EHOSTUNREACH;
    let mtu = 0;
    if (type === 3) {
      if (code === 0) err = E.ENETUNREACH;
      else if (code === 2) err = E.ENOPROTOOPT;
      else if (code === 3) err = E.ECONNREFUSED;
      else if (code === 4) {
        err = E.EMSGSIZE;
        mtu = b.readUInt16BE(off + 6);
      } else if (code === 9 || code === 10 || code === 13) err = E.EACCES;
    }
    s.icmpError(proto, qsrc, qdst, b.readUInt16BE(q + ihl), b.readUInt16BE(q + ihl + 2), err, mtu, type === 3 && code !== 4 && code !== 0 && code !== 1);
    void ipOff;
  }
}

/** Sends an ICMP error about the packet at b[ipOff, ipOff+ipLen) (ours to quote). */
export function icmp4Error(s: Stack, b: Buffer, ipOff: number, ipLen: number, type: number, code: number): void {
  const src = s.rxDstCopy();
  const dst = s.rxSrcCopy();
  if (isMulticast(src)) return;
  const o = s.l4Off(false);
  const qlen = Math.min(ipLen, 548);
  s.tx.fill(0, o, o + 8);
  s.tx[o] = type;
  s.tx[o + 1] = code;
  b.copy(s.tx, o + 8, ipOff, ipOff + qlen);
  s.tx.writeUInt16BE(finish(sumBytes(s.tx, o, 8 + qlen, 0)), o + 2);
  s.sendIp(src, dst, IPPROTO_ICMP, 8 + qlen, 64, 0, false);
}

export function icmp6Input(s: Stack, nic: Nic, b: Buffer, off: number, len: number, src: Addr, dst: Addr): void {
  if (len < 8 || finish(sumBytes(b, off, len, pseudoSum(src, dst, IPPROTO_ICMPV6, len, true))) !== 0) {
    s.mib.icmp6InErrors++;
    if (len >= 8) s.mib.icmp6InCsumErrors++;
    return;
  }
  const type = b[off];
  s.mib.icmp6In[type]++;
  const code = b[off + 1];
  if (type === 128) {
    if (isMulticast(dst)) return;
    const o = s.l4Off(true);
    b.copy(s.tx, o, off, off + len);
    s.tx[o] = 129;
    icmp6Send(s, Buffer.from(dst), Buffer.from(src), len, 64);
    return;
  }
  if (type === 129) return s.pingInput(true, b, off, len, src);
  if (type >= 133 && type <= 137) return ndpInput(s, nic, type, b, off, len, src, dst);
  if (type === 1 || type === 2 || type === 3) {
    const q = off + 8;
    if (len < 8 + 40 + 8) return;
    const proto = b[q + 6];
    const qsrc = Buffer.from(b.subarray(q + 8, q + 24));
    const qdst = Buffer.from(b.subarray(q + 24, q + 40));
    let err = E.EHOSTUNREACH;
    let mtu = 0;
    if (type === 1) err = code === 4 ? E.ECONNREFUSED : code === 1 ? E.EACCES : code === 0 ? E.ENETUNREACH : E.EHOSTUNREACH;
    if (type === 2) {
      err = E.EMSGSIZE;
      mtu = b.readUInt32BE(off + 4);
    }
    s.icmpError(proto, qsrc, qdst, b.readUInt16BE(q + 40), b.readUInt16BE(q + 42), err, mtu, type === 1 && code === 4);
  }
}

/** Finishes the ICMPv6 message at tx[l4Off(true)] (checksum) and sends it. */
export function icmp6Send(s: Stack, src: Addr, dst: Addr, len: number, hops: number, nic: Nic | null = null): number {
  const o = s.l4Off(true);
  s.tx.writeUInt16BE(0, o + 2);
  s.tx.writeUInt16BE(finish(sumBytes(s.tx, o, len, pseudoSum(src, dst, IPPROTO_ICMPV6, len, true))), o + 2);
  return s.sendIp(src, dst, IPPROTO_ICMPV6, len, hops, 0, false, nic);
}

export function icmp6Error(s: Stack, b: Buffer, ipOff: number, ipLen: number, type: number, code: number): void {
  const src = s.rxDstCopy();
  const dst = s.rxSrcCopy();
  if (isMulticast(src) || isV4(src)) return;
  const o = s.l4Off(true);
  const qlen = Math.min(ipLen, 1280 - 48);
  s.tx.fill(0, o, o + 8);
  s.tx[o] = type;
  s.tx[o + 1] = code;
  b.copy(s.tx, o + 8, ipOff, ipOff + qlen);
  icmp6Send(s, src, dst, 8 + qlen, 64);
}
