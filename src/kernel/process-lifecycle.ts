/**
 * Processes and threads coming and going: the first process, clone, execve, exit,
 * exit_group, job-control stops, and reaping host contexts.
 */
import * as path from 'path';
import { Reg } from '../platform/event-buffer';
import { AddressSpace } from '../mm/address-space';
import { memoryLimit } from '../mm/memory-limit';
import { resolveExec, loadImage, releaseResolution, type ExecFailure, type ExecRequest } from '../loader/exec-image';
import type { FdTable } from '../../fs/vfs/fdtable';
import type { FsContext } from '../../fs/vfs/context';
import { EAGAIN, EINVAL, errnoMessage } from '../abi/errno';
import type { Sentry } from './sentry';
import { Task, TaskState } from './task';
import { ThreadGroup } from './thread-group';
import { Credentials } from '../auth/credentials';
import { copyCaps } from '../auth/capabilities';
import { execCredentials } from './exec-creds';
import { limitsOf, RLIMIT_NPROC, RLIMIT_CPU, RLIM_INFINITY } from './limits';
import { cpuLimitChanged } from './time/cpu-limit';
import {
  SignalHandlers, SignalState, SIGCHLD, SIGCONT, SIGSEGV, SIG_IGN, SA_NOCLDWAIT, SA_NOCLDSTOP, CLD_EXITED, CLD_KILLED, CLD_DUMPED,
  CLD_STOPPED, CLD_CONTINUED, SS_DISABLE,
} from './signals';
import { fatalStatus, sendToGroup, sendToTask } from './signal-delivery';
import { futexWake, exitRobustList } from './futex';
import { accountExitedTask, schedOnClone, timersOnExec, timersOnExit } from './time/index';
import { forkDenied } from './time/deadline';
import { accountProcess } from './acct';
import { cpuNsForParent, usageForParent, addUsage, zeroUsage, sampleHostStatus } from './time/cputime';
import { onProcessExit as ttyOnProcessExit } from './tty';
import { exitSemUndo, makeSemUndo, shareSemUndo } from './ipc/sem';
import { sweepShm } from './ipc/shm';
import { inheritKeyrings } from './keys';
import { cloneEvent, ptraceTaskExited, tracerExited } from './ptrace';
import { ptraceAfterExec, ptraceNewChild } from './ptrace-stops';
import { ptraceContinued } from './ptrace-seize';
import { cloneNsApply, cloneNsCheck } from './namespaces/create';
import { forgetPid, initExited, nsReaper, viewPid } from './namespaces/pid-view';
import type { Dentry } from '../../fs/vfs/dentry';
import { cgroupPidsFull, groupPidsFull, inheritCgroup, moveToCgroup, type Cgroup } from './cgroup';
import { closingAll, closingOnExec } from './fd-close';
import { releaseDeadMountNs } from './namespaces/mnt-release';

export const CLONE_VM = 0x100, CLONE_FS = 0x200, CLONE_FILES = 0x400, CLONE_SIGHAND = 0x800,
  CLONE_PIDFD = 0x1000, CLONE_PTRACE = 0x2000, CLONE_VFORK = 0x4000, CLONE_PARENT = 0x8000,
  CLONE_THREAD = 0x10000, CLONE_NEWNS = 0x20000, CLONE_SYSVSEM = 0x40000, CLONE_SETTLS = 0x80000,
  CLONE_PARENT_SETTID = 0x100000, CLONE_CHILD_CLEARTID = 0x200000, CLONE_DETACHED = 0x400000,
  CLONE_UNTRACED = 0x800000, CLONE_CHILD_SETTID = 0x1000000, CLONE_NEWCGROUP = 0x2000000,
  CLONE_NEWUTS = 0x4000000, CLONE_NEWIPC = 0x8000000, CLONE_NEWUSER = 0x10000000,
  CLONE_NEWPID = 0x20000000, CLONE_NEWNET = 0x40000000, CLONE_IO = 0x80000000;

/** Who shares each fd table and fs context (CLONE_FILES / CLONE_FS), to release on last exit. */
const fdTableUsers = new WeakMap<FdTable, number>();

function useFdTable(f: FdTable): FdTable {
  fdTableUsers.set(f, (fdTableUsers.get(f) ?? 0) + 1);
  return f;
}

