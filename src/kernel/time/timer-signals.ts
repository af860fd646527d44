import type { Sentry } from '../sentry';
import type { SigInfo } from '../signals';
import { sendToGroup, sendToTask } from '../signal-delivery';
import { SI_TIMER, timerQueue, TimerSignal } from './timers';

/**
 * Connects the timer queue to the Sentry: the run loop drives it (timerSource), and
 * expiries become guest signals through the lead's sendToTask / sendToGroup.
 *
 * For SI_TIMER signals Linux fills si_overrun when the signal is dequeued, counting
 * the expiries that happened while it waited. The SigInfo we queue therefore carries
 * `overrun` as a getter: the first read (encodeSigInfo at delivery) reports and
 * resets the timer's count. If a queued signal vanishes without being read (its
 * handler became SIG_IGN, the process exited), stillQueued() notices at the next
 * expiry.
 */
export function installTimers(s: Sentry): void {
  s.timerSource = timerQueue;
  timerQueue.setSink((ts) => raiseTimerSignal(s, ts));
}

function raiseTimerSignal(s: Sentry, ts: TimerSignal): boolean {
  let si: SigInfo;
  if (ts.code === SI_TIMER) {
    let reported: number | null = null;
    const onDequeue = ts.onDequeue;
    si = { signo: ts.signo, code: ts.code, timerId: ts.timerId, value: ts.value } as SigInfo;
    Object.defineProperty(si, 'overrun', {
      enumerable: true,
      get: () => {
        if (reported === null) reported = onDequeue ? onDequeue() : 0;
        return reported;
      },
    });
  } else {
    si = { signo: ts.signo, code: ts.code };
  }
  if (ts.task) sendToTask(s, ts.task, si);
  else sendToGroup(s, ts.tg, si);
  // Dropped (ignored) or merged into an already pending standard signal: not queued.
  const queued = ts.tg.sharedPending.includes(si) || (ts.task !== null && ts.task.sig.pending.includes(si));
  if (queued) {
    ts.stillQueued = () =>
      ts.tg.sharedPending.includes(si) || (ts.task !== null && ts.task.sig.pending.includes(si));
  }
  return queued && ts.code === SI_TIMER;
}
