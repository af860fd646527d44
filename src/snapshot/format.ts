/**
 * The checkpoint image on disk: `DIR/checkpoint.img`, one file.
 *
 *   magic "TSSNAP\0\0" | version u32 | meta bytes u32 | payload bytes u32 (compressed)
 *   | sha256 of what follows it in the header, the meta and the payload (32 bytes)
 *   | generation offset u64 | pages offset u64 | pages bytes u64 | crc32 of the pages u32
 *   ... meta (JSON) at the generation offset | payload (deflate)
 *   ... pages (raw, at a page-aligned offset, to the file's end)
 *
 * The meta is the walk of the Sentry's state (`ImageMeta`, src/snapshot/image.ts); the
 * payload holds the bytes that meta points into (pipe and file data, FP state) by
 * offset; the pages section holds the address spaces' non-zero page runs uncompressed
 * and page-aligned, so that a restore maps them MAP_PRIVATE from the file (memory.ts)
 * instead of inflating and writing them: a page the guest never touches costs nothing,
 * and copies restored from one image share the host's page cache.
 *
 * A sandbox restored from the file keeps its pages mapped, so a later checkpoint into the
 * same file never rewrites them: it appends a new generation past the old one and then
 * points the header at it (a reader sees the old image or the new one, never half of
 * one). The file grows by one image each time (a fresh DIR, or removing the file, starts
 * it again); an image is replaced by rename, never by writing over it in place.
 * A wrong magic, another version, a short file and a checksum mismatch (the header's
 * sha256, the pages' crc32) are each refused with one line before anything is built.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as buffer from 'buffer';
import * as zlib from 'node:zlib';
import { launchedFile } from '../platform/launched-files';
import { native } from '../platform/native';

/**
 * 2: timerfds, timer_create timers and sockets (a version-1 reader would not know them).
 * 3: fds in flight in unix sockets (a version-2 reader would drop them silently).
 */
/** 4: tasks' capability sets and seccomp filters. 5: pages raw and page-aligned, generations. */
export const IMAGE_VERSION = 5;
export const IMAGE_FILE = 'checkpoint.img';
const MAGIC = Buffer.from('TSSNAP\0\0', 'latin1');
/** Where the header's sha256 starts and ends; the fields it covers follow it. */
const SUM = 20, SUMMED = 52;
const HEAD = SUMMED + 8 + 8 + 8 + 4;
const PAGE = 4096;
/** The size of the reads that check the pages' crc32 (one buffer, reused). */
const CHECK_CHUNK = 4 << 20;

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
  protected partsOf(): readonly Buffer[] {
    return this.parts;
  }
  /** The parts as they were added, for a write of them one after another. */
  chunks(): readonly Buffer[] {
    return this.parts;
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts, this.size);
  }
}

