/** Process and thread syscalls: thin wrappers over src/kernel/process-lifecycle and friends. */
import type { Task } from '../src/kernel/task';
import {
  cloneTask, execInto, exitThread, exitGroup, reap, CLONE_VFORK, CLONE_VM, CLONE_THREAD, CLONE_PIDFD,
  CLONE_PARENT_SETTID, type CloneArgs,
} from '../src/kernel/process-lifecycle';
import { PidFd } from '../src/kernel/pidfd';
import { futexQueue, futexWake, futexRequeue, futexLockPi, futexUnlockPi } from '../src/kernel/futex';
import { NO_RESUME } from '../src/kernel/syscall-dispatch';
import { readExecArgs } from '../src/loader/exec-args';
import { limitsOf, RLIMIT_STACK } from '../src/kernel/limits';
import { installFd } from './fd-install';
import { onNewSession as ttyOnNewSession } from '../src/kernel/tty';
import * as E from '../src/abi/errno';
import { usageForParent, rusageBytes, zeroUsage, type Usage } from '../src/kernel/time/cputime';
import { realtimeToMono } from '../src/kernel/time/clocks';
import type { ThreadGroup } from '../src/kernel/thread-group';
import { SIGCHLD, CLD_EXITED, CLD_KILLED, CLD_DUMPED, CLD_STOPPED, CLD_CONTINUED, CLD_TRAPPED } from '../src/kernel/signals';
import { hasTracees, mayAccess, ptraceWaitable } from '../src/kernel/ptrace';
import { kernelPid, kernelPidSpec, viewPid } from '../src/kernel/namespaces/pid-view';
import { ptraceExitStop } from '../src/kernel/ptrace-seize';
import type { Cgroup } from '../src/kernel/cgroup';
import { cgroupOfDir } from '../fs/fsimpl/sys/cgroupfs';

// ---- identity ----

// Pids cross the boundary as the caller's pid namespace numbers them (src/kernel/namespaces/pid-view.ts).
export function getpid(t: Task): number {
  return viewPid(t, t.tg.pid);
}

export function gettid(t: Task): number {
  return viewPid(t, t.tid);
}

export function getppid(t: Task): number {
  return viewPid(t, t.tg.ppid);
}

function findGroup(t: Task, pid: number): ThreadGroup | undefined {
  const tg = t.kernel.threadGroups.get(kernelPid(t, pid));
  return tg && !tg.zombie ? tg : undefined;
}

export function getpgid(t: Task, pid: number): number {
  pid |= 0;
  if (pid < 0) return -E.ESRCH;
  const tg = pid === 0 ? t.tg : findGroup(t, pid);
  return tg ? viewPid(t, tg.pgid) : -E.ESRCH;
}

export function getpgrp(t: Task): number {
  return viewPid(t, t.tg.pgid);
}

export function getsid(t: Task, pid: number): number {
  pid |= 0;
  const tg = pid === 0 ? t.tg : findGroup(t, pid);
  return tg ? viewPid(t, tg.sid) : -E.ESRCH;
}

export function setsid(t: Task): number {
  const tg = t.tg;
  for (const g of t.kernel.threadGroups.values()) if (g.pgid === tg.pid) return -E.EPERM;
  tg.sid = tg.pid;
  tg.pgid = tg.pid;
  ttyOnNewSession(tg); // the new session has no controlling terminal
  return tg.pid;
}

export function setpgid(t: Task, pid: number, pgid: number): number {
  pid |= 0;
  pgid |= 0;
  // A pgid of 0 means the pid itself, so a negative pid with it is EINVAL too.
  if (pgid < 0 || (pgid === 0 && pid < 0)) return -E.EINVAL;
  // A zombie child is still found (Linux finds it, then refuses with EACCES after exec).
  const tg = pid === 0 ? t.tg : t.kernel.threadGroups.get(pid);
  if (!tg) return -E.ESRCH;
  if (tg !== t.tg && tg.parent !== t.tg) return -E.ESRCH;
  if (tg !== t.tg && tg.sid !== t.tg.sid) return -E.EPERM;
  if (tg !== t.tg && tg.didExec) return -E.EACCES;
  if (tg.sid === tg.pid) return -E.EPERM;
  if (tg.sid !== t.tg.sid) return -E.EPERM;
  const target = pgid === 0 ? tg.pid : pgid;
  if (target !== tg.pid) {
    let exists = false;
    for (const g of t.kernel.threadGroups.values()) if (g.pgid === target && g.sid === t.tg.sid) exists = true;
    if (!exists) return -E.EPERM;
  }
  tg.pgid = target;
  return 0;
}

