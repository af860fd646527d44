/** IPv4 (RFC 791): input with header checks and reassembly, output with fragmentation. */
import * as E from '../../abi/errno';
import type { Stack } from './stack';
import type { Nic } from './nic';
import { sumBytes, finish } from './checksum';
import { setMapped, type Addr } from './addr';
import { ETH_HLEN } from './ethernet';
import { onEntropySeeded, randomBelow } from '../../determinism/entropy';

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IP_HLEN = 20;

let ipId = randomBelow(0x10000);
onEntropySeeded(() => (ipId = randomBelow(0x10000)));

export function ip4Input(s: Stack, nic: Nic, b: Buffer, off: number, len: number): void {
  s.mib.ipInReceives++;
  const bad = () => {
    s.mib.ipInHdrErrors++;
    nic.stats.rxErrors++;
  };
  if (len < 20 || b[off] >> 4 !== 4) return bad();
  const ihl = (b[off] & 0xf) * 4;
  const total = b.readUInt16BE(off + 2);
  if (ihl < 20 || total < ihl || total > len) return bad();
  if (finish(sumBytes(b, off, ihl, 0)) !== 0) return bad();
  const src = setMapped(s.rxSrc, b, off + 12);
  const dst = setMapped(s.rxDst, b, off + 16);
  if (!s.acceptsDst(nic, dst)) return void nic.stats.rxDropped++;
  const proto = b[off + 9];
  s.rxTtl = b[off + 8];
  s.rxTos = b[off + 1];
  s.rxNic = nic;
  const fragField = b.readUInt16BE(off + 6);
  const more = (fragField & 0x2000) !== 0;
  const fragOff = (fragField & 0x1fff) * 8;
  if (more || fragOff !== 0) {
    const key = `4|${b.readUInt32BE(off + 12)}|${b.readUInt32BE(off + 16)}|${b.readUInt16BE(off + 4)}|${proto}`;
    const whole = s.frags.add(key, fragOff, b.subarray(off + ihl, off + total), more);
    if (whole === null) return;
    // Rebuild a header in front so ICMP errors can quote it.
    const pkt = Buffer.alloc(ihl + whole.length);
    b.copy(pkt, 0, off, off + ihl);
    whole.copy(pkt, ihl);
    pkt.writeUInt16BE(0, 6);
    setMapped(s.rxSrc, pkt, 12);
    setMapped(s.rxDst, pkt, 16);
    return s.deliverL4(nic, proto, false, pkt, ihl, whole.length, 0, s.rxSrc, s.rxDst);
  }
  s.deliverL4(nic, proto, false, b, off + ihl, total - ihl, off, src, dst);
}

/** Writes the header at tx[ETH_HLEN] for the L4 bytes already at tx[ETH_HLEN+20] and sends. */
export function ip4Output(
  s: Stack, nic: Nic, nextHop: Addr, src: Addr, dst: Addr, proto: number, l4len: number, ttl: number, tos: number, df: boolean,
): number {
  const b = s.tx;
  const o = ETH_HLEN;
  const total = IP_HLEN + l4len;
  if (total <= nic.mtu || (s.txPartial > 0 && total <= 0xffff)) {
    writeHeader(b, o, total, ipId = (ipId + 1) & 0xffff, df ? 0x4000 : 0, ttl, tos, proto, src, dst);
    return s.linkOutput(nic, nextHop, false, b, o, total);
  }
  if (df) return -E.EMSGSIZE;
  // Fragment: copy each piece behind its own header in a second buffer.
  const per = (nic.mtu - IP_HLEN) & ~7;
  const id = (ipId = (ipId + 1) & 0xffff);
  const payload = Buffer.from(b.subarray(o + IP_HLEN, o + IP_HLEN + l4len));
  for (let at = 0; at < l4len; at += per) {
    const n = Math.min(per, l4len - at);
    const more = at + n < l4len;
    payload.copy(b, o + IP_HLEN, at, at + n);
    writeHeader(b, o, IP_HLEN + n, id, (more ? 0x2000 : 0) | (at >> 3), ttl, tos, proto, src, dst);
    const r = s.linkOutput(nic, nextHop, false, b, o, IP_HLEN + n);
    if (r < 0) {
      s.mib.ipFragFails++;
      return r;
    }
    s.mib.ipFragCreates++;
  }
  s.mib.ipFragOKs++;
  return 0;
}

/**
 * Sends the whole IPv4 packet (header included, as a raw socket with IP_HDRINCL gives it)
 * at tx[ETH_HLEN, +len) on nic, as Linux's raw_send_hdrinc: the total length and the
 * header checksum are always filled in, a zero source address and a zero id too; the
 * rest is the sender's. No fragmentation: longer than the MTU is EMSGSIZE.
 */
export function ip4OutputHdrincl(s: Stack, nic: Nic, nextHop: Addr, src: Addr, len: number): number {
  const b = s.tx;
  const o = ETH_HLEN;
  if (len > nic.mtu) return -E.EMSGSIZE;
  if (len < IP_HLEN) return -E.EINVAL;
  const ihl = (b[o] & 0xf) * 4;
  if (ihl > len) return -E.EINVAL;
  if (ihl >= IP_HLEN) {
    if (b.readUInt32BE(o + 12) === 0) for (let i = 0; i < 4; i++) b[o + 12 + i] = src[12 + i];
    b.writeUInt16BE(len, o + 2);
    if (b.readUInt16BE(o + 4) === 0) b.writeUInt16BE((ipId = (ipId + 1) & 0xffff), o + 4);
    b.writeUInt16BE(0, o + 10);
    b.writeUInt16BE(finish(sumBytes(b, o, ihl, 0)), o + 10);
  }
  s.mib.ipOutRequests++;
  if (b[o + 9] === IPPROTO_ICMP && len >= ihl + 8) s.mib.icmpOut[b[o + ihl]]++;
  return s.linkOutput(nic, nextHop, false, b, o, len);
}

function writeHeader(b: Buffer, o: number, total: number, id: number, frag: number, ttl: number, tos: number, proto: number, src: Addr, dst: Addr): void {
  b[o] = 0x45;
  b[o + 1] = tos;
  b.writeUInt16BE(total, o + 2);
  b.writeUInt16BE(id, o + 4);
  b.writeUInt16BE(frag, o + 6);
  b[o + 8] = ttl;
  b[o + 9] = proto;
  b[o + 10] = 0;
  b[o + 11] = 0;
  for (let i = 0; i < 4; i++) {
    b[o + 12 + i] = src[12 + i];
    b[o + 16 + i] = dst[12 + i];
  }
  b.writeUInt16BE(finish(sumBytes(b, o, 20, 0)), o + 10);
}
