/** ELF64 headers: just the fields an exec needs. */
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

export interface ProgramHeader {
  type: number;
  flags: number;
  offset: number;
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

export type ElfError = 'not-elf' | 'wrong-class' | 'wrong-arch' | 'bad-type' | 'truncated';

/** Parses the ELF header and program headers from the file's first bytes. */
export function parseElf(head: Buffer, readAt: (pos: number, len: number) => Buffer | null): ElfImage | ElfError {
  if (head.length < 64 || head.readUInt32BE(0) !== 0x7f454c46) return 'not-elf';
  if (head[4] !== 2 || head[5] !== 1) return 'wrong-class';
  const type = head.readUInt16LE(16);
  const machine = head.readUInt16LE(18);
  if (machine !== EM_X86_64) return 'wrong-arch';
  if (type !== ET_EXEC && type !== ET_DYN) return 'bad-type';
  const entry = Number(head.readBigUInt64LE(24));
  const phoff = Number(head.readBigUInt64LE(32));
  const phentsize = head.readUInt16LE(54);
  const phnum = head.readUInt16LE(56);
  if (phentsize !== 56 || phnum === 0 || phnum > 128) return 'truncated';
  const table = phoff + phnum * 56 <= head.length ? head.subarray(phoff, phoff + phnum * 56) : readAt(phoff, phnum * 56);
  if (!table || table.length < phnum * 56) return 'truncated';
  const phdrs: ProgramHeader[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = i * 56;
    phdrs.push({
      type: table.readUInt32LE(o),
      flags: table.readUInt32LE(o + 4),
      offset: Number(table.readBigUInt64LE(o + 8)),
      vaddr: Number(table.readBigUInt64LE(o + 16)),
      filesz: Number(table.readBigUInt64LE(o + 32)),
      memsz: Number(table.readBigUInt64LE(o + 40)),
    });
  }
  return { type, entry, phoff, phentsize, phnum, phdrs };
}