// ---- clone / exec / exit ----

function doClone(t: Task, flags: number, stack: number, ptid: number, ctid: number, tls: number, pidfdOut?: number, extra: Pick<CloneArgs, 'clearSighand' | 'cgroup'> = {}): number {
  // vfork: the parent sleeps until the child execs or exits; the handler re-runs then.
  if (t.sysState?.vforkChild) {
    if (!t.vforkDone) return t.block();
    t.vforkDone = false;
    t.uninterruptible = false;
    return viewPid(t, t.sysState.vforkChild);
  }
  // CLONE_PIDFD: the pidfd goes where clone() puts the parent tid (clone3: its own field).
  const pidfdAddr = flags & CLONE_PIDFD ? (pidfdOut ?? ptid) : 0;
  if (flags & CLONE_PIDFD && (flags & CLONE_THREAD || (pidfdOut === undefined && flags & CLONE_PARENT_SETTID))) return -E.EINVAL;
  const tid = cloneTask(t.kernel.sentry, t, {
    flags: flags & ~CLONE_PIDFD, stack, parentTid: ptid, childTid: ctid, tls, exitSignal: flags & CLONE_THREAD ? -1 : flags & 0xff, ...extra,
  });
  if (tid > 0 && pidfdAddr) {
    const tg = t.kernel.threadGroups.get(tid);
    const fd = tg ? installFd(t, new PidFd(tg, 2), true) : -E.ESRCH;
    if (fd < 0 || !t.mem.writeI32(pidfdAddr, fd)) return fd < 0 ? fd : -E.EFAULT;
  }
  if (tid > 0 && flags & CLONE_VFORK) {
    t.sysState = { vforkChild: tid };
    t.vforkDone = false;
    t.uninterruptible = true;
    return t.block();
  }
  return tid > 0 ? viewPid(t, tid) : tid;
}

export function clone(t: Task, flags: number, stack: number, ptid: number, ctid: number, tls: number): number {
  return doClone(t, Number(t.rawArg(0) & 0xffffffffn), stack, ptid, ctid, tls);
}

export function fork(t: Task): number {
  return doClone(t, SIGCHLD, 0, 0, 0, 0);
}

export function vfork(t: Task): number {
  return doClone(t, CLONE_VM | CLONE_VFORK | SIGCHLD, 0, 0, 0, 0);
}

const CSIGNAL = 0xff;
const CLONE_NEWTIME = 0x80;
const CLONE_DETACHED = 0x400000;
const CLONE_PARENT_BIT = 0x8000;
const CLONE_CLEAR_SIGHAND = 2 ** 32, CLONE_INTO_CGROUP = 2 ** 33;
/** struct clone_args as far as this kernel knows it (CLONE_ARGS_SIZE_VER2). */
const CLONE_ARGS_KNOWN = 88;

