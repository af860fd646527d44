/** IPv6 (RFC 8200): input through extension headers and fragments, output. */
import * as E from '../../abi/errno';
import type { Stack } from './stack';
import type { Nic } from './nic';
import { type Addr } from './addr';
import { ETH_HLEN } from './ethernet';
import { onEntropySeeded, randomUint32 } from '../../determinism/entropy';

export const IP6_HLEN = 40;
export const IPPROTO_ICMPV6 = 58;

let fragId = randomUint32();
onEntropySeeded(() => (fragId = randomUint32()));

export function ip6Input(s: Stack, nic: Nic, b: Buffer, off: number, len: number): void {
  const m = s.mib;
  m.ip6InReceives++;
  m.ip6InOctets += len;
  const bad = () => {
    m.ip6InHdrErrors++;
    nic.stats.rxErrors++;
  };
  if (len < 40 || b[off] >> 4 !== 6) return bad();
  const plen = b.readUInt16BE(off + 4);
  if (40 + plen > len) return bad();
  // ip6_rcv_core: by the ECN bits of the traffic class (NoECT, ECT(1), ECT(0), CE).
  m.ip6InEcn[(b[off + 1] >> 4) & 3]++;
  if (b[off + 24] === 0xff) {
    m.ip6InMcastPkts++;
    m.ip6InMcastOctets += len;
  }
  const src = s.rxSrc;
  const dst = s.rxDst;
  b.copy(src, 0, off + 8, off + 24);
  b.copy(dst, 0, off + 24, off + 40);
  if (!s.acceptsDst(nic, dst)) return void nic.stats.rxDropped++;
  s.rxTtl = b[off + 7];
  s.rxTos = ((b[off] & 0xf) << 4) | (b[off + 1] >> 4);
  s.rxNic = nic;
  let next = b[off + 6];
  let p = off + 40;
  const end = off + 40 + plen;
  for (;;) {
    if (next === 0 || next === 43 || next === 60) {
      if (p + 8 > end) return;
      const n = b[p];
      p += (b[p + 1] + 1) * 8;
      next = n;
      continue;
    }
    if (next === 44) {
      if (p + 8 > end) return;
      const n = b[p];
      const fo = b.readUInt16BE(p + 2);
      const id = b.readUInt32BE(p + 4);
      const key = `6|${src.toString('hex')}|${dst.toString('hex')}|${id}`;
      const whole = s.frags.add(key, fo & 0xfff8, b.subarray(p + 8, end), (fo & 1) !== 0);
      if (whole === null) return;
      const pkt = Buffer.alloc(40 + whole.length);
      b.copy(pkt, 0, off, off + 40);
      pkt[6] = n;
      pkt.writeUInt16BE(whole.length, 4);
      whole.copy(pkt, 40);
      return s.deliverL4(nic, n, true, pkt, 40, whole.length, 0, src, dst);
    }
    break;
  }
  if (next === 59) return;
  s.deliverL4(nic, next, true, b, p, end - p, off, src, dst);
}

/** Writes the header at tx[ETH_HLEN] for the L4 bytes at tx[ETH_HLEN+40] and sends. */
export function ip6Output(s: Stack, nic: Nic, nextHop: Addr, src: Addr, dst: Addr, proto: number, l4len: number, hops: number, tclass: number): number {
  const b = s.tx;
  const o = ETH_HLEN;
  if (IP6_HLEN + l4len <= nic.mtu || (s.txPartial > 0 && l4len <= 0xffff)) {
    writeHeader(b, o, l4len, proto, hops, tclass, src, dst);
    countOut(s, dst, IP6_HLEN + l4len);
    return s.linkOutput(nic, nextHop, true, b, o, IP6_HLEN + l4len);
  }
  if (proto === 6) return -E.EMSGSIZE;
  const per = (nic.mtu - IP6_HLEN - 8) & ~7;
  const id = (fragId = (fragId + 1) >>> 0);
  const payload = Buffer.from(b.subarray(o + IP6_HLEN, o + IP6_HLEN + l4len));
  for (let at = 0; at < l4len; at += per) {
    const n = Math.min(per, l4len - at);
    writeHeader(b, o, n + 8, 44, hops, tclass, src, dst);
    const f = o + IP6_HLEN;
    b[f] = proto;
    b[f + 1] = 0;
    b.writeUInt16BE(at | (at + n < l4len ? 1 : 0), f + 2);
    b.writeUInt32BE(id, f + 4);
    payload.copy(b, f + 8, at, at + n);
    countOut(s, dst, IP6_HLEN + 8 + n);
    const r = s.linkOutput(nic, nextHop, true, b, o, IP6_HLEN + 8 + n);
    if (r < 0) {
      s.mib.ip6FragFails++;
      return r;
    }
    s.mib.ip6FragCreates++;
  }
  s.mib.ip6FragOKs++;
  return 0;
}

/** Ip6OutOctets and the multicast counts, per packet put on the link (each fragment its own). */
function countOut(s: Stack, dst: Addr, len: number): void {
  s.mib.ip6OutOctets += len;
  if (dst[0] === 0xff) {
    s.mib.ip6OutMcastPkts++;
    s.mib.ip6OutMcastOctets += len;
  }
}

function writeHeader(b: Buffer, o: number, plen: number, next: number, hops: number, tclass: number, src: Addr, dst: Addr): void {
  b.writeUInt32BE(((6 << 28) | (tclass << 20)) >>> 0, o);
  b.writeUInt16BE(plen, o + 4);
  b[o + 6] = next;
  b[o + 7] = hops;
  src.copy(b, o + 8, 0, 16);
  dst.copy(b, o + 24, 0, 16);
}
