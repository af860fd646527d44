import { MAP_PRIVATE, type Vma } from './vma';

/**
 * Parts of a guest address space that belong to the platform, never to the guest: the
 * stub's image and systrap's frames (native/stub/stub.ld, systrap_abi.h) always, and
 * systrap's syscall-patch window below 2 GiB (`Platform.patchWindow`) once the platform
 * claimed it for a first patched site (only if the guest had nothing there). To the
 * guest they are holes it cannot fill: a hint there moves elsewhere, MAP_FIXED onto
 * them is ENOMEM, mprotect ENOMEM (no mapping there), brk stops below them, munmap
 * leaves them alone, and the Sentry reads and writes neither (EFAULT). Kept across fork
 * (the platform's copy is the child's), dropped at exec with the address space.
 */
export const STUB_START = 0x7ff000000000;
/** The frames end at 0x7ff000100000 + 64 KiB + 1024 * 32 KiB: rounded up past them. */
export const STUB_END = 0x7ff002200000;

export type Range = readonly [number, number];

export const STUB_RANGE: Range = [STUB_START, STUB_END];

/** Does [start, end) touch any of `ranges`? */
export function hitsRanges(ranges: readonly Range[], start: number, end: number): boolean {
  for (const [s, e] of ranges) if (start < e && end > s) return true;
  return false;
}

/** [start, end) less `ranges`: the pieces a munmap may really remove. */
export function outsideRanges(ranges: readonly Range[], start: number, end: number): Range[] {
  let pieces: Range[] = [[start, end]];
  for (const [s, e] of ranges) {
    const next: Range[] = [];
    for (const [a, b] of pieces) {
      if (b <= s || a >= e) {
        next.push([a, b]);
        continue;
      }
      if (a < s) next.push([a, s]);
      if (b > e) next.push([e, b]);
    }
    pieces = next;
  }
  return pieces;
}

/**
 * What the platform may patch at addr (a trapped syscall's site): the page's protection
 * if it lies in a private executable mapping, else -1 (a shared mapping would carry the
 * patch into its file or to other processes).
 */
export function patchableProt(vmas: readonly Vma[], addr: number): number {
  const PROT_EXEC = 4;
  for (const v of vmas) {
    if (addr < v.start || addr >= v.end) continue;
    return (v.flags & 0x0f) === MAP_PRIVATE && (v.prot & PROT_EXEC) !== 0 ? v.prot : -1;
  }
  return -1;
}
