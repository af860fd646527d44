/**
 * The checkpoint image on disk: `DIR/checkpoint.img`, one file.
 *
 *   magic "TSSNAP\0\0" | version u32 | meta bytes u32 | payload bytes u32 (compressed)
 *   | sha256 of everything after this field (32 bytes) | meta (JSON) | payload (deflate)
 *
 * The meta is the walk of the Sentry's state (`ImageMeta`, src/snapshot/image.ts); the
 * payload holds the bytes that meta points into (memory pages, pipe and file data) by
 * offset. A wrong magic, another version, a short file and a checksum mismatch are each
 * refused with one line before anything is built.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as buffer from 'buffer';
import * as zlib from 'node:zlib';
import { launchedFile } from '../platform/launched-files';

/**
 * 2: timerfds, timer_create timers and sockets (a version-1 reader would not know them).
 * 3: fds in flight in unix sockets (a version-2 reader would drop them silently).
 */
export const IMAGE_VERSION = 4; // 4: tasks' capability sets and seccomp filters
export const IMAGE_FILE = 'checkpoint.img';
const MAGIC = Buffer.from('TSSNAP\0\0', 'latin1');
const HEAD = 8 + 4 + 4 + 4 + 32;

export class SnapshotError extends Error {}

/** JSON with bigints (registers, signal masks) kept exact. */
function replacer(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return { $big: v.toString(16) };
  if (typeof v === 'number' && !Number.isFinite(v)) return { $num: String(v) }; // RLIM_INFINITY, deadlines
  return v;
}
function reviver(_k: string, v: unknown): unknown {
  if (v !== null && typeof v === 'object' && '$big' in (v as object) && Object.keys(v as object).length === 1) {
    return BigInt('0x' + (v as { $big: string }).$big);
  }
  if (v !== null && typeof v === 'object' && '$num' in (v as object) && Object.keys(v as object).length === 1) {
    return Number((v as { $num: string }).$num);
  }
  return v;
}

/** Collects payload bytes; each add returns the offset meta records. */
export class PayloadWriter {
  private readonly parts: Buffer[] = [];
  private size = 0;
  add(b: Uint8Array): number {
    const off = this.size;
    this.parts.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
    this.size += b.byteLength;
    return off;
  }
  get length(): number {
    return this.size;
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts, this.size);
  }
}

/**
 * Opens DIR/checkpoint.img for a later writeImage (made now, before the Sentry is confined:
 * it may not open paths then). An image already there stays as it is until then.
 */
export function openImageForWrite(dir: string): number {
  // A Sentry in its own user namespace may not reach DIR: the native front opened it (native/launch_flags.h).
  const given = launchedFile(`${dir}/${IMAGE_FILE}`);
  if (given !== undefined) return given;
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, IMAGE_FILE);
  try {
    return fs.openSync(file, 'r+');
  } catch {
    return fs.openSync(file, 'w+', 0o600);
  }
}

export function writeImage(fd: number, meta: object, payload: PayloadWriter): { bytes: number } {
  // The payload's size: the restorer inflates it into one buffer of that size (readImage).
  const m = Buffer.from(JSON.stringify({ ...meta, payloadBytes: payload.length }, replacer), 'utf8');
  const z = zlib.deflateSync(payload.bytes(), { level: 1 });
  const head = Buffer.alloc(HEAD);
  MAGIC.copy(head, 0);
  head.writeUInt32LE(IMAGE_VERSION, 8);
  head.writeUInt32LE(m.length, 12);
  head.writeUInt32LE(z.length, 16);
  crypto.createHash('sha256').update(m).update(z).digest().copy(head, 20);
  // Written in place (a reader of a half-written image sees it truncated).
  fs.ftruncateSync(fd, 0);
  let pos = 0;
  for (const b of [head, m, z]) {
    for (let off = 0; off < b.length; ) {
      const n = fs.writeSync(fd, b, off, b.length - off, pos);
      off += n;
      pos += n;
    }
  }
  fs.fsyncSync(fd);
  return { bytes: HEAD + m.length + z.length };
}

/**
 * The image of DIR, checked, and its file's identity (size, mtime, inode: a template
 * restored ahead is used only while the file is the same). Read from the fd the native
 * front opened for it when there is one (a Sentry in its own user namespace may not reach
 * DIR), else by path.
 */
export function readImage(dir: string): { meta: unknown; payload: Buffer; stamp: string } {
  const file = path.join(dir, IMAGE_FILE);
  let b: Buffer;
  let stamp = '';
  try {
    const fd = launchedFile(`${dir}/${IMAGE_FILE}`) ?? fs.openSync(file, 'r');
    try {
      const st = fs.fstatSync(fd);
      stamp = `${st.size}:${st.mtimeMs}:${st.ino}`;
      b = fs.readFileSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SnapshotError(code === 'ENOENT' ? `--image-path ${dir}: no checkpoint image there` : `--image-path ${dir}: ${code ?? (e as Error).message}`);
  }
  if (b.length === 0) throw new SnapshotError(`${file}: empty (the run was never checkpointed)`);
  if (b.length < 12 || !b.subarray(0, 8).equals(MAGIC)) throw new SnapshotError(`${file}: not a tssandbox checkpoint image`);
  const version = b.readUInt32LE(8);
  if (version !== IMAGE_VERSION) throw new SnapshotError(`${file}: image version ${version}, this tssandbox reads version ${IMAGE_VERSION}`);
  if (b.length < HEAD) throw new SnapshotError(`${file}: image truncated (${b.length} bytes)`);
  const mlen = b.readUInt32LE(12), zlen = b.readUInt32LE(16);
  if (b.length < HEAD + mlen + zlen) throw new SnapshotError(`${file}: image truncated (${b.length} of ${HEAD + mlen + zlen} bytes)`);
  if (b.length > HEAD + mlen + zlen) throw new SnapshotError(`${file}: image corrupted (trailing bytes)`);
  const m = b.subarray(HEAD, HEAD + mlen), z = b.subarray(HEAD + mlen);
  const sum = crypto.createHash('sha256').update(m).update(z).digest();
  if (!sum.equals(b.subarray(20, 52))) throw new SnapshotError(`${file}: image corrupted (checksum mismatch)`);
  let meta: unknown, payload: Buffer;
  try {
    meta = JSON.parse(m.toString('utf8'), reviver);
    // Into one buffer of the size the writer recorded: in zlib's default chunks, gathering
    // them again (a second copy of every byte) cost as much as inflating them.
    const want = (meta as { payloadBytes?: unknown } | null)?.payloadBytes;
    const sized = typeof want === 'number' && Number.isSafeInteger(want) && want >= 0 && want < buffer.constants.MAX_LENGTH - 64;
    payload = zlib.inflateSync(z, sized ? { chunkSize: Math.max(64, want + 64) } : {});
    if (sized && payload.length !== want) throw new SnapshotError('size');
  } catch {
    throw new SnapshotError(`${file}: image corrupted (undecodable)`);
  }
  return { meta, payload, stamp };
}
