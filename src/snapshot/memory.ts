/**
 * Address spaces in and out of an image: every mapping of the Sentry's list (src/mm),
 * and of the readable ones the pages that are not all zero (sparse: an untouched page
 * reads as zero and is left out), into the image's raw page section. Restored, each
 * mapping is anonymous memory at the same address holding the same bytes, then given its
 * protection back; [vvar] is the restoring Sentry's own clock page, mapped afresh.
 *
 * Lazily: a long run of a private mapping is not written but mapped MAP_PRIVATE from the
 * image file over the anonymous memory (one fd hand-over per 16 runs), so the host reads
 * a page only when the guest touches it, a write copies it, and every copy restored from
 * the file shares the untouched ones in the page cache. Such a mapping is marked
 * `image` in the Sentry's list: a page the guest drops there (MADV_DONTNEED, mremap's
 * growth) must read zero, not the file again (src/mm/address-space.ts). Short runs,
 * shared mappings and stacks (MAP_GROWSDOWN must stay anonymous to grow) are written.
 */
import type { Platform } from '../platform/platform';
import type { AddressSpace } from '../mm/address-space';
import {
  type Vma, MAP_ANONYMOUS, MAP_FIXED, MAP_GROWSDOWN, MAP_NORESERVE, MAP_PRIVATE, MAP_SHARED, MAP_TYPE, PAGE_SIZE,
  PROT_READ, PROT_WRITE,
} from '../mm/vma';
import { prepareVdso } from '../loader/vdso';
import { TASK_SIZE } from '../mm/guest-memory';
import * as fs from 'node:fs';
import type { PageSource, PageWriter } from './format';
import { SnapshotError } from './format';
import type { MmImage } from './image';

const SYS_MMAP = 9, SYS_MPROTECT = 10;
const CHUNK = 1 << 20;
/** Runs this long or longer are mapped from the image; a shorter one is cheaper to write than an mmap. */
const MAP_MIN = 16 * PAGE_SIZE;
/** mmapHostFdMany's most mappings per hand-over. */
const MANY = 16;

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

