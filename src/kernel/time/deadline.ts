import type { Task } from '../task';
import { capable, CAP_SYS_NICE } from '../../auth/capabilities';
import { EBUSY, EINVAL, EPERM } from '../../abi/errno';
import { allCpus, mayChangeSched, schedOf, SCHED_DEADLINE } from './sched';

/**
 * SCHED_DEADLINE as Linux admits it (kernel/sched/deadline.c, syscalls.c): the parameters
 * checked (__checkparam_dl), CAP_SYS_NICE in the initial user namespace required (a
 * container's root in its own user namespace gets EPERM, as does an unprivileged caller),
 * the task's affinity the whole CPU set (EPERM), and the admission test: the deadline
 * tasks' bandwidth (runtime/period, in 2^-20 units) within 95% of each CPU (the default
 * sched_rt_runtime_us/sched_rt_period_us), else EBUSY. An admitted task keeps its policy
 * and parameters (sched_getattr reads them back), cannot fork unless reset-on-fork
 * (EAGAIN), nor narrow its affinity (EBUSY). The Sentry schedules it as any other task:
 * there is no runtime enforcement or earliest-deadline-first order.
 */

const BW_SHIFT = 20;
/** sched_rt_runtime_us / sched_rt_period_us = 950000 / 1000000, per CPU. */
const BW_PER_CPU = Math.floor((950000 * 2 ** BW_SHIFT) / 1000000);
/** sysctl_sched_dl_period_min/max (100 us, 2^22 us) in ns. */
const PERIOD_MIN = 100n * 1000n;
const PERIOD_MAX = (1n << 22n) * 1000n;
const DL_SCALE = 10n;
export const SCHED_FLAG_RECLAIM = 0x02, SCHED_FLAG_DL_OVERRUN = 0x04;

export interface DlParams {
  runtime: bigint;
  deadline: bigint;
  period: bigint;
  /** SCHED_FLAG_RECLAIM and SCHED_FLAG_DL_OVERRUN as given (read back by sched_getattr). */
  flags: number;
}

const params = new WeakMap<Task, DlParams>();

/** The task's runtime, deadline and period (zeros when it is not a deadline task). */
export function dlParamsOf(t: Task): DlParams {
  return params.get(t) ?? { runtime: 0n, deadline: 0n, period: 0n, flags: 0 };
}

/** __checkparam_dl: deadline set, runtime >= 1024 ns, runtime <= deadline <= period, period within the sysctls. */
export function validDl(p: DlParams): boolean {
  if (p.deadline === 0n || p.runtime < 1n << DL_SCALE) return false;
  if (p.deadline >> 63n || p.period >> 63n) return false;
  const period = p.period === 0n ? p.deadline : p.period;
  if (period < p.deadline || p.deadline < p.runtime) return false;
  return period >= PERIOD_MIN && period <= PERIOD_MAX;
}

/** to_ratio(period, runtime): the bandwidth in 2^-20 units. */
function bandwidth(p: DlParams): number {
  const period = p.period === 0n ? p.deadline : p.period;
  return Number((p.runtime << BigInt(BW_SHIFT)) / period);
}

/** The bandwidth the sandbox's deadline tasks hold, `except` left out. */
function totalBw(t: Task, except: Task): number {
  let sum = 0;
  for (const x of t.kernel.tasks.values()) {
    if (x !== except && schedOf(x).policy === SCHED_DEADLINE) sum += bandwidth(dlParamsOf(x));
  }
  return sum;
}

/**
 * sched_setattr to SCHED_DEADLINE (the attr's flags already checked): EINVAL for bad
 * parameters, EPERM without CAP_SYS_NICE or with a narrowed affinity, EBUSY over the
 * bandwidth; else the task becomes a deadline task (unless `keep`: SCHED_FLAG_KEEP_PARAMS
 * on a task of another policy, checked and then left as it was, as Linux does).
 */
export function setDeadline(caller: Task, target: Task, p: DlParams, resetOnFork: boolean, keep = false): number {
  if (!validDl(p)) return -EINVAL;
  if (!capable(caller.creds, CAP_SYS_NICE)) return -EPERM;
  if (!mayChangeSched(caller, target)) return -EPERM;
  const a = schedOf(target);
  if ((a.affinity & allCpus(target)) !== allCpus(target)) return -EPERM;
  if (totalBw(target, target) + bandwidth(p) > BW_PER_CPU * target.kernel.cpus) return -EBUSY;
  // SCHED_FLAG_KEEP_PARAMS skips Linux's __setscheduler_params, which is what sets the policy.
  if (keep) return 0;
  a.policy = SCHED_DEADLINE;
  a.priority = 0;
  a.nice = 0;
  a.resetOnFork = resetOnFork;
  // A period of 0 is the deadline (__setparam_dl).
  params.set(target, { ...p, period: p.period || p.deadline, flags: p.flags & (SCHED_FLAG_RECLAIM | SCHED_FLAG_DL_OVERRUN) });
  return 0;
}

/** sched_fork: a deadline task may not fork unless reset-on-fork puts the child back to SCHED_OTHER. */
export function forkDenied(t: Task): boolean {
  const a = schedOf(t);
  return a.policy === SCHED_DEADLINE && !a.resetOnFork;
}