/**
 * unshare(CLONE_FILES), close_range(CLOSE_RANGE_UNSHARE): the task gets a private copy of
 * its fd table if it shares it (unshare_fd: a table of its own is kept as it is; dropping it
 * would end the process's record locks).
 */
export function unshareFdTable(t: Task): void {
  const old = t.fdTable;
  if ((fdTableUsers.get(old) ?? 1) <= 1) return;
  t.fdTable = useFdTable(old.fork());
  dropFdTable(old, t.tg);
}

/** A task of a restored sandbox (src/snapshot) takes its share of an fd table. */
export function adoptFdTable(f: FdTable): FdTable {
  return useFdTable(f);
}

/** The process's POSIX locks go with it (tg), even while a shared table lives on. */
function dropFdTable(f: FdTable, tg?: ThreadGroup): void {
  const n = (fdTableUsers.get(f) ?? 1) - 1;
  fdTableUsers.set(f, n);
  if (n <= 0 && tg !== undefined) closingAll(f, tg);
  if (n <= 0) f.closeAll(tg);
}

export interface InitSpec {
  req: ExecRequest;
  fdTable: FdTable;
  fsCtx: FsContext;
  creds: Credentials;
}

/** Creates pid 1 (not yet running): the Task exists so the VFS can resolve paths as it. */
export function createInit(s: Sentry, spec: InitSpec): Task {
  const tid = s.kernel.allocPid();
  const tg = new ThreadGroup(s.kernel, tid, new SignalHandlers());
  const t = new Task(s.kernel, tid, 0, tg, null as unknown as AddressSpace, useFdTable(spec.fdTable), spec.fsCtx, spec.creds,
    new SignalState(), s.wake);
  tg.startTimeNs = s.kernel.nowNs();
  s.kernel.threadGroups.set(tid, tg);
  s.init = tg;
  return t;
}

/**
 * Loads the first program into a new address space and starts it; with `hold`, loaded
 * only: no instruction of it runs until the caller's `s.resumeNow(t)` (an OCI create
 * loads pid 1 and leaves it to `start`).
 */
export function startInit(s: Sentry, t: Task, req: ExecRequest, hold = false): ExecFailure | null {
  const r = execInto(s, t, req, true, hold);
  return typeof r === 'number' ? null : r;
}

/**
 * execve: resolve and load into a fresh address space, then (past the point of no
 * return) retire the old one and the other threads. Returns 0 (task running the new
 * image) or an ExecFailure with the old image untouched.
 */
