import type { Platform } from '../platform/platform';
import { GuestMemory, TASK_SIZE } from './guest-memory';
import {
  type Vma, MADV, MAP_ANONYMOUS, MAP_FIXED, MAP_NORESERVE, MAP_PRIVATE, MAP_SHARED, PAGE_SIZE, PROT_WRITE, pageUp,
} from './vma';
import { memoryLimit } from './memory-limit';
import { EEXIST, EFAULT, EINVAL, ENOMEM } from '../abi/errno';
import { STUB_RANGE, type Range, hitsRanges, outsideRanges, patchableProt } from './platform-regions';

const SYS_MMAP = 9;
const SYS_MPROTECT = 10;
const SYS_MUNMAP = 11;
const SYS_MREMAP = 25;
const SYS_MSYNC = 26;
const SYS_MADVISE = 28;

/** Guest stack top and the top of the mmap area below it, as Linux lays them out without ASLR. */
export const STACK_TOP = 0x7ffffffff000;
export const MMAP_BASE = 0x7ffff7fff000;
const MMAP_MIN = 0x10000;

/** One mapping of mapFileSegments. */
export interface FileSegment {
  addr: number;
  len: number;
  prot: number;
  offset: number;
}

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
  /** PR_GET_DUMPABLE (SUID_DUMP_USER 1, DISABLE 0): per mm as in Linux; src/kernel/dumpable.ts sets it. */
  dumpable = 1;
  /** The platform's parts of this address space (platform-regions.ts). */
  private reserved: readonly Range[] = [STUB_RANGE];

  constructor(
    private readonly platform: Platform,
    /** Host pid of the stub process. */
    public asPid: number,
  ) {
    this.mem = new GuestMemory(platform, asPid);
    platform.bindPatchPolicy?.(asPid, (addr) => this.patchProt(addr));
  }

  /**
   * Asked by the platform before it patches a syscall site at addr: the page's
   * protection, or -1 (not a private executable mapping, or the patch window cannot be
   * had: the guest has something there). The first yes reserves the window.
   */
  private patchProt(addr: number): number {
    const w = this.platform.patchWindow;
    if (!w) return -1;
    if (this.reserved.length === 1) {
      if (this.vmas.some((v) => v.start < w[1] && v.end > w[0])) return -1;
      this.reserve(w);
    }
    return patchableProt(this.vmas, addr);
  }

  private reserve(r: Range): void {
    this.reserved = [...this.reserved, r];
    this.mem.reserved = this.reserved;
  }

  /** Memory is reached through another live thread of the stub process. */
  setAsPid(pid: number): void {
    this.asPid = pid;
    this.mem.asPid = pid;
  }

  /** The copy a fork makes (the host copied the pages, copy-on-write). */
  fork(newAsPid: number): AddressSpace {
    const c = new AddressSpace(this.platform, newAsPid);
    c.vmas = this.vmas.filter((v) => !v.dontFork).map((v) => ({ ...v }));
    c.brkStart = this.brkStart;
    c.brk = this.brk;
    c.dumpable = this.dumpable;
    for (const r of this.reserved.slice(1)) c.reserve(r);
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
    if (hitsRanges(this.reserved, start, end)) return true;
    for (const v of this.vmas) if (v.start < end && v.end > start) return true;
    return false;
  }

  /** Highest free range of len bytes below MMAP_BASE (top-down, like Linux), or the hint if free. */
  findFree(len: number, hint = 0): number {
    if (hint && hint + len <= TASK_SIZE && hint >= MMAP_MIN && !this.overlaps(hint, hint + len)) return hint;
    const used = this.vmas.map((v) => [v.start, v.end]);
    for (const r of this.reserved) used.push([r[0], r[1]]);
    used.sort((a, b) => b[0] - a[0]);
    let cursor = MMAP_BASE;
    for (const [start, end] of used) {
      if (end <= cursor && cursor - end >= len) return cursor - len;
      cursor = Math.min(cursor, start);
    }
    return cursor - len >= MMAP_MIN ? cursor - len : -ENOMEM;
  }

  /** Removes [start, end) from the list, splitting mappings that straddle it. */
  private carve(start: number, end: number, replaced = true): void {
    // Its contents go: a platform that patched code there forgets it (not for mprotect).
    if (replaced && this.platform.forgetPatches) this.platform.forgetPatches(this.asPid, start, end);
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

  /** `replaced`: the range's old contents go (false: only its list entry changes). */
  private insert(v: Vma, replaced = true): void {
    this.carve(v.start, v.end, replaced);
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
      if (hitsRanges(this.reserved, addr, addr + len)) return -ENOMEM;
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
      const r = this.platform.mmapHostFd(ctx, file.hostFd, addr, len, prot, MAP_FIXED | (shared ? MAP_SHARED : MAP_PRIVATE), offset,
        this.lendablePage());
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

  /**
   * Private MAP_FIXED mappings of one host-fd file at once (an ELF's segments, no two
   * sharing a page): the platform hands the fd to the stub once for all of them instead
   * of once each. 0 or -errno; on an error none of the ranges stays mapped.
   */
  mapFileSegments(ctx: number, file: MappableFile, segs: readonly FileSegment[], name: string, dev = 0, ino = 0): number {
    const hostFd = file.hostFd;
    const many = this.platform.mmapHostFdMany;
    if (!many || hostFd === undefined || hostFd < 0 || segs.length < 2 || segs.length > 16) {
      for (const s of segs) {
        const r = this.map(ctx, s.addr, s.len, s.prot, MAP_PRIVATE | MAP_FIXED, file, s.offset, name, dev, ino);
        if (r < 0) return r;
      }
      return 0;
    }
    const maps = new Float64Array(segs.length * 5);
    segs.forEach((s, i) => {
      maps.set([s.addr, pageUp(s.len), s.prot, MAP_FIXED | MAP_PRIVATE, s.offset], i * 5);
    });
    for (let i = 0; i < segs.length; i++) {
      const addr = maps[i * 5], len = maps[i * 5 + 1];
      // As map()'s checks for a fixed private file mapping.
      if (len === 0 || len > TASK_SIZE) return -ENOMEM;
      if (addr % PAGE_SIZE) return -EINVAL;
      if (addr + len > TASK_SIZE || addr < MMAP_MIN) return -ENOMEM;
      if (hitsRanges(this.reserved, addr, addr + len)) return -ENOMEM;
      if ((segs[i].prot & PROT_WRITE) !== 0 && !memoryLimit.mayCommit(len)) return -ENOMEM;
    }
    const r = many.call(this.platform, ctx, hostFd, maps, this.lendablePage());
    if (r < 0) {
      for (let i = 0; i < segs.length; i++) {
        this.platform.mmSyscall(ctx, SYS_MUNMAP, maps[i * 5], maps[i * 5 + 1], 0, 0, 0, 0);
        this.carve(maps[i * 5], maps[i * 5] + maps[i * 5 + 1]);
      }
      return r;
    }
    for (let i = 0; i < segs.length; i++) {
      const start = maps[i * 5];
      this.insert({ start, end: start + maps[i * 5 + 1], prot: segs[i].prot, flags: MAP_PRIVATE | MAP_FIXED, name,
        offset: segs[i].offset, dev, ino });
    }
    return 0;
  }

  /**
   * A page of this address space the platform may borrow for a host fd's hand-over (its
   * bytes put back after): private and writable, and only when no other task uses the
   * address space, so no guest code runs in it meanwhile (the task whose call this is
   * is stopped in the Sentry; an exec's new space has no user yet). The stack's first
   * page when there is one. 0: none (the platform uses its own page).
   */
  private lendablePage(): number {
    if (this.users > 1) return 0;
    let page = 0;
    for (const v of this.vmas) {
      if (!(v.prot & PROT_WRITE) || (v.flags & 0x0f) !== MAP_PRIVATE) continue;
      if (v.name === '[stack]') return v.start;
      if (page === 0) page = v.start;
    }
    return page;
  }

  /** A page a fork's copy keeps private and writable (the stack's first, else any): lent by the copy, see Platform.forkAddressSpace; 0: none. */
  forkLendablePage(): number {
    let page = 0;
    for (const v of this.vmas) {
      if (!(v.prot & PROT_WRITE) || (v.flags & 0x0f) !== MAP_PRIVATE || v.dontFork) continue;
      if (v.name === '[stack]') return v.start;
      if (page === 0) page = v.start;
    }
    return page;
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
    if (hitsRanges([STUB_RANGE], addr, addr + len)) return -EINVAL;
    // Around the platform's other parts (holes to the guest: munmap of a hole is fine).
    for (const [s, e] of outsideRanges(this.reserved, addr, addr + len)) {
      const r = this.platform.mmSyscall(ctx, SYS_MUNMAP, s, e - s, 0, 0, 0, 0);
      if (r < 0) return r;
      this.carve(s, e);
    }
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
    for (const p of pieces) this.insert(p, false);
    return 0;
  }

  remap(ctx: number, oldAddr: number, oldLen: number, newLen: number, flags: number, newAddr: number): number {
    const MAYMOVE = 1;
    const FIXED = 2;
    const DONTUNMAP = 4;
    if (oldAddr % PAGE_SIZE || flags & ~7 || (flags & (FIXED | DONTUNMAP) && !(flags & MAYMOVE))) return -EINVAL;
    oldLen = pageUp(oldLen);
    newLen = pageUp(newLen);
    if (newLen === 0) return -EINVAL;
    // DONTUNMAP is always a move of the same length; with it or FIXED the new address is
    // page-aligned, inside user space and apart from the old range (mremap_to).
    if (flags & DONTUNMAP && oldLen !== newLen) return -EINVAL;
    if (flags & (FIXED | DONTUNMAP)) {
      if (newAddr % PAGE_SIZE || newLen > TASK_SIZE || newAddr > TASK_SIZE - newLen) return -EINVAL;
      if (oldAddr + oldLen > newAddr && newAddr + newLen > oldAddr) return -EINVAL;
    }
    let v = this.find(oldAddr);
    if (!v || (oldLen && oldAddr + oldLen > v.end)) return -EFAULT;
    if (v.image && oldLen) {
      // The host's mremap takes one host mapping, and its growth of a file map would read the file.
      const r = this.anonymize(ctx, v, oldAddr, oldAddr + oldLen, true);
      if (r < 0) return r;
      v = this.find(oldAddr)!;
    }
    const committed = !(v.flags & MAP_NORESERVE) && ((v.flags & 0x0f) === MAP_PRIVATE ? (v.prot & PROT_WRITE) !== 0 : (v.flags & MAP_ANONYMOUS) !== 0);
    if (committed && newLen > oldLen && !memoryLimit.mayCommit(newLen - oldLen)) return -ENOMEM;
    if (flags & DONTUNMAP) {
      // The host does the move and leaves the old range mapped (empty when private anonymous).
      const dest = flags & FIXED ? newAddr : this.findFree(newLen);
      if (dest < 0) return dest;
      if (hitsRanges(this.reserved, dest, dest + newLen)) return -EINVAL;
      const r = this.platform.mmSyscall(ctx, SYS_MREMAP, oldAddr, oldLen, newLen, MAYMOVE | FIXED | DONTUNMAP, dest, 0);
      if (r < 0) return r;
      const kept: Vma = { ...v, start: oldAddr, end: oldAddr + oldLen, offset: v.offset + (oldAddr - v.start) };
      this.moveVma(v, oldAddr, oldLen, dest, newLen);
      this.insert(kept, false);
      return dest;
    }
    if (flags & FIXED) {
      if (hitsRanges(this.reserved, newAddr, newAddr + newLen)) return -EINVAL;
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
      this.insert({ ...v, start: oldAddr, end: oldAddr + newLen, offset: v.offset + (oldAddr - v.start) }, false);
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

  /**
   * madvise(2) with a valid advice (syscalls/mm.ts checks it), mapping by mapping as
   * madvise_walk_vmas: a mapping's error ends the walk, a hole is ENOMEM at the end.
   * What changes memory or fork runs in the stub too (the host's fork of the stub is
   * the guest's fork); pure hints change nothing here.
   */
  advise(ctx: number, addr: number, len: number, advice: number): number {
    if (addr % PAGE_SIZE || len < 0) return -EINVAL;
    const end = addr + pageUp(len);
    const pieces: [Vma, number, number][] = [];
    let hole = false;
    let a = addr;
    for (const v of this.vmas) {
      if (v.end <= a) continue;
      if (v.start >= end) break;
      if (v.start > a) hole = true;
      pieces.push([v, Math.max(a, v.start), Math.min(end, v.end)]);
      a = Math.min(end, v.end);
    }
    if (a < end) hole = true;
    for (const [v, s, e] of pieces) {
      const r = this.adviseMapping(ctx, v, s, e, advice);
      if (r < 0) return r;
    }
    return hole ? -ENOMEM : 0;
  }

  private adviseMapping(ctx: number, v: Vma, start: number, end: number, advice: number): number {
    const anonPrivate = (v.flags & MAP_ANONYMOUS) !== 0 && (v.flags & 0x0f) === MAP_PRIVATE;
    if (v.image) {
      // Host pages mapped from a checkpoint image: dropped, they would read the file again.
      if (advice === MADV.DONTNEED || advice === MADV.DONTNEED_LOCKED || (advice === MADV.FREE && anonPrivate)) return this.anonymize(ctx, v, start, end, false);
      if (advice === MADV.WIPEONFORK && anonPrivate) {
        const r = this.anonymize(ctx, v, start, end, true); // the host wipes anonymous memory only
        if (r < 0) return r;
      }
    }
    switch (advice) {
      case MADV.FREE: // only anonymous private memory; the host frees it at once (allowed)
        if (!anonPrivate) return -EINVAL;
        return this.platform.mmSyscall(ctx, SYS_MADVISE, start, end - start, MADV.DONTNEED, 0, 0, 0);
      case MADV.DONTNEED:
      case MADV.DONTNEED_LOCKED: // DONTNEED on a private mapping zero-fills: the host does exactly that
        return this.platform.mmSyscall(ctx, SYS_MADVISE, start, end - start, MADV.DONTNEED, 0, 0, 0);
      case MADV.WIPEONFORK: // the host's fork of the stub zero-fills it in the child
        if (!anonPrivate) return -EINVAL;
        return this.platform.mmSyscall(ctx, SYS_MADVISE, start, end - start, advice, 0, 0, 0);
      case MADV.DONTFORK:
      case MADV.DOFORK:
        return this.forkAdvice(ctx, start, end, advice, advice === MADV.DONTFORK);
      case MADV.KEEPONFORK:
      case MADV.REMOVE:
      case MADV.POPULATE_READ:
      case MADV.POPULATE_WRITE:
      case MADV.GUARD_INSTALL:
      case MADV.GUARD_REMOVE:
        return this.platform.mmSyscall(ctx, SYS_MADVISE, start, end - start, advice, 0, 0, 0);
      default:
        // Hints (access pattern, THP, dump, reclaim) and KSM, which is never passed to the
        // host: merging pages across sandboxes would open a timing side channel.
        return 0;
    }
  }

  /**
   * Checkpoint support (Vma.image): [start, end) of v, whose host pages may be a private
   * map of an image file, made plain anonymous memory again, its bytes kept or (dropped)
   * zero. 0 or -errno.
   */
  private anonymize(ctx: number, v: Vma, start: number, end: number, keep: boolean): number {
    const len = end - start;
    const saved = keep ? Buffer.allocUnsafe(len) : null;
    if (saved && this.platform.readMem(this.asPid, start, saved, 0, len) !== len) return -EFAULT;
    const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | (v.flags & MAP_NORESERVE);
    const r = this.platform.mmSyscall(ctx, SYS_MMAP, start, len, saved ? v.prot | PROT_WRITE : v.prot, flags, -1, 0);
    if (r < 0) return r;
    if (saved) {
      if (this.platform.writeMem(this.asPid, start, saved, 0, len) !== len) return -EFAULT;
      if ((v.prot & PROT_WRITE) === 0) this.platform.mmSyscall(ctx, SYS_MPROTECT, start, len, v.prot, 0, 0, 0);
    }
    if (v.dontFork) this.platform.mmSyscall(ctx, SYS_MADVISE, start, len, MADV.DONTFORK, 0, 0, 0);
    // v stays marked whole: a piece split off would be a mapping of its own to the guest (mremap, maps).
    return 0;
  }

  /** DONTFORK/DOFORK: the stub's mapping takes it (the host forks the stub), and so does the list fork() copies. */
  private forkAdvice(ctx: number, start: number, end: number, advice: number, dontFork: boolean): number {
    const r = this.platform.mmSyscall(ctx, SYS_MADVISE, start, end - start, advice, 0, 0, 0);
    if (r < 0) return r;
    const v = this.find(start)!;
    if (!!v.dontFork !== dontFork) this.insert({ ...v, dontFork, start, end, offset: v.offset + (start - v.start) }, false);
    return 0;
  }

  /**
   * msync(2) over [addr, addr+len), walking the mappings as Linux does: a hole is ENOMEM,
   * reported after the mapped parts are done. MS_SYNC writes a shared file mapping's pages
   * to its file (the stub maps host files directly, so the host's msync does it);
   * MS_ASYNC is a no-op on Linux too.
   */
  sync(ctx: number, addr: number, len: number, flags: number): number {
    const MS_SYNC = 4;
    const end = addr + pageUp(len);
    let err = 0;
    let a = addr;
    for (const v of this.vmas) {
      if (v.end <= a) continue;
      if (v.start >= end) break;
      if (v.start > a) err = -ENOMEM;
      const from = Math.max(a, v.start), to = Math.min(end, v.end);
      if ((flags & MS_SYNC) && (v.flags & MAP_ANONYMOUS) === 0 && (v.flags & 0x0f) !== MAP_PRIVATE) {
        const r = this.platform.mmSyscall(ctx, SYS_MSYNC, from, to - from, MS_SYNC, 0, 0, 0);
        if (r < 0 && r !== -ENOMEM) return r;
      }
      a = to;
      if (a >= end) break;
    }
    return a < end ? -ENOMEM : err;
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
