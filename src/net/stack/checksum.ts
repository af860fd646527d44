/** The Internet checksum (RFC 1071): one's-complement sums over byte ranges. */

/** Adds bytes b[off, off+len) to a running 32-bit sum (big-endian 16-bit words). */
export function sumBytes(b: Uint8Array, off: number, len: number, sum: number): number {
  const end = off + len;
  let i = off;
  for (; i + 1 < end; i += 2) sum += (b[i] << 8) | b[i + 1];
  if (i < end) sum += b[i] << 8;
  // Fold now and then so the sum stays a small integer.
  return (sum & 0xffff) + (sum >>> 16);
}

export function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** The final checksum field value for a folded sum. */
export function finish(sum: number): number {
  return ~fold(sum) & 0xffff;
}

/** Pseudo-header sum for TCP/UDP: v4-mapped or IPv6 16-byte addresses. */
export function pseudoSum(src: Uint8Array, dst: Uint8Array, proto: number, len: number, v6: boolean): number {
  let s = 0;
  if (v6) {
    s = sumBytes(src, 0, 16, s);
    s = sumBytes(dst, 0, 16, s);
    s += (len >>> 16) + (len & 0xffff) + proto;
  } else {
    s = sumBytes(src, 12, 4, s);
    s = sumBytes(dst, 12, 4, s);
    s += proto + len;
  }
  return s;
}