export function execInto(s: Sentry, t: Task, req: ExecRequest, first = false, hold = false): number | ExecFailure {
  const p = s.platform;
  const res = resolveExec((pth) => t.kernel.vfs.openExec(t, pth), req);
  if ('errno' in res) return res;
  const hooks = t.kernel.hooks;
  const denied = hooks !== null ? hooks.exec(t, res.exe.path, res.argv, res.scripts) : 0;
  if (denied !== 0) {
    releaseResolution(res);
    return { errno: -denied, reason: `${res.exe.path}: ${errnoMessage(-denied)} (policy)` };
  }
  // The set-id file's ids go into the new image's auxv; the first program keeps the ids it was given.
  const ec = first ? null : execCredentials(t, res.exe.file as unknown as Parameters<typeof execCredentials>[1]);
  if (ec !== null) req = { ...req, euid: ec.creds.euid, egid: ec.creds.egid, secure: ec.secure };
  // A lone thread's exec empties its own address space in place where the platform can
  // (the same stub and thread: systrap); the old image is gone then, so a failure below is fatal.
  const old = first ? null : t.mm;
  const inPlace = old !== null && p.recycleAddressSpace !== undefined && old.users === 1 && t.tg.tasks.size === 1 && old.asPid === t.hostTid;
  if (inPlace) s.kernel.memAcct?.dropping(old);
  const recycled = inPlace && p.recycleAddressSpace!(t.hostTid) === t.hostTid;
  // The old object is retired with its memory: files opened on it (/proc/PID/mem) read 0.
  if (recycled) old.users = 0;
  const ctx = recycled ? t.hostTid : p.newAddressSpace();
  if (ctx < 0) {
    releaseResolution(res);
    return { errno: EAGAIN, reason: 'cannot create address space' };
  }
  const mm = new AddressSpace(p, ctx);
  const img = loadImage(mm, ctx, res, req);
  // The new image's mappings hold what they need of the files (or copied it).
  releaseResolution(res);
  if ('errno' in img) {
    if (!recycled) p.destroyAddressSpace(ctx);
    if (first) return img;
    // Linux maps the new image after the point of no return (begin_new_exec): a
    // failure there kills the process with SIGSEGV instead of returning an errno.
    exitGroup(s, t.tg, fatalStatus(t.tg, SIGSEGV));
    return 0;
  }
  // Point of no return.
  const tg = t.tg;
  const oldTid = t.tid;
  for (const other of [...tg.tasks]) if (other !== t) killThread(s, other);
  if (!first) {
    s.byHost.delete(t.hostTid);
    if (!recycled) leaveAddressSpace(s, t, true);
    if (fdTableUsers.get(t.fdTable)! > 1) {
      dropFdTable(t.fdTable);
      t.fdTable = useFdTable(t.fdTable.fork());
    }
    closingOnExec(t.fdTable, tg);
    t.fdTable.closeOnExec();
    tg.handlers = tg.handlers.resetForExec();
    timersOnExec(tg);
    t.sig.altStack = { sp: 0, flags: SS_DISABLE, size: 0 };
    t.rseq = null;
    if (ec !== null) {
      if (ec.clearPdeathSig) t.pdeathSig = 0;
      t.creds = ec.creds;
      mm.dumpable = ec.dumpable;
    }
  }
  if (!first) {
    tg.didExec = true;
    // A non-leader thread that execs takes over the process's id (de_thread).
    if (t.tid !== tg.pid) {
      t.kernel.tasks.delete(t.tid);
      t.tid = tg.pid;
    }
  }
  t.hostTid = ctx;
  t.mm = mm;
  mm.users = 1;
  t.clearChildTid = 0;
  s.register(t);
  tg.argv = res.argv;
  tg.envp = req.envp;
  tg.exePath = res.exe.path;
  tg.exeDentry = (res.exe.file as { dentry?: Dentry | null }).dentry ?? null;
  tg.auxv = img.auxv;
  // Linux names the process after the path it was exec'd by (sh, not dash); an fd exec by its file.
  const byName = res.execfn.length > 0 && !res.execfn.startsWith('/dev/fd/');
  t.comm = path.basename(byName ? res.execfn : res.exe.path).slice(0, 15);
  wakeVforkParent(s, t);
  if (hooks !== null) hooks.execDone(t, res.exe.path, res.scripts);

  const ev = p.ev;
  if (p.getRegs(ctx) !== 0) return { errno: EAGAIN, reason: 'new context lost' };
  const cs = ev.regs[Reg.CS];
  const ss = ev.regs[Reg.SS];
  ev.regs.fill(0n);
  ev.regs[Reg.CS] = cs;
  ev.regs[Reg.SS] = ss;
  ev.setReg(Reg.RIP, img.entry);
  ev.setReg(Reg.RSP, img.sp);
  ev.setReg(Reg.EFLAGS, 0x202);
  ev.setReg(Reg.ORIG_RAX, -1);
  p.setRegs(ctx);
  t.state = TaskState.Running;
  if (t.ptrace && !first) {
    t.inSentry = true;
    ptraceAfterExec(s, t, oldTid);
  } else if (!hold) s.resumeNow(t);
  return 0;
}

/** Detaches t from its address space; the host side goes when its last user leaves. */
function leaveAddressSpace(s: Sentry, t: Task, stopped: boolean): void {
  const mm = t.mm;
  if (!mm) return;
  mm.users--;
  if (mm.users <= 0) {
    s.kernel.memAcct?.dropping(mm);
    s.platform.destroyAddressSpace(mm.asPid);
    return;
  }
  if (mm.asPid === t.hostTid) {
    // Memory is reached through a live thread: an exited leader has no mm any more.
    for (const o of s.kernel.tasks.values()) {
      if (o !== t && o.mm === mm && o.state !== TaskState.Dead) {
        mm.setAsPid(o.hostTid);
        break;
      }
    }
  }
  if (stopped) s.platform.exitThread(t.hostTid);
  else {
    // Running elsewhere in a shared address space: end it when it next stops.
    t.doomed = true;
    s.byHost.set(t.hostTid, t);
    s.kick(t);
    return;
  }
}

