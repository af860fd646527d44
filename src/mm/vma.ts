/** One mapping of an address space, as /proc/[pid]/maps shows it. */
export interface Vma {
  start: number;
  end: number;
  /** PROT_READ | PROT_WRITE | PROT_EXEC. */
  prot: number;
  /** MAP_SHARED or MAP_PRIVATE, plus MAP_ANONYMOUS / MAP_GROWSDOWN as given. */
  flags: number;
  /** Path of the mapped file, '[heap]', '[stack]', or '' for anonymous memory. */
  name: string;
  /** File offset of `start`. */
  offset: number;
  dev: number;
  ino: number;
  /** MADV_DONTFORK: a fork's child does not get it. */
  dontFork?: boolean;
  /** A shared mapping of a file opened read-only: mprotect may not add PROT_WRITE (no VM_MAYWRITE). */
  noWrite?: boolean;
  /**
   * Anonymous memory whose host pages are in part a private map of a checkpoint image's
   * page file (src/snapshot/memory.ts): a page dropped there must be made anonymous
   * again, or the host would read the file again instead of zero.
   */
  image?: boolean;
}

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const PROT_EXEC = 4;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_SHARED_VALIDATE = 0x03;
export const MAP_TYPE = 0x0f;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
export const MAP_32BIT = 0x40;
export const MAP_GROWSDOWN = 0x100;
export const MAP_DENYWRITE = 0x800;
export const MAP_EXECUTABLE = 0x1000;
export const MAP_LOCKED = 0x2000;
export const MAP_NORESERVE = 0x4000;
export const MAP_POPULATE = 0x8000;
export const MAP_NONBLOCK = 0x10000;
export const MAP_STACK = 0x20000;
export const MAP_HUGETLB = 0x40000;
export const MAP_SYNC = 0x80000;
export const MAP_FIXED_NOREPLACE = 0x100000;
/** Linux's LEGACY_MAP_MASK: the flags MAP_SHARED_VALIDATE accepts on a file without MAP_SYNC support. */
export const LEGACY_MAP_MASK = MAP_SHARED_VALIDATE | 0x10 | 0x20 | 0x40 | 0x100 | 0x800 | 0x1000 | 0x2000 | 0x4000 | 0x8000 |
  0x10000 | 0x20000 | 0x40000 | (0x3f << 26); // ... HUGETLB, MAP_UNINITIALIZED and MAP_HUGE_* in the top bits

export const PAGE_SIZE = 4096;

/** madvise(2) advice values the address space acts on. */
export const MADV = {
  DONTNEED: 4, FREE: 8, REMOVE: 9, DONTFORK: 10, DOFORK: 11, WIPEONFORK: 18, KEEPONFORK: 19,
  POPULATE_READ: 22, POPULATE_WRITE: 23, DONTNEED_LOCKED: 24, GUARD_INSTALL: 102, GUARD_REMOVE: 103,
} as const;

export function pageUp(x: number): number {
  return Math.ceil(x / PAGE_SIZE) * PAGE_SIZE;
}

export function pageDown(x: number): number {
  return Math.floor(x / PAGE_SIZE) * PAGE_SIZE;
}
