import type { Task } from '../task';
import { capable, CAP_SYS_NICE } from '../../auth/capabilities';
import { EACCES, EBUSY, EINVAL, EPERM, ESRCH } from '../../abi/errno';
import { limitsOf, RLIMIT_NICE } from '../limits';

/**
 * Scheduling attributes of each guest thread: policy, real-time priority, nice value,
 * CPU affinity. The Sentry's own scheduler does not act on them (every task gets the
 * same treatment); they are stored so the guest reads back what it set, and checked
 * with Linux's permission rules. The sandbox shows 2 CPUs (mask 0x3).
 */

export const SCHED_OTHER = 0;
export const SCHED_FIFO = 1;
export const SCHED_RR = 2;
export const SCHED_BATCH = 3;
export const SCHED_IDLE = 5;
export const SCHED_DEADLINE = 6;
export const SCHED_RESET_ON_FORK = 0x40000000;

/** Every CPU the sandbox's guests may use (Kernel.cpus, one bit each). */
export function allCpus(t: Task): number {
  return 2 ** t.kernel.cpus - 1;
}
/**
 * cpumask_size(): bytes of a kernel CPU mask, what sched_getaffinity returns. It
 * follows the kernel's NR_CPUS, not the CPU count; 32 (NR_CPUS 256) as on the
 * reference host.
 */
export const CPUMASK_BYTES = 32;

/** CFS slice for a lone runnable task on 2 CPUs (sched_latency 6 ms * (1 + log2 2)). */
const FAIR_SLICE_NS = 12_000_000n;
const RR_SLICE_NS = 100_000_000n;

export interface SchedAttr {
  policy: number;
  priority: number;
  nice: number;
  affinity: number;
  resetOnFork: boolean;
}

const attrs = new WeakMap<Task, SchedAttr>();

export function schedOf(t: Task): SchedAttr {
  let a = attrs.get(t);
  if (!a) {
    a = { policy: SCHED_OTHER, priority: 0, nice: 0, affinity: allCpus(t), resetOnFork: false };
    attrs.set(t, a);
  }
  return a;
}

/**
 * Lead: call from clone/fork for every new task. The child inherits the parent's
 * attributes; SCHED_RESET_ON_FORK puts it back to SCHED_OTHER with nice >= 0.
 */
export function schedOnClone(parent: Task, child: Task): void {
  const a = { ...schedOf(parent) };
  if (a.resetOnFork) {
    if (a.policy === SCHED_FIFO || a.policy === SCHED_RR) {
      a.policy = SCHED_OTHER;
      a.priority = 0;
    }
    if (a.policy === SCHED_DEADLINE) {
      a.policy = SCHED_OTHER;
      a.priority = 0;
    }
    if (a.nice < 0) a.nice = 0;
    a.resetOnFork = false;
  }
  attrs.set(child, a);
}

/** Looks up a thread by guest tid; 0 is the caller. */
export function findTask(t: Task, pid: number): Task | null {
  if (pid === 0) return t;
  return t.kernel.tasks.get(pid) ?? (pid === t.tid ? t : null);
}

/** Linux check_same_owner(): the caller's euid is the target's uid or euid. */
function sameOwner(caller: Task, target: Task): boolean {
  const c = caller.creds;
  return c.euid === target.creds.euid || c.euid === target.creds.uid;
}

/** check_same_owner() or CAP_SYS_NICE, the owner first (a capability not needed is not "used": acct's ASU). */
export function mayChangeSched(caller: Task, target: Task): boolean {
  return sameOwner(caller, target) || capable(caller.creds, CAP_SYS_NICE);
}

function isDeadline(t: Task): boolean {
  return schedOf(t).policy === SCHED_DEADLINE;
}

function isRt(policy: number): boolean {
  return policy === SCHED_FIFO || policy === SCHED_RR;
}

export function priorityMax(policy: number): number {
  if (isRt(policy)) return 99;
  if (policy === SCHED_OTHER || policy === SCHED_BATCH || policy === SCHED_IDLE || policy === SCHED_DEADLINE) return 0;
  return -EINVAL;
}

export function priorityMin(policy: number): number {
  if (isRt(policy)) return 1;
  return priorityMax(policy) === 0 ? 0 : -EINVAL;
}

/**
 * sched_setscheduler / sched_setparam core (policy -1 keeps the current policy).
 * rtprioLimit is the caller's RLIMIT_RTPRIO soft limit.
 */
