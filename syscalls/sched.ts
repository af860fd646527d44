/**
 * Scheduling syscalls: sched_*, getcpu, getpriority/setpriority. The attributes are
 * stored and read back (src/kernel/time/sched.ts); the Sentry's scheduler treats all
 * tasks alike. Two CPUs are visible.
 */
import type { Task } from '../src/kernel/task';
import { capable, CAP_SYS_ADMIN, CAP_SYS_NICE } from '../src/auth/capabilities';
import { E2BIG, EFAULT, EINVAL, EPERM, ESRCH } from '../src/abi/errno';
import { rseqMoved } from './rseq';
import {
  findTask, schedOf, setScheduler, setAffinity, priorityMax, priorityMin, rrInterval, currentCpu,
  getPriority, setPriority, CPUMASK_BYTES, SCHED_RESET_ON_FORK,
} from '../src/kernel/time/sched';
import { writeTimespec } from '../src/kernel/time/timespec';
import { dlParamsOf, setDeadline } from '../src/kernel/time/deadline';
import { limitsOf, RLIMIT_NICE, RLIMIT_RTPRIO } from '../src/kernel/limits';

export function sched_yield(_t: Task): number {
  return 0;
}

export function sched_getaffinity(t: Task, pid: number, len: number, mask: number): number {
  len >>>= 0;
  if (len * 8 < t.kernel.cpus || len % 8 !== 0) return -EINVAL;
  const p = findTask(t, pid | 0);
  if (!p) return -ESRCH;
  const n = Math.min(len, CPUMASK_BYTES);
  const b = Buffer.alloc(n);
  b.writeUInt8(schedOf(p).affinity, 0);
  return t.mem.write(mask, b) ? n : -EFAULT;
}

export function sched_setaffinity(t: Task, pid: number, len: number, mask: number): number {
  len >>>= 0;
  // Linux copies min(len, cpumask size) bytes; a shorter mask leaves the rest clear.
  const n = Math.min(len, CPUMASK_BYTES);
  let m = 0n;
  if (n > 0) {
    const b = t.mem.read(mask, n);
    if (!b) return -EFAULT;
    for (let i = n - 1; i >= 0; i--) m = (m << 8n) | BigInt(b[i]);
  }
  const p = findTask(t, pid | 0);
  if (!p) return -ESRCH;
  const r = setAffinity(t, p, m);
  // Moved to another CPU: a registered rseq area says so, as at Linux's next return to user.
  if (r === 0) rseqMoved(p);
  return r;
}

/** Reads struct sched_param (one int). */
function readParam(t: Task, addr: number): number | null {
  return addr === 0 ? null : t.mem.readI32(addr);
}

export function sched_getparam(t: Task, pid: number, param: number): number {
  pid |= 0;
  if (param === 0 || pid < 0) return -EINVAL;
  const p = findTask(t, pid);
  if (!p) return -ESRCH;
  return t.mem.writeI32(param, schedOf(p).priority) ? 0 : -EFAULT;
}

export function sched_setparam(t: Task, pid: number, param: number): number {
  return doSetScheduler(t, pid | 0, -1, param);
}

export function sched_setscheduler(t: Task, pid: number, policy: number, param: number): number {
  policy |= 0;
  if (policy < 0) return -EINVAL;
  return doSetScheduler(t, pid | 0, policy, param);
}

function doSetScheduler(t: Task, pid: number, policy: number, param: number): number {
  if (param === 0 || pid < 0) return -EINVAL;
  const prio = readParam(t, param);
  if (prio === null) return -EFAULT;
  const p = findTask(t, pid);
  if (!p) return -ESRCH;
  return setScheduler(t, p, policy, prio, limitsOf(t.tg).soft(RLIMIT_RTPRIO));
}

export function sched_getscheduler(t: Task, pid: number): number {
  pid |= 0;
  if (pid < 0) return -EINVAL;
  const p = findTask(t, pid);
  if (!p) return -ESRCH;
  const a = schedOf(p);
  return a.policy | (a.resetOnFork ? SCHED_RESET_ON_FORK : 0);
}

export function sched_get_priority_max(_t: Task, policy: number): number {
  return priorityMax(policy | 0);
}

export function sched_get_priority_min(_t: Task, policy: number): number {
  return priorityMin(policy | 0);
}

export function sched_rr_get_interval(t: Task, pid: number, tp: number): number {
  pid |= 0;
  if (pid < 0) return -EINVAL;
  const p = findTask(t, pid);
  if (!p) return -ESRCH;
  return writeTimespec(t, tp, rrInterval(p));
}

export function getcpu(t: Task, cpu: number, node: number): number {
  if (cpu !== 0 && !t.mem.writeU32(cpu, currentCpu(t))) return -EFAULT;
  if (node !== 0 && !t.mem.writeU32(node, 0)) return -EFAULT;
  return 0;
}

export function getpriority(t: Task, which: number, who: number): number {
  return getPriority(t, which | 0, who | 0);
}