/** clone3(struct clone_args *, size), checked as Linux's copy_clone_args_from_user and clone3_args_valid. */
export function clone3(t: Task, argsAddr: number, size: number): number {
  if (t.sysState?.vforkChild) return doClone(t, 0, 0, 0, 0, 0);
  if (size > 4096) return -E.E2BIG;
  if (size < 64) return -E.EINVAL;
  const b = t.mem.read(argsAddr, size);
  if (!b) return -E.EFAULT;
  for (let i = CLONE_ARGS_KNOWN; i < size; i++) if (b[i] !== 0) return -E.E2BIG;
  const a = Buffer.alloc(CLONE_ARGS_KNOWN);
  b.copy(a, 0, 0, Math.min(size, CLONE_ARGS_KNOWN));
  const flags = Number(a.readBigUInt64LE(0));
  const pidfd = Number(a.readBigUInt64LE(8));
  const ctid = Number(a.readBigUInt64LE(16));
  const ptid = Number(a.readBigUInt64LE(24));
  const exitSignal = a.readBigUInt64LE(32);
  const stack = Number(a.readBigUInt64LE(40));
  const stackSize = Number(a.readBigUInt64LE(48));
  const tls = Number(a.readBigUInt64LE(56));
  const setTid = a.readBigUInt64LE(64);
  const setTidSize = a.readBigUInt64LE(72);
  if (setTidSize > 32n || (setTid === 0n && setTidSize > 0n) || (setTid !== 0n && setTidSize === 0n)) return -E.EINVAL;
  // Only a valid signal number fits in CSIGNAL.
  if (exitSignal > 64n) return -E.EINVAL;
  const lo = flags % 2 ** 32;
  const clearSighand = Math.floor(flags / CLONE_CLEAR_SIGHAND) % 2 === 1;
  const intoCgroup = Math.floor(flags / CLONE_INTO_CGROUP) % 2 === 1;
  const cgroupFd = a.readBigUInt64LE(80);
  if (intoCgroup && (cgroupFd > 0x7fffffffn || size < CLONE_ARGS_KNOWN)) return -E.EINVAL;
  if (flags >= 2 * CLONE_INTO_CGROUP) return -E.EINVAL;
  if (lo & (CLONE_DETACHED | (CSIGNAL & ~CLONE_NEWTIME))) return -E.EINVAL;
  // Handlers shared and cleared at once cannot be.
  if (clearSighand && lo & 0x800 /* CLONE_SIGHAND */) return -E.EINVAL;
  if (lo & (CLONE_THREAD | CLONE_PARENT_BIT) && exitSignal !== 0n) return -E.EINVAL;
  if ((stack === 0) !== (stackSize === 0)) return -E.EINVAL;
  const sp = stack ? stack + stackSize : 0;
  let into: Cgroup | null = null;
  if (intoCgroup) {
    // cgroup_css_set_fork: an open cgroup2 directory (EBADF otherwise), no processes in a
    // group that hands controllers down (EBUSY), room under its pids.max (EAGAIN).
    const f = t.fdTable.get(Number(cgroupFd));
    into = f ? cgroupOfDir(f.dentry?.inode ?? f.inode) : null;
    if (into === null) return -E.EBADF;
    if (into.parent !== null && into.subtreeControl.size > 0) return -E.EBUSY;
  }
  return doClone(t, (lo & ~CSIGNAL) | Number(exitSignal), sp, ptid, ctid, tls, lo & CLONE_PIDFD ? pidfd : undefined, { clearSighand, cgroup: into ?? undefined });
}

export function execve(t: Task, pathAddr: number, argvAddr: number, envpAddr: number): number {
  return doExec(t, t.mem.readPath(pathAddr), argvAddr, envpAddr);
}

export function execveat(t: Task, dirfd: number, pathAddr: number, argvAddr: number, envpAddr: number, flags: number): number {
  const p = t.mem.readCString(pathAddr, 4096);
  if (p === null) return -E.EFAULT;
  const AT_EMPTY_PATH = 0x1000;
  const AT_SYMLINK_NOFOLLOW = 0x100;
  if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) return -E.EINVAL;
  if (flags & AT_SYMLINK_NOFOLLOW && p !== '') {
    const st = t.kernel.vfs.stat(t, dirfd | 0, p, false);
    if (typeof st !== 'number' && (st.mode & 0o170000) === 0o120000) return -E.ELOOP;
  }
  const dfd = dirfd | 0;
  if ((!p.startsWith('/') || p === '') && dfd !== -100 && !t.fdTable.get(dfd)) return -E.EBADF;
  let full: string | number = p;
  if (p === '' && flags & AT_EMPTY_PATH) {
    full = `/proc/self/fd/${dirfd | 0}`;
  } else if (!p.startsWith('/') && (dirfd | 0) !== -100) {
    full = `/proc/self/fd/${dirfd | 0}/${p}`;
  } else if (p === '') {
    full = -E.ENOENT;
  }
  return doExec(t, full, argvAddr, envpAddr);
}

