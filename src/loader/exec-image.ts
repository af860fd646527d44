import * as crypto from 'crypto';
import type { AddressSpace, MappableFile } from '../mm/address-space';
import { STACK_TOP } from '../mm/address-space';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_GROWSDOWN, MAP_PRIVATE, PAGE_SIZE, pageDown, pageUp } from '../mm/vma';
import { parseElf, type ElfImage, type ProgramHeader, ET_DYN, PF_R, PF_W, PF_X, PT_INTERP, PT_LOAD, PT_PHDR } from './elf';
import { hostAuxv } from './host-auxv';
import { mapVdso } from './vdso';
import { E2BIG, ELOOP, ENOEXEC, ENOENT } from '../abi/errno';
import { argBytes, argSpace, argToPath, pathToArg, STK_LIM } from './exec-args';

/** Where a PIE executable goes when ASLR is off (ELF_ET_DYN_BASE on x86-64). */
const ET_DYN_BASE = 0x555555554000;
const STACK_SIZE = 8 << 20;
const MAX_SCRIPT_DEPTH = 4;

export interface OpenedExec {
  file: MappableFile;
  /** Absolute guest path. */
  path: string;
}

/** Opens a path for exec in the guest's filesystem: the file, or -errno. */
export type ExecOpener = (path: string) => OpenedExec | number;

export interface ExecRequest {
  path: string;
  /** Bytes, one char per byte ("binary"/latin1 strings: see exec-args.ts). */
  argv: string[];
  envp: string[];
  /** The caller's RLIMIT_STACK soft limit: bounds argv+envp (default 8 MiB). */
  stackLimit?: number;
  uid: number;
  euid: number;
  gid: number;
  egid: number;
}

/** Why an exec failed, for the CLI's one-line message. */
export interface ExecFailure {
  errno: number;
  reason: string;
  /** The program itself was not found (the CLI's 127), as opposed to found but unrunnable (126). */
  notFound?: boolean;
}

export interface ExecResolution {
  /** The ELF to load (after following #! lines). */
  exe: OpenedExec;
  elf: ElfImage;
  interp: { file: OpenedExec; elf: ElfImage } | null;
  argv: string[];
  /** AT_EXECFN: the path as the caller named it. */
  execfn: string;
}

function readHead(f: MappableFile, len: number): Buffer {
  const b = Buffer.alloc(len);
  const n = f.pread(b, 0);
  return b.subarray(0, Math.max(0, n));
}

function readAt(f: MappableFile): (pos: number, len: number) => Buffer | null {
  return (pos, len) => {
    const b = Buffer.alloc(len);
    return f.pread(b, pos) === len ? b : null;
  };
}

function elfFailure(e: string, path: string): ExecFailure {
  switch (e) {
    case 'not-elf':
      return { errno: ENOEXEC, reason: `${path}: not an ELF executable or script` };
    case 'wrong-arch':
      return { errno: ENOEXEC, reason: `${path}: ELF for another architecture (x86-64 only)` };
    case 'wrong-class':
      return { errno: ENOEXEC, reason: `${path}: not a 64-bit little-endian ELF` };
    default:
      return { errno: ENOEXEC, reason: `${path}: malformed ELF (${e})` };
  }
}

/**
 * Finds what an execve of `req.path` really runs: follows `#!` lines (up to 4 deep,
 * as Linux does), parses the ELF and opens its PT_INTERP. Touches no address space,
 * so a failure leaves the caller's image intact.
 */
export function resolveExec(open: ExecOpener, req: ExecRequest): ExecResolution | ExecFailure {
  let path = req.path;
  let argv = req.argv.slice();
  for (let depth = 0; ; depth++) {
    const f = open(path);
    if (typeof f === 'number') {
      const missing = f === -ENOENT;
      return { errno: -f, reason: `${path}: ${missing ? 'no such file' : 'cannot execute'}`, notFound: missing && depth === 0 };
    }
    const head = readHead(f.file, 256);
    if (head.length >= 2 && head[0] === 0x23 && head[1] === 0x21) {
      if (depth >= MAX_SCRIPT_DEPTH) return { errno: ELOOP, reason: `${path}: too many levels of #! interpreters` };
      const nl = head.indexOf(10);
      const line = head.subarray(2, nl < 0 ? head.length : nl).toString('latin1').replace(/^[ \t]+/, '').replace(/[ \t\r]+$/, '');
      if (!line) return { errno: ENOEXEC, reason: `${path}: empty #! line` };
      const sp = line.search(/[ \t]/);
      const interp = sp < 0 ? line : line.slice(0, sp);
      const arg = sp < 0 ? '' : line.slice(sp).trim();
      // interp and arg are bytes of the file (binary strings already); the script's path
      // becomes an argument, the interpreter's name a path.
      argv = [interp, ...(arg ? [arg] : []), pathToArg(path), ...argv.slice(1)];
      path = argToPath(interp);
      continue;
    }
    const elf = parseElf(head.length >= 64 ? readHead(f.file, 4096) : head, readAt(f.file));
    if (typeof elf === 'string') return elfFailure(elf, path);
    let interp: ExecResolution['interp'] = null;
    const pi = elf.phdrs.find((p) => p.type === PT_INTERP);
    if (pi) {
      const raw = readAt(f.file)(pi.offset, pi.filesz);
      if (!raw) return { errno: ENOEXEC, reason: `${path}: bad PT_INTERP` };
      const ipath = raw.toString('latin1').replace(/\0.*$/s, '');
      const inf = open(ipath);
      if (typeof inf === 'number') return { errno: -inf, reason: `${path}: no such interpreter ${ipath}` };
      const ielf = parseElf(readHead(inf.file, 4096), readAt(inf.file));
      if (typeof ielf === 'string') return elfFailure(ielf, ipath);
      interp = { file: inf, elf: ielf };
    }
    return { exe: f, elf, interp, argv, execfn: req.path };
  }
}

