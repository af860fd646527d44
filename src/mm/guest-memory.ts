import type { Platform } from '../platform/platform';
import { native } from '../platform/native';
import { argToNumber } from '../platform/event-buffer';
import { EFAULT, ENAMETOOLONG, ENOENT } from '../abi/errno';

/** Lowest and highest+1 addresses a guest pointer may name (x86-64 user half). */
export const USER_MIN = 0x1000;
export const TASK_SIZE = 0x7ffffffff000;
import { STUB_RANGE, type Range, hitsRanges } from './platform-regions';
/** Bytes of a page read first when looking for a string's NUL (paths are mostly shorter). */
const SHORT_READ = 256;
// Reads this large or larger go through hostFileToGuest (one copy); it answers
// MAPPED_FALLBACK when the plain path must serve them.
const MAPPED_READ_MIN = 65536;
const MAPPED_FALLBACK = -1000;
/** The buffer strings are read into (the Sentry is single-threaded; grown on demand). */
let strBuf = Buffer.allocUnsafe(4097);

/**
 * Reads and writes one address space's memory from the Sentry
 * (process_vm_readv/writev: one host call per access, however large). Every method
 * reports a bad pointer as null/false/-EFAULT, never by throwing.
 */
export class GuestMemory {
  private readonly scratch = Buffer.alloc(8);
  /** The platform's parts of the address space (platform-regions.ts): never guest memory. */
  reserved: readonly Range[] = [STUB_RANGE];

  constructor(
    private readonly platform: Platform,
    /** Host pid of the stub process holding this address space. */
    public asPid: number,
  ) {}

  /** A guest range: inside the user half and clear of the stub's own image (native/stub/stub.ld). */
  private ok(addr: number, len: number): boolean {
    return addr >= 0 && len >= 0 && addr + len <= TASK_SIZE && Number.isSafeInteger(addr) &&
      !hitsRanges(this.reserved, addr, addr + len);
  }

  /**
   * Whether asPid is a host process whose memory natives may reach by pid
   * (process_vm_readv/writev: ptrace, systrap); kvm's guest memory is the Sentry's own,
   * reached only through the platform (which then has its own readFromHost).
   */
  get byPid(): boolean {
    return !this.platform.readFromHost;
  }

  /** Whether [addr, addr+len) may name guest memory at all (for natives that move bytes themselves). */
  inRange(addr: number, len: number): boolean {
    return this.ok(addr, len);
  }

  /** Reads len bytes, or null if any byte is not readable. */
  read(addr: number, len: number): Buffer | null {
    if (len === 0) return Buffer.alloc(0);
    if (!this.ok(addr, len)) return null;
    const b = Buffer.allocUnsafe(len);
    return this.platform.readMem(this.asPid, addr, b, 0, len) === len ? b : null;
  }

  readInto(addr: number, buf: Uint8Array, off = 0, len = buf.length - off): boolean {
    if (len === 0) return true;
    if (!this.ok(addr, len)) return false;
    return this.platform.readMem(this.asPid, addr, buf, off, len) === len;
  }

  write(addr: number, data: Uint8Array, off = 0, len = data.length - off): boolean {
    if (len === 0) return true;
    if (!this.ok(addr, len)) return false;
    return this.platform.writeMem(this.asPid, addr, data, off, len) === len;
  }

  /**
   * Reads a host fd straight into guest memory (pread when pos >= 0, else read), with
   * no JS buffer in between: the path for large reads of host files.
   * Returns bytes read or -errno (-EFAULT for a bad guest range).
   */
  readFromHost(hostFd: number, pos: number, addr: number, len: number): number {
    if (len === 0) return 0;
    if (!this.ok(addr, len)) return -EFAULT;
    if (this.platform.readFromHost) return this.platform.readFromHost(this.asPid, hostFd, pos, addr, len);
    // Large reads of a regular file: page cache -> guest in one copy, else the plain path.
    if (len >= MAPPED_READ_MIN && pos >= 0) {
      const n = native().hostFileToGuest(this.asPid, hostFd, pos, addr, len);
      if (n !== MAPPED_FALLBACK) return n;
    }
    return native().hostReadToGuest(this.asPid, hostFd, pos, addr, len);
  }


