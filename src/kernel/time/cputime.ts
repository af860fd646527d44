import { closeSync, openSync, readSync } from 'fs';
import type { Task } from '../task';
import type { Kernel } from '../kernel';
import { goferProcFile } from '../../gofer/client';
import { ProcFileKind } from '../../gofer/protocol';
import { native } from '../../platform/native';
import { virtualClock } from '../../determinism/virtual-clock';
import type { ThreadGroup } from '../thread-group';
import { timevalBytes } from './timespec';

/**
 * Guest CPU time. The guest's instructions run in the host stub thread `t.hostTid`, so
 * its CPU time is that thread's host CPU time: /proc/<hostTid>/schedstat gives the exact
 * sum_exec_runtime in ns, and /proc/<hostTid>/stat's utime:stime tick ratio splits it
 * into user and system time the way Linux's cputime_adjust does. Time the Sentry spends
 * serving the guest's syscalls is not charged (the stub is stopped meanwhile), so system
 * time is lower than on Linux. These are procfs files of our own tracees, opened once
 * per thread by the gofer (which checks the thread is one the Sentry traces): the
 * Sentry itself opens no host path once guests run (without a gofer, it opens them
 * itself). Readings are cached per task so a clock never goes backwards, even after
 * the stub thread is gone.
 */

export interface CpuSample {
  userNs: number;
  sysNs: number;
  /** Page faults, from stat; for getrusage. */
  minflt: number;
  majflt: number;
}

const TICK_NS = 10_000_000; // USER_HZ = 100

const last = new WeakMap<Task, CpuSample>();

/**
 * Open /proc files of a task's host thread, kept so a reading is two preads (~4 µs)
 * rather than two open/read/close (~40 µs). An fd names that very thread: once it
 * exits, reads fail (ESRCH) even if the tid is reused, and the fds are closed.
 */
interface ProcFds {
  hostTid: number;
  stat: number;
  sched: number; // -1 when the kernel has no schedstat
}

const fds = new WeakMap<Task, ProcFds>();
const closer = new FinalizationRegistry<ProcFds>((p) => closeFds(p));
const scratch = Buffer.alloc(1024);

function closeFds(p: ProcFds): void {
  for (const fd of [p.stat, p.sched]) {
    if (fd < 0) continue;
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  }
  p.stat = p.sched = -1;
}

const PROC_NAMES = ['stat', 'schedstat', 'status', 'statm'];

/**
 * Resident guest memory (kB) of address space asPid from a platform whose guest memory
 * is the Sentry's own (kvm: no stub whose statm could be read), or null (the others).
 */
export function platformResidentKb(k: Kernel, asPid: number): number | null {
  const plat = k.sentry?.platform;
  return plat?.memoryKb ? Math.max(0, plat.memoryKb(asPid, false)) : null;
}

/** Opens /proc/<tid>/<kind> of a stub thread: through the gofer when there is one. */
export function openProc(k: Kernel, tid: number, kind: ProcFileKind): number {
  const g = k.vfs?.gofer;
  if (g) return goferProcFile(g, tid, kind);
  try {
    return openSync(`/proc/${tid}/${PROC_NAMES[kind]}`, 'r');
  } catch {
    return -1;
  }
}

function procFds(t: Task): ProcFds | null {
  const cur = fds.get(t);
  if (cur && cur.hostTid === t.hostTid && cur.stat >= 0) return cur;
  if (cur) closeFds(cur);
  const stat = openProc(t.kernel, t.hostTid, ProcFileKind.Stat);
  if (stat < 0) return null;
  // No schedstat (-1): tick resolution it is.
  const sched = Math.max(-1, openProc(t.kernel, t.hostTid, ProcFileKind.Schedstat));
  const p = { hostTid: t.hostTid, stat, sched };
  fds.set(t, p);
  closer.register(t, p);
  return p;
}

function preadText(fd: number): string | null {
  try {
    const n = readSync(fd, scratch, 0, scratch.length, 0);
    return scratch.toString('latin1', 0, n);
  } catch {
    return null;
  }
}

