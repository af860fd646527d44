/**
 * Classic BPF as seccomp uses it: decoding a `struct sock_filter` array, checking it
 * the way Linux does before accepting it (bpf_check_classic + seccomp_check_filter), and
 * running it over a `struct seccomp_data`. Pure functions with no kernel state, so the
 * OCI mode can check and run linux.seccomp programs with the same code.
 *
 *   const prog = decodeBpf(bytes);            // 8 bytes per instruction
 *   const err = checkSeccompBpf(prog);        // 0, or the errno Linux gives (EINVAL)
 *   const action = runBpf(prog, data);        // data: 16 u32 words of seccomp_data
 */
import { EINVAL } from '../../abi/errno';

/** One program: the fields of `struct sock_filter`, instruction by instruction. */
export interface BpfProgram {
  readonly len: number;
  readonly code: Uint16Array;
  readonly jt: Uint8Array;
  readonly jf: Uint8Array;
  readonly k: Uint32Array;
}

/** BPF_MAXINSNS: the longest program Linux accepts. */
export const BPF_MAXINSNS = 4096;
/** sizeof(struct seccomp_data): nr, arch, instruction_pointer, args[6]. */
export const SECCOMP_DATA_SIZE = 64;
const MEMWORDS = 16;

// Instruction classes and fields (linux/filter.h).
const LD = 0x00, LDX = 0x01, ST = 0x02, STX = 0x03, ALU = 0x04, JMP = 0x05, RET = 0x06, MISC = 0x07;
const W = 0x00, IMM = 0x00, ABS = 0x20, MEM = 0x60, LEN = 0x80;
const ADD = 0x00, SUB = 0x10, MUL = 0x20, DIV = 0x30, OR = 0x40, AND = 0x50, LSH = 0x60, RSH = 0x70,
  NEG = 0x80, MOD = 0x90, XOR = 0xa0;
const JA = 0x00, JEQ = 0x10, JGT = 0x20, JGE = 0x30, JSET = 0x40;
const K = 0x00, X = 0x08, A = 0x10;
const TAX = 0x00, TXA = 0x80;

/** Decodes `struct sock_filter[n]` (u16 code, u8 jt, u8 jf, u32 k; little-endian). */
export function decodeBpf(bytes: Uint8Array): BpfProgram {
  const len = Math.floor(bytes.length / 8);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, len * 8);
  const p = { len, code: new Uint16Array(len), jt: new Uint8Array(len), jf: new Uint8Array(len), k: new Uint32Array(len) };
  for (let i = 0; i < len; i++) {
    p.code[i] = dv.getUint16(i * 8, true);
    p.jt[i] = dv.getUint8(i * 8 + 2);
    p.jf[i] = dv.getUint8(i * 8 + 3);
    p.k[i] = dv.getUint32(i * 8 + 4, true);
  }
  return p;
}

/** Builds a program from {code, jt, jf, k} records (OCI profiles, tests). */
export function bpfFrom(insns: ReadonlyArray<{ code: number; jt?: number; jf?: number; k: number }>): BpfProgram {
  const b = new Uint8Array(insns.length * 8);
  const dv = new DataView(b.buffer);
  insns.forEach((ins, i) => {
    dv.setUint16(i * 8, ins.code, true);
    dv.setUint8(i * 8 + 2, ins.jt ?? 0);
    dv.setUint8(i * 8 + 3, ins.jf ?? 0);
    dv.setUint32(i * 8 + 4, ins.k >>> 0, true);
  });
  return decodeBpf(b);
}

/** The opcodes seccomp accepts (seccomp_check_filter's list after bpf_check_classic). */
function seccompAllows(code: number, k: number): boolean {
  switch (code) {
    case LD | W | ABS:
      return (k & 3) === 0 && k < SECCOMP_DATA_SIZE;
    case LD | W | LEN: case LDX | W | LEN:
    case RET | K: case RET | A:
    case ALU | ADD | K: case ALU | ADD | X: case ALU | SUB | K: case ALU | SUB | X:
    case ALU | MUL | K: case ALU | MUL | X: case ALU | DIV | K: case ALU | DIV | X:
    case ALU | AND | K: case ALU | AND | X: case ALU | OR | K: case ALU | OR | X:
    case ALU | XOR | K: case ALU | XOR | X: case ALU | LSH | K: case ALU | LSH | X:
    case ALU | RSH | K: case ALU | RSH | X: case ALU | NEG:
    case LD | IMM: case LDX | IMM: case MISC | TAX: case MISC | TXA:
    case LD | MEM: case LDX | MEM: case ST: case STX:
    case JMP | JA: case JMP | JEQ | K: case JMP | JEQ | X: case JMP | JGE | K: case JMP | JGE | X:
    case JMP | JGT | K: case JMP | JGT | X: case JMP | JSET | K: case JMP | JSET | X:
      return true;
    default:
      return false;
  }
}

function isCondJump(code: number): boolean {
  return (code & 0x07) === JMP && (code & 0xf0) !== JA;
}

/**
 * Linux's checks on a seccomp program: length 1..4096, only the opcodes seccomp allows,
 * loads of seccomp_data aligned and in bounds, no division or modulo by a constant zero,
 * shifts below 32, scratch cells 0..15 and never read before written on every path,
 * jumps inside the program, and a RET last. Returns 0 or EINVAL.
 */
