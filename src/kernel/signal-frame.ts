/**
 * x86-64 signal frames on the guest stack, byte for byte as Linux builds them
 * (arch/x86/kernel/signal.c: struct rt_sigframe = pretcode, ucontext, siginfo; the
 * XSAVE area below it, 64-byte aligned), so glibc's sigreturn, ucontext readers and
 * siglongjmp all work unchanged.
 */
import type { Platform } from '../platform/platform';
import { Reg } from '../platform/event-buffer';
import type { Task } from './task';
import { type SigAction, type AltStack, altStackOf, SA_ONSTACK, SS_DISABLE, SS_AUTODISARM, SS_ONSTACK, UNBLOCKABLE } from './signals';
import { frameFpImage, isXsaveImage, restoreFpImage } from './signal-fpstate';

const FRAME_SIZE = 8 + 304 + 128; // pretcode + ucontext + siginfo
const UC_FP_XSTATE = 1n;
const UC_SIGCONTEXT_SS = 2n;
const UC_STRICT_RESTORE_SS = 4n;

/** sigcontext field order: r8..r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags. */
const MCONTEXT_REGS: Reg[] = [
  Reg.R8, Reg.R9, Reg.R10, Reg.R11, Reg.R12, Reg.R13, Reg.R14, Reg.R15, Reg.RDI, Reg.RSI, Reg.RBP,
  Reg.RBX, Reg.RDX, Reg.RAX, Reg.RCX, Reg.RSP, Reg.RIP, Reg.EFLAGS,
];

function alignDown(x: number, a: number): number {
  return Math.floor(x / a) * a;
}

/**
 * Pushes a frame for `sig` onto t's stack and points the registers at the handler.
 * The platform's register buffer must hold t's registers (with the syscall result
 * already in rax). Returns false if the stack is unwritable (caller forces SIGSEGV).
 */
export function pushSignalFrame(p: Platform, t: Task, sig: number, act: SigAction, info: Buffer, oldMask: bigint): boolean {
  const ev = p.ev;
  const fp = frameFpImage(p, t);
  const xsave = fp !== null && isXsaveImage(fp);
  let sp = ev.regNum(Reg.RSP);
  const alt: AltStack = t.sig.altStack;
  const onAlt = t.sig.onAltStack(sp);
  sp -= 128; // red zone
  const entering = (act.flags & SA_ONSTACK) !== 0n && (alt.flags & SS_DISABLE) === 0 && !onAlt;
  if (entering) sp = alt.sp + alt.size;
  const fpAddr = fp ? alignDown(sp - fp.length, 64) : sp;
  const frame = alignDown(fpAddr - FRAME_SIZE, 16) - 8;
  // A frame that would overflow the alternate stack is not written (get_sigframe: the
  // caller forces SIGSEGV): with AVX-512 it needs ~3 KiB (AT_MINSIGSTKSZ), not MINSIGSTKSZ.
  if ((entering || onAlt) && !(frame > alt.sp && frame - alt.sp <= alt.size)) return false;

  const f = Buffer.alloc(FRAME_SIZE);
  f.writeBigUInt64LE(act.restorer, 0);
  const uc = 8;
  f.writeBigUInt64LE(xsave ? UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS : UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS, uc);
  f.writeBigUInt64LE(0n, uc + 8);
  // sigaltstack keeps sp/size as numbers: a guest's 2^64-1 rounds to 2^64 (trinity).
  f.writeBigUInt64LE(BigInt.asUintN(64, BigInt(alt.sp)), uc + 16);
  f.writeInt32LE(alt.flags & SS_DISABLE ? SS_DISABLE : onAlt ? SS_ONSTACK : 0, uc + 24);
  f.writeBigUInt64LE(BigInt.asUintN(64, BigInt(alt.size)), uc + 32);
  const mc = uc + 40;
  MCONTEXT_REGS.forEach((r, i) => f.writeBigUInt64LE(ev.regs[r], mc + i * 8));
  f.writeUInt16LE(Number(ev.regs[Reg.CS]), mc + 144);
  f.writeUInt16LE(0, mc + 146); // gs
  f.writeUInt16LE(0, mc + 148); // fs
  f.writeUInt16LE(Number(ev.regs[Reg.SS]), mc + 150);
  // err, trapno, cr2 from a fault's siginfo where it applies
  f.writeBigUInt64LE(oldMask & 0xffffffffn, mc + 168); // oldmask
  f.writeBigUInt64LE(fp ? BigInt.asUintN(64, BigInt(fpAddr)) : 0n, mc + 184);
  f.writeBigUInt64LE(oldMask, uc + 296);
  info.copy(f, uc + 304, 0, 128);

  if (fp && !t.mem.write(fpAddr, fp)) return false;
  if (!t.mem.write(frame, f)) return false;

  if ((act.flags & SA_ONSTACK) !== 0n && alt.flags & SS_AUTODISARM) t.sig.altStack = { sp: 0, flags: SS_DISABLE, size: 0 };
  ev.setReg(Reg.RDI, sig);
  ev.setReg(Reg.RSI, frame + 8 + 304);
  ev.setReg(Reg.RDX, frame + 8);
  ev.setReg(Reg.RAX, 0);
  ev.setReg(Reg.RSP, frame);
  ev.regs[Reg.RIP] = act.handler;
  ev.regs[Reg.EFLAGS] &= ~(0x400n | 0x100n | 0x40000n); // DF, TF, AC
  ev.setReg(Reg.ORIG_RAX, -1);
  return p.setRegs(t.hostTid) === 0;
}

/**
 * rt_sigreturn: reloads registers, FP state, mask and alternate stack from the frame
 * the handler returned through. Returns false on a bad frame (caller sends SIGSEGV).
 */
export function popSignalFrame(p: Platform, t: Task): boolean {
  const ev = p.ev;
  if (p.getRegs(t.hostTid) !== 0) return false;
  const frame = ev.regNum(Reg.RSP) - 8;
  const f = t.mem.read(frame, FRAME_SIZE);
  if (!f) return false;
  const uc = 8;
  const mc = uc + 40;
  MCONTEXT_REGS.forEach((r, i) => (ev.regs[r] = f.readBigUInt64LE(mc + i * 8)));
  ev.regs[Reg.ORIG_RAX] = 0xffffffffffffffffn; // no syscall restart on the way out
  const mask = f.readBigUInt64LE(uc + 296) & ~UNBLOCKABLE;
  t.sig.mask = mask;
  // uc_stack: restore the alternate stack as the frame recorded it (sigaltstack semantics).
  const ssFlags = f.readInt32LE(uc + 24);
  const ssSize = f.readBigUInt64LE(uc + 32);
  if (!(ssFlags & SS_DISABLE) && ssSize > 0n) t.sig.altStack = altStackOf(f.readBigUInt64LE(uc + 16), ssFlags & ~SS_ONSTACK, ssSize);
  const fpAddr = Number(f.readBigUInt64LE(mc + 184));
  if (p.setRegs(t.hostTid) !== 0) return false;
  return restoreFpImage(p, t, fpAddr);
}