function readHost(t: Task): CpuSample | null {
  // A platform whose guest threads are the Sentry's own (kvm's vCPUs) has their clocks.
  const plat = t.kernel.sentry?.platform;
  if (plat?.threadCpuNs) {
    const ns = plat.threadCpuNs(t.hostTid);
    const c = plat.threadCounts?.(t.hostTid) ?? null;
    return ns < 0 ? null : { userNs: ns, sysNs: 0, minflt: c?.[0] ?? 0, majflt: c?.[1] ?? 0 };
  }
  const p = procFds(t);
  if (!p) return null;
  const stat = preadText(p.stat);
  if (stat === null) {
    closeFds(p); // the thread is gone
    return null;
  }
  // Fields after "(comm)": state is field 3; utime/stime are 14/15, minflt 10, majflt 12.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Anything unparsable counts as 0 rather than NaN (BigInt(NaN) would throw later).
  const num = (x: string | undefined): number => {
    const v = Number(x);
    return Number.isSafeInteger(v) && v >= 0 ? v : 0;
  };
  const minflt = num(f[7]);
  const majflt = num(f[9]);
  const uTicks = num(f[11]);
  const sTicks = num(f[12]);
  let total = (uTicks + sTicks) * TICK_NS;
  const sched = p.sched >= 0 ? preadText(p.sched) : null;
  if (sched !== null) {
    const exact = num(sched.split(' ')[0]);
    if (exact > 0) total = exact;
  }
  const ticks = uTicks + sTicks;
  const userNs = ticks === 0 ? total : Math.round((total * uTicks) / ticks);
  return { userNs, sysNs: total - userNs, minflt, majflt };
}

/** Host CPU ns of a task's stub thread, -1 if it cannot be read (deterministic mode's preemption asks it). */
export function hostThreadCpuNs(t: Task): number {
  const c = t.hostTid > 0 ? readHost(t) : null;
  return c === null ? -1 : c.userNs + c.sysNs;
}

/** --deterministic: a thread's CPU time is the virtual time of its syscalls (chargeVirtualCpu). */
const virtualCpu = new WeakMap<Task, number>();
export function chargeVirtualCpu(t: Task, ns: number): void {
  virtualCpu.set(t, (virtualCpu.get(t) ?? 0) + ns);
}

/** CPU time of one guest thread (monotonic per task). */
export function taskCpu(t: Task): CpuSample {
  if (virtualClock.active) return { userNs: virtualCpu.get(t) ?? 0, sysNs: 0, minflt: 0, majflt: 0 };
  const prev = last.get(t);
  const cur = t.hostTid > 0 ? readHost(t) : null;
  if (!cur) return prev ?? { userNs: 0, sysNs: 0, minflt: 0, majflt: 0 };
  // The Sentry's time serving this thread's syscalls is its system time, as in Linux.
  if (t.hostTid > 0) t.sentryNs = (t.sentryNs ?? 0) + native().takeSentryNs(t.hostTid);
  cur.sysNs += t.sentryNs ?? 0;
  if (prev) {
    // Never go backwards (the user/system split may shift between readings).
    if (cur.userNs < prev.userNs) cur.userNs = prev.userNs;
    if (cur.sysNs < prev.sysNs) cur.sysNs = prev.sysNs;
  }
  last.set(t, cur);
  return cur;
}

/** CPU time of threads of a group that have already exited (see accountExitedTask). */
const exited = new WeakMap<ThreadGroup, CpuSample>();

/**
 * The last thread of the sandbox's init, with nothing watching (no report, policy or
 * library watcher): no parent will reap it and the sandbox ends with it, so no one can
 * ask its CPU time or peak RSS: not sampled (host /proc reads, opened through the Gofer).
 */
function unwatchedLast(t: Task): boolean {
  return t.tg.parent === null && t.kernel.hooks === null && t.tg.tasks.size === 1 && t.tg.tasks.has(t);
}

/**
 * Lead: call when a thread exits (before its host thread is reaped) so its CPU time
 * keeps counting in the process's clocks and getrusage(RUSAGE_SELF).
 */
