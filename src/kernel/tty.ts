/**
 * Sessions and controlling terminals (job control), the kernel half of Linux's
 * tty_jobctrl.c: which terminal controls which session, its foreground process group,
 * and the checks that stop background jobs touching the terminal (SIGTTIN / SIGTTOU /
 * EIO). The terminal itself (fs/fsimpl/devpts, the host console) implements `Ctty`; this file knows nothing of
 * its data path.
 *
 * A controlling tty belongs to a session (keyed by sid), so every process of the session
 * shares it, as Linux's signal->tty does for processes that stay in the session.
 */
import { capable, CAP_SYS_ADMIN } from '../auth/capabilities';
import * as E from '../abi/errno';
import type { Kernel } from './kernel';
import type { Task } from './task';
import type { ThreadGroup } from './thread-group';
import { sendToGroup } from './signal-delivery';
import { SI_KERNEL, SIGCONT, SIGHUP, SIGTTIN, SIGTTOU, sigbit } from './signals';
import type { Ctty } from '../../fs/vfs/caller';

export type { Ctty };

/** The sandbox whose session a terminal controls (set on attach; a terminal has one). */
const owners = new WeakMap<Ctty, Kernel>();

/** The controlling terminal of tg's session, if any. */
export function cttyOf(tg: ThreadGroup): Ctty | null {
  const c = tg.kernel.sessionTtys.get(tg.sid);
  return c !== undefined && c.sid === tg.sid ? c : null;
}

/**
 * The controlling terminal's device number, old_encode_dev'd (major << 8 | minor), as
 * acct's ac_tty and /proc/PID/stat's tty_nr give it for minors below 256; 0 without one.
 * A pty slave is 136:index (devpts' Pty); the host terminal passed through is the guest's
 * /dev/pts/0 (its fds stat as that node, index 0 is never a Sentry pty's), so 136:0.
 */
export function cttyDevNum(tg: ThreadGroup): number {
  const c = cttyOf(tg);
  if (c === null) return 0;
  const index = (c as { index?: number }).index ?? (c.isConsole ? 0 : undefined);
  if (index === undefined) return 0;
  return (136 << 8) | (index & 0xff) | ((index & ~0xff) << 12);
}

export function isCttyOf(tty: Ctty, tg: ThreadGroup): boolean {
  return tty.sid !== 0 && tty.sid === tg.sid && tg.kernel.sessionTtys.get(tg.sid) === tty;
}

function setFg(tty: Ctty, pgid: number): void {
  tty.fgPgid = pgid;
  const k = owners.get(tty);
  if (tty.isConsole && k !== undefined) k.foregroundPgid = pgid;
}

/** Makes tty the controlling terminal of tg's session (tg must be its leader). */
export function attach(tty: Ctty, tg: ThreadGroup): void {
  if (tty.sid !== 0) owners.get(tty)?.sessionTtys.delete(tty.sid);
  owners.set(tty, tg.kernel);
  tty.sid = tg.sid;
  tg.kernel.sessionTtys.set(tg.sid, tty);
  setFg(tty, tg.pgid);
}

export function detach(tty: Ctty): void {
  const ttys = owners.get(tty)?.sessionTtys;
  if (tty.sid !== 0 && ttys?.get(tty.sid) === tty) ttys.delete(tty.sid);
  tty.sid = 0;
  setFg(tty, 0);
}

/** open(2) of a terminal without O_NOCTTY by a session leader with no terminal acquires it. */
export function acquireOnOpen(t: Task, tty: Ctty, noctty: boolean): void {
  const tg = t.tg;
  if (noctty || tg.sid !== tg.pid || cttyOf(tg) !== null || tty.sid !== 0) return;
  attach(tty, tg);
}

/** TIOCSCTTY: arg 1 lets root steal a terminal from another session. */
export function setCtty(t: Task, tty: Ctty, steal: boolean): number {
  const tg = t.tg;
  if (isCttyOf(tty, tg)) return 0;
  if (tg.sid !== tg.pid || cttyOf(tg) !== null) return -E.EPERM;
  if (tty.sid !== 0) {
    if (!steal || !capable(t.creds, CAP_SYS_ADMIN)) return -E.EPERM;
    detach(tty);
  }
  attach(tty, tg);
  return 0;
}

/** TIOCNOTTY: the session leader gives up its terminal (SIGHUP+SIGCONT to the foreground). */
export function noCtty(t: Task, tty: Ctty): number {
  if (!isCttyOf(tty, t.tg)) return -E.ENOTTY;
  if (t.tg.sid === t.tg.pid) disassociate(tty);
  return 0;
}

/** The session leader leaves (exit, TIOCNOTTY): its foreground job is hung up. */
function disassociate(tty: Ctty): void {
  const fg = tty.fgPgid;
  const k = owners.get(tty);
  detach(tty);
  if (fg > 0 && k !== undefined) {
    signalPgrp(k, fg, SIGHUP);
    signalPgrp(k, fg, SIGCONT);
  }
}

/**
 * Called when a process exits (already a zombie, children not yet reparented): a session
 * leader drops its controlling terminal, and process groups this exit orphans get
 * SIGHUP+SIGCONT if they have stopped members (POSIX; Linux's kill_orphaned_pgrp), since
 * no job-control shell is left to continue them.
 */
