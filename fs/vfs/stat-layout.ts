/**
 * x86-64 struct layouts the fs syscalls write: struct stat (144 bytes), struct statx (256),
 * struct statfs (120), linux_dirent64 and the old linux_dirent. Encoded into reusable
 * buffers (the Sentry is single-threaded) so stat() allocates nothing per call.
 */
import type { Stat, DirEntry } from './inode';
import { devMajor, devMinor } from '../../src/abi/fs';

const statBuf = Buffer.alloc(144);
const statxBuf = Buffer.alloc(256);
const statfsBuf = Buffer.alloc(120);

/** Writes a signed 64-bit value given as a JS number (exact below 2^53). */
export function putI64(b: Buffer, off: number, v: number): void {
  if (v >= 0 && v < 4294967296) {
    b.writeUInt32LE(v, off);
    b.writeUInt32LE(0, off + 4);
  } else {
    b.writeBigInt64LE(BigInt(Math.trunc(v)), off);
  }
}
export function putU64(b: Buffer, off: number, v: number): void {
  if (v >= 0 && v < 4294967296) {
    b.writeUInt32LE(v, off);
    b.writeUInt32LE(0, off + 4);
  } else {
    b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(Math.trunc(v))), off);
  }
}

/** statBuf as 32-bit words and as 64-bit values (it is 8-aligned: Buffer.alloc, not a pool slice). */
const statW = new Int32Array(statBuf.buffer, statBuf.byteOffset, 36);
const statI64 = new BigInt64Array(statBuf.buffer, statBuf.byteOffset, 18);
const statU64 = new BigUint64Array(statBuf.buffer, statBuf.byteOffset, 18);

/** putI64/putU64 on statBuf through its word views: the same bytes, no bounds checks. */
function statI(i: number, v: number): void {
  if (v >= 0 && v < 4294967296) {
    statW[2 * i] = v;
    statW[2 * i + 1] = 0;
  } else {
    statI64[i] = BigInt(Math.trunc(v));
  }
}
function statU(i: number, v: number): void {
  if (v >= 0 && v < 4294967296) {
    statW[2 * i] = v;
    statW[2 * i + 1] = 0;
  } else {
    statU64[i] = BigInt.asUintN(64, BigInt(Math.trunc(v)));
  }
}

export function encodeStat(st: Stat): Buffer {
  statU(0, st.dev);
  statU(1, st.ino);
  statU(2, st.nlink);
  statW[6] = st.mode;
  statW[7] = st.uid;
  statW[8] = st.gid;
  statW[9] = 0;
  statU(5, st.rdev);
  statI(6, st.size);
  statI(7, st.blksize);
  statI(8, st.blocks);
  statI(9, st.atimeSec);
  statI(10, st.atimeNsec);
  statI(11, st.mtimeSec);
  statI(12, st.mtimeNsec);
  statI(13, st.ctimeSec);
  statI(14, st.ctimeNsec);
  statW[30] = 0;
  statW[31] = 0;
  statW[32] = 0;
  statW[33] = 0;
  statW[34] = 0;
  statW[35] = 0;
  return statBuf;
}

export const STATX_BASIC_STATS = 0x7ff;
export const STATX_BTIME = 0x800;
export const STATX_MNT_ID = 0x1000;

export function encodeStatx(st: Stat, mntId: number): Buffer {
  const b = statxBuf;
  b.fill(0);
  b.writeUInt32LE(STATX_BASIC_STATS | STATX_BTIME | STATX_MNT_ID, 0);
  b.writeUInt32LE(st.blksize >>> 0, 4);
  // stx_attributes (8) = 0
  b.writeUInt32LE(st.nlink >>> 0, 16);
  b.writeUInt32LE(st.uid >>> 0, 20);
  b.writeUInt32LE(st.gid >>> 0, 24);
  b.writeUInt16LE(st.mode & 0xffff, 28);
  putU64(b, 32, st.ino);
  putU64(b, 40, st.size);
  putU64(b, 48, st.blocks);
  // stx_attributes_mask (56) = 0
  putI64(b, 64, st.atimeSec);
  b.writeUInt32LE(st.atimeNsec >>> 0, 72);
  putI64(b, 80, st.btimeSec);
  b.writeUInt32LE(st.btimeNsec >>> 0, 88);
  putI64(b, 96, st.ctimeSec);
  b.writeUInt32LE(st.ctimeNsec >>> 0, 104);
  putI64(b, 112, st.mtimeSec);
  b.writeUInt32LE(st.mtimeNsec >>> 0, 120);
  b.writeUInt32LE(devMajor(st.rdev), 128);
  b.writeUInt32LE(devMinor(st.rdev), 132);
  b.writeUInt32LE(devMajor(st.dev), 136);
  b.writeUInt32LE(devMinor(st.dev), 140);
  putU64(b, 144, mntId);
  return b;
}

export const ST_RDONLY = 1;
export const ST_NOSUID = 2;
export const ST_NODEV = 4;
export const ST_RELATIME = 4096;

export function encodeStatfs(magic: number, nums: number[], dev: number, readonly: boolean): Buffer {
  const b = statfsBuf;
  b.fill(0);
  putI64(b, 0, magic);
  putI64(b, 8, nums[0]);
  putU64(b, 16, nums[1]);
  putU64(b, 24, nums[2]);
  putU64(b, 32, nums[3]);
  putU64(b, 40, nums[4]);
  putU64(b, 48, nums[5]);
  b.writeInt32LE(dev | 0, 56);
  putI64(b, 64, 255);
  putI64(b, 72, nums[0]);
  putI64(b, 80, (readonly ? ST_RDONLY : 0) | ST_RELATIME);
  return b;
}

/**
 * Packs directory entries starting at index `from` into out (at most out.length bytes).
 * Returns [bytes written, next index]; bytes = -1 when even the first entry does not fit.
 */
export function packDirents(entries: DirEntry[], from: number, out: Buffer, old: boolean): [number, number] {
  let off = 0;
  let i = from;
  for (; i < entries.length; i++) {
    const e = entries[i];
    const nameLen = e.name.length; // names are latin1 strings: one char per byte
    // dirent64: ino(8) off(8) reclen(2) type(1) name NUL; old: ino(8) off(8) reclen(2) name NUL pad type
    const reclen = old ? (18 + nameLen + 2 + 7) & ~7 : (19 + nameLen + 1 + 7) & ~7;
    if (off + reclen > out.length) break;
    putU64(out, off, e.ino);
    putI64(out, off + 8, i + 1);
    out[off + 16] = reclen & 0xff;
    out[off + 17] = reclen >>> 8;
    // The name a byte at a time, then NUL padding (most names are short: cheaper than
    // Buffer.write and fill, each a call into C++, a name).
    const at = old ? off + 18 : off + 19;
    const name = e.name;
    for (let j = 0; j < nameLen; j++) out[at + j] = name.charCodeAt(j);
    for (let j = at + nameLen; j < off + reclen; j++) out[j] = 0;
    if (old) out[off + reclen - 1] = e.type;
    else out[off + 18] = e.type;
    off += reclen;
  }
  if (off === 0 && i < entries.length) return [-1, from];
  return [off, i];
}