export function accountExitedTask(t: Task): void {
  if (unwatchedLast(t)) {
    const p = fds.get(t);
    if (p) closeFds(p);
    dropStatusFd(t);
    return;
  }
  const s = taskCpu(t);
  if (t.hostTid > 0) {
    let h = hostStatus(t);
    if (h.maxRssKb === 0) h = lastStatus.get(t) ?? h; // the address space already went
    const e = exitedStatus.get(t.tg) ?? { maxRssKb: 0, nvcsw: 0, nivcsw: 0 };
    exitedStatus.set(t.tg, { maxRssKb: Math.max(e.maxRssKb, h.maxRssKb), nvcsw: e.nvcsw + h.nvcsw, nivcsw: e.nivcsw + h.nivcsw });
  }
  const p = fds.get(t);
  if (p) closeFds(p);
  dropStatusFd(t);
  const e = exited.get(t.tg) ?? { userNs: 0, sysNs: 0, minflt: 0, majflt: 0 };
  exited.set(t.tg, {
    userNs: e.userNs + s.userNs,
    sysNs: e.sysNs + s.sysNs,
    minflt: e.minflt + s.minflt,
    majflt: e.majflt + s.majflt,
  });
}

/** CPU time of a whole process: live threads plus those accounted at exit. */
export function processCpu(tg: ThreadGroup): CpuSample {
  const e = exited.get(tg);
  const sum: CpuSample = e ? { ...e } : { userNs: 0, sysNs: 0, minflt: 0, majflt: 0 };
  for (const t of tg.tasks) {
    const s = taskCpu(t);
    sum.userNs += s.userNs;
    sum.sysNs += s.sysNs;
    sum.minflt += s.minflt;
    sum.majflt += s.majflt;
  }
  return sum;
}

/** Open /proc/<tid>/status of a task's host thread (pinned to it, as ProcFds). */
const statusFds = new WeakMap<Task, { hostTid: number; fd: number }>();
const statusCloser = new FinalizationRegistry<number>((fd) => {
  try { closeSync(fd); } catch { /* closed */ }
});

function dropStatusFd(t: Task): void {
  const s = statusFds.get(t);
  if (!s) return;
  statusFds.delete(t);
  statusCloser.unregister(s);
  try { closeSync(s.fd); } catch { /* closed */ }
}

function statusText(t: Task): string | null {
  let s = statusFds.get(t);
  if (s && s.hostTid !== t.hostTid) {
    dropStatusFd(t);
    s = undefined;
  }
  if (!s) {
    const fd = openProc(t.kernel, t.hostTid, ProcFileKind.Status);
    if (fd < 0) return null;
    s = { hostTid: t.hostTid, fd };
    statusFds.set(t, s);
    statusCloser.register(t, fd, s);
  }
  const buf = Buffer.alloc(4096);
  try {
    return buf.toString('latin1', 0, readSync(s.fd, buf, 0, buf.length, 0));
  } catch {
    dropStatusFd(t); // the thread is gone
    return null;
  }
}

/** Peak RSS (kB) and context switches of a task's host thread, for getrusage. */
export function hostStatus(t: Task): { maxRssKb: number; nvcsw: number; nivcsw: number; rssKb?: number } {
  const out = { maxRssKb: 0, nvcsw: 0, nivcsw: 0, rssKb: 0 };
  if (t.hostTid <= 0 || virtualClock.active) return out; // deterministic: host figures vary by run
  const plat = t.kernel.sentry?.platform;
  if (plat?.memoryKb) {
    out.rssKb = Math.max(0, plat.memoryKb(t.hostTid, false));
    out.maxRssKb = Math.max(0, plat.memoryKb(t.hostTid, true));
    const c = plat.threadCounts?.(t.hostTid) ?? null;
    out.nvcsw = c?.[2] ?? 0;
    out.nivcsw = c?.[3] ?? 0;
    return out;
  }
  const s = statusText(t);
  if (s === null) return out;
  const num = (key: string): number => {
    const m = new RegExp(`^${key}:\\s*(\\d+)`, 'm').exec(s);
    return m ? Number(m[1]) : 0;
  };
  out.maxRssKb = num('VmHWM');
  out.rssKb = num('VmRSS');
  out.nvcsw = num('voluntary_ctxt_switches');
  out.nivcsw = num('nonvoluntary_ctxt_switches');
  return out;
}