function doExec(t: Task, path: string | number, argvAddr: number, envpAddr: number): number {
  if (typeof path === 'number') return path;
  // Limits checked while copying (E2BIG as fs/exec.c computes it); strings kept as bytes.
  const stackLimit = limitsOf(t.tg).soft(RLIMIT_STACK);
  const args = readExecArgs(t.mem, argvAddr, envpAddr, path, stackLimit);
  if (typeof args === 'number') return args;
  const c = t.creds;
  const r = execInto(t.kernel.sentry, t, {
    path, argv: args.argv, envp: args.envp, stackLimit, uid: c.uid, euid: c.euid, gid: c.gid, egid: c.egid,
  });
  if (typeof r === 'number') return NO_RESUME;
  return -r.errno;
}

export function exit(t: Task, code: number): number {
  const s = t.kernel.sentry;
  if (!ptraceExitStop(s, t, ((code | 0) & 0xff) << 8, () => exitThread(s, t, code))) exitThread(s, t, code);
  return NO_RESUME;
}

export function exit_group(t: Task, code: number): number {
  const s = t.kernel.sentry;
  const status = ((code | 0) & 0xff) << 8;
  if (!ptraceExitStop(s, t, status, () => exitGroup(s, t.tg, status))) exitGroup(s, t.tg, status);
  return NO_RESUME;
}

// ---- wait ----

const WNOHANG = 1, WUNTRACED = 2, WEXITED = 4, WCONTINUED = 8, WNOWAIT = 0x01000000;
const WALL_FLAGS = 0x40000000 | 0x80000000 | 0x20000000; // __WALL, __WCLONE, __WNOTHREAD

const __WCLONE = 0x80000000, __WALL = 0x40000000;

/**
 * Children of t's process matching a wait4-style pid spec. A "clone" child (one that
 * does not signal SIGCHLD at exit) is waited for only with __WCLONE or __WALL, and
 * with __WCLONE only such children are.
 */
function matching(t: Task, pid: number, options: number): ThreadGroup[] {
  const out: ThreadGroup[] = [];
  for (const c of t.tg.children) {
    if (!(pid > 0 ? c.pid === pid : pid === -1 ? true : pid === 0 ? c.pgid === t.tg.pgid : c.pgid === -pid)) continue;
    const cloneChild = c.exitSignal !== SIGCHLD;
    if (!(options & __WALL) && cloneChild !== ((options & __WCLONE) !== 0)) continue;
    out.push(c);
  }
  return out;
}

interface WaitResult {
  /** The child's resource usage with its own reaped children's (wait4/waitid rusage). */
  usage: Usage;
  /** As the waiter's pid namespace numbers it. */
  pid: number;
  status: number;
  code: number;
  sigStatus: number;
}

/** Finds a reportable child; reaps it unless WNOWAIT. null: none yet; number: -errno. */
function findWaitable(t: Task, pid: number, options: number): WaitResult | null | number {
  const kids = matching(t, pid, options);
  const tr = tracedWaitable(t, pid, options);
  if (tr) return tr;
  if (kids.length === 0) return hasTracees(t.tg) ? null : -E.ECHILD;
  for (const c of kids) {
    if (c.zombie && options & WEXITED) {
      const st = c.waitStatus;
      const sig = st & 0x7f;
      // The pid as the waiter sees it, taken before the reap forgets it in the namespace.
      const vpid = viewPid(t, c.pid);
      if (!(options & WNOWAIT)) reap(c);
      return {
        usage: c.finalUsage ?? usageForParent(c),
        pid: vpid, status: st, code: sig === 0 ? CLD_EXITED : st & 0x80 ? CLD_DUMPED : CLD_KILLED,
        sigStatus: sig === 0 ? (st >> 8) & 0xff : sig,
      };
    }
    if (c.stopReport && options & WUNTRACED) {
      const sig = c.stopReport;
      if (!(options & WNOWAIT)) c.stopReport = 0;
      return { usage: usageForParent(c), pid: viewPid(t, c.pid), status: (sig << 8) | 0x7f, code: CLD_STOPPED, sigStatus: sig };
    }
    if (c.continueReport && options & WCONTINUED) {
      if (!(options & WNOWAIT)) c.continueReport = false;
      return { usage: usageForParent(c), pid: viewPid(t, c.pid), status: 0xffff, code: CLD_CONTINUED, sigStatus: 18 };
    }
  }
  return null;
}

