/** Signal syscalls: dispositions, masks, sending, waiting; delivery is src/kernel/signal-delivery. */
import { kernelPid, kernelPidSpec, seesGroup, viewPid } from '../src/kernel/namespaces/pid-view';
import type { Task } from '../src/kernel/task';
import { sendToGroup, sendToTask, fatalStatus } from '../src/kernel/signal-delivery';
import { popSignalFrame } from '../src/kernel/signal-frame';
import { exitGroup } from '../src/kernel/process-lifecycle';
import {
  type SigInfo, nextDeliverable, sigbit, SIGCONT, SIGKILL, SIGSTOP, SIGSEGV, SI_USER, SI_TKILL, UNBLOCKABLE,
  SS_DISABLE, SS_ONSTACK, SS_AUTODISARM, NSIG, encodeSigInfo, altStackOf,
} from '../src/kernel/signals';
import { KEEP_REGS, NO_RESUME } from '../src/kernel/syscall-dispatch';
import { installFd } from './fd-install';
import { PidFd } from '../src/kernel/pidfd';
import { SignalFd } from '../src/kernel/signalfd';
import * as E from '../src/abi/errno';
import type { ThreadGroup } from '../src/kernel/thread-group';
import { capable, CAP_KILL } from '../src/auth/capabilities';

const MINSIGSTKSZ = 2048;

function validSig(sig: number): boolean {
  return sig >= 1 && sig <= NSIG;
}

export function rt_sigaction(t: Task, sig: number, actAddr: number, oldAddr: number, size: number): number {
  sig |= 0;
  if (size !== 8) return -E.EINVAL;
  if (!validSig(sig)) return -E.EINVAL;
  const cur = t.tg.handlers.actions[sig];
  let next = null;
  if (actAddr) {
    if (sig === SIGKILL || sig === SIGSTOP) return -E.EINVAL;
    const b = t.mem.read(actAddr, 32);
    if (!b) return -E.EFAULT;
    next = { handler: b.readBigUInt64LE(0), flags: b.readBigUInt64LE(8), restorer: b.readBigUInt64LE(16), mask: b.readBigUInt64LE(24) & ~UNBLOCKABLE };
  }
  if (oldAddr) {
    const o = Buffer.alloc(32);
    o.writeBigUInt64LE(cur.handler, 0);
    o.writeBigUInt64LE(cur.flags, 8);
    o.writeBigUInt64LE(cur.restorer, 16);
    o.writeBigUInt64LE(cur.mask, 24);
    if (!t.mem.write(oldAddr, o)) return -E.EFAULT;
  }
  if (next) {
    t.tg.handlers.actions[sig] = next;
    // Setting SIG_IGN discards what is pending (POSIX).
    if (t.tg.handlers.isIgnored(sig)) {
      t.tg.sharedPending = t.tg.sharedPending.filter((p) => p.signo !== sig);
      for (const th of t.tg.tasks) th.sig.pending = th.sig.pending.filter((p) => p.signo !== sig);
    }
  }
  return 0;
}

export function rt_sigprocmask(t: Task, how: number, setAddr: number, oldAddr: number, size: number): number {
  if (size !== 8) return -E.EINVAL;
  const old = t.sig.mask;
  if (setAddr) {
    const set = t.mem.readBigU64(setAddr);
    if (set === null) return -E.EFAULT;
    switch (how | 0) {
      case 0: t.sig.mask = old | set; break;
      case 1: t.sig.mask = old & ~set; break;
      case 2: t.sig.mask = set; break;
      default: return -E.EINVAL;
    }
    t.sig.mask &= ~UNBLOCKABLE;
  }
  if (oldAddr && !t.mem.writeU64(oldAddr, old)) return -E.EFAULT;
  return 0;
}

export function rt_sigpending(t: Task, setAddr: number, size: number): number {
  if (size > 8) return -E.EINVAL;
  let set = 0n;
  for (const p of t.sig.pending) set |= sigbit(p.signo);
  for (const p of t.tg.sharedPending) set |= sigbit(p.signo);
  set &= t.sig.mask;
  return t.mem.writeU64(setAddr, set) ? 0 : -E.EFAULT;
}

export function rt_sigreturn(t: Task): number {
  if (!popSignalFrame(t.kernel.sentry.platform, t)) {
    exitGroup(t.kernel.sentry, t.tg, fatalStatus(t.tg, SIGSEGV));
    return NO_RESUME;
  }
  return KEEP_REGS;
}

