/**
 * Timers in an image: timerfds (as files) and timer_create timers (per process), each
 * with its clock, its time left and interval, and what it has not delivered yet (a
 * timerfd's unread expiries). The restored clock goes on from the checkpoint's
 * (rebaseClock), so a monotonic timer's time left is left still; a REALTIME one keeps
 * its time left too, as ITIMER_REAL does. CPU-time clocks are refused (not saved yet).
 */
import type { ThreadGroup } from '../kernel/thread-group';
import type { Kernel } from '../kernel/kernel';
import type { Clock } from '../kernel/time/clocks';
import { TimerFd } from '../kernel/time/timerfd';
import { adoptTimers, PosixTimer, processTimers, SIGEV_NONE } from '../kernel/time/posix-timers';
import { SnapshotError } from './format';
import type { ClockImage, FileImage, PosixTimerImage, ProcessImage } from './image';

/** The clocks a restored timer may run on: what timerfd_create and timer_create accept, CPU clocks aside. */
const CLOCK_KINDS: ReadonlySet<string> = new Set(['real', 'mono', 'boot', 'tai', 'realCoarse', 'monoCoarse', 'raw', 'alarm']);

function clockImage(c: Clock, where: string): ClockImage {
  if (c.kind === 'cpu') throw new SnapshotError(`cannot checkpoint: ${where} runs on a CPU-time clock (not supported yet)`);
  return { kind: c.kind, id: c.id };
}

function clockOf(c: ClockImage): Clock {
  if (!CLOCK_KINDS.has(c.kind) || !Number.isInteger(c.id)) throw new SnapshotError('image corrupted (a timer\'s clock)');
  return { kind: c.kind, id: c.id } as Clock;
}

/** A timerfd's image; `armed` counts it if it is in the timer queue. */
export function timerFdImage(f: TimerFd, where: string, armed: { n: number }): FileImage {
  const spec = f.timer.get(1n);
  if (f.timer.armed) armed.n++;
  return { kind: 'timerfd', clock: clockImage(f.timer.clock, where), flags: f.flags, ticks: f.pendingTicks, value: spec.value, interval: spec.interval };
}

export function restoreTimerFd(img: Extract<FileImage, { kind: 'timerfd' }>): TimerFd {
  const f = TimerFd.restored(clockOf(img.clock), img.flags, BigInt.asUintN(64, BigInt(img.ticks)));
  f.timer.set({ value: BigInt(img.value), interval: BigInt(img.interval) }, false);
  return f;
}

/** tg's timer_create timers into pi; `armed` counts those in the timer queue. */
export function savePosixTimers(tg: ThreadGroup, pi: ProcessImage, armed: { n: number }): void {
  const { next, timers } = processTimers(tg);
  if (timers.length === 0) return;
  const list: PosixTimerImage[] = timers.map((t) => {
    const spec = t.timer.get(1n);
    if (t.timer.armed && t.notify !== SIGEV_NONE) armed.n++;
    return {
      id: t.id, clock: clockImage(t.timer.clock, `timer ${t.id} of pid ${tg.pid}`), notify: t.notify, signo: t.signo,
      target: t.target?.tid ?? null, sigValue: t.value, value: spec.value, interval: spec.interval, lastOverrun: t.lastOverrun,
    };
  });
  pi.timers = { next, list };
}

/** The processes' timer_create timers, armed again (after the tasks exist: a timer may be aimed at a thread). */
export function restorePosixTimers(k: Kernel, processes: ProcessImage[], groups: Map<number, ThreadGroup>): void {
  for (const pi of processes) {
    const tg = groups.get(pi.pid);
    if (!pi.timers || !tg || pi.zombie) continue;
    const made = pi.timers.list.map((x) => {
      const target = x.target === null ? null : k.tasks.get(x.target) ?? null;
      if (x.target !== null && (target === null || target.tg !== tg)) throw new SnapshotError('image corrupted (a timer aimed at a missing thread)');
      const t = new PosixTimer(x.id, tg, clockOf(x.clock), x.notify, x.signo, target, BigInt(x.sigValue));
      t.lastOverrun = x.lastOverrun;
      return { t, spec: { value: BigInt(x.value), interval: BigInt(x.interval) } };
    });
    adoptTimers(tg, pi.timers.next, made.map((m) => m.t));
    for (const m of made) m.t.timer.set(m.spec, false);
  }
}