interface Loaded {
  bias: number;
  entry: number;
  phdrAddr: number;
  end: number;
}

/** Addresses exceed 32 bits: no bitwise masking. */
function alignDown(x: number, a: number): number {
  return Math.floor(x / a) * a;
}

function protOf(flags: number): number {
  return (flags & PF_R ? 1 : 0) | (flags & PF_W ? 2 : 0) | (flags & PF_X ? 4 : 0);
}

/**
 * Maps one ELF's PT_LOAD segments. With a host fd behind the file, segments are file
 * mappings (shared page cache, nothing copied) as Linux does; otherwise the bytes are
 * copied into anonymous memory.
 */
function loadElf(mm: AddressSpace, ctx: number, file: OpenedExec, elf: ElfImage, isMain: boolean): Loaded | number {
  const loads = elf.phdrs.filter((p) => p.type === PT_LOAD);
  if (loads.length === 0) return -ENOEXEC;
  const lo = pageDown(Math.min(...loads.map((p) => p.vaddr)));
  const hi = pageUp(Math.max(...loads.map((p) => p.vaddr + p.memsz)));
  let bias = 0;
  if (elf.type === ET_DYN) {
    const base = isMain ? ET_DYN_BASE : mm.findFree(hi - lo);
    if (base < 0) return base;
    bias = base - lo;
  }
  const direct = typeof file.file.hostFd === 'number' && file.file.hostFd >= 0;
  const r = direct ? mapSegments(mm, ctx, file, loads, bias) : copySegments(mm, ctx, file, loads, bias, lo, hi);
  if (r < 0) return r;
  const phdrSeg = elf.phdrs.find((p) => p.type === PT_PHDR);
  const first = loads[0];
  const phdrAddr = phdrSeg ? bias + phdrSeg.vaddr : bias + first.vaddr - first.offset + elf.phoff;
  return { bias, entry: bias + elf.entry, phdrAddr, end: bias + hi };
}

function mapSegments(mm: AddressSpace, ctx: number, file: OpenedExec, loads: ProgramHeader[], bias: number): number {
  for (const p of loads) {
    if (p.vaddr % PAGE_SIZE !== p.offset % PAGE_SIZE) return -ENOEXEC;
    const prot = protOf(p.flags);
    const start = bias + pageDown(p.vaddr);
    const fileEnd = bias + p.vaddr + p.filesz;
    const memEnd = bias + pageUp(p.vaddr + p.memsz);
    const mapEnd = pageUp(fileEnd);
    const needZero = p.memsz > p.filesz && fileEnd % PAGE_SIZE !== 0;
    if (p.filesz > 0) {
      const r = mm.map(ctx, start, mapEnd - start, needZero ? prot | 2 : prot, MAP_PRIVATE | MAP_FIXED, file.file,
        pageDown(p.offset), file.path);
      if (r < 0) return r;
      if (needZero) {
        // The rest of the last file page belongs to .bss: zero it (Linux's padzero).
        if (!mm.mem.write(fileEnd, Buffer.alloc(mapEnd - fileEnd))) return -14;
        if (!(prot & 2)) mm.protect(ctx, start, mapEnd - start, prot);
      }
    }
    const anonStart = p.filesz > 0 ? mapEnd : start;
    if (memEnd > anonStart) {
      const r = mm.map(ctx, anonStart, memEnd - anonStart, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, null, 0, '');
      if (r < 0) return r;
    }
  }
  return 0;
}

function copySegments(mm: AddressSpace, ctx: number, file: OpenedExec, loads: ProgramHeader[], bias: number, lo: number, hi: number): number {
  const span = mm.map(ctx, bias + lo, hi - lo, 3, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, null, 0, file.path);
  if (span < 0) return span;
  const copy = Buffer.allocUnsafe(1 << 20);
  for (const p of loads) {
    // Bytes before vaddr in its first page come from the file too, as with a file mmap.
    const pageStart = pageDown(p.vaddr);
    let fileOff = p.offset - (p.vaddr - pageStart);
    let dest = bias + pageStart;
    let left = p.filesz + (p.vaddr - pageStart);
    while (left > 0) {
      const want = Math.min(left, copy.length);
      const n = file.file.pread(want === copy.length ? copy : copy.subarray(0, want), fileOff);
      if (n <= 0) break;
      if (!mm.mem.write(dest, copy, 0, n)) return -14;
      fileOff += n;
      dest += n;
      left -= n;
    }
  }
  // Protections per segment; pages no segment covers are unmapped (holes in the span).
  let cursor = bias + lo;
  for (const p of loads.slice().sort((a, b) => a.vaddr - b.vaddr)) {
    const s = bias + pageDown(p.vaddr);
    const e = bias + pageUp(p.vaddr + p.memsz);
    if (s > cursor) mm.unmap(ctx, cursor, s - cursor);
    mm.protect(ctx, s, e - s, protOf(p.flags));
    cursor = Math.max(cursor, e);
  }
  return 0;
}