  /**
   * A NUL-terminated string of at most limit - 1 bytes, as a latin1 string (one char
   * per byte): -EFAULT, or -ENAMETOOLONG when no NUL comes within limit bytes. Read a
   * page at a time (a string may end just before an unmapped page), each page's first
   * SHORT_READ bytes first (most strings end there), into one reused buffer: no
   * allocation but the string itself.
   */
  private readCStr(addr: number, limit: number): string | number {
    if (!this.ok(addr, 1)) return -EFAULT;
    if (strBuf.length < limit) strBuf = Buffer.allocUnsafe(Math.max(limit, 2 * strBuf.length));
    const b = strBuf;
    let total = 0;
    let p = addr;
    while (total < limit) {
      const n = Math.min(limit - total, 4096 - (p % 4096));
      if (!this.ok(p, n)) return -EFAULT;
      // One page is readable as a whole or not at all: its first bytes alone answer alike.
      const first = n > SHORT_READ ? SHORT_READ : n;
      if (this.platform.readMem(this.asPid, p, b, total, first) !== first) return -EFAULT;
      let nul = b.indexOf(0, total);
      if (nul >= 0 && nul < total + first) return b.toString('latin1', 0, nul);
      if (first < n) {
        if (this.platform.readMem(this.asPid, p + first, b, total + first, n - first) !== n - first) return -EFAULT;
        nul = b.indexOf(0, total + first);
        if (nul >= 0 && nul < total + n) return b.toString('latin1', 0, nul);
      }
      total += n;
      p += n;
    }
    return -ENAMETOOLONG;
  }

  /**
   * A NUL-terminated string of at most max bytes (excluding the NUL), or null. Guest
   * strings are bytes: the result is a "binary" (latin1) string, one char per byte, so
   * names that are not UTF-8 survive; Buffer.from(s, 'latin1') gives the bytes back.
   */
  readCString(addr: number, max = 4096): string | null {
    const r = this.readCStr(addr, max + 1);
    return typeof r === 'number' ? null : r;
  }

  /** A path argument (latin1, as readCString): -EFAULT, -ENAMETOOLONG (>= PATH_MAX) or -ENOENT for "". */
  readPath(addr: number): string | number {
    const r = this.readCStr(addr, 4096);
    if (typeof r === 'number') return r;
    if (r.length === 0) return -ENOENT;
    return r;
  }

  readU32(addr: number): number | null {
    return this.readInto(addr, this.scratch, 0, 4) ? this.scratch.readUInt32LE(0) : null;
  }

  readI32(addr: number): number | null {
    return this.readInto(addr, this.scratch, 0, 4) ? this.scratch.readInt32LE(0) : null;
  }

  /** A u64 as a JS number (exact below 2^53: pointers, sizes). */
  readU64(addr: number): number | null {
    return this.readInto(addr, this.scratch, 0, 8) ? Number(this.scratch.readBigUInt64LE(0)) : null;
  }

  /** A 64-bit field as syscall arguments are given (argToNumber: exact below 2^53, saturated beyond). */
  readI64(addr: number): number | null {
    return this.readInto(addr, this.scratch, 0, 8) ? argToNumber(this.scratch.readBigUInt64LE(0)) : null;
  }

  readBigU64(addr: number): bigint | null {
    return this.readInto(addr, this.scratch, 0, 8) ? this.scratch.readBigUInt64LE(0) : null;
  }

  /**
   * Atomic compare-and-swap of the u32 at addr (futex words that guest threads change
   * at the same time, on other CPUs): the old value, or null for a bad pointer. `ctx`
   * is a stopped context of this address space (the calling task's). If the platform
   * cannot run it there (ctx not stopped: a thread killed while running), a plain read
   * and write, which is what a single running thread makes atomic enough.
   */
  casU32(ctx: number, addr: number, expected: number, desired: number): number | null {
    if (!this.ok(addr, 4) || addr % 4 !== 0) return null;
    const r = this.platform.casU32(ctx, addr, expected >>> 0, desired >>> 0);
    if (r >= 0) return r;
    if (r === -EFAULT) return null;
    const old = this.readU32(addr);
    if (old === null) return null;
    if (old === expected >>> 0 && !this.writeU32(addr, desired)) return null;
    return old;
  }

  writeU32(addr: number, v: number): boolean {
    this.scratch.writeUInt32LE(v >>> 0, 0);
    return this.write(addr, this.scratch, 0, 4);
  }

  writeI32(addr: number, v: number): boolean {
    this.scratch.writeInt32LE(v | 0, 0);
    return this.write(addr, this.scratch, 0, 4);
  }

  writeU64(addr: number, v: number | bigint): boolean {
    this.scratch.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)), 0);
    return this.write(addr, this.scratch, 0, 8);
  }

  /** A NULL-terminated array of string pointers (argv, envp), at most max entries. */
  readStringArray(addr: number, max = 0x7fff): string[] | number {
    const out: string[] = [];
    if (addr === 0) return out;
    for (let i = 0; i < max; i++) {
      const p = this.readU64(addr + i * 8);
      if (p === null) return -EFAULT;
      if (p === 0) return out;
      // MAX_ARG_STRLEN: 128 KiB including the NUL; longer is E2BIG, as in Linux.
      const s = this.ok(p, 1) ? this.platform.readCString(this.asPid, p, 131072) : -EFAULT;
      if (typeof s === 'number') return s === -ENAMETOOLONG ? -7 : -EFAULT;
      out.push(s);
    }
    return -7; // E2BIG
  }
}
