/**
 * ELF64 headers: just the fields an exec needs, parsed with fs/binfmt_elf.c's checks.
 * Every 64-bit field is read exactly (as a bigint) and kept as a number only when it is
 * below 2^53; larger values are clamped to HUGE, which fails every range check an
 * exact value would fail (TASK_SIZE is 2^47), so no later arithmetic is inexact.
 */
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const EM_X86_64 = 62;
export const PT_LOAD = 1;
export const PT_INTERP = 3;
export const PT_PHDR = 6;
export const PT_GNU_STACK = 0x6474e551;
export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

/** Stand-in for any 64-bit value of 2^53 or more: beyond every address and file size. */
export const HUGE = 2 ** 53;
/** sizeof(Elf64_Phdr). */
export const PHDR_SIZE = 56;
/** The most program header bytes Linux reads (load_elf_phdrs; 6.x dropped the one-page cap). */
const PHDRS_MAX = 65536;

function u64(b: Buffer, o: number): number {
  const v = b.readBigUInt64LE(o);
  return v >= BigInt(HUGE) ? HUGE : Number(v);
}

export interface ProgramHeader {
  type: number;
  flags: number;
  /** p_offset (HUGE when 2^53 or more). */
  offset: number;
  /** p_offset mod 4096, exact whatever its size (mmap's alignment check). */
  offsetInPage: number;
  /** p_offset + p_filesz would pass 2^63 (mmap's EOVERFLOW). */
  offsetOverflows: boolean;
  vaddr: number;
  filesz: number;
  memsz: number;
}

export interface ElfImage {
  type: number;
  entry: number;
  phoff: number;
  phentsize: number;
  phnum: number;
  phdrs: ProgramHeader[];
}

/**
 * Why a header was refused, in load_elf_binary's order: not an ELF at all, not one for
 * this machine (e_machine), a type it cannot run, or program headers it cannot read.
 * Each is ENOEXEC for the executable (ELIBBAD for an interpreter).
 */
export type ElfError = 'not-elf' | 'wrong-arch' | 'bad-type' | 'bad-phdrs';

/**
 * The ELF header's checks, from the file's first bytes (at least 64). An interpreter's
 * e_type is not checked here: Linux checks it only once the old image is gone.
 */
export function parseElfHeader(head: Buffer, checkType = true): Omit<ElfImage, 'phdrs'> | ElfError {
  if (head.length < 4 || head.readUInt32BE(0) !== 0x7f454c46) return 'not-elf';
  // A file shorter than its header reads as zeros past its end (bprm->buf is zeroed).
  if (head.length < 64) head = Buffer.concat([head, Buffer.alloc(64 - head.length)]);
  const type = head.readUInt16LE(16);
  const machine = head.readUInt16LE(18);
  // Linux's 64-bit handler checks e_type and e_machine only, not EI_CLASS or EI_DATA.
  if (checkType && type !== ET_EXEC && type !== ET_DYN) return 'bad-type';
  if (machine !== EM_X86_64) return 'wrong-arch';
  const phentsize = head.readUInt16LE(54);
  const phnum = head.readUInt16LE(56);
  if (phentsize !== PHDR_SIZE) return 'bad-phdrs';
  const size = phnum * PHDR_SIZE;
  if (size === 0 || size > PHDRS_MAX) return 'bad-phdrs';
  return { type, entry: u64(head, 24), phoff: u64(head, 32), phentsize, phnum };
}

/** Decodes the program header table (phnum * 56 bytes). */
export function parsePhdrs(table: Buffer, phnum: number): ProgramHeader[] {
  const phdrs: ProgramHeader[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = i * PHDR_SIZE;
    const off = table.readBigUInt64LE(o + 8);
    const filesz = table.readBigUInt64LE(o + 32);
    phdrs.push({
      type: table.readUInt32LE(o),
      flags: table.readUInt32LE(o + 4),
      offset: u64(table, o + 8),
      offsetInPage: Number(off & 0xfffn),
      offsetOverflows: off + filesz + 0xfffn >= 1n << 63n,
      vaddr: u64(table, o + 16),
      filesz: u64(table, o + 32),
      memsz: u64(table, o + 40),
    });
  }
  return phdrs;
}

/**
 * Parses the ELF header and program headers. `readAt` reads exactly len bytes at pos,
 * or gives null (a short read: the headers lie past the end of the file).
 */
export function parseElf(head: Buffer, readAt: (pos: number, len: number) => Buffer | null, checkType = true): ElfImage | ElfError {
  const h = parseElfHeader(head, checkType);
  if (typeof h === 'string') return h;
  const table = readAt(h.phoff, h.phnum * PHDR_SIZE);
  if (!table) return 'bad-phdrs';
  return { ...h, phdrs: parsePhdrs(table, h.phnum) };
}