export function checkSeccompBpf(p: BpfProgram): number {
  const n = p.len;
  if (n === 0 || n > BPF_MAXINSNS) return EINVAL;
  for (let pc = 0; pc < n; pc++) {
    const code = p.code[pc], k = p.k[pc];
    if (!seccompAllows(code, k)) return EINVAL;
    switch (code) {
      case ALU | DIV | K: case ALU | MOD | K:
        if (k === 0) return EINVAL;
        break;
      case ALU | LSH | K: case ALU | RSH | K:
        if (k >= 32) return EINVAL;
        break;
      case LD | MEM: case LDX | MEM: case ST: case STX:
        if (k >= MEMWORDS) return EINVAL;
        break;
      case JMP | JA:
        if (k >= n - pc - 1) return EINVAL;
        break;
      default:
        if (isCondJump(code) && (pc + p.jt[pc] + 1 >= n || pc + p.jf[pc] + 1 >= n)) return EINVAL;
    }
  }
  const last = p.code[n - 1];
  if (last !== (RET | K) && last !== (RET | A)) return EINVAL;
  return checkLoadsAfterStores(p);
}

/** check_load_and_stores: a scratch cell read must have been written on every path to it. */
function checkLoadsAfterStores(p: BpfProgram): number {
  const masks = new Uint16Array(p.len).fill(0xffff);
  let valid = 0;
  for (let pc = 0; pc < p.len; pc++) {
    valid &= masks[pc];
    const code = p.code[pc];
    if (code === ST || code === STX) valid |= 1 << p.k[pc];
    else if (code === (LD | MEM) || code === (LDX | MEM)) {
      if (!(valid & (1 << p.k[pc]))) return EINVAL;
    } else if (code === (JMP | JA)) {
      masks[pc + 1 + p.k[pc]] &= valid;
      valid = 0xffff;
    } else if (isCondJump(code)) {
      masks[pc + 1 + p.jt[pc]] &= valid;
      masks[pc + 1 + p.jf[pc]] &= valid;
      valid = 0xffff;
    }
  }
  return 0;
}

/**
 * Runs a checked program over `data` (seccomp_data as 16 little-endian u32 words) and
 * returns its 32-bit result. Arithmetic is u32; division by a zero X returns 0, as the
 * classic interpreter does (for seccomp: SECCOMP_RET_KILL_THREAD).
 */
export function runBpf(p: BpfProgram, data: Uint32Array): number {
  const { code, jt, jf, k } = p;
  const mem = new Uint32Array(MEMWORDS);
  let a = 0, x = 0;
  for (let pc = 0; pc < p.len; pc++) {
    const c = code[pc], kk = k[pc];
    switch (c) {
      case LD | W | ABS: a = data[kk >>> 2]; break;
      case LD | W | LEN: a = SECCOMP_DATA_SIZE; break;
      case LDX | W | LEN: x = SECCOMP_DATA_SIZE; break;
      case LD | IMM: a = kk; break;
      case LDX | IMM: x = kk; break;
      case LD | MEM: a = mem[kk]; break;
      case LDX | MEM: x = mem[kk]; break;
      case ST: mem[kk] = a; break;
      case STX: mem[kk] = x; break;
      case MISC | TAX: x = a; break;
      case MISC | TXA: a = x; break;
      case ALU | ADD | K: a = (a + kk) >>> 0; break;
      case ALU | ADD | X: a = (a + x) >>> 0; break;
      case ALU | SUB | K: a = (a - kk) >>> 0; break;
      case ALU | SUB | X: a = (a - x) >>> 0; break;
      case ALU | MUL | K: a = Math.imul(a, kk) >>> 0; break;
      case ALU | MUL | X: a = Math.imul(a, x) >>> 0; break;
      case ALU | DIV | K: a = Math.floor(a / kk) >>> 0; break;
      case ALU | DIV | X: if (x === 0) return 0; a = Math.floor(a / x) >>> 0; break;
      case ALU | MOD | K: a = (a % kk) >>> 0; break;
      case ALU | MOD | X: if (x === 0) return 0; a = (a % x) >>> 0; break;
      case ALU | AND | K: a = (a & kk) >>> 0; break;
      case ALU | AND | X: a = (a & x) >>> 0; break;
      case ALU | OR | K: a = (a | kk) >>> 0; break;
      case ALU | OR | X: a = (a | x) >>> 0; break;
      case ALU | XOR | K: a = (a ^ kk) >>> 0; break;
      case ALU | XOR | X: a = (a ^ x) >>> 0; break;
      case ALU | LSH | K: a = (a << kk) >>> 0; break;
      case ALU | LSH | X: a = x >= 32 ? 0 : (a << x) >>> 0; break;
      case ALU | RSH | K: a = a >>> kk; break;
      case ALU | RSH | X: a = x >= 32 ? 0 : a >>> x; break;
      case ALU | NEG: a = -a >>> 0; break;
      case JMP | JA: pc += kk; break;
      case JMP | JEQ | K: pc += a === kk ? jt[pc] : jf[pc]; break;
      case JMP | JEQ | X: pc += a === x ? jt[pc] : jf[pc]; break;
      case JMP | JGT | K: pc += a > kk ? jt[pc] : jf[pc]; break;
      case JMP | JGT | X: pc += a > x ? jt[pc] : jf[pc]; break;
      case JMP | JGE | K: pc += a >= kk ? jt[pc] : jf[pc]; break;
      case JMP | JGE | X: pc += a >= x ? jt[pc] : jf[pc]; break;
      case JMP | JSET | K: pc += (a & kk) !== 0 ? jt[pc] : jf[pc]; break;
      case JMP | JSET | X: pc += (a & x) !== 0 ? jt[pc] : jf[pc]; break;
      case RET | K: return kk;
      case RET | A: return a;
      default: return 0; // unreachable for a checked program
    }
  }
  return 0;
}