export function saveMemory(p: Platform, mm: AddressSpace, pages: PageWriter): MmImage {
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
          runs.push({ addr: a + runStart, data: { off: pages.add(Buffer.from(buf.subarray(runStart, o))), len: o - runStart } });
          runStart = -1;
        }
      }
    }
  }
  // `image` says how the Sentry's host pages were made (this restore's, not the next one's).
  return { brkStart: mm.brkStart, brk: mm.brk, dumpable: mm.dumpable, vmas: mm.vmas.map(({ image: _, ...v }) => v), runs };
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
export function unshareMemory(p: Platform, ctx: number, img: MmImage, pages: PageSource | undefined): void {
  const vmas = img.vmas.filter(isShared);
  if (vmas.length === 0) return;
  mapAndFill(p, ctx, vmas, img.runs.filter((r) => vmas.some((v) => r.addr >= v.start && r.addr < v.end)), pages);
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

export function restoreMemory(p: Platform, ctx: number, mm: AddressSpace, img: MmImage, pages: PageSource | undefined): void {
  for (const v of img.vmas) {
    const bad = !(v.start < v.end) || v.start % PAGE_SIZE !== 0 || v.end % PAGE_SIZE !== 0 || v.start < 0x10000 || v.end > TASK_SIZE
      || (v.start < STUB_END && v.end > STUB_START);
    if (bad) throw new SnapshotError(`image corrupted (a mapping at 0x${v.start.toString(16)}-0x${v.end.toString(16)})`);
  }
  for (const r of img.runs) {
    if (!img.vmas.some((v) => r.addr >= v.start && r.addr + r.data.len <= v.end)) throw new SnapshotError('image corrupted (memory outside its mappings)');
  }
  mapAndFill(p, ctx, img.vmas, img.runs, pages);
  adoptMemory(mm, img);
}

/** Reads [off, off+len) of the page section into b (at 0); false if the file is short. */
function readPages(src: PageSource, off: number, b: Buffer, len: number): boolean {
  for (let got = 0; got < len; ) {
    const n = fs.readSync(src.fd, b, got, len - got, src.off + off + got);
    if (n <= 0) return false;
    got += n;
  }
  return true;
}

/** Writes runs' bytes (read from the page section) into ctx. */
function writeRuns(p: Platform, ctx: number, runs: MmImage['runs'], src: PageSource): void {
  let b = Buffer.alloc(0);
  for (const r of runs) {
    for (let o = 0; o < r.data.len; o += CHUNK) {
      const len = Math.min(CHUNK, r.data.len - o);
      if (b.length < len) b = Buffer.allocUnsafe(Math.min(CHUNK, r.data.len));
      if (!readPages(src, r.data.off + o, b, len)) throw new SnapshotError('image truncated (its pages)');
      const n = p.writeMem(ctx, r.addr + o, b, 0, len);
      if (n !== len) throw new SnapshotError(`cannot restore memory at 0x${(r.addr + o).toString(16)} (${n})`);
    }
  }
}

/**
 * Maps runs (each inside one private mapping of vmaOf) from the page section over the
 * anonymous memory, MANY per fd hand-over; a batch the host refuses (an image on a noexec
 * mount and an executable mapping, a platform without host-fd maps) is written instead.
 * Returns the mappings that got pages of the file.
 */
function mapRuns(p: Platform, ctx: number, runs: MmImage['runs'], vmaOf: (r: MmImage['runs'][number]) => Vma, src: PageSource): Set<Vma> {
  const backed = new Set<Vma>();
  for (let i = 0; i < runs.length; i += MANY) {
    const batch = runs.slice(i, i + MANY);
    const maps = new Float64Array(batch.length * 5);
    batch.forEach((r, j) => {
      const v = vmaOf(r);
      maps.set([r.addr, r.data.len, v.prot | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | (v.flags & MAP_NORESERVE), src.off + r.data.off], j * 5);
    });
    const res = p.mmapHostFdMany ? p.mmapHostFdMany(ctx, src.fd, maps)
      : batch.reduce((e, r, j) => (e < 0 ? e : Math.min(0, p.mmapHostFd(ctx, src.fd, r.addr, r.data.len, maps[j * 5 + 2], maps[j * 5 + 3], maps[j * 5 + 4]))), 0);
    if (res >= 0) {
      for (const r of batch) backed.add(vmaOf(r));
      continue;
    }
    // Anonymous again where some of the batch may have been mapped, then written.
    for (const r of batch) {
      const v = vmaOf(r);
      const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | (v.flags & MAP_NORESERVE);
      if (p.mmSyscall(ctx, SYS_MMAP, r.addr, r.data.len, v.prot | PROT_WRITE, flags, -1, 0) < 0) throw new SnapshotError(`cannot restore memory at 0x${r.addr.toString(16)}`);
    }
    writeRuns(p, ctx, batch, src);
  }
  return backed;
}

/**
 * Maps vmas (anonymous, at their addresses), puts the runs' bytes in (long runs of
 * private mappings mapped from the image, the rest written), then gives back their
 * protection. Mappings that got pages of the file are marked `image`.
 */
function mapAndFill(p: Platform, ctx: number, vmas: Vma[], runs: MmImage['runs'], src: PageSource | undefined): void {
  if (runs.length > 0 && (src === undefined || src.fd < 0)) throw new SnapshotError('image corrupted (pages without a page section)');
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
  if (src !== undefined && runs.length > 0) {
    const sorted = [...vmas].sort((a, b) => a.start - b.start);
    const vmaOf = (r: MmImage['runs'][number]): Vma => {
      let lo = 0, hi = sorted.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (sorted[mid].start <= r.addr) lo = mid; else hi = mid - 1;
      }
      return sorted[lo];
    };
    const mapped: MmImage['runs'] = [], written: MmImage['runs'] = [];
    for (const r of runs) {
      const { off, len } = r.data;
      if (!(Number.isSafeInteger(off) && Number.isSafeInteger(len) && off >= 0 && len > 0 && off % PAGE_SIZE === 0 && len % PAGE_SIZE === 0 && off + len <= src.len)) {
        throw new SnapshotError('image corrupted (a page run past the pages)');
      }
      const v = vmaOf(r);
      const lazy = len >= MAP_MIN && (v.flags & MAP_TYPE) !== MAP_SHARED && (v.flags & MAP_GROWSDOWN) === 0 && v.name !== '[vvar]';
      (lazy ? mapped : written).push(r);
    }
    writeRuns(p, ctx, written, src);
    for (const v of mapRuns(p, ctx, mapped, vmaOf, src)) v.image = true;
  }
  for (const v of vmas) {
    if (v.name === '[vvar]' || (v.prot & PROT_WRITE) !== 0) continue;
    check(p.mmSyscall(ctx, SYS_MPROTECT, v.start, v.end - v.start, v.prot, 0, 0, 0), 'mprotect', v);
  }
}