export function setpriority(t: Task, which: number, who: number, prio: number): number {
  return setPriority(t, which | 0, who | 0, prio | 0, limitsOf(t.tg).soft(RLIMIT_NICE));
}

// ---- ioprio (kept per thread, as Linux's io_context; no block device here for it to order) ----

const IOPRIO_WHO_PROCESS = 1, IOPRIO_WHO_PGRP = 2, IOPRIO_WHO_USER = 3;
const IOPRIO_CLASS_NONE = 0, IOPRIO_CLASS_RT = 1, IOPRIO_CLASS_BE = 2, IOPRIO_CLASS_IDLE = 3;
const ioprioClass = (v: number) => (v >> 13) & 7;
/** ioprio_best's default for a task with none set (class NONE): BE, level 4. */
const IOPRIO_BE_NORM = (IOPRIO_CLASS_BE << 13) | 4;

/** The tasks `which`/`who` name (who 0: the caller, its group, its uid), or -errno. */
function ioprioTargets(t: Task, which: number, who: number): Task[] | number {
  const k = t.kernel;
  if (which === IOPRIO_WHO_PROCESS) {
    const x = who === 0 ? t : k.tasks.get(who);
    return x ? [x] : -ESRCH;
  }
  if (which === IOPRIO_WHO_PGRP) {
    const pg = who === 0 ? t.tg.pgid : who;
    const out = [...k.threadGroups.values()].filter((g) => g.pgid === pg && !g.zombie).flatMap((g) => [...g.tasks]);
    return out.length ? out : -ESRCH;
  }
  if (which === IOPRIO_WHO_USER) {
    const uid = who === 0 ? t.creds.uid : who >>> 0;
    const out = [...k.tasks.values()].filter((x) => x.creds.uid === uid);
    return out.length ? out : -ESRCH;
  }
  return -EINVAL;
}

/**
 * ioprio_check_cap (block/ioprio.c): the class is bits 13-15, the level bits 0-2 (bits 3-12
 * are hints, not checked); RT needs CAP_SYS_NICE or CAP_SYS_ADMIN, NONE a level of 0,
 * classes 4-7 are EINVAL.
 */
export function ioprioCheck(t: Task, ioprio: number): number {
  const cls = ioprioClass(ioprio);
  if (cls === IOPRIO_CLASS_RT) return capable(t.creds, CAP_SYS_NICE) || capable(t.creds, CAP_SYS_ADMIN) ? 0 : -EPERM;
  if (cls === IOPRIO_CLASS_BE || cls === IOPRIO_CLASS_IDLE) return 0;
  if (cls === IOPRIO_CLASS_NONE) return (ioprio & 7) === 0 ? 0 : -EINVAL;
  return -EINVAL;
}

/** set_task_ioprio: the target's uid is the caller's euid or uid, or CAP_SYS_NICE; kept as an unsigned short. */
function setTaskIoprio(t: Task, x: Task, ioprio: number): number {
  if (x.creds.uid !== t.creds.euid && x.creds.uid !== t.creds.uid && !capable(t.creds, CAP_SYS_NICE)) return -EPERM;
  x.ioprio = ioprio & 0xffff;
  return 0;
}

export function ioprio_set(t: Task, which: number, who: number, ioprio: number): number {
  which |= 0;
  who |= 0;
  ioprio |= 0;
  const c = ioprioCheck(t, ioprio);
  if (c < 0) return c;
  if (which < IOPRIO_WHO_PROCESS || which > IOPRIO_WHO_USER) return -EINVAL;
  const targets = ioprioTargets(t, which, who);
  if (typeof targets === 'number') return targets;
  // Linux stops at the first target it may not change (the ones before keep the new value).
  for (const x of targets) {
    const r = setTaskIoprio(t, x, ioprio);
    if (r < 0) return r;
  }
  return 0;
}

export function ioprio_get(t: Task, which: number, who: number): number {
  const targets = ioprioTargets(t, which | 0, who | 0);
  if (typeof targets === 'number') return targets;
  // One task: its value as stored. Several: ioprio_best over them, a class NONE counting
  // as BE level 4, the lowest value winning.
  let best = targets[0].ioprio;
  const valid = (v: number) => (ioprioClass(v) === IOPRIO_CLASS_NONE ? IOPRIO_BE_NORM : v);
  for (let i = 1; i < targets.length; i++) best = Math.min(valid(best), valid(targets[i].ioprio));
  return best;
}

// ---- sched_getattr / sched_setattr (struct sched_attr; SCHED_DEADLINE admitted by src/kernel/time/deadline.ts) ----

const SCHED_ATTR_SIZE_VER0 = 48;
const SCHED_ATTR_SIZE_VER1 = 56;
const PAGE = 4096;
const SCHED_DEADLINE = 6;
const SCHED_FLAG_RESET_ON_FORK = 1;
const SCHED_FLAG_KEEP_POLICY = 0x08, SCHED_FLAG_KEEP_PARAMS = 0x10;
const SCHED_FLAG_UTIL_CLAMP = 0x20 | 0x40;
const SCHED_FLAG_ALL = 0x7f;

