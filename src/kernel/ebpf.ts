/**
 * A small eBPF interpreter for cgroup device programs (BPF_PROG_TYPE_CGROUP_DEVICE, what
 * runc and systemd load): ALU/ALU64, JMP/JMP32, LD_IMM64, loads from the context and
 * loads/stores on the 512-byte stack. No helper calls and no maps (a program using them is
 * refused at load with EINVAL). It runs guest-written code in the Sentry, so nothing it does
 * reaches host memory: the context and the stack are its own buffers, a register is either
 * a number or a pointer into one of them (never an address), every access is checked, and
 * a run is capped. A run that breaks a rule Linux's verifier would have enforced at load
 * (a bad context access, a pointer used as a number) ends as a denial.
 */
import * as E from '../abi/errno';

const INSN = 8;
const STACK = 512;
/** Linux's BPF_COMPLEXITY_LIMIT_INSNS: longer programs are E2BIG. */
export const EBPF_MAX_INSNS = 1_000_000;
/** Executed instructions before a run is cut off (and denies). */
const MAX_STEPS = 1_000_000;

const LD = 0, LDX = 1, ST = 2, STX = 3, ALU = 4, JMP = 5, JMP32 = 6, ALU64 = 7;
const MEM = 0x60;
const SRC_X = 0x08;
const OP_CALL = 0x80, OP_EXIT = 0x90, OP_END = 0xd0, OP_NEG = 0x80, OP_DIV = 0x30, OP_MOD = 0x90;
const SIZES: Record<number, number> = { 0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8 };

/** What a program may read of its context: [offset, sizes allowed] (bpf_cgroup_dev_ctx). */
const CTX_LEN = 12;
function ctxAccessOk(off: number, size: number): boolean {
  // access_type may be read narrowly (runc reads it whole and splits it); major and minor whole.
  if (off === 0) return size === 4 || size === 2 || size === 1;
  if (off === 2) return size === 2 || size === 1;
  if (off === 1 || off === 3) return size === 1;
  return (off === 4 || off === 8) && size === 4;
}

/**
 * Load-time checks (0 or -errno), as Linux's verifier makes them for structure: known
 * opcodes, registers R0-R10 with R10 read-only, jumps landing on an instruction, an
 * LD_IMM64 whole, and a last instruction that is an exit or a jump.
 */
export function verifyEbpf(code: Buffer): number {
  const n = code.length / INSN;
  if (n === 0 || !Number.isInteger(n)) return -E.EINVAL;
  const second = new Uint8Array(n); // second halves of LD_IMM64
  for (let i = 0; i < n; i++) {
    const p = i * INSN;
    const op = code[p], dst = code[p + 1] & 15, src = code[p + 1] >> 4;
    const off = code.readInt16LE(p + 2), imm = code.readInt32LE(p + 4);
    const cls = op & 7, code4 = op & 0xf0;
    if (dst > 10 || src > 10) return -E.EINVAL;
    if (second[i]) continue;
    switch (cls) {
      case LD:
        // Only the 64-bit immediate (src 0: no map or BTF pseudo-loads: there are no maps).
        if (op !== 0x18 || src !== 0 || off !== 0 || i + 1 >= n || dst === 10) return -E.EINVAL;
        if (code[p + 8] !== 0 || code[p + 9] !== 0 || code.readInt16LE(p + 10) !== 0) return -E.EINVAL;
        second[i + 1] = 1;
        break;
      case LDX:
      case ST:
      case STX:
        if ((op & 0xe0) !== MEM || (cls === LDX && dst === 10)) return -E.EINVAL;
        if (cls === ST && src !== 0) return -E.EINVAL;
        if (cls === LDX && imm !== 0) return -E.EINVAL;
        break;
      case ALU:
      case ALU64:
        // off != 0 is cpu v4's signed div/mod and movsx: not interpreted here.
        if (dst === 10 || code4 > OP_END || off !== 0) return -E.EINVAL;
        if (code4 === OP_END) {
          if (cls !== ALU || (imm !== 16 && imm !== 32 && imm !== 64)) return -E.EINVAL;
        } else if (code4 === OP_NEG && (op & SRC_X)) return -E.EINVAL;
        if (!(op & SRC_X) && (code4 === OP_DIV || code4 === OP_MOD) && imm === 0) return -E.EINVAL;
        break;
      case JMP:
      case JMP32:
        if (code4 === OP_CALL) return -E.EINVAL; // no helpers here
        if (code4 === OP_EXIT) {
          if (cls !== JMP) return -E.EINVAL;
          break;
        }
        if (code4 > OP_END || (code4 === 0 && cls === JMP32)) return -E.EINVAL;
        {
          const to = i + 1 + off;
          if (to < 0 || to >= n) return -E.EINVAL;
        }
        break;
      default:
        return -E.EINVAL;
    }
  }
  for (let i = 0; i < n; i++) {
    const p = i * INSN, cls = code[p] & 7, code4 = code[p] & 0xf0;
    if ((cls === JMP || cls === JMP32) && code4 !== OP_EXIT) {
      if (second[i + 1 + code.readInt16LE(p + 2)]) return -E.EINVAL;
    }
  }
  // Linux: "last insn is not an exit or jmp".
  const last = code[(n - 1) * INSN];
  if (second[n - 1] || (last !== 0x95 && last !== 0x05)) return -E.EINVAL;
  return 0;
}

