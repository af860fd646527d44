import { randomBytes } from '../determinism/entropy';
import type { AddressSpace, MappableFile } from '../mm/address-space';
import { STACK_TOP } from '../mm/address-space';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_GROWSDOWN, MAP_PRIVATE, PAGE_SIZE, pageDown, pageUp } from '../mm/vma';
import { parseElf, type ElfError, type ElfImage, type ProgramHeader, ET_DYN, ET_EXEC, PF_R, PF_W, PF_X, PT_INTERP, PT_LOAD } from './elf';
import { hostAuxv } from './host-auxv';
import { mapVdso } from './vdso';
import { E2BIG, EEXIST, EFAULT, EINVAL, EIO, ELIBBAD, ELOOP, ENOEXEC, ENOENT, ENOMEM, EOVERFLOW } from '../abi/errno';
import { argBytes, argToPath, pathToArg } from './exec-args';
import { TASK_SIZE } from '../mm/guest-memory';

/** Where a PIE executable goes when ASLR is off (ELF_ET_DYN_BASE on x86-64). */
const ET_DYN_BASE = 0x555555554000;
const STACK_SIZE = 8 << 20;
const MAX_SCRIPT_DEPTH = 4;

export interface OpenedExec {
  /** The open file (a FileDescription: decRef'd once the exec no longer needs it). */
  file: MappableFile & { decRef?(): void };
  /** Absolute guest path. */
  path: string;
  /** Its device and inode number (stat's), shown for its mappings in /proc/PID/maps. */
  dev?: number;
  ino?: number;
}

/** Lets go of an opened file: the new image's mappings hold what they need. */
export function releaseExec(o: OpenedExec | null | undefined): void {
  o?.file.decRef?.();
}

/** Releases every file a resolution opened. */
export function releaseResolution(r: ExecResolution): void {
  releaseExec(r.exe);
  releaseExec(r.interp?.file);
}

/** Opens a path for exec in the guest's filesystem: the file, or -errno. */
export type ExecOpener = (path: string) => OpenedExec | number;

export interface ExecRequest {
  path: string;
  /** Bytes, one char per byte ("binary"/latin1 strings: see exec-args.ts). */
  argv: string[];
  envp: string[];
  /** The caller's RLIMIT_STACK soft limit (informational: execve checked the limits). */
  stackLimit?: number;
  uid: number;
  euid: number;
  gid: number;
  egid: number;
  /** AT_SECURE: a set-id or otherwise privilege-gaining exec (src/kernel/exec-creds.ts). */
  secure?: boolean;
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
  /** The #! scripts passed through on the way to the ELF, outermost first (the audit records them as executed). */
  scripts: string[];
}

/** Linux's BINPRM_BUF_SIZE: the bytes of a file an exec looks at first. */
const BINPRM_BUF_SIZE = 256;
const PATH_MAX = 4096;

/**
 * Reads exactly len bytes at pos, or null for a short read or an error. Positions no
 * file can have (2^53 and up: HUGE) read nothing, as reads past the end do.
 */
function readExact(f: MappableFile, pos: number, len: number): Buffer | null {
  if (!Number.isSafeInteger(pos) || pos < 0 || pos + len > Number.MAX_SAFE_INTEGER) return null;
  const b = Buffer.alloc(len);
  if (len === 0) return b;
  return f.pread(b, pos) === len ? b : null;
}

/** Up to len bytes from the start (a short file gives fewer). */
function readHead(f: MappableFile, len: number): Buffer {
  const b = Buffer.alloc(len);
  const n = f.pread(b, 0);
  return b.subarray(0, Math.max(0, n));
}

function elfFailure(e: ElfError, path: string, errno = ENOEXEC): ExecFailure {
  switch (e) {
    case 'not-elf':
      return { errno, reason: `${path}: not an ELF executable or script` };
    case 'wrong-arch':
      return { errno, reason: `${path}: ELF for another architecture (x86-64 only)` };
    default:
      return { errno, reason: `${path}: malformed ELF (${e})` };
  }
}