/** A ptrace stop (reported whatever WUNTRACED says) or a traced thread's exit, for the tracer. */
function tracedWaitable(t: Task, pid: number, options: number): WaitResult | null {
  const match = (id: number, pgid: number, thread: boolean): boolean => {
    if (!(pid > 0 ? id === pid : pid === -1 ? true : pid === 0 ? pgid === t.tg.pgid : pgid === -pid)) return false;
    return !thread || (options & (__WALL | __WCLONE)) !== 0;
  };
  const r = ptraceWaitable(t, match, (options & WNOWAIT) !== 0, (options & WEXITED) !== 0);
  if (!r) return null;
  const usage = r.task ? usageForParent(r.task.tg) : zeroUsage();
  if (!r.exited) return { usage, pid: viewPid(t, r.pid), status: r.status, code: CLD_TRAPPED, sigStatus: (r.status >> 8) & 0xff };
  const sig = r.status & 0x7f;
  return {
    usage, pid: viewPid(t, r.pid), status: r.status, code: sig === 0 ? CLD_EXITED : r.status & 0x80 ? CLD_DUMPED : CLD_KILLED,
    sigStatus: sig === 0 ? (r.status >> 8) & 0xff : sig,
  };
}

/** The rusage a wait reports: the reaped child's; for a stop or continue report, the live child's (RUSAGE_BOTH). */
function waitUsage(r: WaitResult): Buffer {
  return rusageBytes(r.usage);
}

export function wait4(t: Task, pid: number, statusAddr: number, options: number, rusage: number): number {
  options |= 0;
  if (options & ~(WNOHANG | WUNTRACED | WCONTINUED | WALL_FLAGS)) return -E.EINVAL;
  if ((pid | 0) === -0x80000000) return -E.ESRCH; // -INT_MIN is no process group
  pid = kernelPidSpec(t, pid | 0);
  const r = findWaitable(t, pid, options | WEXITED);
  if (typeof r === 'number') return r;
  if (r === null) {
    if (options & WNOHANG) return 0;
    return t.blockOn(t.tg.childEvents, -1);
  }
  if (statusAddr && !t.mem.writeI32(statusAddr, r.status)) return -E.EFAULT;
  if (rusage && !t.mem.write(rusage, waitUsage(r))) return -E.EFAULT;
  return r.pid;
}

export function waitid(t: Task, idtype: number, id: number, infop: number, options: number, rusage: number): number {
  idtype |= 0;
  id |= 0;
  options |= 0;
  const P_ALL = 0, P_PID = 1, P_PGID = 2, P_PIDFD = 3;
  if (options & ~(WNOHANG | WUNTRACED | WEXITED | WCONTINUED | WNOWAIT | WALL_FLAGS)) return -E.EINVAL;
  if (!(options & (WEXITED | WUNTRACED | WCONTINUED))) return -E.EINVAL;
  let pid: number;
  if (idtype === P_ALL) pid = -1;
  else if (idtype === P_PID) {
    if (id <= 0) return -E.EINVAL;
    pid = id;
  } else if (idtype === P_PGID) {
    if (id < 0) return -E.EINVAL;
    pid = id === 0 ? 0 : -id;
  } else if (idtype === P_PIDFD) {
    if (id < 0) return -E.EINVAL;
    const f = t.fdTable.get(id);
    if (!f || !(f instanceof PidFd)) return -E.EBADF;
    pid = f.tg.pid;
    if (f.tg.parent !== t.tg) return -E.ECHILD;
  } else return -E.EINVAL;
  if (idtype !== P_PIDFD) pid = kernelPidSpec(t, pid);
  const r = findWaitable(t, pid, options);
  if (typeof r === 'number') return r;
  if (r === null) {
    if (options & WNOHANG) {
      if (infop && !t.mem.write(infop, Buffer.alloc(128))) return -E.EFAULT;
      return 0;
    }
    return t.blockOn(t.tg.childEvents, -1);
  }
  if (infop) {
    const si = Buffer.alloc(128);
    si.writeInt32LE(SIGCHLD, 0);
    si.writeInt32LE(r.code, 8);
    si.writeInt32LE(r.pid, 16);
    si.writeInt32LE(r.sigStatus, 24);
    if (!t.mem.write(infop, si)) return -E.EFAULT;
  }
  if (rusage && !t.mem.write(rusage, waitUsage(r))) return -E.EFAULT;
  return 0;
}