export interface CloneArgs {
  flags: number;
  stack: number;
  parentTid: number;
  childTid: number;
  tls: number;
  exitSignal: number;
  /** clone3's CLONE_CLEAR_SIGHAND: the child's handlers back to default (ignored signals stay ignored). */
  clearSighand?: boolean;
  /** clone3's CLONE_INTO_CGROUP: the group the child is born in (its pids.max is the one checked). */
  cgroup?: Cgroup;
}

/** clone/fork/vfork: returns the child's tid (to the parent) or -errno. */
export function cloneTask(s: Sentry, t: Task, a: CloneArgs): number {
  const p = s.platform;
  const f = a.flags;
  if ((f & CLONE_THREAD) && !(f & CLONE_SIGHAND)) return -EINVAL;
  if ((f & CLONE_SIGHAND) && !(f & CLONE_VM)) return -EINVAL;
  if ((f & CLONE_FS) && (f & CLONE_NEWNS)) return -EINVAL;
  const nsErr = cloneNsCheck(t, f);
  if (nsErr < 0) return nsErr;
  const limit = taskLimit(t, a.cgroup);
  if (limit >= 0) return -limit;
  if (forkDenied(t)) return -EAGAIN;
  if (p.getRegs(t.hostTid) !== 0) return -EAGAIN;
  const regs = p.ev.regs.slice();
  const ctx = f & CLONE_VM ? p.newThread(t.hostTid) : p.forkAddressSpace(t.hostTid, t.mm.forkLendablePage());
  if (ctx < 0) return -EAGAIN;
  const tid = t.kernel.allocPid();
  if (tid < 0) {
    p.destroyAddressSpace(ctx);
    return -EAGAIN;
  }
  const mm = f & CLONE_VM ? t.mm : t.mm.fork(ctx);
  mm.users++;
  let tg: ThreadGroup;
  if (f & CLONE_THREAD) {
    tg = t.tg;
    // copy_semundo: CLONE_SYSVSEM (glibc's threads) makes the process's undo list if it had none.
    if (f & CLONE_SYSVSEM) makeSemUndo(t.kernel, t.tg);
  } else {
    tg = new ThreadGroup(t.kernel, tid, f & CLONE_SIGHAND ? t.tg.handlers : a.clearSighand ? t.tg.handlers.resetForExec() : t.tg.handlers.clone());
    tg.parent = f & CLONE_PARENT ? t.tg.parent : t.tg;
    tg.pgid = t.tg.pgid;
    tg.sid = t.tg.sid;
    tg.argv = t.tg.argv;
    tg.envp = t.tg.envp;
    tg.exePath = t.tg.exePath;
    tg.exeDentry = t.tg.exeDentry;
    tg.auxv = t.tg.auxv;
    tg.exitSignal = a.exitSignal;
    tg.personality = t.tg.personality;
    tg.thpDisabled = t.tg.thpDisabled;
    tg.startTimeNs = t.kernel.nowNs();
    tg.limits = t.tg.limits?.fork?.() ?? t.tg.limits;
    if (tg.limits && limitsOf(tg).get(RLIMIT_CPU).cur !== RLIM_INFINITY) cpuLimitChanged(tg);
    tg.parent?.children.add(tg);
    t.kernel.threadGroups.set(tid, tg);
    t.kernel.hooks?.fork(t.tg, tg);
    if (a.cgroup !== undefined) moveToCgroup(tg, a.cgroup);
    else inheritCgroup(t.tg, tg);
    if (f & CLONE_SYSVSEM) shareSemUndo(t.kernel, t.tg, tg);
    inheritKeyrings(t.kernel, t.tg, tg);
  }
  const fdTable = useFdTable(f & CLONE_FILES ? t.fdTable : t.fdTable.fork());
  const fsCtx = f & CLONE_FS ? t.fsCtx : t.fsCtx.fork();
  const creds = t.creds.clone();
  copyCaps(t.creds, creds);
  const child = new Task(t.kernel, tid, ctx, tg, mm, fdTable, fsCtx, creds, new SignalState(t.sig.mask), s.wake);
  cloneNsApply(t, child, f); // checked by cloneNsCheck above: cannot fail here
  if (!(f & CLONE_VM) || f & CLONE_VFORK) child.sig.altStack = { ...t.sig.altStack };
  child.comm = t.comm;
  if (!(f & CLONE_VM)) child.rseq = t.rseq && { ...t.rseq };
  // copy_io: a child inherits only a valid class (not NONE) unless it shares the io_context.
  child.ioprio = ((t.ioprio >> 13) & 7) !== 0 ? t.ioprio : 0;
  child.timerSlackNs = child.defaultTimerSlackNs = t.timerSlackNs;
  // Kept across fork, clone and exec, like the filters that rely on it.
  child.noNewPrivs = t.noNewPrivs;
  child.seccomp = t.seccomp;
  child.mempolicy = { ...t.mempolicy };
  schedOnClone(t, child);
  s.register(child);

  const ev = p.ev;
  ev.regs.set(regs);
  ev.setReg(Reg.RAX, 0);
  if (a.stack) ev.setReg(Reg.RSP, a.stack);
  if (f & CLONE_SETTLS) ev.setReg(Reg.FS_BASE, a.tls);
  p.setRegs(ctx);
  if (f & CLONE_PARENT_SETTID) t.mem.writeI32(a.parentTid, viewPid(t, tid));
  if (f & CLONE_CHILD_SETTID) child.mem.writeI32(a.childTid, viewPid(child, tid));
  if (f & CLONE_CHILD_CLEARTID) child.clearChildTid = a.childTid;
  if (f & CLONE_VFORK) child.vforkParent = t;
  const event = t.ptrace ? cloneEvent(t, f, a.exitSignal) : null;
  if (event !== null) ptraceNewChild(s, t, child, event);
  else s.resumeNow(child);
  return tid;
}