/** rt_sigsuspend: wait with a temporary mask until a handler runs (always -EINTR). */
export function rt_sigsuspend(t: Task, maskAddr: number, size: number): number {
  if (size !== 8) return -E.EINVAL;
  if (!t.sysState) {
    const m = t.mem.readBigU64(maskAddr);
    if (m === null) return -E.EFAULT;
    t.sig.savedMask = t.sig.mask;
    t.sig.mask = m & ~UNBLOCKABLE;
    t.sysState = { suspended: true };
  }
  t.intrResult = -E.ERESTARTNOHAND;
  return t.block();
}

export function pause(t: Task): number {
  t.intrResult = -E.ERESTARTNOHAND;
  return t.block();
}

export function sigaltstack(t: Task, ssAddr: number, oldAddr: number): number {
  const p = t.kernel.sentry.platform;
  let sp = 0;
  if (p.getRegs(t.hostTid) === 0) sp = p.ev.regNum(19);
  const onStack = t.sig.onAltStack(sp);
  if (oldAddr) {
    const a = t.sig.altStack;
    const b = Buffer.alloc(24);
    b.writeBigUInt64LE(a.rawSp ?? BigInt(a.sp), 0);
    b.writeInt32LE(onStack ? SS_ONSTACK : a.flags & SS_DISABLE ? SS_DISABLE : a.flags, 8);
    b.writeBigUInt64LE(a.rawSize ?? BigInt(a.size), 16);
    if (!t.mem.write(oldAddr, b)) return -E.EFAULT;
  }
  if (ssAddr) {
    const b = t.mem.read(ssAddr, 24);
    if (!b) return -E.EFAULT;
    if (onStack) return -E.EPERM;
    const flags = b.readInt32LE(8);
    const mode = flags & ~SS_AUTODISARM;
    if (mode !== 0 && mode !== SS_DISABLE && mode !== SS_ONSTACK) return -E.EINVAL;
    if (mode === SS_DISABLE) {
      t.sig.altStack = { sp: 0, flags: SS_DISABLE, size: 0 };
    } else {
      const rawSize = b.readBigUInt64LE(16);
      if (rawSize < BigInt(MINSIGSTKSZ)) return -E.ENOMEM;
      t.sig.altStack = altStackOf(b.readBigUInt64LE(0), flags & SS_AUTODISARM, rawSize);
    }
  }
  return 0;
}

// ---- sending ----

function userInfo(t: Task, sig: number, code = SI_USER): SigInfo {
  return { signo: sig, code, pid: t.tg.pid, uid: t.creds.uid };
}

function groupsFor(t: Task, pid: number): ThreadGroup[] | number {
  pid = kernelPidSpec(t, pid);
  // Only the processes of the caller's pid namespace (all of them without one).
  const all = [...t.kernel.threadGroups.values()].filter((g) => !g.zombie && seesGroup(t, g));
  if (pid > 0) {
    // A zombie still exists until reaped: kill() on it succeeds and does nothing.
    const g = t.kernel.threadGroups.get(pid);
    return g ? [g] : -E.ESRCH;
  }
  if (pid === 0) return all.filter((g) => g.pgid === t.tg.pgid);
  if (pid === -1) return all.filter((g) => viewPid(t, g.pid) !== 1 && g !== t.tg);
  const list = all.filter((g) => g.pgid === -pid);
  return list.length ? list : -E.ESRCH;
}

export function kill(t: Task, pid: number, sig: number): number {
  pid |= 0;
  sig |= 0;
  if (sig < 0 || sig > NSIG) return -E.EINVAL;
  const groups = groupsFor(t, pid);
  if (typeof groups === 'number') return groups;
  if (groups.length === 0) return -E.ESRCH;
  // Each target is checked; kill(-1) never says EPERM, a group says it only if all refused.
  let sent = 0;
  for (const g of groups) {
    const target = g.leader ?? [...g.tasks][0];
    if (target && !mayKill(t, target, sig)) continue;
    sent++;
    if (sig !== 0) sendToGroup(t.kernel.sentry, g, userInfo(t, sig));
  }
  return sent > 0 || pid === -1 ? 0 : -E.EPERM;
}

/**
 * check_kill_permission: the sender's uid or euid is the target's uid or saved uid, or
 * it has CAP_KILL; SIGCONT within one session is always allowed.
 */
function mayKill(t: Task, target: Task, sig: number): boolean {
  if (target.tg === t.tg) return true;
  const c = t.creds, o = target.creds;
  if (c.euid === o.suid || c.euid === o.uid || c.uid === o.suid || c.uid === o.uid) return true;
  if (capable(c, CAP_KILL)) return true;
  return sig === SIGCONT && target.tg.sid === t.tg.sid;
}