/** A #! line as binfmt_script reads it: [interpreter, optional argument], or -ENOEXEC. */
function parseHashBang(head: Buffer): [string, string] | number {
  let line = head.subarray(2);
  const nl = line.indexOf(10);
  const nul = line.indexOf(0);
  let end = nl >= 0 ? nl : line.length;
  if (nul >= 0 && nul < end) end = nul;
  if (nl < 0 && (nul < 0 || nul >= end)) {
    // No newline in the first 256 bytes: unless the interpreter's name ends within
    // them, it was cut short (Linux refuses that).
    const text = line.toString('latin1').replace(/^[ \t]+/, '');
    if (!/[ \t\0]/.test(text)) return -ENOEXEC;
  }
  line = line.subarray(0, end);
  const text = line.toString('latin1').replace(/^[ \t]+/, '').replace(/[ \t\r]+$/, '');
  if (!text) return -ENOEXEC;
  const sp = text.search(/[ \t]/);
  const interp = sp < 0 ? text : text.slice(0, sp);
  const arg = sp < 0 ? '' : text.slice(sp).replace(/^[ \t]+/, '');
  return [interp, arg];
}

/**
 * An ELF's header and program headers, with load_elf_binary's checks (all ENOEXEC); or
 * for an interpreter with load_elf_binary's checks of it (ELIBBAD; a short header EIO).
 */
function readElf(f: MappableFile, path: string, asInterp: boolean): ElfImage | ExecFailure {
  const head = readHead(f, 64);
  if (asInterp && head.length < 64) return { errno: EIO, reason: `${path}: cannot read the ELF interpreter` };
  const elf = parseElf(head, (pos, len) => readExact(f, pos, len), !asInterp);
  if (typeof elf === 'string') {
    // The interpreter's type is checked later, once the old image is gone (load_elf_interp).
    return elfFailure(elf, path, asInterp ? ELIBBAD : ENOEXEC);
  }
  return elf;
}

/**
 * Finds what an execve of `req.path` really runs: follows `#!` lines (up to 4 deep,
 * as Linux does), parses the ELF and opens its PT_INTERP, with every check Linux makes
 * before the point of no return (fs/binfmt_script.c, fs/binfmt_elf.c up to
 * begin_new_exec). Touches no address space, so a failure leaves the caller intact.
 * The files it returns are the caller's to release (releaseResolution).
 */
export function resolveExec(open: ExecOpener, req: ExecRequest): ExecResolution | ExecFailure {
  let path = req.path;
  let argv = req.argv.slice();
  const scripts: string[] = [];
  for (let depth = 0; ; depth++) {
    const f = open(path);
    if (typeof f === 'number') {
      const missing = f === -ENOENT;
      return { errno: -f, reason: `${path}: ${missing ? 'no such file' : 'cannot execute'}`, notFound: missing && depth === 0 };
    }
    const head = readHead(f.file, BINPRM_BUF_SIZE);
    if (head.length >= 2 && head[0] === 0x23 && head[1] === 0x21) {
      releaseExec(f);
      if (depth >= MAX_SCRIPT_DEPTH) return { errno: ELOOP, reason: `${path}: too many levels of #! interpreters` };
      const hb = parseHashBang(head);
      if (typeof hb === 'number') return { errno: -hb, reason: `${path}: bad #! line` };
      const [interp, arg] = hb;
      // interp and arg are bytes of the file (binary strings already); the script's path
      // becomes an argument, the interpreter's name a path.
      argv = [interp, ...(arg ? [arg] : []), pathToArg(path), ...argv.slice(1)];
      scripts.push(path);
      path = argToPath(interp);
      continue;
    }
    const elf = readElf(f.file, path, false);
    if ('errno' in elf) {
      releaseExec(f);
      return elf;
    }
    const interp = openInterpreter(open, f, elf, path);
    if (interp !== null && 'errno' in interp) {
      releaseExec(f);
      return interp;
    }
    return { exe: f, elf, interp, argv, execfn: req.path, scripts };
  }
}