/**
 * Lead: what a reaped child adds to its parent's ThreadGroup.childrenCpuNs (its own
 * CPU time plus that of the children it reaped), for getrusage(RUSAGE_CHILDREN) and
 * times(). Call accountExitedTask for each thread first, while /proc still has it.
 */
export function cpuNsForParent(child: ThreadGroup): number {
  const s = processCpu(child);
  return s.userNs + s.sysNs + Math.floor(child.childrenCpuNs);
}

/** struct rusage as far as the sandbox measures it. */
export interface Usage extends CpuSample {
  maxRssKb: number;
  nvcsw: number;
  nivcsw: number;
}

/** The last reading of a thread's status while its address space was still there. */
const lastStatus = new WeakMap<Task, { maxRssKb: number; nvcsw: number; nivcsw: number }>();

/** Lead: call for each thread just before its address space is destroyed (exit_group), so peak RSS is kept. */
export function sampleHostStatus(t: Task): void {
  if (t.hostTid <= 0 || unwatchedLast(t)) return;
  lastStatus.set(t, hostStatus(t));
  // And its CPU time and faults: a thread that is not its host process's leader (systrap's
  // guest threads) leaves no /proc entry behind to read them from afterwards.
  taskCpu(t);
}

/** Peak RSS and context switches of a group's threads that already exited. */
const exitedStatus = new WeakMap<ThreadGroup, { maxRssKb: number; nvcsw: number; nivcsw: number }>();

export function zeroUsage(): Usage {
  return { userNs: 0, sysNs: 0, minflt: 0, majflt: 0, maxRssKb: 0, nvcsw: 0, nivcsw: 0 };
}

/** Adds u into acc: times, faults and switches sum, maxrss is the largest (as Linux's cmaxrss). */
export function addUsage(acc: Usage, u: Usage): Usage {
  acc.userNs += u.userNs;
  acc.sysNs += u.sysNs;
  acc.minflt += u.minflt;
  acc.majflt += u.majflt;
  acc.nvcsw += u.nvcsw;
  acc.nivcsw += u.nivcsw;
  acc.maxRssKb = Math.max(acc.maxRssKb, u.maxRssKb);
  return acc;
}

/** RUSAGE_THREAD: one thread. */
export function taskUsage(t: Task): Usage {
  const h = t.hostTid > 0 ? hostStatus(t) : { maxRssKb: 0, nvcsw: 0, nivcsw: 0 };
  return { ...taskCpu(t), ...h };
}

/** RUSAGE_SELF: live threads and exited ones. */
export function processUsage(tg: ThreadGroup): Usage {
  const u: Usage = { ...processCpu(tg), maxRssKb: 0, nvcsw: 0, nivcsw: 0 };
  const e = exitedStatus.get(tg);
  if (e) addUsage(u, { ...e, userNs: 0, sysNs: 0, minflt: 0, majflt: 0 });
  for (const t of tg.tasks) {
    if (t.hostTid <= 0) continue;
    const h = hostStatus(t);
    addUsage(u, { ...h, userNs: 0, sysNs: 0, minflt: 0, majflt: 0 });
  }
  return u;
}

/** What a child reports to wait4/waitid and adds to its parent's RUSAGE_CHILDREN: itself and its reaped children. */
export function usageForParent(child: ThreadGroup): Usage {
  const u = processUsage(child);
  return child.childrenUsage ? addUsage(u, child.childrenUsage) : u;
}

/** struct rusage: two timevals, then 14 longs (maxrss @32, minflt @64, majflt @72, nvcsw @128, nivcsw @136). */
export function rusageBytes(u: Usage): Buffer {
  const b = Buffer.alloc(144);
  timevalBytes(BigInt(Math.floor(u.userNs)), b, 0);
  timevalBytes(BigInt(Math.floor(u.sysNs)), b, 16);
  b.writeBigInt64LE(BigInt(u.maxRssKb), 32);
  b.writeBigInt64LE(BigInt(u.minflt), 64);
  b.writeBigInt64LE(BigInt(u.majflt), 72);
  b.writeBigInt64LE(BigInt(u.nvcsw), 128);
  b.writeBigInt64LE(BigInt(u.nivcsw), 136);
  return b;
}
