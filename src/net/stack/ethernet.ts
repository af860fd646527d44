/** Ethernet II framing. */
export const ETH_HLEN = 14;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;
export const BROADCAST_MAC = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

export function writeEth(b: Buffer, off: number, dst: Uint8Array, src: Uint8Array, type: number): void {
  for (let i = 0; i < 6; i++) {
    b[off + i] = dst[i];
    b[off + 6 + i] = src[i];
  }
  b[off + 12] = type >>> 8;
  b[off + 13] = type & 0xff;
}

/** The Ethernet multicast address an IPv6 multicast address maps to (33:33:xx:xx:xx:xx). */
export function v6MulticastMac(a: Uint8Array): Buffer {
  return Buffer.from([0x33, 0x33, a[12], a[13], a[14], a[15]]);
}

export function fmtMac(m: Uint8Array): string {
  return Array.from(m.subarray(0, 6), (x) => x.toString(16).padStart(2, '0')).join(':');
}
export function parseMac(s: string): Buffer {
  return Buffer.from(s.split(':').map((x) => parseInt(x, 16)));
}
