/**
 * ptrace(2) for guests (stops and their continuations are src/kernel/ptrace*.ts), and
 * process_vm_readv/writev between guest processes. A tracee's registers and memory are
 * reached through the platform while it is held at a stop.
 */
import * as E from '../src/abi/errno';
import type { Task } from '../src/kernel/task';
import { TaskState } from '../src/kernel/task';
import { Reg } from '../src/platform/event-buffer';
import {
  attach, detach, forceWrite, mayAccess, PTRACE_O_MASK, resumeTracee, type ResumeMode,
} from '../src/kernel/ptrace';
import { encodeSigInfo, SIGKILL, SIGSTOP, SIGTRAP, SI_USER } from '../src/kernel/signals';
import { sendToGroup, sendToTask } from '../src/kernel/signal-delivery';
import { AUDIT_ARCH_X86_64 } from '../src/kernel/seccomp/filter';
import { ptraceInterrupt, ptraceListen } from '../src/kernel/ptrace-seize';
import { readIovec, type Seg } from './iovec';

const TRACEME = 0, PEEKTEXT = 1, PEEKDATA = 2, PEEKUSR = 3, POKETEXT = 4, POKEDATA = 5, POKEUSR = 6, CONT = 7,
  KILL = 8, SINGLESTEP = 9, GETREGS = 12, SETREGS = 13, GETFPREGS = 14, SETFPREGS = 15, ATTACH = 16, DETACH = 17,
  SYSCALL = 24, SYSEMU = 31, SYSEMU_SINGLESTEP = 32, SETOPTIONS = 0x4200, GETEVENTMSG = 0x4201, GETSIGINFO = 0x4202,
  SETSIGINFO = 0x4203, GETREGSET = 0x4204, SETREGSET = 0x4205, SEIZE = 0x4206, INTERRUPT = 0x4207, LISTEN = 0x4208,
  PEEKSIGINFO = 0x4209, GET_SYSCALL_INFO = 0x420e;
const PEEKSIGINFO_SHARED = 1;
const NT_PRSTATUS = 1, NT_PRFPREG = 2, NT_X86_XSTATE = 0x202;
const REGS_SIZE = 27 * 8;
const USER_SIZE = 912; // sizeof(struct user)
const DEBUGREG_OFF = 848;
/** Segment registers a tracer may not change (the host refuses most values anyway). */
const FIXED_REGS = [Reg.CS, Reg.SS, Reg.DS, Reg.ES, Reg.FS, Reg.GS];


/** The tracee pid names, traced by t's process and (unless `running` is fine) stopped. */
function tracee(t: Task, pid: number, running = false): Task | number {
  const target = t.kernel.tasks.get(pid);
  if (!target || !target.ptrace || target.ptrace.tracer !== t.tg) return -E.ESRCH;
  if (!running && (target.state !== TaskState.Traced || !target.ptrace.stop)) return -E.ESRCH;
  return target;
}