/** Collects the address spaces' page runs (whole pages each), which go to the image raw and page-aligned. */
export class PageWriter extends PayloadWriter {
  /** crc32 of every run in order (zlib's, which the reader checks). */
  crc32(): number {
    let c = 0;
    for (const b of this.partsOf()) c = zlib.crc32(b, c);
    return c;
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

function writeAll(fd: number, b: Buffer, pos: number): number {
  for (let off = 0; off < b.length; ) {
    const n = fs.writeSync(fd, b, off, b.length - off, pos);
    off += n;
    pos += n;
  }
  return pos;
}

/**
 * Where this image's generation starts in fd's file: past the image already there when
 * that is one of this version (a sandbox restored from it may map its pages: they are
 * never written over), else at the start of an emptied file.
 */
function generationStart(fd: number): number {
  const size = fs.fstatSync(fd).size;
  const head = Buffer.alloc(12);
  if (size >= HEAD && fs.readSync(fd, head, 0, 12, 0) === 12 && head.subarray(0, 8).equals(MAGIC) && head.readUInt32LE(8) === IMAGE_VERSION) {
    return Math.ceil(size / PAGE) * PAGE;
  }
  fs.ftruncateSync(fd, 0);
  return HEAD;
}

export function writeImage(fd: number, meta: object, payload: PayloadWriter, pages: PageWriter): { bytes: number } {
  // The payload's size: the restorer inflates it into one buffer of that size (readImage).
  const m = Buffer.from(JSON.stringify({ ...meta, payloadBytes: payload.length }, replacer), 'utf8');
  const z = zlib.deflateSync(payload.bytes(), { level: 1 });
  const gen = generationStart(fd);
  const pagesOff = Math.ceil((gen + m.length + z.length) / PAGE) * PAGE;
  const head = Buffer.alloc(HEAD);
  MAGIC.copy(head, 0);
  head.writeUInt32LE(IMAGE_VERSION, 8);
  head.writeUInt32LE(m.length, 12);
  head.writeUInt32LE(z.length, 16);
  head.writeBigUInt64LE(BigInt(gen), SUMMED);
  head.writeBigUInt64LE(BigInt(pagesOff), SUMMED + 8);
  head.writeBigUInt64LE(BigInt(pages.length), SUMMED + 16);
  head.writeUInt32LE(pages.crc32(), SUMMED + 24);
  crypto.createHash('sha256').update(head.subarray(SUMMED)).update(m).update(z).digest().copy(head, SUM);
  // The generation first, the header pointing at it last: a reader meanwhile reads the old image.
  writeAll(fd, z, writeAll(fd, m, gen));
  let pos = pagesOff;
  for (const b of pages.chunks()) pos = writeAll(fd, b, pos);
  fs.ftruncateSync(fd, pagesOff + pages.length);
  fs.fsyncSync(fd);
  writeAll(fd, head, 0);
  fs.fsyncSync(fd);
  return { bytes: pagesOff + pages.length - gen + HEAD };
}

/** The image file's page section (readImage): the fd stays open, for the restorer's maps and reads of it. */
export interface PageSource {
  fd: number;
  off: number;
  len: number;
}

function preadAll(fd: number, b: Buffer, pos: number): number {
  let got = 0;
  while (got < b.length) {
    const n = fs.readSync(fd, b, got, b.length - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/**
 * The image of DIR, checked, and its file's identity (size, mtime, inode: a template
 * restored ahead is used only while the file is the same). Read from the fd the native
 * front opened for it when there is one (a Sentry in its own user namespace may not reach
 * DIR), else by path. The pages are checked (crc32) but not kept: `pages` names them in
 * the file, whose fd stays open for the restore to map them.
 */
export function readImage(dir: string): { meta: unknown; payload: Buffer; stamp: string; pages: PageSource } {
  const file = path.join(dir, IMAGE_FILE);
  let fd: number;
  let keep = false;
  try {
    fd = launchedFile(`${dir}/${IMAGE_FILE}`) ?? fs.openSync(file, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SnapshotError(code === 'ENOENT' ? `--image-path ${dir}: no checkpoint image there` : `--image-path ${dir}: ${code ?? (e as Error).message}`);
  }
  try {
    const st = fs.fstatSync(fd);
    const stamp = `${st.size}:${st.mtimeMs}:${st.ino}`;
    const size = st.size;
    const head = Buffer.alloc(HEAD);
    const h = preadAll(fd, head, 0);
    if (h === 0) throw new SnapshotError(`${file}: empty (the run was never checkpointed)`);
    if (h < 12 || !head.subarray(0, 8).equals(MAGIC)) throw new SnapshotError(`${file}: not a tssandbox checkpoint image`);
    const version = head.readUInt32LE(8);
    if (version !== IMAGE_VERSION) throw new SnapshotError(`${file}: image version ${version}, this tssandbox reads version ${IMAGE_VERSION}`);
    if (h < HEAD) throw new SnapshotError(`${file}: image truncated (${size} bytes)`);
    const mlen = head.readUInt32LE(12), zlen = head.readUInt32LE(16);
    const gen = Number(head.readBigUInt64LE(SUMMED)), pagesOff = Number(head.readBigUInt64LE(SUMMED + 8));
    const pagesLen = Number(head.readBigUInt64LE(SUMMED + 16)), crc = head.readUInt32LE(SUMMED + 24);
    const end = pagesOff + pagesLen;
    if (!(Number.isSafeInteger(end) && gen >= HEAD && pagesOff % PAGE === 0 && pagesOff >= gen + mlen + zlen && pagesLen % PAGE === 0)) {
      throw new SnapshotError(`${file}: image corrupted (its header)`);
    }
    if (size < end) throw new SnapshotError(`${file}: image truncated (${size} of ${end} bytes)`);
    if (size > end) throw new SnapshotError(`${file}: image corrupted (trailing bytes)`);
    const mz = Buffer.alloc(mlen + zlen);
    if (preadAll(fd, mz, gen) !== mz.length) throw new SnapshotError(`${file}: image truncated`);
    const m = mz.subarray(0, mlen), z = mz.subarray(mlen);
    const sum = crypto.createHash('sha256').update(head.subarray(SUMMED)).update(m).update(z).digest();
    if (!sum.equals(head.subarray(SUM, SUMMED))) throw new SnapshotError(`${file}: image corrupted (checksum mismatch)`);
    if (pageCrc(fd, pagesOff, pagesLen) !== crc) throw new SnapshotError(`${file}: image corrupted (checksum mismatch)`);
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
    keep = pagesLen > 0;
    const pages = { fd: keep ? fd : -1, off: pagesOff, len: pagesLen };
    // Where restoreMemory finds the runs (whatever the stored meta said under that name).
    if (meta !== null && typeof meta === 'object') (meta as { pageSource?: PageSource }).pageSource = pages;
    return { meta, payload, stamp, pages };
  } finally {
    if (!keep) fs.closeSync(fd);
  }
}

/**
 * crc32 of [off, off+len) of fd: through a map of the file in the addon (a read into the
 * heap cost twice the crc itself), else read in chunks into one buffer.
 */
function pageCrc(fd: number, off: number, len: number): number {
  const mapped = native().hostFileCrc32?.(fd, off, len);
  if (mapped !== undefined && mapped >= 0) return mapped;
  const b = Buffer.allocUnsafe(Math.min(len, CHECK_CHUNK));
  let c = 0;
  for (let at = 0; at < len; ) {
    const n = fs.readSync(fd, b, 0, Math.min(b.length, len - at), off + at);
    if (n <= 0) return ~c;
    c = zlib.crc32(b.subarray(0, n), c);
    at += n;
  }
  return c;
}
