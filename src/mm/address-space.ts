import type { Platform } from '../platform/platform';
import { GuestMemory, TASK_SIZE } from './guest-memory';
import {
  type Vma, MAP_ANONYMOUS, MAP_FIXED, MAP_NORESERVE, MAP_PRIVATE, MAP_SHARED, PAGE_SIZE, PROT_WRITE, pageUp,
} from './vma';
import { memoryLimit } from './memory-limit';
import { EEXIST, EFAULT, EINVAL, ENOMEM } from '../abi/errno';

const SYS_MMAP = 9;
const SYS_MPROTECT = 10;
const SYS_MUNMAP = 11;
const SYS_MREMAP = 25;
const SYS_MADVISE = 28;

/** The stub's own image: never given to the guest (see native/stub/stub.ld). */
const STUB_START = 0x7ff000000000;
const STUB_END = 0x7ff002000000; // the stub image, then systrap's shared frames (native/stub/systrap_abi.h)
/** Guest stack top and the top of the mmap area below it, as Linux lays them out without ASLR. */
export const STACK_TOP = 0x7ffffffff000;
export const MMAP_BASE = 0x7ffff7fff000;
const MMAP_MIN = 0x10000;

/** Something whose bytes can back a mapping (a FileDescription). */
export interface MappableFile {
  pread(buf: Buffer, pos: number): number;
  /** A host fd with the file's bytes: mapped directly (page cache shared, coherent). */
  readonly hostFd?: number;
}

/**
 * A guest address space: the Sentry's authoritative list of mappings, mirrored into the
 * stub process by mm syscalls the platform runs there. File mappings are filled by
 * copying the file's bytes in (coherent for private mappings, which is what loaders use).
 */
export class AddressSpace {
  vmas: Vma[] = [];
  readonly mem: GuestMemory;
  brkStart = 0;
  brk = 0;
  /** Tasks using this address space (threads, and vfork children until they exec). */
  users = 0;

  constructor(
    private readonly platform: Platform,
    /** Host pid of the stub process. */
    public asPid: number,
  ) {
    this.mem = new GuestMemory(platform, asPid);
  }

  /** Memory is reached through another live thread of the stub process. */
  setAsPid(pid: number): void {
    this.asPid = pid;
    this.mem.asPid = pid;
  }

  /** The copy a fork makes (the host copied the pages, copy-on-write). */
  fork(newAsPid: number): AddressSpace {
    const c = new AddressSpace(this.platform, newAsPid);
    c.vmas = this.vmas.map((v) => ({ ...v }));
    c.brkStart = this.brkStart;
    c.brk = this.brk;
    return c;
  }

  /** Bytes mapped in all (RLIMIT_AS accounting). */
  totalBytes(): number {
    let n = 0;
    for (const v of this.vmas) n += v.end - v.start;
    return n;
  }

  find(addr: number): Vma | undefined {
    for (const v of this.vmas) if (addr >= v.start && addr < v.end) return v;
    return undefined;
  }

  private overlaps(start: number, end: number): boolean {
    if (start < STUB_END && end > STUB_START) return true;
    for (const v of this.vmas) if (v.start < end && v.end > start) return true;
    return false;
  }

  /** Highest free range of len bytes below MMAP_BASE (top-down, like Linux), or the hint if free. */
  findFree(len: number, hint = 0): number {
    if (hint && hint + len <= TASK_SIZE && hint >= MMAP_MIN && !this.overlaps(hint, hint + len)) return hint;
    const used = this.vmas.map((v) => [v.start, v.end]);
    used.push([STUB_START, STUB_END]);
    used.sort((a, b) => b[0] - a[0]);
    let cursor = MMAP_BASE;
    for (const [start, end] of used) {
      if (end <= cursor && cursor - end >= len) return cursor - len;
      cursor = Math.min(cursor, start);
    }
    return cursor - len >= MMAP_MIN ? cursor - len : -ENOMEM;
  }

  /** Removes [start, end) from the list, splitting mappings that straddle it. */
  private carve(start: number, end: number): void {
    const out: Vma[] = [];
    for (const v of this.vmas) {
      if (v.end <= start || v.start >= end) {
        out.push(v);
        continue;
      }
      if (v.start < start) out.push({ ...v, end: start });
      if (v.end > end) out.push({ ...v, start: end, offset: v.offset + (end - v.start) });
    }
    this.vmas = out;
  }

  private insert(v: Vma): void {
    this.carve(v.start, v.end);
    this.vmas.push(v);
    this.vmas.sort((a, b) => a.start - b.start);
  }

