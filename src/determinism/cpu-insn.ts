/**
 * Deterministic mode's answers to the instructions that read the machine behind the
 * Sentry's back. With PR_TSC_SIGSEGV set in the stub (always in the mode) RDTSC and
 * RDTSCP raise SIGSEGV, and with CPUID faulting (ARCH_SET_CPUID, --mask-cpuid) CPUID
 * does; the Sentry gives them here. CPUID faulting is opt-in: on a nested VM the
 * faulting MSR is rewritten at every switch to and from a stub, about 15 µs a syscall
 * (measured here: a pipe round trip 1.9 µs natively, 15-19 µs with it; 2-3 µs with TSC
 * trapping).
 * - CPUID: the host's answer with RDRAND (leaf 1 ECX bit 30) and RDSEED (leaf 7 EBX bit
 *   18) cleared, so libraries that check (OpenSSL, glibc's arc4random does not use them)
 *   take the getrandom path, which is seeded;
 * - RDTSC/RDTSCP: the virtual clock at a nominal 1 GHz (1 tick per virtual ns), CPU 0.
 * RDRAND/RDSEED themselves cannot be trapped: a program that runs them without asking
 * CPUID still gets host randomness.
 */
import type { Platform } from '../platform/platform';
import { Reg } from '../platform/event-buffer';
import { native } from '../platform/native';
import { virtualClock } from './virtual-clock';

const code = new Uint8Array(3);

/** Whether stubs can be made to fault on CPUID here. */
export function cpuidTrapSupported(): boolean {
  return native().cpuidFaultingSupported();
}

/** Stopped ctx took SIGSEGV: emulates a CPUID/RDTSC/RDTSCP at its rip (registers set, rip past it); false if it is none of them. */
export function emulateCpuInsn(p: Platform, asPid: number, ctx: number): boolean {
  const ev = p.ev;
  const rip = Number(ev.regs[Reg.RIP]);
  if (p.readMem(asPid, rip, code, 0, 3) < 2) return false;
  let len: number;
  if (code[0] === 0x0f && code[1] === 0xa2) {
    const leaf = Number(ev.regs[Reg.RAX] & 0xffffffffn);
    const sub = Number(ev.regs[Reg.RCX] & 0xffffffffn);
    const r = native().hostCpuid(leaf, sub);
    if (leaf === 1) r[2] &= ~(1 << 30);
    if (leaf === 7 && sub === 0) r[1] &= ~(1 << 18);
    ev.setReg(Reg.RAX, BigInt(r[0] >>> 0));
    ev.setReg(Reg.RBX, BigInt(r[1] >>> 0));
    ev.setReg(Reg.RCX, BigInt(r[2] >>> 0));
    ev.setReg(Reg.RDX, BigInt(r[3] >>> 0));
    len = 2;
  } else if (code[0] === 0x0f && (code[1] === 0x31 || (code[1] === 0x01 && code[2] === 0xf9))) {
    const tsc = BigInt(virtualClock.monoNs);
    ev.setReg(Reg.RAX, tsc & 0xffffffffn);
    ev.setReg(Reg.RDX, (tsc >> 32n) & 0xffffffffn);
    len = 2;
    if (code[1] === 0x01) {
      ev.setReg(Reg.RCX, 0n); // TSC_AUX: CPU 0
      len = 3;
    }
  } else {
    return false;
  }
  ev.setReg(Reg.RIP, BigInt(rip + len));
  return p.setRegs(ctx) === 0;
}