/** A register: a 64-bit number, or a pointer (offset) into the context or the stack. */
type Reg = bigint | { region: 'ctx' | 'stack'; off: number } | undefined;

const U64 = (v: bigint) => BigInt.asUintN(64, v);
const U32 = (v: bigint) => BigInt.asUintN(32, v);
const S64 = (v: bigint) => BigInt.asIntN(64, v);
const S32 = (v: bigint) => BigInt.asIntN(32, v);

function swap(v: bigint, bits: number): bigint {
  let out = 0n;
  for (let i = 0; i < bits / 8; i++) out = (out << 8n) | ((v >> BigInt(i * 8)) & 0xffn);
  return out;
}

function alu(code4: number, a: bigint, b: bigint, w: number): bigint | null {
  const mask = w === 64 ? 63n : 31n;
  const wrap = w === 64 ? U64 : U32;
  const signed = w === 64 ? S64 : S32;
  switch (code4) {
    case 0x00: return wrap(a + b);
    case 0x10: return wrap(a - b);
    case 0x20: return wrap(a * b);
    case 0x30: return b === 0n ? 0n : wrap(a / b); // eBPF: x / 0 is 0
    case 0x40: return wrap(a | b);
    case 0x50: return wrap(a & b);
    case 0x60: return wrap(a << (b & mask));
    case 0x70: return wrap(a >> (b & mask));
    case 0x80: return wrap(-a);
    case 0x90: return b === 0n ? a : wrap(a % b); // x % 0 is x
    case 0xa0: return wrap(a ^ b);
    case 0xb0: return wrap(b);
    case 0xc0: return wrap(signed(a) >> (b & mask));
    default: return null;
  }
}

function cond(code4: number, a: bigint, b: bigint, w: number): boolean {
  const sa = w === 64 ? S64(a) : S32(a), sb = w === 64 ? S64(b) : S32(b);
  switch (code4) {
    case 0x00: return true;
    case 0x10: return a === b;
    case 0x20: return a > b;
    case 0x30: return a >= b;
    case 0x40: return (a & b) !== 0n;
    case 0x50: return a !== b;
    case 0x60: return sa > sb;
    case 0x70: return sa >= sb;
    case 0xa0: return a < b;
    case 0xb0: return a <= b;
    case 0xc0: return sa < sb;
    case 0xd0: return sa <= sb;
    default: return false;
  }
}

