/**
 * Decoding and encoding of the guest's struct sockaddr variants (un, in, in6, nl).
 * Decoders return -errno for malformed input exactly where Linux does, so handlers can
 * pass the result straight back.
 */
import * as E from '../abi/errno';
import { AF_INET, AF_INET6, AF_UNIX, AF_NETLINK } from '../abi/socket';

/** A unix socket name: unnamed, a filesystem path, or an abstract name (bytes after the leading NUL). */
export type UnixName =
  | { kind: 'unnamed' }
  | { kind: 'path'; path: string; raw: Buffer }
  | { kind: 'abstract'; name: Buffer };

export const UNIX_PATH_MAX = 108;
const SUN_OFF = 2;

/** Parses a sockaddr_un of addrlen bytes; `autobind` is returned for a bare family (bind's autobind). */
export function decodeUnix(b: Buffer): UnixName | 'autobind' | number {
  if (b.length < SUN_OFF || b.length > SUN_OFF + UNIX_PATH_MAX) return -E.EINVAL;
  if (b.readUInt16LE(0) !== AF_UNIX) return -E.EINVAL;
  if (b.length === SUN_OFF) return 'autobind';
  if (b[SUN_OFF] === 0) return { kind: 'abstract', name: Buffer.from(b.subarray(SUN_OFF + 1)) };
  let end = b.indexOf(0, SUN_OFF);
  if (end < 0) end = b.length;
  const raw = Buffer.from(b.subarray(SUN_OFF, end));
  return { kind: 'path', path: raw.toString('latin1'), raw };
}

/** sockaddr_un as getsockname/accept/recvfrom return it (length = family + name as bound). */
export function encodeUnix(n: UnixName): Buffer {
  if (n.kind === 'unnamed') {
    const b = Buffer.alloc(SUN_OFF);
    b.writeUInt16LE(AF_UNIX, 0);
    return b;
  }
  if (n.kind === 'abstract') {
    const b = Buffer.alloc(SUN_OFF + 1 + n.name.length);
    b.writeUInt16LE(AF_UNIX, 0);
    n.name.copy(b, SUN_OFF + 1);
    return b;
  }
  const b = Buffer.alloc(SUN_OFF + n.raw.length + 1);
  b.writeUInt16LE(AF_UNIX, 0);
  n.raw.copy(b, SUN_OFF);
  return b;
}

/** An IPv4 or IPv6 endpoint. `ip` is always 16 bytes: IPv4 is stored v4-mapped (::ffff:a.b.c.d). */
export interface InetAddr {
  family: number;
  ip: Buffer;
  port: number;
  flowinfo: number;
  scope: number;
}

const V4MAPPED = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);

export function mapV4(a: Uint8Array): Buffer {
  return Buffer.concat([V4MAPPED, a]);
}
export function isV4Mapped(ip: Buffer): boolean {
  return ip.compare(V4MAPPED, 0, 12, 0, 12) === 0;
}
export function ipIsAny(ip: Buffer): boolean {
  if (isV4Mapped(ip)) return ip.readUInt32BE(12) === 0;
  for (let i = 0; i < 16; i++) if (ip[i] !== 0) return false;
  return true;
}
export function ipIsLoopback(ip: Buffer): boolean {
  if (isV4Mapped(ip)) return ip[12] === 127;
  for (let i = 0; i < 15; i++) if (ip[i] !== 0) return false;
  return ip[15] === 1;
}
export const V4_LOOPBACK = mapV4(Buffer.from([127, 0, 0, 1]));
export const V4_ANY = mapV4(Buffer.from([0, 0, 0, 0]));
export const V6_LOOPBACK = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
export const V6_ANY = Buffer.alloc(16);

/** Parses sockaddr_in / sockaddr_in6; the family is checked by the caller (rules differ per call). */
export function decodeInet(b: Buffer): InetAddr | number {
  if (b.length < 2) return -E.EINVAL;
  const family = b.readUInt16LE(0);
  if (family === AF_INET6) {
    if (b.length < 24) return -E.EINVAL;
    return {
      family,
      port: b.readUInt16BE(2),
      flowinfo: b.readUInt32BE(4),
      ip: Buffer.from(b.subarray(8, 24)),
      scope: b.length >= 28 ? b.readUInt32LE(24) : 0,
    };
  }
  if (b.length < 16) return -E.EINVAL;
  return { family, port: b.readUInt16BE(2), flowinfo: 0, ip: mapV4(b.subarray(4, 8)), scope: 0 };
}

/** Encodes in the socket's own family: an AF_INET6 socket shows IPv4 peers v4-mapped. */
export function encodeInet(a: InetAddr, sockFamily: number): Buffer {
  if (sockFamily === AF_INET) {
    const b = Buffer.alloc(16);
    b.writeUInt16LE(AF_INET, 0);
    b.writeUInt16BE(a.port, 2);
    a.ip.copy(b, 4, 12, 16);
    return b;
  }
  const b = Buffer.alloc(28);
  b.writeUInt16LE(AF_INET6, 0);
  b.writeUInt16BE(a.port, 2);
  b.writeUInt32BE(a.flowinfo >>> 0, 4);
  a.ip.copy(b, 8);
  b.writeUInt32LE(a.scope >>> 0, 24);
  return b;
}

export function encodeNetlink(portId: number, groups: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16LE(AF_NETLINK, 0);
  b.writeUInt32LE(portId >>> 0, 4);
  b.writeUInt32LE(groups >>> 0, 8);
  return b;
}