/**
 * Limits on new tasks: the sandbox-wide --pids-limit, and RLIMIT_NPROC for non-root
 * real uids (root is exempt, as in Linux). Returns an errno, or -1 when allowed.
 */
function taskLimit(t: Task, into?: Cgroup): number {
  if (t.kernel.tasks.size >= t.kernel.pidsLimit) {
    t.kernel.hooks?.limit('pids', `${t.kernel.pidsLimit} tasks`);
    return EAGAIN;
  }
  // A pids.max of its cgroup (src/kernel/cgroup.ts), or of the one clone3 puts the child in.
  if (into !== undefined ? groupPidsFull(t.kernel, into) : cgroupPidsFull(t.tg)) return EAGAIN;
  if (t.creds.uid === 0) return -1;
  const nproc = limitsOf(t.tg).soft(RLIMIT_NPROC);
  let n = 0;
  for (const o of t.kernel.tasks.values()) if (o.creds.uid === t.creds.uid) n++;
  return n >= nproc ? EAGAIN : -1;
}

function wakeVforkParent(s: Sentry, t: Task): void {
  const parent = t.vforkParent;
  if (!parent) return;
  t.vforkParent = null;
  parent.vforkDone = true;
  if (parent.state === TaskState.Blocked) s.wake(parent, false);
}

/** Removes a thread from every table and ends its host context (unless already killed). */
function killThread(s: Sentry, t: Task, hostGone = false): void {
  if (t.state === TaskState.Dead) return;
  const wasBlocked = t.state === TaskState.Blocked;
  t.clearWaits();
  accountExitedTask(t); // reads the host thread's CPU time: before it goes
  t.state = TaskState.Dead;
  s.kernel.tasks.delete(t.tid);
  if (t.tid !== t.tg.pid) forgetPid(t.tg, t.tid);
  t.tg.tasks.delete(t);
  if (!t.doomed) s.byHost.delete(t.hostTid);
  if (!hostGone && t.mm) releaseUserState(t);
  if (hostGone) t.mm.users--;
  else leaveAddressSpace(s, t, t.inSentry || wasBlocked);
  dropFdTable(t.fdTable, t.tg);
  wakeVforkParent(s, t);
  if (t.mm && t.mm.users > 0) releaseUserState(t);
}

/** What a dying thread owes shared memory: robust futexes marked, clear_child_tid woken. */
function releaseUserState(t: Task): void {
  if (t.userStateReleased) return;
  t.userStateReleased = true;
  exitRobustList(t);
  if (t.clearChildTid) {
    t.mem.writeI32(t.clearChildTid, 0);
    futexWake(t, t.clearChildTid, 1, 0xffffffff, false);
  }
}

