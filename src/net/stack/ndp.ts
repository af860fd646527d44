/** IPv6 neighbour discovery (RFC 4861): solicitations and advertisements for address resolution. */
import type { Stack } from './stack';
import type { Nic } from './nic';
import { type Addr, solicitedNode, isMulticast } from './addr';
import { icmp6Send } from './icmp';

export const ALL_NODES = Buffer.from([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);

export function ndpInput(s: Stack, nic: Nic, type: number, b: Buffer, off: number, len: number, src: Addr, dst: Addr): void {
  if (s.rxTtl !== 255 || len < 24) return;
  const target = b.subarray(off + 8, off + 24);
  const lladdr = findOpt(b, off + 24, off + len, type === 135 ? 1 : 2);
  if (type === 135) {
    if (!nic.hasAddr(target)) return;
    const unspecSrc = src.every((x) => x === 0);
    if (lladdr && !unspecSrc) s.learnNeighbour(nic, src, lladdr);
    // Advertise: solicited (S) and override (O); to the all-nodes group if the asker had no address.
    const o = s.l4Off(true);
    s.tx.fill(0, o, o + 32);
    s.tx[o] = 136;
    s.tx[o + 4] = unspecSrc ? 0x20 : 0x60;
    target.copy(s.tx, o + 8);
    s.tx[o + 24] = 2;
    s.tx[o + 25] = 1;
    nic.link.mac.copy(s.tx, o + 26);
    icmp6Send(s, Buffer.from(target), unspecSrc ? ALL_NODES : Buffer.from(src), 32, 255, nic);
    void dst;
    return;
  }
  if (type === 136 && lladdr) {
    if (s.neighbourKnown(nic, target) || !isMulticast(dst)) s.learnNeighbour(nic, Buffer.from(target), lladdr);
  }
}

function findOpt(b: Buffer, p: number, end: number, want: number): Buffer | null {
  while (p + 2 <= end) {
    const t = b[p];
    const l = b[p + 1] * 8;
    if (l === 0 || p + l > end) return null;
    if (t === want && l >= 8) return Buffer.from(b.subarray(p + 2, p + 8));
    p += l;
  }
  return null;
}

/** Sends a neighbour solicitation for target from src out of nic. */
export function ndpSolicit(s: Stack, nic: Nic, src: Addr, target: Addr): void {
  const o = s.l4Off(true);
  s.tx.fill(0, o, o + 32);
  s.tx[o] = 135;
  target.copy(s.tx, o + 8);
  s.tx[o + 24] = 1;
  s.tx[o + 25] = 1;
  nic.link.mac.copy(s.tx, o + 26);
  icmp6Send(s, src, solicitedNode(target), 32, 255, nic);
}