  /**
   * mmap in the guest's terms (flags already validated by the handler). `file`
   * supplies the bytes of a file mapping. Returns the address or -errno.
   */
  map(ctx: number, addr: number, len: number, prot: number, flags: number, file: MappableFile | null,
    offset: number, name: string, dev = 0, ino = 0): number {
    len = pageUp(len);
    if (len === 0 || len > TASK_SIZE) return -ENOMEM;
    const fixed = (flags & MAP_FIXED) !== 0;
    const noReplace = (flags & 0x100000) !== 0;
    if (fixed || noReplace) {
      if (addr % PAGE_SIZE) return -EINVAL;
      if (addr + len > TASK_SIZE || addr < MMAP_MIN) return -ENOMEM;
      if (addr < STUB_END && addr + len > STUB_START) return -ENOMEM;
      if (noReplace && this.overlaps(addr, addr + len)) return -EEXIST;
    } else {
      addr = this.findFree(len, addr > 0 && addr % PAGE_SIZE === 0 ? addr : 0);
      if (addr < 0) return addr;
    }
    const shared = (flags & 0x0f) === MAP_SHARED || (flags & 0x0f) === 3;
    // Memory that must be committed (Linux's VM_ACCOUNT: private writable, or shared
    // anonymous) is checked against the limit; MAP_NORESERVE ranges are only reserved.
    if (!(flags & MAP_NORESERVE) && (shared ? !file : (prot & PROT_WRITE) !== 0) && !memoryLimit.mayCommit(len)) {
      return -ENOMEM;
    }
    if (file && typeof file.hostFd === 'number' && file.hostFd >= 0) {
      const r = this.platform.mmapHostFd(ctx, file.hostFd, addr, len, prot, MAP_FIXED | (shared ? MAP_SHARED : MAP_PRIVATE), offset);
      if (r < 0) return r;
      this.insert({ start: addr, end: addr + len, prot, flags, name, offset, dev, ino });
      return addr;
    }
    const hostFlags = MAP_FIXED | MAP_ANONYMOUS | (shared && !file ? MAP_SHARED : MAP_PRIVATE) | (flags & MAP_NORESERVE);
    const hostProt = file ? prot | PROT_WRITE : prot;
    const r = this.platform.mmSyscall(ctx, SYS_MMAP, addr, len, hostProt, hostFlags, -1, 0);
    if (r < 0) return r;
    if (file) {
      const e = this.fill(addr, len, file, offset);
      if (e < 0) {
        this.platform.mmSyscall(ctx, SYS_MUNMAP, addr, len, 0, 0, 0, 0);
        return e;
      }
      if (hostProt !== prot) this.platform.mmSyscall(ctx, SYS_MPROTECT, addr, len, prot, 0, 0, 0);
    }
    this.insert({ start: addr, end: addr + len, prot, flags, name, offset, dev, ino });
    return addr;
  }

  /** Copies a file's bytes [offset, offset+len) into freshly mapped memory (zeros past EOF). */
  private fill(addr: number, len: number, file: MappableFile, offset: number): number {
    const chunk = Buffer.allocUnsafe(Math.min(len, 1 << 20));
    for (let done = 0; done < len; ) {
      const want = Math.min(chunk.length, len - done);
      const n = file.pread(want === chunk.length ? chunk : chunk.subarray(0, want), offset + done);
      if (n < 0) return n;
      if (n === 0) break;
      if (!this.mem.write(addr + done, chunk, 0, n)) return -EFAULT;
      done += n;
      if (n < want) break;
    }
    return 0;
  }

  unmap(ctx: number, addr: number, len: number): number {
    if (addr % PAGE_SIZE || len <= 0) return -EINVAL;
    len = pageUp(len);
    if (addr + len > TASK_SIZE) return -EINVAL;
    if (addr < STUB_END && addr + len > STUB_START) return -EINVAL;
    const r = this.platform.mmSyscall(ctx, SYS_MUNMAP, addr, len, 0, 0, 0, 0);
    if (r < 0) return r;
    this.carve(addr, addr + len);
    return 0;
  }

  protect(ctx: number, addr: number, len: number, prot: number): number {
    if (addr % PAGE_SIZE) return -EINVAL;
    len = pageUp(len);
    const end = addr + len;
    if (end > TASK_SIZE || end < addr) return -ENOMEM;
    // Linux: ENOMEM if any page in the range is unmapped.
    let newlyCommitted = 0;
    for (let a = addr; a < end; ) {
      const v = this.find(a);
      if (!v) return -ENOMEM;
      const private_ = (v.flags & 0x0f) === MAP_PRIVATE;
      if (prot & PROT_WRITE && !(v.prot & PROT_WRITE) && private_ && !(v.flags & MAP_NORESERVE)) {
        newlyCommitted += Math.min(v.end, end) - Math.max(v.start, a);
      }
      a = v.end;
    }
    // Making a private mapping writable commits it (mprotect's ENOMEM).
    if (!memoryLimit.mayCommit(newlyCommitted)) return -ENOMEM;
    const r = this.platform.mmSyscall(ctx, SYS_MPROTECT, addr, len, prot, 0, 0, 0);
    if (r < 0) return r;
    const pieces: Vma[] = [];
    for (const v of this.vmas) {
      if (v.end <= addr || v.start >= end) continue;
      const s = Math.max(v.start, addr);
      const e = Math.min(v.end, end);
      pieces.push({ ...v, start: s, end: e, prot, offset: v.offset + (s - v.start) });
    }
    for (const p of pieces) this.insert(p);
    return 0;
  }

