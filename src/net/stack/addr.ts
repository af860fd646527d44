/**
 * Addresses inside the stack: always 16-byte Buffers, IPv4 stored v4-mapped
 * (::ffff:a.b.c.d) as src/net/sockaddr.ts does, so one table serves both families.
 */
const PREFIX = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);

export type Addr = Buffer;

export function v4(a: number, b: number, c: number, d: number): Addr {
  return Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d]);
}
export function isV4(a: Uint8Array): boolean {
  return a[10] === 0xff && a[11] === 0xff && a[0] === 0 && a[1] === 0 && a[2] === 0 && a[3] === 0 && a[4] === 0 && a[5] === 0 && a[6] === 0 && a[7] === 0 && a[8] === 0 && a[9] === 0;
}
/** A fresh v4-mapped address from 4 bytes at b[off]. */
export function mapped(b: Uint8Array, off: number): Addr {
  const a = Buffer.allocUnsafe(16);
  PREFIX.copy(a, 0);
  a[12] = b[off]; a[13] = b[off + 1]; a[14] = b[off + 2]; a[15] = b[off + 3];
  return a;
}
/** Scratch v4-mapped buffer refilled in place (the receive path's per-packet addresses). */
export function setMapped(dst: Addr, b: Uint8Array, off: number): Addr {
  PREFIX.copy(dst, 0);
  dst[12] = b[off]; dst[13] = b[off + 1]; dst[14] = b[off + 2]; dst[15] = b[off + 3];
  return dst;
}
export function eq(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 15; i >= 0; i--) if (a[i] !== b[i]) return false;
  return true;
}
export function isAny(a: Uint8Array): boolean {
  if (isV4(a)) return (a[12] | a[13] | a[14] | a[15]) === 0;
  for (let i = 0; i < 16; i++) if (a[i] !== 0) return false;
  return true;
}
export function isLoopback(a: Uint8Array): boolean {
  if (isV4(a)) return a[12] === 127;
  for (let i = 0; i < 15; i++) if (a[i] !== 0) return false;
  return a[15] === 1;
}
export function isMulticast(a: Uint8Array): boolean {
  return isV4(a) ? (a[12] & 0xf0) === 0xe0 : a[0] === 0xff;
}
export function v4num(a: Uint8Array): number {
  return ((a[12] << 24) | (a[13] << 16) | (a[14] << 8) | a[15]) >>> 0;
}
/** Are a and b in one prefix of `bits` (bits counted in the family's own width)? */
export function inPrefix(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  const v = isV4(b);
  if (v !== isV4(a)) return false;
  let start = v ? 12 : 0;
  let n = bits;
  while (n >= 8) {
    if (a[start] !== b[start]) return false;
    start++;
    n -= 8;
  }
  if (n === 0) return true;
  const m = (0xff << (8 - n)) & 0xff;
  return (a[start] & m) === (b[start] & m);
}
export function fmt(a: Uint8Array): string {
  if (isV4(a)) return `${a[12]}.${a[13]}.${a[14]}.${a[15]}`;
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(((a[i] << 8) | a[i + 1]).toString(16));
  return parts.join(':').replace(/(^|:)0(:0)+(:|$)/, '::').replace(/^:::/, '::').replace(/:::$/, '::');
}
export function parse(s: string): Addr | null {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (m) {
    if ([m[1], m[2], m[3], m[4]].some((x) => +x > 255)) return null;
    return v4(+m[1], +m[2], +m[3], +m[4]);
  }
  if (!s.includes(':')) return null;
  const [head, tail] = s.includes('::') ? s.split('::') : [s, null];
  const h = head ? head.split(':') : [];
  const t = tail === null ? [] : tail ? tail.split(':') : [];
  const fill = tail === null ? 0 : 8 - h.length - t.length;
  const words = [...h, ...Array(fill).fill('0'), ...t];
  if (words.length !== 8) return null;
  const a = Buffer.alloc(16);
  for (let i = 0; i < 8; i++) a.writeUInt16BE(parseInt(words[i], 16) & 0xffff, i * 2);
  return a;
}
/** The solicited-node multicast address of an IPv6 address (NDP). */
export function solicitedNode(a: Uint8Array): Addr {
  const s = Buffer.from([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0]);
  s[13] = a[13]; s[14] = a[14]; s[15] = a[15];
  return s;
}
export const V4_BROADCAST = v4(255, 255, 255, 255);