/** Runs a verified program on ctx: R0 at exit, or null when the run broke a rule (deny). */
export function runEbpf(code: Buffer, ctx: Buffer): bigint | null {
  const regs: Reg[] = new Array(11).fill(undefined);
  regs[1] = { region: 'ctx', off: 0 };
  regs[10] = { region: 'stack', off: STACK };
  const stack = Buffer.alloc(STACK);
  const n = code.length / INSN;
  let pc = 0;
  for (let steps = 0; steps < MAX_STEPS; steps++) {
    if (pc < 0 || pc >= n) return null;
    const p = pc * INSN;
    const op = code[p], dst = code[p + 1] & 15, src = code[p + 1] >> 4;
    const off = code.readInt16LE(p + 2), imm = code.readInt32LE(p + 4);
    const cls = op & 7, code4 = op & 0xf0;
    pc++;
    switch (cls) {
      case LD:
        regs[dst] = U64((BigInt(code.readUInt32LE(p + 12)) << 32n) | BigInt(code.readUInt32LE(p + 4)));
        pc++;
        break;
      case LDX: {
        const base = regs[src], size = SIZES[op & 0x18];
        if (typeof base !== 'object') return null;
        const at = base.off + off;
        if (base.region === 'ctx') {
          if (!ctxAccessOk(at, size) || at + size > CTX_LEN) return null;
          regs[dst] = BigInt(size === 4 ? ctx.readUInt32LE(at) : size === 2 ? ctx.readUInt16LE(at) : ctx[at]);
        } else {
          if (at < 0 || at + size > STACK) return null;
          regs[dst] = size === 8 ? stack.readBigUInt64LE(at) : BigInt(size === 4 ? stack.readUInt32LE(at) : size === 2 ? stack.readUInt16LE(at) : stack[at]);
        }
        break;
      }
      case ST:
      case STX: {
        const base = regs[dst], size = SIZES[op & 0x18];
        const v = cls === ST ? U64(BigInt(imm)) : regs[src];
        // Only numbers onto the stack (no pointer spills: nothing the device filters need).
        if (typeof base !== 'object' || base.region !== 'stack' || typeof v !== 'bigint') return null;
        const at = base.off + off;
        if (at < 0 || at + size > STACK) return null;
        if (size === 8) stack.writeBigUInt64LE(v, at);
        else if (size === 4) stack.writeUInt32LE(Number(U32(v)), at);
        else if (size === 2) stack.writeUInt16LE(Number(v & 0xffffn), at);
        else stack[at] = Number(v & 0xffn);
        break;
      }
      case ALU:
      case ALU64: {
        const w = cls === ALU64 ? 64 : 32;
        const a = regs[dst];
        const b: Reg = op & SRC_X ? regs[src] : cls === ALU64 ? U64(BigInt(imm)) : U32(BigInt(imm));
        if (code4 === OP_END) {
          if (typeof a !== 'bigint') return null;
          // To little-endian is a truncation on x86; to big-endian a byte swap.
          const low = BigInt.asUintN(imm, a);
          regs[dst] = op & SRC_X ? swap(low, imm) : low;
          break;
        }
        if (code4 === 0xb0) {
          // A pointer moves whole with a 64-bit mov; a 32-bit one of a pointer is a number Linux refuses.
          if (typeof b === 'object' && w === 64) regs[dst] = { ...b };
          else if (typeof b === 'bigint') regs[dst] = w === 64 ? b : U32(b);
          else return null;
          break;
        }
        if (typeof a === 'object' && w === 64 && (code4 === 0x00 || code4 === 0x10) && typeof b === 'bigint') {
          const d = Number(S64(b));
          if (!Number.isSafeInteger(d) || Math.abs(d) > 1 << 20) return null;
          regs[dst] = { region: a.region, off: a.off + (code4 === 0 ? d : -d) };
          break;
        }
        if (typeof a !== 'bigint' || (code4 !== OP_NEG && typeof b !== 'bigint')) return null;
        const r = alu(code4, w === 32 ? U32(a) : a, w === 32 ? U32(b as bigint) : (b as bigint), w);
        if (r === null) return null;
        regs[dst] = r;
        break;
      }
      case JMP:
      case JMP32: {
        if (code4 === OP_EXIT) {
          const r0 = regs[0];
          return typeof r0 === 'bigint' ? r0 : null;
        }
        if (code4 === 0x00) {
          pc += off;
          break;
        }
        const w = cls === JMP ? 64 : 32;
        const a = regs[dst];
        const b: Reg = op & SRC_X ? regs[src] : U64(BigInt(imm));
        if (typeof a !== 'bigint' || typeof b !== 'bigint') return null;
        if (cond(code4, w === 32 ? U32(a) : a, w === 32 ? U32(b) : b, w)) pc += off;
        break;
      }
      default:
        return null;
    }
  }
  return null;
}