export function ptrace(t: Task, request: number, pid: number, addr: number, data: number): number {
  request |= 0;
  pid |= 0;
  const s = t.kernel.sentry;
  if (request === TRACEME) {
    const parent = t.tg.parent;
    if (t.ptrace || !parent || parent.zombie) return -E.EPERM;
    attach(t, parent);
    return 0;
  }
  if (request === ATTACH) {
    const target = t.kernel.tasks.get(pid);
    if (!target) return -E.ESRCH;
    if (target.tg === t.tg || target.ptrace || !mayAccess(t, target)) return -E.EPERM;
    attach(target, t.tg);
    sendToTask(s, target, { signo: SIGSTOP, code: SI_USER, pid: t.tg.pid, uid: t.creds.uid });
    return 0;
  }
  if (request === SEIZE) {
    const target = t.kernel.tasks.get(pid);
    if (!target) return -E.ESRCH;
    if (addr !== 0 || data & ~PTRACE_O_MASK) return -E.EIO;
    if (target.tg === t.tg || target.ptrace || !mayAccess(t, target)) return -E.EPERM;
    attach(target, t.tg, data, true);
    return 0;
  }
  if (request === INTERRUPT) {
    const target = tracee(t, pid, true);
    if (typeof target === 'number') return target;
    if (!target.ptrace!.seized) return -E.EIO;
    ptraceInterrupt(s, target);
    return 0;
  }
  if (request === KILL) {
    const target = tracee(t, pid, true);
    if (typeof target === 'number') return target;
    sendToGroup(s, target.tg, { signo: SIGKILL, code: SI_USER, pid: t.tg.pid, uid: t.creds.uid, force: true });
    return 0;
  }
  const target = tracee(t, pid);
  if (typeof target === 'number') return target;
  const st = target.ptrace!;
  const p = s.platform;
  switch (request) {
    case PEEKTEXT:
    case PEEKDATA: {
      const v = target.mem.read(addr, 8);
      if (!v) return -E.EIO;
      return t.mem.write(data, v) ? 0 : -E.EFAULT;
    }
    case POKETEXT:
    case POKEDATA: {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(BigInt.asUintN(64, t.rawArg(3)));
      return forceWrite(s.platform, target, addr, b) ? 0 : -E.EIO;
    }
    case PEEKUSR: {
      if (addr < 0 || addr % 8 || addr >= USER_SIZE) return -E.EIO;
      let v = 0n;
      if (addr < REGS_SIZE) {
        if (p.getRegs(target.hostTid) !== 0) return -E.ESRCH;
        v = p.ev.regs[addr / 8];
      }
      return t.mem.writeU64(data, v) ? 0 : -E.EFAULT;
    }
    case POKEUSR: {
      if (addr < 0 || addr % 8 || addr >= USER_SIZE) return -E.EIO;
      if (addr >= REGS_SIZE) return addr >= DEBUGREG_OFF && t.rawArg(3) === 0n ? 0 : -E.EIO;
      if (FIXED_REGS.includes(addr / 8)) return -E.EIO;
      if (p.getRegs(target.hostTid) !== 0) return -E.ESRCH;
      p.ev.regs[addr / 8] = BigInt.asUintN(64, t.rawArg(3));
      return p.setRegs(target.hostTid) === 0 ? 0 : -E.EIO;
    }
    case GETREGS:
      if (p.getRegs(target.hostTid) !== 0) return -E.ESRCH;
      return t.mem.write(data, regsBytes(p.ev.regs)) ? 0 : -E.EFAULT;
    case SETREGS: {
      const b = t.mem.read(data, REGS_SIZE);
      if (!b) return -E.EFAULT;
      return setRegs(t, target, b);
    }
    case GETFPREGS: {
      const fp = fpBytes(t, target, 512);
      if (typeof fp === 'number') return fp;
      return t.mem.write(data, fp) ? 0 : -E.EFAULT;
    }
    case SETFPREGS: {
      const b = t.mem.read(data, 512);
      if (!b) return -E.EFAULT;
      return setFp(t, target, b);
    }
    case GETREGSET:
    case SETREGSET:
      return regset(t, target, request === SETREGSET, addr, data);
    case CONT:
    case SYSCALL:
    case SINGLESTEP:
    case SYSEMU:
    case SYSEMU_SINGLESTEP:
    case DETACH: {
      if (data < 0 || data > 64) return -E.EIO;
      if (request === DETACH) {
        detach(s, target, data);
        return 0;
      }
      const mode: ResumeMode = ({ [CONT]: 'cont', [SYSCALL]: 'syscall', [SINGLESTEP]: 'step', [SYSEMU]: 'sysemu', [SYSEMU_SINGLESTEP]: 'sysemu-step' } as const)[request]!;
      resumeTracee(s, target, mode, data);
      return 0;
    }
    case SETOPTIONS:
      if (data & ~PTRACE_O_MASK) return -E.EINVAL;
      st.options = data;
      return 0;
    case GETEVENTMSG:
      return t.mem.writeU64(data, st.eventMsg) ? 0 : -E.EFAULT;
    case LISTEN:
      return ptraceListen(target);
    case GETSIGINFO: {
      const stop = st.stop!;
      // A group-stop of an attached tracee has no siginfo (EINVAL): how tracers tell it from a signal stop.
      if (stop.kind === 'group' && !st.seized) return -E.EINVAL;
      // A jobctl trap (PTRACE_EVENT_STOP) carries its stop signal; other events and syscall stops SIGTRAP.
      const jobctl = stop.kind === 'group' || stop.status >> 16 === 128;
      const si = stop.siginfo ?? { signo: jobctl ? (stop.status >> 8) & 0xff : SIGTRAP, code: (stop.status >> 8) & 0xffff, pid: 0, uid: 0 };
      return t.mem.write(data, encodeSigInfo(si)) ? 0 : -E.EFAULT;
    }
    case SETSIGINFO: {
      const b = t.mem.read(data, 128);
      if (!b) return -E.EFAULT;
      const stop = st.stop!;
      if (stop.siginfo) stop.siginfo = { ...stop.siginfo, raw: Buffer.from(b) };
      return 0;
    }
    case PEEKSIGINFO:
      return peekSiginfo(t, target, addr, data);
    case GET_SYSCALL_INFO:
      return syscallInfo(t, target, addr, data);
    default:
      return -E.EIO;
  }
}