/** exit(2): one thread ends; the process ends with its last thread. */
export function exitThread(s: Sentry, t: Task, code: number): void {
  const tg = t.tg;
  if (t.ptrace) ptraceTaskExited(t, tg.exiting ? tg.groupExitStatus : (code & 0xff) << 8);
  killThread(s, t);
  if (tg.tasks.size === 0) processExited(s, tg, tg.exiting ? tg.groupExitStatus : (code & 0xff) << 8, t);
}

/**
 * exit_group(2) or a fatal signal: every thread of tg ends. `status` is a wait status
 * (code << 8 for exits, signo | 0x80-if-core for deaths by signal).
 */
export function exitGroup(s: Sentry, tg: ThreadGroup, status: number): void {
  if (tg.zombie) return;
  tg.exiting = true;
  tg.groupExitStatus = status;
  // Threads whose address space only this process uses end together with one SIGKILL
  // (ending them one by one would leave a leader zombie waiting on the others).
  const exclusive = new Set<AddressSpace>();
  for (const t of tg.tasks) {
    let n = 0;
    for (const o of tg.tasks) if (o.mm === t.mm) n++;
    if (t.mm && t.mm.users === n) exclusive.add(t.mm);
  }
  // Robust futexes and clear_child_tid need the memory: handle them before it goes.
  for (const t of tg.tasks) releaseUserState(t);
  for (const t of tg.tasks) if (exclusive.has(t.mm)) sampleHostStatus(t);
  for (const mm of exclusive) {
    s.kernel.memAcct?.dropping(mm);
    s.platform.destroyAddressSpace(mm.asPid);
  }
  for (const t of tg.tasks) if (t.ptrace) ptraceTaskExited(t, status);
  const last = tg.leader ?? [...tg.tasks][0];
  for (const t of [...tg.tasks]) killThread(s, t, exclusive.has(t.mm));
  processExited(s, tg, status, last);
}

export function exitStatusOf(code: number): number {
  return (code & 0xff) << 8;
}

/** The process is gone: zombie for its parent, orphans to init, SIGCHLD. */
function processExited(s: Sentry, tg: ThreadGroup, status: number, last?: Task): void {
  if (tg.zombie) return;
  // acct_process runs before exit_notify: the record is written when the parent can wait.
  accountProcess(s.kernel, tg, status, last);
  tg.zombie = true;
  tg.waitStatus = status;
  timersOnExit(tg);
  ttyOnProcessExit(tg); // a session leader's terminal hangs up its foreground job
  exitSemUndo(s.kernel, tg); // SEM_UNDO adjustments
  tracerExited(s, tg); // its tracees go on (or die: PTRACE_O_EXITKILL)
  releaseDeadMountNs(s.kernel); // mount namespaces no one is in any more, with their mounts
  sweepShm(s.kernel); // segments removed while this process had them attached
  tg.exitEvents.notify(0x41);
  s.kernel.hooks?.exit(tg, status);
  const init = s.init;
  // A pid namespace's init takes the namespace with it.
  for (const g of initExited(s, tg)) sendToGroup(s, g, { signo: 9, code: 0x80 });
  for (const c of tg.children) {
    // PR_SET_PDEATHSIG: the child learns its parent died.
    for (const ct of c.tasks) if (ct.pdeathSig) sendToTask(s, ct, { signo: ct.pdeathSig, code: 0x80 });
    const reaper = findReaper(tg) ?? nsReaper(s, tg) ?? init;
    c.parent = reaper;
    if (reaper && reaper !== tg) {
      reaper.children.add(c);
      if (c.zombie) reaper.childEvents.notify(1);
    }
  }
  tg.children.clear();
  if (tg === init) {
    s.initStatus = status;
    return;
  }
  const parent = tg.parent;
  if (!parent || parent.zombie) {
    reap(tg);
    return;
  }
  const act = parent.handlers.actions[SIGCHLD];
  if (tg.exitSignal === SIGCHLD && (act.handler === SIG_IGN || (act.flags & SA_NOCLDWAIT) !== 0n)) {
    reap(tg); // auto-reap, no zombie
    parent.childEvents.notify(1);
    return;
  }
  // Legacy clone takes any CSIGNAL byte; like Linux (valid_signal), only 1..64 is sent.
  if (tg.exitSignal > 0 && tg.exitSignal <= 64) {
    const sig = status & 0x7f;
    sendToGroup(s, parent, {
      signo: tg.exitSignal, code: sig === 0 ? CLD_EXITED : status & 0x80 ? CLD_DUMPED : CLD_KILLED,
      pid: tg.pid, uid: 0, status: sig === 0 ? (status >> 8) & 0xff : sig,
    });
  }
  parent.childEvents.notify(1);
}