export interface LoadedImage {
  entry: number;
  sp: number;
}

/**
 * Builds a new image in a fresh address space: executable, interpreter, stack with
 * argv/envp/auxv laid out exactly as Linux does (fs/binfmt_elf.c create_elf_tables).
 */
export function loadImage(mm: AddressSpace, ctx: number, res: ExecResolution, req: ExecRequest): LoadedImage | ExecFailure {
  const main = loadElf(mm, ctx, res.exe, res.elf, true);
  if (typeof main === 'number') return { errno: -main, reason: `${res.exe.path}: cannot map executable` };
  mm.brkStart = mm.brk = pageUp(main.end);
  let interpBase = 0;
  let entry = main.entry;
  if (res.interp) {
    const li = loadElf(mm, ctx, res.interp.file, res.interp.elf, false);
    if (typeof li === 'number') return { errno: -li, reason: `${res.interp.file.path}: cannot map interpreter` };
    interpBase = li.bias;
    entry = li.entry;
  }
  const stackLo = STACK_TOP - STACK_SIZE;
  const st = mm.map(ctx, stackLo, STACK_SIZE, 3, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_GROWSDOWN, null, 0, '[stack]');
  if (st < 0) return { errno: -st, reason: 'cannot map stack' };
  const vdso = mapVdso(mm, ctx);

  const strings = [...res.argv, ...req.envp].map((s) => argBytes(s + '\0'));
  const execfn = Buffer.from(res.execfn + '\0');
  const strBytes = strings.reduce((n, b) => n + b.length, 0) + execfn.length;
  // The same bound execve's copy applied (exec-args.ts); here for the first program,
  // whose arguments come from the command line.
  if (strBytes + strings.length * 8 > argSpace(req.stackLimit ?? STK_LIM)) return { errno: E2BIG, reason: 'argument list too long' };

  // Strings at the top (argv, envp, then execfn, then 8 zero bytes), as copy_strings leaves them.
  let p = STACK_TOP - 8;
  p -= execfn.length;
  const execfnAddr = p;
  p -= strBytes - execfn.length;
  const strStart = p;
  const ptrs: number[] = [];
  {
    let q = strStart;
    for (const b of strings) {
      ptrs.push(q);
      q += b.length;
    }
  }
  const platform = Buffer.from('x86_64\0');
  p -= platform.length;
  const platformAddr = p;
  p = alignDown(p, 16);
  p -= 16;
  const randomAddr = p;
  const random = crypto.randomBytes(16);

  const aux = hostAuxv();
  const auxv: Array<[number, number | bigint]> = [];
  if (vdso !== 0) auxv.push([33, vdso]); // AT_SYSINFO_EHDR first, as ARCH_DLINFO puts it
  const minsig = aux.get(51);
  if (minsig !== undefined) auxv.push([51, minsig]);
  auxv.push(
    [16, aux.get(16) ?? 0n], [6, PAGE_SIZE], [17, 100], [3, main.phdrAddr], [4, 56], [5, res.elf.phnum],
    [7, interpBase], [8, 0], [9, main.entry], [11, req.uid], [12, req.euid], [13, req.gid], [14, req.egid],
    [23, 0], [25, randomAddr], [26, aux.get(26) ?? 0n], [31, execfnAddr], [15, platformAddr],
    [0, 0],
  );
  const argc = res.argv.length;
  const items = 1 + argc + 1 + req.envp.length + 1 + auxv.length * 2;
  const sp = alignDown(p - items * 8, 16);

  const table = Buffer.alloc(items * 8);
  let o = 0;
  const put = (v: number | bigint) => {
    table.writeBigUInt64LE(BigInt(v), o);
    o += 8;
  };
  put(argc);
  for (let i = 0; i < argc; i++) put(ptrs[i]);
  put(0);
  for (let i = 0; i < req.envp.length; i++) put(ptrs[argc + i]);
  put(0);
  for (const [k, v] of auxv) {
    put(k);
    put(v);
  }
  const top = Buffer.concat([...strings, execfn]);
  const ok = mm.mem.write(strStart, top) && mm.mem.write(platformAddr, platform) &&
    mm.mem.write(randomAddr, random) && mm.mem.write(sp, table);
  if (!ok) return { errno: 14, reason: 'cannot write initial stack' };
  return { entry, sp };
}
