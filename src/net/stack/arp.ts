/** ARP (RFC 826) for IPv4 over Ethernet: requests, replies, and answering for our addresses. */
import type { Stack } from './stack';
import type { Nic } from './nic';
import { ETH_HLEN, ETHERTYPE_ARP, BROADCAST_MAC, writeEth } from './ethernet';
import { setMapped } from './addr';

const scratchA = Buffer.alloc(16);
const scratchB = Buffer.alloc(16);

export function arpInput(s: Stack, nic: Nic, b: Buffer, off: number, len: number): void {
  if (len < 28) return;
  if (b.readUInt16BE(off) !== 1 || b.readUInt16BE(off + 2) !== 0x0800 || b[off + 4] !== 6 || b[off + 5] !== 4) return;
  const op = b.readUInt16BE(off + 6);
  const sha = b.subarray(off + 8, off + 14);
  const spa = setMapped(scratchA, b, off + 14);
  const tpa = setMapped(scratchB, b, off + 24);
  const forUs = nic.hasAddr(tpa);
  // Learn (or refresh) the sender when the request is for us or we already know it.
  if (forUs || s.neighbourKnown(nic, spa)) s.learnNeighbour(nic, spa, sha);
  if (op === 1 && forUs) arpSend(s, nic, 2, sha, tpa, spa, Buffer.from(sha));
}

/** Sends an ARP packet: op 1 request (to broadcast), 2 reply. */
export function arpSend(s: Stack, nic: Nic, op: number, dstMac: Uint8Array, spa: Uint8Array, tpa: Uint8Array, tha: Uint8Array | null): void {
  const b = Buffer.alloc(ETH_HLEN + 28);
  writeEth(b, 0, op === 1 ? BROADCAST_MAC : dstMac, nic.link.mac, ETHERTYPE_ARP);
  const o = ETH_HLEN;
  b.writeUInt16BE(1, o);
  b.writeUInt16BE(0x0800, o + 2);
  b[o + 4] = 6;
  b[o + 5] = 4;
  b.writeUInt16BE(op, o + 6);
  nic.link.mac.copy(b, o + 8);
  for (let i = 0; i < 4; i++) b[o + 14 + i] = spa[12 + i];
  if (tha) for (let i = 0; i < 6; i++) b[o + 18 + i] = tha[i];
  for (let i = 0; i < 4; i++) b[o + 24 + i] = tpa[12 + i];
  s.sendFrame(nic, b, 0, b.length);
}