function sendTid(t: Task, tgid: number, tid: number, sig: number): number {
  if (sig < 0 || sig > NSIG || tid <= 0) return -E.EINVAL;
  tid = kernelPid(t, tid);
  if (tgid > 0) tgid = kernelPid(t, tgid);
  const target = t.kernel.tasks.get(tid);
  if (!target || (tgid > 0 && target.tg.pid !== tgid)) return -E.ESRCH;
  if (!mayKill(t, target, sig)) return -E.EPERM;
  if (sig === 0) return 0;
  sendToTask(t.kernel.sentry, target, userInfo(t, sig, SI_TKILL));
  return 0;
}

export function tkill(t: Task, tid: number, sig: number): number {
  return sendTid(t, -1, tid | 0, sig | 0);
}

export function tgkill(t: Task, tgid: number, tid: number, sig: number): number {
  if ((tgid | 0) <= 0) return -E.EINVAL;
  return sendTid(t, tgid | 0, tid | 0, sig | 0);
}

const validSignal = (sig: number): boolean => (sig | 0) >= 0 && (sig | 0) <= 64;

function queuedInfo(t: Task, sig: number, infoAddr: number, targetPid: number): SigInfo | number {
  const b = t.mem.read(infoAddr, 128);
  if (!b) return -E.EFAULT;
  const code = b.readInt32LE(8);
  // Only the kernel may forge SI_USER/SI_KERNEL-style codes, except to oneself (Linux).
  if ((code >= 0 || code === SI_TKILL) && targetPid !== t.tg.pid) return -E.EPERM;
  b.writeInt32LE(sig, 0);
  return { signo: sig, code, raw: b };
}

export function rt_sigqueueinfo(t: Task, pid: number, sig: number, infoAddr: number): number {
  const si = queuedInfo(t, sig | 0, infoAddr, pid | 0);
  if (typeof si === 'number') return si;
  const g = t.kernel.threadGroups.get(pid | 0);
  if (!g || g.zombie) return -E.ESRCH;
  if (!validSignal(sig)) return -E.EINVAL;
  const leader = g.leader ?? [...g.tasks][0];
  if (leader && !mayKill(t, leader, sig | 0)) return -E.EPERM;
  if ((sig | 0) === 0) return 0;
  sendToGroup(t.kernel.sentry, g, si);
  return 0;
}

export function rt_tgsigqueueinfo(t: Task, tgid: number, tid: number, sig: number, infoAddr: number): number {
  if (!t.mem.read(infoAddr, 128)) return -E.EFAULT;
  if ((tid | 0) <= 0 || (tgid | 0) <= 0) return -E.EINVAL;
  // Linux compares the forged-code rule with the thread id here.
  const si = queuedInfo(t, sig | 0, infoAddr, (tid | 0) === t.tid ? t.tg.pid : -1);
  if (typeof si === 'number') return si;
  const target = t.kernel.tasks.get(tid | 0);
  if (!target || target.tg.pid !== (tgid | 0)) return -E.ESRCH;
  if (!validSignal(sig)) return -E.EINVAL;
  if (!mayKill(t, target, sig | 0)) return -E.EPERM;
  if ((sig | 0) === 0) return 0;
  sendToTask(t.kernel.sentry, target, si);
  return 0;
}

// PIDFD_SIGNAL_THREAD_GROUP (2) is the default scope.
const PIDFD_SIGNAL_THREAD = 1, PIDFD_SIGNAL_PROCESS_GROUP = 4;

export function pidfd_send_signal(t: Task, pidfd: number, sig: number, infoAddr: number, flags: number): number {
  // At most one scope (Linux 6.9): the thread, its thread group (the default) or its process group.
  flags >>>= 0;
  if (flags & ~7 || (flags & (flags - 1)) !== 0) return -E.EINVAL;
  const f = t.fdTable.get(pidfd | 0);
  if (!f) return -E.EBADF;
  if (!(f instanceof PidFd)) return -E.EBADF;
  sig |= 0;
  if (sig < 0 || sig > NSIG) return -E.EINVAL;
  // Reaped: gone. An unreaped zombie still has its pid: checked, then nothing is sent (Linux).
  if (f.tg.zombie && t.kernel.threadGroups.get(f.tg.pid) !== f.tg) return -E.ESRCH;
  const leader = f.tg.leader ?? [...f.tg.tasks][0];
  if (leader && !mayKill(t, leader, sig)) return -E.EPERM;
  if (sig === 0) return 0;
  let si: SigInfo | number = userInfo(t, sig);
  if (infoAddr) {
    si = queuedInfo(t, sig, infoAddr, f.tg.pid);
    if (typeof si === 'number') return si;
  }
  if (f.tg.zombie) return 0;
  if (flags === PIDFD_SIGNAL_PROCESS_GROUP) {
    if (infoAddr === 0) return kill(t, -f.tg.pgid, sig);
    for (const g of t.kernel.threadGroups.values()) if (g.pgid === f.tg.pgid && !g.zombie) sendToGroup(t.kernel.sentry, g, si);
    return 0;
  }
  // PIDFD_SIGNAL_THREAD: the pidfd's own thread (the leader of a process pidfd) only.
  if (flags === PIDFD_SIGNAL_THREAD && leader) sendToTask(t.kernel.sentry, leader, si);
  else sendToGroup(t.kernel.sentry, f.tg, si);
  return 0;
}