export function sched_getattr(t: Task, pid: number, uattr: number, usize: number, flags: number): number {
  pid |= 0;
  if (uattr === 0 || pid < 0 || usize > PAGE || usize < SCHED_ATTR_SIZE_VER0 || flags !== 0) return -EINVAL;
  const p = findTask(t, pid);
  if (!p) return -ESRCH;
  const a = schedOf(p);
  // The kernel's struct is VER1 (with the utilization clamps at their defaults, 0 and 1024).
  const b = Buffer.alloc(SCHED_ATTR_SIZE_VER1);
  const size = Math.min(usize, SCHED_ATTR_SIZE_VER1);
  const dl = a.policy === SCHED_DEADLINE ? dlParamsOf(p) : null;
  b.writeUInt32LE(size, 0);
  b.writeUInt32LE(a.policy, 4);
  b.writeBigUInt64LE(BigInt((a.resetOnFork ? SCHED_FLAG_RESET_ON_FORK : 0) | (dl?.flags ?? 0)), 8);
  b.writeInt32LE(dl ? 0 : a.nice, 16);
  b.writeUInt32LE(a.priority, 20);
  if (dl) {
    b.writeBigUInt64LE(dl.runtime, 24);
    b.writeBigUInt64LE(dl.deadline, 32);
    b.writeBigUInt64LE(dl.period, 40);
  }
  b.writeUInt32LE(1024, 52);
  return t.mem.write(uattr, b.subarray(0, size)) ? 0 : -EFAULT;
}

export function sched_setattr(t: Task, pid: number, uattr: number, flags: number): number {
  pid |= 0;
  if (uattr === 0 || pid < 0 || flags !== 0) return -EINVAL;
  const head = t.mem.read(uattr, 4);
  if (head === null) return -EFAULT;
  let size = head.readUInt32LE(0);
  if (size === 0) size = SCHED_ATTR_SIZE_VER0;
  if (size < SCHED_ATTR_SIZE_VER0 || size > PAGE) {
    // sched_copy_attr tells the caller the size it knows.
    return t.mem.writeU32(uattr, SCHED_ATTR_SIZE_VER1) ? -E2BIG : -EFAULT;
  }
  const b = t.mem.read(uattr, size);
  if (b === null) return -EFAULT;
  // copy_struct_from_user: bytes past what the kernel knows must be zero.
  for (let i = SCHED_ATTR_SIZE_VER1; i < size; i++) if (b[i] !== 0) return t.mem.writeU32(uattr, SCHED_ATTR_SIZE_VER1) ? -E2BIG : -EFAULT;
  const policy = b.readUInt32LE(4);
  const sflags = Number(b.readBigUInt64LE(8) & 0xffffffffn);
  const nice = Math.min(19, Math.max(-20, b.readInt32LE(16)));
  const prio = b.readUInt32LE(20);
  if (sflags & SCHED_FLAG_UTIL_CLAMP && size < SCHED_ATTR_SIZE_VER1) return -EINVAL;
  const p = findTask(t, pid);
  if (!p) return -ESRCH;
  if (sflags & ~SCHED_FLAG_ALL) return -EINVAL;
  const a = schedOf(p);
  if ((sflags & SCHED_FLAG_KEEP_POLICY ? a.policy : policy) === SCHED_DEADLINE) {
    if (prio !== 0) return -EINVAL;
    // KEEP_PARAMS keeps a deadline task's parameters (get_params); another's keep the caller's.
    const keep = (sflags & SCHED_FLAG_KEEP_PARAMS) !== 0;
    const dl = keep && a.policy === SCHED_DEADLINE ? dlParamsOf(p)
      : { runtime: b.readBigUInt64LE(24), deadline: b.readBigUInt64LE(32), period: b.readBigUInt64LE(40), flags: sflags };
    return setDeadline(t, p, dl, (sflags & SCHED_FLAG_RESET_ON_FORK) !== 0, keep && a.policy !== SCHED_DEADLINE);
  }
  if (!(sflags & SCHED_FLAG_KEEP_PARAMS) || !(sflags & SCHED_FLAG_KEEP_POLICY)) {
    const r = setScheduler(t, p, sflags & SCHED_FLAG_KEEP_POLICY ? a.policy : policy, sflags & SCHED_FLAG_KEEP_PARAMS ? a.priority : prio,
      limitsOf(t.tg).soft(RLIMIT_RTPRIO));
    if (r < 0) return r;
  }
  if (sflags & SCHED_FLAG_RESET_ON_FORK) a.resetOnFork = true;
  // The nice value of a fair policy, with setpriority's rules.
  if (a.policy === 0 || a.policy === 3 || a.policy === 5) return setPriority(t, 0, p.tid, nice, limitsOf(t.tg).soft(RLIMIT_NICE));
  return 0;
}
