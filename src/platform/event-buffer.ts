/**
 * Views over the buffer the native platform fills on every stop
 * (layout: native/common.h). Creating the views once keeps the hot path free of
 * allocation: a syscall's number and arguments are plain doubles, ready to pass on.
 */
export const BUF_SIZE = 8192;

export const enum Reg {
  R15 = 0, R14, R13, R12, RBP, RBX, R11, R10, R9, R8, RAX, RCX, RDX, RSI, RDI,
  ORIG_RAX, RIP, CS, EFLAGS, RSP, SS, FS_BASE, GS_BASE, DS, ES, FS, GS,
}

export const enum EventKind {
  Timeout = 0,
  Syscall = 1,
  Signal = 2,
  Exit = 3,
  GroupStop = 4,
  PtraceEvent = 5,
  HostSignal = 6,
  Poll = 7,
}

export const enum InfoField {
  Tid = 0, Kind, Signo, Msg, Status, FpSize,
}

/**
 * Arguments at or past this magnitude may be saturated (see argToNumber): a handler
 * that needs the exact 64-bit value there (an offset beside a count) reads
 * Task.rawArg.
 */
export const ARG_INEXACT = 2 ** 52;

/**
 * A syscall argument register (u64) as the number handlers get (native/common.h
 * ArgToDouble does the same): the signed value when |v| < 2^53, where a double is exact;
 * beyond, the low 52 bits kept exactly in a magnitude of [2^52, 2^53), sign kept. So
 * `x | 0` and `x >>> 0` give Linux's int truncation, and any size/offset/count check
 * rejects it as it would the real value (a double would round 0x7fff_ffff_ffff_ffff to
 * 2^63, whose low 32 bits are 0: poll with that nfds waited instead of EINVAL).
 */
export function argToNumber(v: bigint): number {
  const s = BigInt.asIntN(64, v);
  if (s >= 0x20000000000000n) return Number(0x10000000000000n | (s & 0xfffffffffffffn));
  if (s < -0x20000000000000n) return Number(-0x20000000000000n + (s & 0xfffffffffffffn));
  return Number(s);
}

export class EventBuffer {
  readonly buffer = new ArrayBuffer(BUF_SIZE);
  /** struct user_regs_struct, indexed by Reg. */
  readonly regs = new BigUint64Array(this.buffer, 0, 27);
  /** Syscall arguments as argToNumber gives them, then the syscall number at [6]. */
  readonly args = new Float64Array(this.buffer, 256, 7);
  /** The six arguments alone (copied into the task per syscall without a new view). */
  readonly args6 = new Float64Array(this.buffer, 256, 6);
  readonly info = new Int32Array(this.buffer, 512, 8);
  readonly siginfo = new Uint8Array(this.buffer, 640, 128);
  readonly fp = new Uint8Array(this.buffer, 4096, 4096);

  get tid(): number {
    return this.info[InfoField.Tid];
  }

  get sysno(): number {
    return this.args[6];
  }

  reg(r: Reg): bigint {
    return this.regs[r];
  }

  /** A register as a JS number (exact below 2^53: addresses, small values). */
  regNum(r: Reg): number {
    return Number(this.regs[r]);
  }

  setReg(r: Reg, v: number | bigint): void {
    this.regs[r] = typeof v === 'bigint' ? BigInt.asUintN(64, v) : BigInt.asUintN(64, BigInt(Math.trunc(v)));
  }
}