export function setScheduler(caller: Task, target: Task, policy: number, priority: number, rtprioLimit: number): number {
  const a = schedOf(target);
  let reset = a.resetOnFork;
  if (policy === -1) {
    policy = a.policy;
  } else {
    reset = (policy & SCHED_RESET_ON_FORK) !== 0;
    policy &= ~SCHED_RESET_ON_FORK;
    if (priorityMax(policy) < 0) return -EINVAL;
  }
  // DEADLINE needs sched_setattr's runtime/period; through this call it is invalid.
  if (policy === SCHED_DEADLINE) return -EINVAL;
  if (priority < 0 || priority > 99 || isRt(policy) !== (priority !== 0)) return -EINVAL;
  // user_check_sched_setscheduler: CAP_SYS_NICE only for what the rules alone refuse.
  const needsPriv =
    (isRt(policy) && ((policy !== a.policy && rtprioLimit === 0) || (priority > a.priority && priority > rtprioLimit))) ||
    // Leaving SCHED_IDLE is a nice reduction: RLIMIT_NICE must allow the current nice value.
    (a.policy === SCHED_IDLE && policy !== SCHED_IDLE && 20 - a.nice > limitsOf(target.tg).soft(RLIMIT_NICE)) ||
    !sameOwner(caller, target) ||
    (a.resetOnFork && !reset);
  if (needsPriv && !capable(caller.creds, CAP_SYS_NICE)) return -EPERM;
  // Leaving SCHED_DEADLINE frees its bandwidth (deadline.ts reads the policy).
  a.policy = policy;
  a.priority = priority;
  a.resetOnFork = reset;
  return 0;
}

/** sched_setaffinity core: mask bits beyond the sandbox's CPUs are ignored. */
export function setAffinity(caller: Task, target: Task, mask: bigint): number {
  if (!mayChangeSched(caller, target)) return -EPERM;
  const m = Number(mask & BigInt(allCpus(target)));
  if (m === 0) return -EINVAL;
  // A deadline task keeps the whole CPU set (its root domain), as Linux's dl admission needs.
  if (isDeadline(target) && m !== allCpus(target)) return -EBUSY;
  schedOf(target).affinity = m;
  return 0;
}

/** Time slice reported by sched_rr_get_interval. */
export function rrInterval(target: Task): bigint {
  const p = schedOf(target).policy;
  // FIFO has no slice, nor has DEADLINE (dl_sched_class has no get_rr_interval).
  if (p === SCHED_FIFO || p === SCHED_DEADLINE) return 0n;
  return p === SCHED_RR ? RR_SLICE_NS : FAIR_SLICE_NS;
}

/** The CPU getcpu reports: the lowest one the thread may run on. */
export function currentCpu(t: Task): number {
  const m = schedOf(t).affinity;
  for (let i = 0; i < 31; i++) if (m & (1 << i)) return i;
  return 0;
}

// ---- getpriority / setpriority ----

export const PRIO_PROCESS = 0;
export const PRIO_PGRP = 1;
export const PRIO_USER = 2;

/** Threads named by (which, who), as Linux's getpriority/setpriority select them. */
function prioTargets(t: Task, which: number, who: number): Task[] {
  if (which === PRIO_PROCESS) {
    const p = findTask(t, who);
    return p ? [p] : [];
  }
  const out: Task[] = [];
  if (which === PRIO_PGRP) {
    const pgid = who === 0 ? t.tg.pgid : who;
    for (const tg of t.kernel.threadGroups.values()) if (tg.pgid === pgid && !tg.zombie) out.push(...tg.tasks);
    if (out.length === 0 && t.tg.pgid === pgid) out.push(...t.tg.tasks);
  } else {
    const uid = who === 0 ? t.creds.uid : who >>> 0;
    for (const task of t.kernel.tasks.values()) if (task.creds.uid === uid) out.push(task);
    if (out.length === 0 && t.creds.uid === uid) out.push(t);
  }
  return out;
}

/** getpriority: 20 - the lowest nice value among the targets (1..40), or -errno. */
export function getPriority(t: Task, which: number, who: number): number {
  if (which < PRIO_PROCESS || which > PRIO_USER) return -EINVAL;
  let best = -ESRCH;
  for (const p of prioTargets(t, which, who)) best = Math.max(best, 20 - schedOf(p).nice);
  return best;
}

/** setpriority, with Linux's per-target EPERM/EACCES rules. nicelimit is RLIMIT_NICE. */
export function setPriority(t: Task, which: number, who: number, nice: number, niceLimit: number): number {
  if (which < PRIO_PROCESS || which > PRIO_USER) return -EINVAL;
  nice = Math.min(19, Math.max(-20, nice));
  let err = -ESRCH;
  for (const p of prioTargets(t, which, who)) {
    const c = t.creds;
    if (p.creds.uid !== c.euid && p.creds.euid !== c.euid && !capable(c, CAP_SYS_NICE)) {
      err = -EPERM;
      continue;
    }
    if (nice < schedOf(p).nice && !(20 - nice <= niceLimit || capable(c, CAP_SYS_NICE))) {
      err = -EACCES;
      continue;
    }
    if (err === -ESRCH) err = 0;
    schedOf(p).nice = nice;
  }
  return err;
}