/**
 * PTRACE_PEEKSIGINFO: pending signals of the tracee (its own queue, or with
 * PTRACE_PEEKSIGINFO_SHARED its process's), from index off, at most nr, in queue order;
 * the count copied, or EFAULT if not even the first could be.
 */
function peekSiginfo(t: Task, target: Task, addr: number, data: number): number {
  const a = t.mem.read(addr, 16);
  if (!a) return -E.EFAULT;
  const off = a.readBigUInt64LE(0);
  const flags = a.readUInt32LE(8);
  const nr = a.readInt32LE(12);
  if (flags & ~PEEKSIGINFO_SHARED || nr < 0) return -E.EINVAL;
  // The Sentry's own markers (PTRACE_INTERRUPT, group-stops) are not signals.
  const queue = (flags & PEEKSIGINFO_SHARED ? target.tg.sharedPending : target.sig.pending).filter((x) => !x.interrupt && x.jobStop === undefined);
  let n = 0;
  for (; n < nr; n++) {
    const i = off + BigInt(n);
    if (i >= BigInt(queue.length)) break;
    if (!t.mem.write(data + n * 128, encodeSigInfo(queue[Number(i)]))) return n > 0 ? n : -E.EFAULT;
  }
  return n;
}

function regsBytes(regs: BigUint64Array): Buffer {
  const b = Buffer.alloc(REGS_SIZE);
  for (let i = 0; i < 27; i++) b.writeBigUInt64LE(regs[i], i * 8);
  return b;
}

function setRegs(t: Task, target: Task, b: Buffer): number {
  const p = t.kernel.sentry.platform;
  if (p.getRegs(target.hostTid) !== 0) return -E.ESRCH;
  const regs = p.ev.regs;
  for (let i = 0; i < 27; i++) if (!FIXED_REGS.includes(i)) regs[i] = b.readBigUInt64LE(i * 8);
  return p.setRegs(target.hostTid) === 0 ? 0 : -E.EIO;
}

/** The tracee's FPU state: the 512-byte fxsave area, or the whole XSAVE area (len -1). */
function fpBytes(t: Task, target: Task, len: number): Buffer | number {
  const p = t.kernel.sentry.platform;
  if (p.getFpState(target.hostTid) <= 0) return -E.EIO;
  const n = len < 0 ? p.ev.info[5] : Math.min(len, p.ev.info[5]);
  return Buffer.from(p.ev.fp.subarray(0, n));
}

function setFp(t: Task, target: Task, b: Buffer): number {
  const p = t.kernel.sentry.platform;
  if (p.getFpState(target.hostTid) <= 0) return -E.EIO;
  p.ev.fp.set(b.subarray(0, Math.min(b.length, p.ev.info[5])));
  return p.setFpState(target.hostTid) >= 0 ? 0 : -E.EIO;
}

/** PTRACE_GETREGSET/SETREGSET: NT_PRSTATUS, NT_PRFPREG, NT_X86_XSTATE through a struct iovec. */
function regset(t: Task, target: Task, set: boolean, type: number, iovAddr: number): number {
  const iov = t.mem.read(iovAddr, 16);
  if (!iov) return -E.EFAULT;
  const base = Number(iov.readBigUInt64LE(0));
  const len = Number(iov.readBigUInt64LE(8));
  let cur: Buffer | number;
  const p = t.kernel.sentry.platform;
  if (type === NT_PRSTATUS) cur = p.getRegs(target.hostTid) === 0 ? regsBytes(p.ev.regs) : -E.ESRCH;
  else if (type === NT_PRFPREG) cur = fpBytes(t, target, 512);
  else if (type === NT_X86_XSTATE) cur = fpBytes(t, target, -1);
  else return -E.EINVAL;
  if (typeof cur === 'number') return cur;
  const n = Math.min(len, cur.length);
  if (set) {
    const b = t.mem.read(base, n);
    if (!b) return -E.EFAULT;
    b.copy(cur, 0);
    const r = type === NT_PRSTATUS ? setRegs(t, target, cur) : setFp(t, target, cur);
    if (r) return r;
  } else if (!t.mem.write(base, cur.subarray(0, n))) return -E.EFAULT;
  return t.mem.writeU64(iovAddr + 8, n) ? 0 : -E.EFAULT;
}