const SFD_CLOEXEC = 0o2000000, SFD_NONBLOCK = 0o4000;

/** signalfd / signalfd4: a new signalfd (fd -1) or a new mask for an existing one. */
export function signalfd4(t: Task, fd: number, maskAddr: number, size: number, flags: number): number {
  fd |= 0;
  if (size !== 8 || flags & ~(SFD_CLOEXEC | SFD_NONBLOCK)) return -E.EINVAL;
  const m = t.mem.readBigU64(maskAddr);
  if (m === null) return -E.EFAULT;
  const mask = m & ~UNBLOCKABLE;
  if (fd !== -1) {
    const f = t.fdTable.get(fd);
    if (!f) return -E.EBADF;
    if (!(f instanceof SignalFd)) return -E.EINVAL;
    f.mask = mask;
    return fd;
  }
  return installFd(t, new SignalFd(t.tg, mask, 2 | (flags & SFD_NONBLOCK)), (flags & SFD_CLOEXEC) !== 0);
}

export function signalfd(t: Task, fd: number, maskAddr: number, size: number): number {
  return signalfd4(t, fd, maskAddr, size, 0);
}

/**
 * rt_sigtimedwait: take a pending signal from `set` without running its handler. Another
 * signal the caller does not block ends the wait with EINTR (never restarted, as Linux).
 */
export function rt_sigtimedwait(t: Task, setAddr: number, infoAddr: number, tsAddr: number, size: number): number {
  if (size !== 8) return -E.EINVAL;
  const set = t.mem.readBigU64(setAddr);
  if (set === null) return -E.EFAULT;
  const wanted = set & ~UNBLOCKABLE;
  const notWanted = ~wanted & 0xffffffffffffffffn;
  const waiting = t.sysState?.tmpMask !== undefined;
  const restore = () => {
    if (!waiting) return;
    t.sig.mask = t.sysState.tmpMask;
    t.sig.realBlocked = 0n;
  };
  for (const q of [t.sig.pending, t.tg.sharedPending]) {
    const i = nextDeliverable(q, notWanted);
    if (i >= 0) {
      const si = q.splice(i, 1)[0];
      restore();
      if (infoAddr && !t.mem.write(infoAddr, encodeSigInfo(si))) return -E.EFAULT;
      return si.signo;
    }
  }
  if (waiting) {
    for (const q of [t.sig.pending, t.tg.sharedPending]) {
      if (nextDeliverable(q, t.sysState.tmpMask) >= 0) {
        restore();
        return -E.EINTR;
      }
    }
  }
  if (t.timedOut) {
    restore();
    return -E.EAGAIN;
  }
  let deadline = t.sysState?.deadline ?? Infinity;
  if (!t.sysState) {
    if (tsAddr) {
      const b = t.mem.read(tsAddr, 16);
      if (!b) return -E.EFAULT;
      const sec = Number(b.readBigInt64LE(0));
      const nsec = Number(b.readBigInt64LE(8));
      if (sec < 0 || nsec < 0 || nsec >= 1e9) return -E.EINVAL;
      if (sec === 0 && nsec === 0) return -E.EAGAIN;
      deadline = t.kernel.nowNs() + sec * 1e9 + nsec;
    }
    // While waiting, the awaited signals count as unblocked so that sending wakes us;
    // they are then taken here rather than delivered. For sig_ignored they are still
    // blocked (realBlocked), so a default-ignored one is queued, not dropped.
    t.sysState = { deadline, tmpMask: t.sig.mask };
  }
  t.sysState.waitSet = wanted;
  t.intrResult = -E.EINTR;
  t.onInterrupt = () => {
    t.sig.mask = t.sysState.tmpMask;
    t.sig.realBlocked = 0n;
    return true; // re-run: the signal is taken above, or ends the wait with EINTR
  };
  t.sig.mask = t.sysState.tmpMask & ~wanted;
  t.sig.realBlocked = t.sysState.tmpMask;
  return t.block(deadline);
}