  remap(ctx: number, oldAddr: number, oldLen: number, newLen: number, flags: number, newAddr: number): number {
    const MAYMOVE = 1;
    const FIXED = 2;
    if (oldAddr % PAGE_SIZE || flags & ~7 || (flags & FIXED && !(flags & MAYMOVE))) return -EINVAL;
    oldLen = pageUp(oldLen);
    newLen = pageUp(newLen);
    if (newLen === 0) return -EINVAL;
    const v = this.find(oldAddr);
    if (!v || (oldLen && oldAddr + oldLen > v.end)) return -EFAULT;
    const committed = !(v.flags & MAP_NORESERVE) && ((v.flags & 0x0f) === MAP_PRIVATE ? (v.prot & PROT_WRITE) !== 0 : (v.flags & MAP_ANONYMOUS) !== 0);
    if (committed && newLen > oldLen && !memoryLimit.mayCommit(newLen - oldLen)) return -ENOMEM;
    if (flags & FIXED) {
      if (newAddr % PAGE_SIZE) return -EINVAL;
      if (newAddr < STUB_END && newAddr + newLen > STUB_START) return -EINVAL;
      const r = this.platform.mmSyscall(ctx, SYS_MREMAP, oldAddr, oldLen, newLen, MAYMOVE | FIXED, newAddr, 0);
      if (r < 0) return r;
      this.moveVma(v, oldAddr, oldLen, newAddr, newLen);
      return newAddr;
    }
    if (newLen <= oldLen) {
      if (newLen < oldLen) {
        const r = this.unmap(ctx, oldAddr + newLen, oldLen - newLen);
        if (r < 0) return r;
      }
      return oldAddr;
    }
    if (oldAddr + oldLen === v.end && !this.overlaps(oldAddr + oldLen, oldAddr + newLen) &&
        oldAddr + newLen <= TASK_SIZE) {
      const r = this.platform.mmSyscall(ctx, SYS_MREMAP, oldAddr, oldLen, newLen, 0, 0, 0);
      if (r < 0) return r;
      this.insert({ ...v, start: oldAddr, end: oldAddr + newLen, offset: v.offset + (oldAddr - v.start) });
      return oldAddr;
    }
    if (!(flags & MAYMOVE)) return -ENOMEM;
    const dest = this.findFree(newLen);
    if (dest < 0) return dest;
    const r = this.platform.mmSyscall(ctx, SYS_MREMAP, oldAddr, oldLen, newLen, MAYMOVE | FIXED, dest, 0);
    if (r < 0) return r;
    this.moveVma(v, oldAddr, oldLen, dest, newLen);
    return dest;
  }

  private moveVma(v: Vma, oldAddr: number, oldLen: number, newAddr: number, newLen: number): void {
    const moved: Vma = { ...v, start: newAddr, end: newAddr + newLen, offset: v.offset + (oldAddr - v.start) };
    this.carve(oldAddr, oldAddr + oldLen);
    this.insert(moved);
  }

  advise(ctx: number, addr: number, len: number, advice: number): number {
    if (addr % PAGE_SIZE || len < 0) return -EINVAL;
    const MADV_DONTNEED = 4;
    const MADV_FREE = 8;
    if (advice === MADV_DONTNEED || advice === MADV_FREE) {
      len = pageUp(len);
      for (let a = addr; a < addr + len; ) {
        const v = this.find(a);
        if (!v) return -ENOMEM;
        a = v.end;
      }
      // DONTNEED on a private mapping zero-fills: the host does exactly that.
      return this.platform.mmSyscall(ctx, SYS_MADVISE, addr, len, MADV_DONTNEED, 0, 0, 0);
    }
    return 0;
  }

  /** brk(2): returns the new (or unchanged) break. */
  setBrk(ctx: number, want: number): number {
    if (want < this.brkStart) return this.brk;
    const oldTop = pageUp(this.brk);
    const newTop = pageUp(want);
    if (newTop > oldTop) {
      if (this.overlaps(oldTop, newTop)) return this.brk;
      if (!memoryLimit.mayCommit(newTop - oldTop)) return this.brk;
      const r = this.platform.mmSyscall(ctx, SYS_MMAP, oldTop, newTop - oldTop, 3, MAP_FIXED | MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
      if (r < 0) return this.brk;
      const heap = this.vmas.find((v) => v.name === '[heap]' && v.end === oldTop);
      if (heap) heap.end = newTop;
      else this.insert({ start: oldTop, end: newTop, prot: 3, flags: MAP_PRIVATE | MAP_ANONYMOUS, name: '[heap]', offset: 0, dev: 0, ino: 0 });
    } else if (newTop < oldTop) {
      this.platform.mmSyscall(ctx, SYS_MUNMAP, newTop, oldTop - newTop, 0, 0, 0, 0);
      this.carve(newTop, oldTop);
    }
    this.brk = want;
    return this.brk;
  }
}
