/**
 * What travels between sockets: a packet (one send's bytes plus its ancillary data) and
 * the receive queue that holds them. Stream sockets read across packets; datagram and
 * seqpacket sockets read one packet per call. Packets own a reference on every passed
 * file (SCM_RIGHTS) until received or dropped.
 */
import type { FileDescription } from '../../fs/vfs/file';

/** Sender identity as SCM_CREDENTIALS / SO_PEERCRED report it. */
export interface Creds {
  pid: number;
  uid: number;
  gid: number;
}

export interface Packet {
  data: Buffer;
  /** Bytes already consumed (stream reads may take part of a packet). */
  off: number;
  rights: FileDescription[] | null;
  creds: Creds | null;
  /** Encoded source address (datagram sockets), or null. */
  from: Buffer | null;
  /** IP-level facts for ancillary data (inet datagrams): see recv-cmsg.ts PktInfo. */
  info?: { ifindex: number; dst: Buffer; ttl: number; tos: number };
  /** A chunk of the pool the data lives in (given back once the packet is read). */
  chunk?: Buffer;
}

// Stream payload buffers: a write of a large block is copied from guest memory straight
// into one of these and queued as is; the reader copies out of it straight into guest
// memory, then it is reused. Fresh 1 MiB allocations cost page faults on every touch.
const CHUNK_SIZE = 1 << 20;
const chunks: Buffer[] = [];

/** A buffer of n bytes to fill and queue (from the pool when large). */
export function takeChunk(n: number): Buffer {
  if (n < 65536 || n > CHUNK_SIZE) return Buffer.allocUnsafe(n);
  return (chunks.pop() ?? Buffer.allocUnsafeSlow(CHUNK_SIZE)).subarray(0, n);
}

/** Gives back a buffer takeChunk returned (its pool chunk, if it has one). */
export function giveChunk(b: Buffer): void {
  if (b.buffer.byteLength === CHUNK_SIZE && b.byteOffset === 0 && chunks.length < 8) chunks.push(Buffer.from(b.buffer, 0, CHUNK_SIZE));
}

function donePacket(p: Packet): void {
  if (p.chunk !== undefined) {
    giveChunk(p.chunk);
    p.chunk = undefined;
  }
}

/** What one receive produced besides the bytes. */
export interface RecvMeta {
  /** Length of the whole datagram/record (for MSG_TRUNC); bytes copied for streams. */
  full: number;
  from: Buffer | null;
  rights: FileDescription[] | null;
  creds: Creds | null;
  /** MSG_TRUNC / MSG_EOR bits for msg_flags. */
  msgFlags: number;
  /** The datagram's IP-level facts (IP_PKTINFO & co.), when it has them. */
  info?: { ifindex: number; dst: Buffer; ttl: number; tos: number };
  /** TCP MSG_TRUNC: the bytes were discarded, the syscall copies nothing. */
  discard?: boolean;
  /** Ancillary data already built (host-mode sockets: the host's IP-level cmsgs). */
  ipCtl?: Array<[number, number, Buffer]>;
}

export function dropRights(p: Packet): void {
  if (p.rights !== null) for (const f of p.rights) f.decRef();
  p.rights = null;
}

export class RecvQueue {
  readonly packets: Packet[] = [];
  /** Unread payload bytes. */
  bytes = 0;

  get length(): number {
    return this.packets.length;
  }

  push(p: Packet): void {
    this.packets.push(p);
    this.bytes += p.data.length - p.off;
  }

  /**
   * Stream read into dst. Stops before a packet carrying rights or different creds once
   * something was read (Linux never merges such packets into one read), so each
   * SCM_RIGHTS message arrives with the bytes it was sent with.
   */
  readStream(dst: Uint8Array, peek: boolean, meta: RecvMeta): number {
    let n = 0;
    let i = 0;
    while (n < dst.length && i < this.packets.length) {
      const p = this.packets[i];
      if (n > 0 && (p.rights !== null || !sameCreds(p.creds, meta.creds))) break;
      if (n === 0) {
        meta.creds = p.creds;
        meta.from = p.from;
        if (!peek && p.rights !== null) {
          meta.rights = p.rights;
          p.rights = null;
        }
      }
      const k = Math.min(dst.length - n, p.data.length - p.off);
      dst.set(p.data.subarray(p.off, p.off + k), n);
      n += k;
      if (peek) {
        if (p.off + k < p.data.length) break;
        i++;
        continue;
      }
      p.off += k;
      this.bytes -= k;
      if (p.off === p.data.length) donePacket(this.packets.shift()!);
      else break;
    }
    meta.full = n;
    return n;
  }

  /**
   * Stream read of at most max bytes handed to put (straight into the reader's memory),
   * with readStream's rules; put returns false on a bad address (nothing consumed then).
   * Returns bytes read, or -1 when put failed first.
   */
  readStreamTo(max: number, put: (b: Uint8Array) => boolean, meta: RecvMeta): number {
    let n = 0;
    while (n < max && this.packets.length > 0) {
      const p = this.packets[0];
      if (n > 0 && (p.rights !== null || !sameCreds(p.creds, meta.creds))) break;
      if (n === 0) {
        meta.creds = p.creds;
        meta.from = p.from;
        if (p.rights !== null) {
          meta.rights = p.rights;
          p.rights = null;
        }
      }
      const k = Math.min(max - n, p.data.length - p.off);
      if (!put(p.data.subarray(p.off, p.off + k))) return n > 0 ? n : -1;
      n += k;
      p.off += k;
      this.bytes -= k;
      if (p.off === p.data.length) donePacket(this.packets.shift()!);
      else break;
    }
    meta.full = n;
    return n;
  }

  /** One datagram/record into dst (the excess is discarded unless peeking). */
  readPacket(dst: Uint8Array, peek: boolean, meta: RecvMeta): number {
    const p = this.packets[0];
    if (p === undefined) return 0;
    const k = Math.min(dst.length, p.data.length);
    dst.set(p.data.subarray(0, k), 0);
    meta.full = p.data.length;
    meta.from = p.from;
    meta.creds = p.creds;
    if (k < p.data.length) meta.msgFlags |= 0x20; // MSG_TRUNC
    if (!peek) {
      meta.rights = p.rights;
      p.rights = null;
      donePacket(this.packets.shift()!);
      this.bytes -= p.data.length;
    }
    return k;
  }

  clear(): void {
    for (const p of this.packets) {
      dropRights(p);
      donePacket(p);
    }
    this.packets.length = 0;
    this.bytes = 0;
  }
}

function sameCreds(a: Creds | null, b: Creds | null): boolean {
  if (a === null || b === null) return a === b;
  return a.pid === b.pid && a.uid === b.uid && a.gid === b.gid;
}

export function emptyMeta(): RecvMeta {
  return { full: 0, from: null, rights: null, creds: null, msgFlags: 0 };
}