/** PTRACE_GET_SYSCALL_INFO: struct ptrace_syscall_info for the stop the tracee is in. */
function syscallInfo(t: Task, target: Task, size: number, data: number): number {
  const p = t.kernel.sentry.platform;
  if (p.getRegs(target.hostTid) !== 0) return -E.ESRCH;
  const regs = p.ev.regs;
  const stop = target.ptrace!.stop!;
  const b = Buffer.alloc(88);
  b.writeUInt32LE(AUDIT_ARCH_X86_64, 4);
  b.writeBigUInt64LE(regs[Reg.RIP], 8);
  b.writeBigUInt64LE(regs[Reg.RSP], 16);
  let n = 24;
  if (stop.kind === 'sysenter') {
    b[0] = 1; // PTRACE_SYSCALL_INFO_ENTRY
    b.writeBigUInt64LE(regs[Reg.ORIG_RAX], 24);
    [Reg.RDI, Reg.RSI, Reg.RDX, Reg.R10, Reg.R8, Reg.R9].forEach((r, i) => b.writeBigUInt64LE(regs[r], 32 + i * 8));
    n = 80;
  } else if (stop.kind === 'seccomp') {
    b[0] = 3; // PTRACE_SYSCALL_INFO_SECCOMP
    b.writeBigUInt64LE(regs[Reg.ORIG_RAX], 24);
    [Reg.RDI, Reg.RSI, Reg.RDX, Reg.R10, Reg.R8, Reg.R9].forEach((r, i) => b.writeBigUInt64LE(regs[r], 32 + i * 8));
    b.writeUInt32LE(stop.rval >>> 0, 80); // ret_data
    n = 84;
  } else if (stop.kind === 'sysexit') {
    b[0] = 2; // PTRACE_SYSCALL_INFO_EXIT
    const rval = BigInt.asIntN(64, regs[Reg.RAX]);
    b.writeBigInt64LE(rval, 24);
    b[32] = rval < 0n && rval >= -4095n ? 1 : 0;
    n = 33;
  }
  if (!t.mem.write(data, b.subarray(0, Math.min(Math.max(size, 0), n)))) return -E.EFAULT;
  return n;
}

// ---- process_vm_readv / process_vm_writev ----

function vmCopy(t: Task, pid: number, lAddr: number, lCnt: number, rAddr: number, rCnt: number, flags: number, write: boolean): number {
  if (flags !== 0) return -E.EINVAL;
  const local = readIovec(t, lAddr, lCnt);
  if (typeof local === 'number') return local;
  const remote = readIovec(t, rAddr, rCnt);
  if (typeof remote === 'number') return remote;
  const tg = t.kernel.threadGroups.get(pid | 0);
  const target = tg ? (tg.leader ?? [...tg.tasks][0]) : t.kernel.tasks.get(pid | 0);
  if (!target || !target.mm) return -E.ESRCH;
  if (!mayAccess(t, target)) return -E.EPERM;
  let done = 0;
  // Walk both lists together; stop at the first remote range that fails (a partial count).
  let li = 0, lOff = 0;
  for (const r of remote as Seg[]) {
    let rOff = 0;
    while (rOff < r.len) {
      while (li < local.length && lOff >= local[li].len) {
        li++;
        lOff = 0;
      }
      if (li >= local.length) return done;
      const l = local[li];
      const n = Math.min(r.len - rOff, l.len - lOff);
      const buf = Buffer.alloc(n);
      const src = write ? t.mem : target.mem;
      const dst = write ? target.mem : t.mem;
      const srcAddr = write ? l.base + lOff : r.base + rOff;
      const dstAddr = write ? r.base + rOff : l.base + lOff;
      if (!src.readInto(srcAddr, buf, 0, n) || !dst.write(dstAddr, buf, 0, n)) return done > 0 ? done : -E.EFAULT;
      done += n;
      rOff += n;
      lOff += n;
    }
  }
  return done;
}

export function process_vm_readv(t: Task, pid: number, lvec: number, liovcnt: number, rvec: number, riovcnt: number, flags: number): number {
  return vmCopy(t, pid, lvec, liovcnt, rvec, riovcnt, flags, false);
}

export function process_vm_writev(t: Task, pid: number, lvec: number, liovcnt: number, rvec: number, riovcnt: number, flags: number): number {
  return vmCopy(t, pid, lvec, liovcnt, rvec, riovcnt, flags, true);
}