// ---- pidfds ----

const PIDFD_NONBLOCK = 0o4000;

export function pidfd_open(t: Task, pid: number, flags: number): number {
  if (flags & ~PIDFD_NONBLOCK) return -E.EINVAL;
  if ((pid | 0) <= 0) return -E.EINVAL;
  const tg = t.kernel.threadGroups.get(pid | 0);
  if (!tg) return t.kernel.tasks.has(pid | 0) ? -E.EINVAL : -E.ESRCH; // a non-leader thread: EINVAL
  return installFd(t, new PidFd(tg, 2 | (flags & PIDFD_NONBLOCK)), true);
}

export function pidfd_getfd(t: Task, pidfd: number, targetfd: number, flags: number): number {
  if (flags !== 0) return -E.EINVAL;
  const f = t.fdTable.get(pidfd | 0);
  if (!f) return -E.EBADF;
  if (!(f instanceof PidFd)) return -E.EBADF;
  const leader = f.tg.leader ?? [...f.tg.tasks][0];
  if (!leader || f.tg.zombie) return -E.ESRCH;
  const target = leader.fdTable.get(targetfd | 0);
  if (!target) return -E.EBADF;
  return installFd(t, target.incRef(), true);
}

// ---- threads: tid address, robust list, futex, TLS ----

export function set_tid_address(t: Task, addr: number): number {
  t.clearChildTid = addr;
  return t.tid;
}

export function set_robust_list(t: Task, head: number, len: number): number {
  if (len !== 24) return -E.EINVAL;
  t.robustList = head;
  return 0;
}

export function get_robust_list(t: Task, pid: number, headPtr: number, lenPtr: number): number {
  const target = (pid | 0) === 0 ? t : t.kernel.tasks.get(pid | 0);
  if (!target) return -E.ESRCH;
  // Another task's list: PTRACE_MODE_READ_REALCREDS (EPERM otherwise).
  if (target !== t && !mayAccess(t, target)) return -E.EPERM;
  if (!t.mem.writeU64(headPtr, target.robustList) || !t.mem.writeU64(lenPtr, 24)) return -E.EFAULT;
  return 0;
}

const FUTEX_WAIT = 0, FUTEX_WAKE = 1, FUTEX_REQUEUE = 3, FUTEX_CMP_REQUEUE = 4, FUTEX_WAKE_OP = 5,
  FUTEX_LOCK_PI = 6, FUTEX_UNLOCK_PI = 7, FUTEX_TRYLOCK_PI = 8, FUTEX_WAIT_BITSET = 9, FUTEX_WAKE_BITSET = 10,
  FUTEX_LOCK_PI2 = 13, FUTEX_PRIVATE = 128, FUTEX_CLOCK_REALTIME = 256;

/** A futex timeout: relative (FUTEX_WAIT) or absolute on CLOCK_MONOTONIC/REALTIME; ns deadline or -errno. */
function futexDeadline(t: Task, addr: number, absolute: boolean, realtime: boolean): number {
  if (!addr) return Infinity;
  const b = t.mem.read(addr, 16);
  if (!b) return -E.EFAULT;
  const sec = Number(b.readBigInt64LE(0));
  const nsec = Number(b.readBigInt64LE(8));
  if (sec < 0 || nsec < 0 || nsec >= 1e9) return -E.EINVAL;
  const ns = sec * 1e9 + nsec;
  if (!absolute) return t.kernel.nowNs() + ns;
  // Our CLOCK_MONOTONIC counts from the sandbox's boot, like Kernel.nowNs().
  return realtime ? Number(realtimeToMono(BigInt(ns))) : ns;
}

