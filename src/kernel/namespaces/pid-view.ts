/**
 * Pids across the pid-namespace boundary, for the syscalls and /proc: what a task sees
 * of a kernel pid, and which kernel pid a pid it names is. Without any pid namespace
 * each is one counter test.
 */
import type { Task } from '../task';
import type { ThreadGroup } from '../thread-group';
import type { Sentry } from '../sentry';
import type { SigInfo } from '../signals';
import { nsOf } from './types';
import { anyPidNs, groupPidNs, pidFrom, pidIn, type PidNamespace } from './pid-ns';

/** kpid as t sees it (0: outside t's namespace). */
export function viewPid(t: Task, kpid: number): number {
  return anyPidNs() ? pidIn(nsOf(t).pid, kpid) : kpid;
}

/** A pid t names (> 0) as a kernel pid; -1 when t's namespace has none such. */
export function kernelPid(t: Task, pid: number): number {
  return anyPidNs() ? pidFrom(nsOf(t).pid, pid) : pid;
}

/** A wait4/kill-style pid spec (n > 0 a pid, n < -1 a process group) in kernel pids; 0x7fffffff when none. */
export function kernelPidSpec(t: Task, pid: number): number {
  if (!anyPidNs() || pid === 0 || pid === -1) return pid;
  const k = kernelPid(t, Math.abs(pid));
  if (k < 0) return pid > 0 ? 0x7fffffff : -0x7fffffff;
  return pid > 0 ? k : -k;
}

/** The sender's pid in a siginfo as the receiving process's namespace numbers it (0: from outside it). */
export function seenSigInfo(tg: ThreadGroup, si: SigInfo): SigInfo {
  const ns = groupPidNs(tg);
  return ns === null || si.pid === undefined || si.pid <= 0 || si.raw !== undefined ? si : { ...si, pid: pidIn(ns, si.pid) };
}

/** Whether t's pid namespace contains the process (kill(-1) and /proc list only those). */
export function seesGroup(t: Task, tg: ThreadGroup): boolean {
  return !anyPidNs() || viewPid(t, tg.pid) !== 0;
}

/** The init of the namespace orphans of tg go to, unless tg is that init (then null). */
export function nsReaper(s: Sentry, tg: ThreadGroup): ThreadGroup | null {
  const ns = groupPidNs(tg);
  if (ns === null || ns.initPid === tg.pid || ns.dead) return null;
  const init = s.kernel.threadGroups.get(ns.initPid);
  return init && !init.zombie ? init : null;
}

/**
 * A process exited: if it was its namespace's init, the namespace dies with it (every
 * process left in it is killed, as zap_pid_ns_processes). Returns the processes to kill.
 */
export function initExited(s: Sentry, tg: ThreadGroup): ThreadGroup[] {
  const ns = groupPidNs(tg);
  if (ns === null || ns.initPid !== tg.pid) return [];
  ns.dead = true;
  const out: ThreadGroup[] = [];
  for (const kpid of ns.local.keys()) {
    const g = s.kernel.threadGroups.get(kpid);
    if (g && g !== tg && !g.zombie) out.push(g);
  }
  return out;
}

/** A reaped process's numbers go (and a thread's, when it ends). */
export function forgetPid(tg: ThreadGroup, kpid: number): void {
  const ns: PidNamespace | null = groupPidNs(tg);
  ns?.leave(kpid);
}