export function onProcessExit(tg: ThreadGroup): void {
  if (tg.sid === tg.pid) {
    const tty = cttyOf(tg);
    if (tty !== null) disassociate(tty);
  }
  // Groups tg kept from being orphaned: its own (through its parent) and its children's.
  const groups = new Set<number>();
  const p = tg.parent;
  if (p && p.pgid !== tg.pgid && p.sid === tg.sid) groups.add(tg.pgid);
  for (const c of tg.children) if (c.pgid !== tg.pgid && c.sid === tg.sid) groups.add(c.pgid);
  const k = tg.kernel;
  for (const pg of groups) {
    if (!isOrphanedPgrp(k, pg) || !hasStoppedMember(k, pg)) continue;
    signalPgrp(k, pg, SIGHUP);
    signalPgrp(k, pg, SIGCONT);
  }
}

function hasStoppedMember(k: Kernel, pgid: number): boolean {
  for (const g of k.threadGroups.values()) if (g.pgid === pgid && !g.zombie && g.stopped) return true;
  return false;
}

/** setsid: the new session starts without a terminal (drops a stale entry of a reused sid). */
export function onNewSession(tg: ThreadGroup): void {
  const stale = tg.kernel.sessionTtys.get(tg.sid);
  if (stale !== undefined) detach(stale);
}

/** The terminal hung up (pty master closed): SIGHUP+SIGCONT to the session leader and foreground. */
export function hangup(tty: Ctty): void {
  const k = owners.get(tty);
  if (tty.sid === 0 || k === undefined) return;
  const leader = k.threadGroups.get(tty.sid);
  const fg = tty.fgPgid;
  detach(tty);
  if (leader && !leader.zombie) {
    sendToGroup(k.sentry, leader, { signo: SIGHUP, code: SI_KERNEL });
    sendToGroup(k.sentry, leader, { signo: SIGCONT, code: SI_KERNEL });
  }
  if (fg > 0 && (!leader || fg !== leader.pgid)) signalPgrp(k, fg, SIGHUP);
}

/** Sends sig to the terminal's foreground process group (keyboard signals, SIGWINCH). */
export function signalForeground(tty: Ctty, sig: number): void {
  const k = owners.get(tty);
  if (k !== undefined) signalPgrp(k, tty.fgPgid, sig);
}

/** Sends sig to every live process of group pgid. */
function signalPgrp(k: Kernel, pgid: number, sig: number): void {
  if (pgid <= 0) return;
  const s = k.sentry;
  for (const tg of [...k.threadGroups.values()]) {
    if (tg.pgid === pgid && !tg.zombie) sendToGroup(s, tg, { signo: sig, code: SI_KERNEL });
  }
}

/**
 * POSIX orphaned process group: no member has a parent in another group of the same
 * session. Such a group is not sent SIGTTIN/SIGTTOU (nobody would continue it): EIO.
 */
export function isOrphanedPgrp(k: Kernel, pgid: number): boolean {
  for (const tg of k.threadGroups.values()) {
    if (tg.pgid !== pgid || tg.zombie) continue;
    const p = tg.parent;
    if (p && !p.zombie && p.pgid !== pgid && p.sid === tg.sid) return false;
  }
  return true;
}

function sigIgnoredOrBlocked(t: Task, sig: number): boolean {
  return t.tg.handlers.isIgnored(sig) || (t.sig.mask & sigbit(sig)) !== 0n;
}

/**
 * A background process touching its controlling terminal. Returns 0 (go on), -EIO, or
 * -ERESTARTSYS after sending `sig` to its group (the call restarts once it is continued).
 * `eioIfIgnored`: reads fail when SIGTTIN is ignored/blocked; writes and tcsetattr go on.
 */
function backgroundCheck(t: Task, tty: Ctty, sig: number, eioIfIgnored: boolean): number {
  const tg = t.tg;
  if (!isCttyOf(tty, tg) || tty.fgPgid === 0 || tg.pgid === tty.fgPgid) return 0;
  if (sigIgnoredOrBlocked(t, sig)) return eioIfIgnored ? -E.EIO : 0;
  if (isOrphanedPgrp(tg.kernel, tg.pgid)) return -E.EIO;
  signalPgrp(tg.kernel, tg.pgid, sig);
  return -E.ERESTARTSYS;
}

/** read(2) from the terminal by a background job. */
export function checkRead(t: Task, tty: Ctty): number {
  return backgroundCheck(t, tty, SIGTTIN, true);
}

/** write(2) with TOSTOP set, tcsetattr, tcsetpgrp, tcflush by a background job. */
export function checkChange(t: Task, tty: Ctty): number {
  return backgroundCheck(t, tty, SIGTTOU, false);
}

/** TIOCGPGRP. viaMaster: the master side may ask without being in the session. */
export function getPgrp(t: Task, tty: Ctty, viaMaster: boolean): number {
  if (!viaMaster && !isCttyOf(tty, t.tg)) return -E.ENOTTY;
  return tty.fgPgid;
}

/** TIOCSPGRP (tcsetpgrp). */
export function setPgrp(t: Task, tty: Ctty, pgid: number): number {
  const c = checkChange(t, tty);
  if (c !== 0) return c;
  if (!isCttyOf(tty, t.tg)) return -E.ENOTTY;
  if (pgid < 0) return -E.EINVAL;
  let found = false;
  for (const tg of t.kernel.threadGroups.values()) {
    if (tg.pgid === pgid && !tg.zombie) {
      if (tg.sid !== t.tg.sid) return -E.EPERM;
      found = true;
    }
  }
  if (!found) return -E.ESRCH;
  setFg(tty, pgid);
  return 0;
}

/** TIOCGSID. */
export function getSid(t: Task, tty: Ctty, viaMaster: boolean): number {
  if (!viaMaster && !isCttyOf(tty, t.tg)) return -E.ENOTTY;
  return tty.sid === 0 ? -E.ENOTTY : tty.sid;
}
