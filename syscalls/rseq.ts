/**
 * rseq and membarrier. rseq: registration as Linux checks it (alignment, length,
 * signature, EBUSY/EPERM/EINVAL), kept per thread, inherited by fork, dropped by exec
 * and by CLONE_VM threads; the cpu_id fields are written when it registers and when
 * sched_setaffinity moves the thread (its CPU is the lowest it may run on, as getcpu
 * says: CPU 0 when pinned, the default, where the guest sees one CPU).
 * Critical sections (rseq_cs) are never aborted: the Sentry neither preempts nor
 * migrates a thread mid-section, and signals delivered in one do not restart it.
 */
import * as E from '../src/abi/errno';
import type { Task } from '../src/kernel/task';
import { currentCpu } from '../src/kernel/time/sched';

const RSEQ_FLAG_UNREGISTER = 1;
const ORIG_RSEQ_SIZE = 32;
/** offsetof(struct rseq, end) in this kernel's struct (cpu_id_start .. mm_cid). */
const RSEQ_END = 28;
const RSEQ_CPU_ID_UNINITIALIZED = 0xffffffff;

/** Writes cpu_id_start, cpu_id (and node_id, mm_cid when the struct has them) for CPU 0. */
function writeCpu(t: Task, addr: number, len: number, cpu: number): boolean {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(cpu === -1 ? 0 : cpu, 0);
  b.writeUInt32LE(cpu === -1 ? RSEQ_CPU_ID_UNINITIALIZED : cpu, 4);
  if (!t.mem.write(addr, b)) return false;
  if (len > ORIG_RSEQ_SIZE || len >= RSEQ_END) {
    const nm = Buffer.alloc(8); // node_id @20, mm_cid @24
    return t.mem.write(addr + 20, nm);
  }
  return true;
}

export function rseq(t: Task, addr: number, len: number, flags: number, sig: number): number {
  len >>>= 0;
  flags |= 0;
  sig >>>= 0;
  const cur = t.rseq;
  if (flags & RSEQ_FLAG_UNREGISTER) {
    if (flags & ~RSEQ_FLAG_UNREGISTER) return -E.EINVAL;
    if (cur === null || cur.addr !== addr || cur.len !== len) return -E.EINVAL;
    if (cur.sig !== sig) return -E.EPERM;
    writeCpu(t, addr, len, -1);
    t.rseq = null;
    return 0;
  }
  if (flags !== 0) return -E.EINVAL;
  if (cur !== null) {
    if (cur.addr !== addr || cur.len !== len) return -E.EINVAL;
    if (cur.sig !== sig) return -E.EPERM;
    return -E.EBUSY;
  }
  if (len < ORIG_RSEQ_SIZE) return -E.EINVAL;
  if (addr % 32 !== 0) return -E.EINVAL;
  if (!t.mem.read(addr, len)) return -E.EFAULT;
  if (!writeCpu(t, addr, len, currentCpu(t))) return -E.EFAULT;
  t.rseq = { addr, len, sig };
  return 0;
}

/** After sched_setaffinity: the thread's CPU may have changed; its rseq area follows. */
export function rseqMoved(t: Task): void {
  if (t.rseq) writeCpu(t, t.rseq.addr, t.rseq.len, currentCpu(t));
}

const MEMBARRIER_CMD_QUERY = 0;
const GLOBAL = 1, GLOBAL_EXPEDITED = 2, REGISTER_GLOBAL_EXPEDITED = 4, PRIVATE_EXPEDITED = 8,
  REGISTER_PRIVATE_EXPEDITED = 16, PRIVATE_EXPEDITED_SYNC_CORE = 32, REGISTER_PRIVATE_EXPEDITED_SYNC_CORE = 64,
  PRIVATE_EXPEDITED_RSEQ = 128, REGISTER_PRIVATE_EXPEDITED_RSEQ = 256, GET_REGISTRATIONS = 512;
const SUPPORTED = 0x3ff;
const MEMBARRIER_CMD_FLAG_CPU = 1;
/** REGISTER_* commands done per address space (a fork's new one starts with none, as Linux's mm). */
const registrations = new WeakMap<object, number>();

/**
 * membarrier: every command Linux has. The barrier itself holds because a guest thread
 * that is running is, for the Sentry to serve this call, not running concurrently with
 * it on another CPU unless --no-pin; each context switch through the Sentry is a full
 * barrier on x86. Registrations are per address space, as Linux's are per mm.
 */
export function membarrier(t: Task, cmd: number, flags: number, _cpu: number): number {
  cmd |= 0;
  flags |= 0;
  if (cmd === PRIVATE_EXPEDITED_RSEQ) {
    if (flags & ~MEMBARRIER_CMD_FLAG_CPU) return -E.EINVAL;
  } else if (flags !== 0) return -E.EINVAL;
  const regs = registrations.get(t.mm) ?? 0;
  switch (cmd) {
    case MEMBARRIER_CMD_QUERY: return SUPPORTED;
    case GLOBAL: return 0;
    case GLOBAL_EXPEDITED: return 0;
    case REGISTER_GLOBAL_EXPEDITED:
    case REGISTER_PRIVATE_EXPEDITED:
    case REGISTER_PRIVATE_EXPEDITED_SYNC_CORE:
    case REGISTER_PRIVATE_EXPEDITED_RSEQ:
      registrations.set(t.mm, regs | cmd);
      return 0;
    case PRIVATE_EXPEDITED:
    case PRIVATE_EXPEDITED_SYNC_CORE:
    case PRIVATE_EXPEDITED_RSEQ:
      // The matching REGISTER_* is the command's bit times two.
      return regs & (cmd * 2) ? 0 : -E.EPERM;
    case GET_REGISTRATIONS:
      return regs;
    default:
      return -E.EINVAL;
  }
}