function findReaper(tg: ThreadGroup): ThreadGroup | null {
  for (let a = tg.parent; a; a = a.parent) if (a.subreaper && !a.zombie) return a;
  return null;
}

/** Forgets a zombie: its pid can be reused; its CPU time goes to the parent's children total. */
export function reap(tg: ThreadGroup): void {
  if (tg.parent) {
    tg.parent.childrenCpuNs += cpuNsForParent(tg);
    tg.finalUsage = usageForParent(tg);
    addUsage((tg.parent.childrenUsage ??= zeroUsage()), tg.finalUsage);
  }
  tg.parent?.children.delete(tg);
  tg.kernel.threadGroups.delete(tg.pid);
  forgetPid(tg, tg.pid);
}

/**
 * Job-control stop of every thread (SIGSTOP, SIGTSTP...). Running threads are kicked
 * and held at their next stop; threads parked in a syscall stay parked and are held
 * when it completes. The parent hears of it (WUNTRACED, SIGCHLD with CLD_STOPPED).
 */
export function stopGroup(s: Sentry, tg: ThreadGroup, sig: number, quiet = false): void {
  if (tg.stopped || tg.exiting) return;
  tg.stopped = true;
  for (const t of tg.tasks) {
    if (t.state === TaskState.Running) {
      t.state = TaskState.Stopped;
      if (!t.inSentry) s.kick(t);
    } else if (t.state === TaskState.Blocked) {
      t.stopWhenDone = true;
    }
  }
  if (quiet) return; // a freezer (OCI pause): the guest is not told
  tg.stopReport = sig;
  tg.continueReport = false;
  notifyParentJobControl(s, tg, CLD_STOPPED, sig);
}

/** SIGCONT: every held thread goes on; the parent hears of it (WCONTINUED, CLD_CONTINUED). */
export function continueGroup(s: Sentry, tg: ThreadGroup, quiet = false): void {
  ptraceContinued(s, tg);
  if (!tg.stopped) return;
  tg.stopped = false;
  for (const t of tg.tasks) {
    t.stopWhenDone = false;
    if (t.state === TaskState.Stopped) {
      t.state = TaskState.Running;
      s.continueTask(t);
    }
  }
  if (quiet) return;
  tg.continueReport = true;
  tg.stopReport = 0;
  notifyParentJobControl(s, tg, CLD_CONTINUED, SIGCONT);
}

function notifyParentJobControl(s: Sentry, tg: ThreadGroup, code: number, sig: number): void {
  const parent = tg.parent;
  if (!parent || parent.zombie) return;
  parent.childEvents.notify(1);
  const act = parent.handlers.actions[SIGCHLD];
  if ((act.flags & SA_NOCLDSTOP) === 0n && tg.exitSignal === SIGCHLD) {
    sendToGroup(s, parent, { signo: SIGCHLD, code, pid: tg.pid, uid: 0, status: sig });
  }
}

/** A host context exited: expected (we ended it) or the stub died under the guest. */
export function reapHostExit(s: Sentry, hostTid: number, status: number): void {
  const t = s.byHost.get(hostTid);
  if (!t) return;
  s.byHost.delete(hostTid);
  if (t.doomed || t.state === TaskState.Dead) return;
  // The host killed it (e.g. the seccomp backstop): report a death by that signal.
  const sig = status & 0x7f || 9;
  if (sig === 9 && memoryLimit.tookOomKill()) {
    // As Linux's kernel log says it (dmesg).
    s.kernel.log(`Memory cgroup out of memory: Killed process ${t.tg.pid} (${t.comm}), limit ${memoryLimit.limit} bytes`);
    s.kernel.hooks?.limit('memory', `${memoryLimit.limit} bytes`);
  }
  exitGroup(s, t.tg, sig);
}
