/**
 * Scheduling syscalls: sched_*, getcpu, getpriority/setpriority. The attributes are
 * stored and read back (src/kernel/time/sched.ts); the Sentry's scheduler treats all
 * tasks alike. Two CPUs are visible.
 */
import type { Task } from '../src/kernel/task';
import { EFAULT, EINVAL, ESRCH } from '../src/abi/errno';
import {
  findTask, schedOf, setScheduler, setAffinity, priorityMax, priorityMin, rrInterval, currentCpu,
  getPriority, setPriority, NR_CPUS, CPUMASK_BYTES, SCHED_RESET_ON_FORK,
} from '../src/kernel/time/sched';
import { writeTimespec } from '../src/kernel/time/timespec';
import { limitsOf, RLIMIT_NICE, RLIMIT_RTPRIO } from '../src/kernel/limits';

export function sched_yield(_t: Task): number {
  return 0;
}

export function sched_getaffinity(t: Task, pid: number, len: number, mask: number): number {
  len >>>= 0;
  if (len * 8 < NR_CPUS || len % 8 !== 0) return -EINVAL;
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
  return setAffinity(t, p, m);
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