/** The first PT_INTERP: its checks (ENOEXEC, EIO for a short read), then the interpreter's. */
function openInterpreter(open: ExecOpener, f: OpenedExec, elf: ElfImage, path: string): ExecResolution['interp'] | ExecFailure {
  const pi = elf.phdrs.find((p) => p.type === PT_INTERP);
  if (!pi) return null;
  if (pi.filesz > PATH_MAX || pi.filesz < 2) return { errno: ENOEXEC, reason: `${path}: bad PT_INTERP size` };
  const raw = readExact(f.file, pi.offset, pi.filesz);
  if (!raw) return { errno: EIO, reason: `${path}: PT_INTERP lies past the end of the file` };
  if (raw[raw.length - 1] !== 0) return { errno: ENOEXEC, reason: `${path}: PT_INTERP is not NUL-terminated` };
  const ipath = argToPath(raw.toString('latin1', 0, raw.indexOf(0)));
  if (ipath === '') return { errno: ENOENT, reason: `${path}: empty PT_INTERP` };
  const inf = open(ipath);
  if (typeof inf === 'number') return { errno: -inf, reason: `${path}: no such interpreter ${ipath}` };
  const ielf = readElf(inf.file, ipath, true);
  if ('errno' in ielf) {
    releaseExec(inf);
    return ielf;
  }
  return { file: inf, elf: ielf };
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

/** Linux's BAD_ADDR: at or above TASK_SIZE. */
function badAddr(x: number): boolean {
  return !(x >= 0 && x < TASK_SIZE);
}

/**
 * total_mapping_size: from the first PT_LOAD's page to the end of the last one (in
 * header order, as Linux computes it); 0 without PT_LOAD, -1 when it cannot be mapped.
 */
function totalMappingSize(loads: ProgramHeader[]): number {
  if (loads.length === 0) return 0;
  const first = loads[0];
  const last = loads[loads.length - 1];
  const size = last.vaddr - pageDown(first.vaddr) + last.memsz;
  return size > 0 && size <= TASK_SIZE ? size : -1;
}

/**
 * A PT_LOAD's checks, as elf_map (mmap: the offset's page alignment, overflow) and
 * load_elf_binary/load_elf_interp (p_filesz <= p_memsz, the end below TASK_SIZE) make
 * them. Returns 0 or -errno.
 */
function checkSegment(p: ProgramHeader, bias: number, asInterp: boolean): number {
  const fail = asInterp ? -ENOMEM : -EINVAL;
  const k = bias + p.vaddr;
  if (badAddr(k) || p.filesz > p.memsz || p.memsz > TASK_SIZE || TASK_SIZE - p.memsz < k) return fail;
  if (p.filesz > 0) {
    if (p.offsetInPage !== p.vaddr % PAGE_SIZE) return -EINVAL; // mmap of an unaligned offset
    if (p.offsetOverflows) return -EOVERFLOW;
  }
  return 0;
}

/**
 * Maps one ELF's PT_LOAD segments. With a host fd behind the file, segments are file
 * mappings (shared page cache, nothing copied) as Linux does; otherwise the bytes are
 * copied into anonymous memory. Every value comes from the file: each is checked as
 * Linux checks it, and a failure is -errno (the caller treats it as Linux does a
 * failure past the point of no return).
 */
function loadElf(mm: AddressSpace, ctx: number, file: OpenedExec, elf: ElfImage, isMain: boolean): Loaded | number {
  const loads = elf.phdrs.filter((p) => p.type === PT_LOAD);
  if (!isMain && elf.type !== ET_EXEC && elf.type !== ET_DYN) return -ENOEXEC; // load_elf_interp
  let bias = 0;
  if (elf.type === ET_DYN) {
    const total = totalMappingSize(loads);
    if (total === 0) return -EINVAL;
    if (total < 0) return -ENOMEM;
    const lo = pageDown(loads[0].vaddr);
    const base = isMain ? ET_DYN_BASE : mm.findFree(pageUp(total));
    if (base < 0) return base;
    bias = base - lo;
    if (bias + lo + total > TASK_SIZE) return -ENOMEM;
  }
  for (const p of loads) {
    const r = checkSegment(p, bias, !isMain);
    if (r < 0) return r;
    // The stack is already there (setup_arg_pages comes first): the executable's first
    // mapping is MAP_FIXED_NOREPLACE (EEXIST); an interpreter's top-down placement
    // never reaches it.
    if (bias + pageDown(p.vaddr) < STACK_TOP && bias + pageUp(p.vaddr + p.memsz) > STACK_TOP - STACK_SIZE) return -EEXIST;
  }
  const fileSize = sizeOf(file.file);
  const direct = typeof file.file.hostFd === 'number' && file.file.hostFd >= 0;
  const r = direct ? mapSegments(mm, ctx, file, loads, bias, fileSize) : copySegments(mm, ctx, file, loads, bias);
  if (r < 0) return r;
  // AT_PHDR: where the segment holding the program headers maps them (Linux 5.18+).
  let phdrAddr = 0;
  for (const p of loads) {
    if (p.offset <= elf.phoff && elf.phoff < p.offset + p.filesz) phdrAddr = elf.phoff - p.offset + p.vaddr;
  }
  let end = 0;
  for (const p of loads) end = Math.max(end, bias + p.vaddr + p.memsz);
  const entry = bias + elf.entry;
  return { bias, entry, phdrAddr: phdrAddr + bias, end };
}

/** The file's size, for mapping offsets past its end; Infinity when it cannot be told. */
function sizeOf(f: MappableFile): number {
  const s = (f as { size?: () => number }).size;
  if (typeof s !== 'function') return Infinity;
  const n = s.call(f);
  return typeof n === 'number' && n >= 0 ? n : Infinity;
}

function mapSegments(mm: AddressSpace, ctx: number, file: OpenedExec, loads: ProgramHeader[], bias: number, fileSize: number): number {
  const plan = loads.map((p) => {
    const start = bias + pageDown(p.vaddr);
    const fileEnd = bias + p.vaddr + p.filesz;
    // An offset past the end of the file maps pages that fault with SIGBUS when
    // touched, wherever past the end it is: map at the first such page, so offsets
    // too large for exact arithmetic never reach the host.
    let off = p.offset - (p.vaddr % PAGE_SIZE);
    if (off > pageUp(fileSize)) off = pageUp(fileSize);
    return {
      p, prot: protOf(p.flags), start, fileEnd, off,
      memEnd: bias + pageUp(p.vaddr + p.memsz), mapEnd: pageUp(fileEnd),
      needZero: p.memsz > p.filesz && fileEnd % PAGE_SIZE !== 0,
    };
  });
  // The file parts in one hand-over of the fd when no two segments share a page (else
  // one after the other, each zeroed before the next maps over its last page).
  const withFile = plan.filter((s) => s.p.filesz > 0);
  const apart = plan.every((s, i) => i === 0 || s.start >= plan[i - 1].memEnd);
  const batched = apart && withFile.length > 1;
  if (batched) {
    const r = mm.mapFileSegments(ctx, file.file, withFile.map((s) => ({
      addr: s.start, len: s.mapEnd - s.start, prot: s.needZero ? s.prot | 2 : s.prot, offset: s.off,
    })), file.path, file.dev, file.ino);
    if (r < 0) return r;
  }
  for (const { p, prot, start, fileEnd, off, memEnd, mapEnd, needZero } of plan) {
    if (p.filesz > 0) {
      if (!batched) {
        const r = mm.map(ctx, start, mapEnd - start, needZero ? prot | 2 : prot, MAP_PRIVATE | MAP_FIXED, file.file, off, file.path,
          file.dev, file.ino);
        if (r < 0) return r;
      }
      if (needZero) {
        // The rest of the last file page belongs to .bss: zero it (Linux's padzero,
        // which fails with EFAULT where that page lies past the end of the file).
        if (!mm.mem.write(fileEnd, Buffer.alloc(mapEnd - fileEnd))) return -EFAULT;
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

function copySegments(mm: AddressSpace, ctx: number, file: OpenedExec, loads: ProgramHeader[], bias: number): number {
  if (loads.length === 0) return 0;
  let lo = Infinity;
  let hi = 0;
  for (const p of loads) {
    lo = Math.min(lo, pageDown(p.vaddr));
    hi = Math.max(hi, pageUp(p.vaddr + p.memsz));
  }
  const span = mm.map(ctx, bias + lo, hi - lo, 3, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, null, 0, file.path);
  if (span < 0) return span;
  const copy = Buffer.allocUnsafe(1 << 20);
  for (const p of loads) {
    // Bytes before vaddr in its first page come from the file too, as with a file mmap.
    const pageStart = pageDown(p.vaddr);
    let fileOff = p.offset - (p.vaddr - pageStart);
    let dest = bias + pageStart;
    let left = p.filesz + (p.vaddr - pageStart);
    while (left > 0 && Number.isSafeInteger(fileOff + left)) {
      const want = Math.min(left, copy.length);
      const n = file.file.pread(want === copy.length ? copy : copy.subarray(0, want), fileOff);
      if (n <= 0) break; // past the end of the file: the rest stays zero
      if (!mm.mem.write(dest, copy, 0, n)) return -EFAULT;
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
    if (e > s) mm.protect(ctx, s, e - s, protOf(p.flags));
    cursor = Math.max(cursor, e);
  }
  return 0;
}

export interface LoadedImage {
  entry: number;
  sp: number;
  /** The auxiliary vector as written on the stack (/proc/PID/auxv). */
  auxv: Buffer;
}

/**
 * Builds a new image in a fresh address space: executable, interpreter, stack with
 * argv/envp/auxv laid out exactly as Linux does (fs/binfmt_elf.c create_elf_tables).
 */
export function loadImage(mm: AddressSpace, ctx: number, res: ExecResolution, req: ExecRequest): LoadedImage | ExecFailure {
  const strings = [...res.argv, ...req.envp].map((s) => argBytes(s + '\0'));
  const execfn = Buffer.from(res.execfn + '\0', 'latin1'); // a VFS path: latin1, its bytes
  const strBytes = strings.reduce((n, b) => n + b.length, 0) + execfn.length;
  // execve checked the limits while copying (exec-args.ts: at most 6 MiB); what must
  // hold here is that the strings and pointers fit the stack, for the command line's
  // arguments too.
  if (strBytes + (strings.length + 64) * 8 + PAGE_SIZE > STACK_SIZE) return { errno: E2BIG, reason: 'argument list too long' };

  const stackLo = STACK_TOP - STACK_SIZE;
  const st = mm.map(ctx, stackLo, STACK_SIZE, 3, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_GROWSDOWN, null, 0, '[stack]');
  if (st < 0) return { errno: -st, reason: 'cannot map stack' };
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
  if (badAddr(entry)) return { errno: EINVAL, reason: `${res.exe.path}: entry point outside the address space` };
  const vdso = mapVdso(mm, ctx);

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
  const random = randomBytes(16);

  const aux = hostAuxv();
  const auxv: Array<[number, number | bigint]> = [];
  if (vdso !== 0) auxv.push([33, vdso]); // AT_SYSINFO_EHDR first, as ARCH_DLINFO puts it
  const minsig = aux.get(51);
  if (minsig !== undefined) auxv.push([51, minsig]);
  auxv.push(
    [16, aux.get(16) ?? 0n], [6, PAGE_SIZE], [17, 100], [3, main.phdrAddr], [4, 56], [5, res.elf.phnum],
    [7, interpBase], [8, 0], [9, main.entry], [11, req.uid], [12, req.euid], [13, req.gid], [14, req.egid],
    [23, req.secure === true ? 1 : 0], [25, randomAddr], [26, aux.get(26) ?? 0n], [31, execfnAddr], [15, platformAddr],
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
  return { entry, sp, auxv: Buffer.from(table.subarray(table.length - auxv.length * 16)) };
}