export function futex(t: Task, uaddr: number, op: number, val: number, timeoutAddr: number, uaddr2: number, val3: number): number {
  const cmd = op & ~(FUTEX_PRIVATE | FUTEX_CLOCK_REALTIME);
  const priv = (op & FUTEX_PRIVATE) !== 0;
  if (uaddr % 4) return -E.EINVAL;
  switch (cmd) {
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET: {
      if (t.sysState?.futexWaiting) return t.interrupting ? t.intrResult : t.timedOut ? -E.ETIMEDOUT : 0;
      const bitset = cmd === FUTEX_WAIT ? -1 : val3 | 0;
      if (bitset === 0) return -E.EINVAL;
      const cur = t.mem.readI32(uaddr);
      if (cur === null) return -E.EFAULT;
      if (cur !== (val | 0)) return -E.EAGAIN;
      const deadline = futexDeadline(t, timeoutAddr, cmd !== FUTEX_WAIT, (op & FUTEX_CLOCK_REALTIME) !== 0);
      if (deadline < 0) return deadline;
      t.sysState = { futexWaiting: true };
      return t.blockOn(futexQueue(t, uaddr, priv), bitset, deadline);
    }
    case FUTEX_WAKE:
      return futexWake(t, uaddr, Math.max(0, val | 0), -1, priv);
    case FUTEX_WAKE_BITSET:
      if ((val3 | 0) === 0) return -E.EINVAL;
      return futexWake(t, uaddr, Math.max(0, val | 0), val3 | 0, priv);
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE: {
      if (cmd === FUTEX_CMP_REQUEUE) {
        const cur = t.mem.readI32(uaddr);
        if (cur === null) return -E.EFAULT;
        if (cur !== (val3 | 0)) return -E.EAGAIN;
      }
      const n2 = timeoutAddr >>> 0; // val2 travels in the timeout argument
      if ((val | 0) < 0 || (n2 | 0) < 0) return -E.EINVAL;
      return futexRequeue(t, uaddr, uaddr2, val | 0, n2, priv);
    }
    case FUTEX_WAKE_OP: {
      const opv = val3 | 0;
      const kind = (opv >>> 28) & 7;
      const cmp = (opv >>> 24) & 15;
      let oparg = (opv << 8) >> 20;
      const cmparg = (opv << 20) >> 20;
      if ((opv >>> 28) & 8) oparg = 1 << (oparg & 31);
      if (kind > 4) return -E.ENOSYS;
      // The op is atomic, as Linux's: a compare-and-swap loop in the guest's address space.
      let old: number;
      for (;;) {
        const cur = t.mem.readI32(uaddr2);
        if (cur === null) return -E.EFAULT;
        const nv = [oparg, cur + oparg, cur | oparg, cur & ~oparg, cur ^ oparg][kind];
        const got = t.mem.casU32(t.hostTid, uaddr2, cur >>> 0, nv >>> 0);
        if (got === null) return -E.EFAULT;
        if (got === cur >>> 0) {
          old = cur;
          break;
        }
      }
      let n = futexWake(t, uaddr, Math.max(0, val | 0), -1, priv);
      const c = [old === cmparg, old !== cmparg, old < cmparg, old <= cmparg, old > cmparg, old >= cmparg][cmp];
      if (c) n += futexWake(t, uaddr2, timeoutAddr >>> 0, -1, priv);
      return n;
    }
    case FUTEX_LOCK_PI:
    case FUTEX_LOCK_PI2:
    case FUTEX_TRYLOCK_PI: {
      if (t.interrupting) return t.intrResult;
      let deadline = t.sysState?.piDeadline;
      if (deadline === undefined) {
        // LOCK_PI's timeout is absolute CLOCK_REALTIME; LOCK_PI2's follows FUTEX_CLOCK_REALTIME.
        deadline = futexDeadline(t, timeoutAddr, true, cmd === FUTEX_LOCK_PI || (op & FUTEX_CLOCK_REALTIME) !== 0);
        if (deadline < 0) return deadline;
      }
      const r = futexLockPi(t, uaddr, deadline, cmd === FUTEX_TRYLOCK_PI);
      if (t.sysState?.piWaiting) t.sysState.piDeadline = deadline;
      return r;
    }
    case FUTEX_UNLOCK_PI:
      return futexUnlockPi(t, uaddr);
    default:
      return -E.ENOSYS;
  }
}
