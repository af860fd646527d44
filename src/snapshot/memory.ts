/**
 * Address spaces in and out of an image: every mapping of the Sentry's list (src/mm),
 * and of the readable ones the pages that are not all zero (sparse: an untouched page
 * reads as zero and is left out). Restored, each mapping is anonymous memory at the same
 * address holding the same bytes, then given its protection back; [vvar] is the
 * restoring Sentry's own clock page, mapped afresh.
 */
import type { Platform } from '../platform/platform';
import type { AddressSpace } from '../mm/address-space';
import {
  type Vma, MAP_ANONYMOUS, MAP_FIXED, MAP_GROWSDOWN, MAP_NORESERVE, MAP_PRIVATE, MAP_SHARED, MAP_TYPE, PAGE_SIZE,
  PROT_READ, PROT_WRITE,
} from '../mm/vma';
import { prepareVdso } from '../loader/vdso';
import { TASK_SIZE } from '../mm/guest-memory';
import type { PayloadWriter } from './format';
import { SnapshotError } from './format';
import type { MmImage } from './image';

const SYS_MMAP = 9, SYS_MPROTECT = 10;
const CHUNK = 1 << 20;

const ZERO_PAGE = Buffer.alloc(PAGE_SIZE);

function allZero(b: Buffer, off: number, len: number): boolean {
  return ZERO_PAGE.compare(b, off, off + len, 0, len) === 0; // a memcmp, not a JS loop
}

/** Reads [addr, addr+len) into buf; pages that cannot be read (past a file's end) stay zero. */
function readRange(p: Platform, asPid: number, addr: number, buf: Buffer, len: number): void {
  if (p.readMem(asPid, addr, buf, 0, len) === len) return;
  buf.fill(0, 0, len);
  for (let o = 0; o < len; o += PAGE_SIZE) p.readMem(asPid, addr + o, buf, o, PAGE_SIZE);
}

export function saveMemory(p: Platform, mm: AddressSpace, payload: PayloadWriter): MmImage {
  const runs: MmImage['runs'] = [];
  const buf = Buffer.alloc(CHUNK);
  for (const v of mm.vmas) {
    if (v.name === '[vvar]' || (v.prot & PROT_READ) === 0) continue;
    for (let a = v.start; a < v.end; a += CHUNK) {
      const len = Math.min(CHUNK, v.end - a);
      readRange(p, mm.asPid, a, buf, len);
      let runStart = -1;
      for (let o = 0; o <= len; o += PAGE_SIZE) {
        const zero = o === len || allZero(buf, o, PAGE_SIZE);
        if (!zero && runStart < 0) runStart = o;
        if (zero && runStart >= 0) {
          runs.push({ addr: a + runStart, data: { off: payload.add(Buffer.from(buf.subarray(runStart, o))), len: o - runStart } });
          runStart = -1;
        }
      }
    }
  }
  return { brkStart: mm.brkStart, brk: mm.brk, dumpable: mm.dumpable, vmas: mm.vmas.map((v) => ({ ...v })), runs };
}

function check(r: number, what: string, v: Vma): void {
  if (r < 0) throw new SnapshotError(`cannot restore the mapping at 0x${v.start.toString(16)} (${what}: errno ${-r})`);
}

/** Rebuilds an image's mappings and bytes in the new, empty address space of stopped ctx. */
/** The stub's own image (src/mm/address-space.ts): an image may not map over it. */
const STUB_START = 0x7ff000000000, STUB_END = 0x7ff000100000;

const isShared = (v: Vma) => v.name !== '[vvar]' && (v.flags & MAP_TYPE) === MAP_SHARED;

/**
 * In a space forked from a restored one (a template's copy): its shared mappings made
 * anew and filled from the image, so that no copy shares memory with another (a fork
 * would keep MAP_SHARED pages shared; a read-only one can be made writable).
 */
export function unshareMemory(p: Platform, ctx: number, img: MmImage, payload: Buffer): void {
  const vmas = img.vmas.filter(isShared);
  if (vmas.length === 0) return;
  mapAndFill(p, ctx, vmas, img.runs.filter((r) => vmas.some((v) => r.addr >= v.start && r.addr < v.end)), payload);
}

/** The Sentry's map of a space forked from one restoreMemory built from img (its bytes are there already). */
export function adoptMemory(mm: AddressSpace, img: MmImage): void {
  // SUID_DUMP_DISABLE, USER or ROOT: anything else would make a non-dumpable process's /proc files the guest's again.
  if (img.dumpable !== undefined && ![0, 1, 2].includes(img.dumpable)) throw new SnapshotError('image corrupted (dumpable)');
  mm.vmas = img.vmas.map((v) => ({ ...v }));
  mm.brkStart = img.brkStart;
  mm.brk = img.brk;
  mm.dumpable = img.dumpable ?? 1;
}

export function restoreMemory(p: Platform, ctx: number, mm: AddressSpace, img: MmImage, payload: Buffer): void {
  for (const v of img.vmas) {
    const bad = !(v.start < v.end) || v.start % PAGE_SIZE !== 0 || v.end % PAGE_SIZE !== 0 || v.start < 0x10000 || v.end > TASK_SIZE
      || (v.start < STUB_END && v.end > STUB_START);
    if (bad) throw new SnapshotError(`image corrupted (a mapping at 0x${v.start.toString(16)}-0x${v.end.toString(16)})`);
  }
  for (const r of img.runs) {
    if (!img.vmas.some((v) => r.addr >= v.start && r.addr + r.data.len <= v.end)) throw new SnapshotError('image corrupted (memory outside its mappings)');
  }
  mapAndFill(p, ctx, img.vmas, img.runs, payload);
  adoptMemory(mm, img);
}

/** Maps vmas (anonymous, at their addresses), writes the runs' bytes in, then gives back their protection. */
function mapAndFill(p: Platform, ctx: number, vmas: Vma[], runs: MmImage['runs'], payload: Buffer): void {
  for (const v of vmas) {
    const len = v.end - v.start;
    if (v.name === '[vvar]') {
      const f = prepareVdso();
      if (f === null) throw new SnapshotError('the image has a vDSO clock page, this host has none');
      check(p.mmapHostFd(ctx, f.dataFd, v.start, PAGE_SIZE, PROT_READ, MAP_SHARED | MAP_FIXED, 0), 'vvar', v);
      continue;
    }
    const share = (v.flags & MAP_TYPE) === MAP_SHARED ? MAP_SHARED : MAP_PRIVATE;
    const flags = share | MAP_ANONYMOUS | MAP_FIXED | (v.flags & (MAP_GROWSDOWN | MAP_NORESERVE));
    check(p.mmSyscall(ctx, SYS_MMAP, v.start, len, v.prot | PROT_WRITE, flags, -1, 0), 'mmap', v);
  }
  for (const r of runs) {
    if (r.data.off + r.data.len > payload.length) throw new SnapshotError('image corrupted (a page run past the payload)');
    const n = p.writeMem(ctx, r.addr, payload, r.data.off, r.data.len);
    if (n !== r.data.len) throw new SnapshotError(`cannot restore memory at 0x${r.addr.toString(16)} (${n})`);
  }
  for (const v of vmas) {
    if (v.name === '[vvar]' || (v.prot & PROT_WRITE) !== 0) continue;
    check(p.mmSyscall(ctx, SYS_MPROTECT, v.start, v.end - v.start, v.prot, 0, 0, 0), 'mprotect', v);
  }
}
