/**
 * Enforces the CI limits on one sandbox: a wall-clock deadline and a CPU-time sampler
 * in the Sentry's timer queue (they wake the run loop even while guests spin without a
 * syscall), the disk budget's full signal, and the reports of the layers below
 * (kernel.hooks.limit: pids, nofile, memory, output). The first limit reached is
 * recorded and ends every process (endSandbox); the CLI then exits with its status.
 */
import type { Sentry } from '../kernel/sentry';
import type { ThreadGroup } from '../kernel/thread-group';
import { endSandbox, type LimitName } from '../kernel/sandbox-hooks';
import { TimerEntry, timerQueue, type TimerQueue } from '../kernel/time/timers';
import { processCpu } from '../kernel/time/cputime';
import { LIMIT_KEY, limitMessage, type LimitSet } from './limits';

export interface LimitHit {
  name: LimitName;
  message: string;
  /** ms since the sandbox started. */
  atMs: number;
}

class Deadline extends TimerEntry {
  constructor(private readonly fn: (nowNs: number, q: TimerQueue) => void) {
    super();
  }
  expire(nowNs: number, q: TimerQueue): void {
    this.fn(nowNs, q);
  }
}

export class LimitEnforcer {
  /** The first limit reached (the one that ended the run), or null. */
  hit: LimitHit | null = null;
  /** CPU ns of processes that have exited (their time stays counted). */
  private doneCpuNs = 0;
  private readonly counted = new WeakSet<ThreadGroup>();
  private s: Sentry | null = null;
  private readonly startNs: number;
  /** Called once when a limit is reached (the report, the API's `limit` event). */
  onHit: ((h: LimitHit) => void) | null = null;

  constructor(readonly set: LimitSet, nowNs: number) {
    this.startNs = nowNs;
  }

  /** Arms the timers (at start, before the first guest instruction). */
  attach(s: Sentry): void {
    this.s = s;
    const now = s.kernel.nowNs();
    if (this.set.timeout !== undefined) {
      timerQueue.schedule(new Deadline(() => this.reached('timeout')), now + this.set.timeout * 1e6);
    }
    const cpu = this.set.cpuTime;
    if (cpu !== undefined) {
      // Sampled: a guest may overshoot by one period (at most 100 ms, a tenth of small limits).
      const period = Math.max(5, Math.min(100, cpu / 10)) * 1e6;
      const tick = new Deadline((n, q) => {
        if (this.cpuNs() >= cpu * 1e6) this.reached('cpu-time');
        else q.schedule(tick, n + period);
      });
      timerQueue.schedule(tick, now + period);
    }
  }

  /** A process exited: its CPU time joins the finished total. */
  processExited(tg: ThreadGroup): void {
    if (this.counted.has(tg)) return;
    this.counted.add(tg);
    const c = processCpu(tg);
    this.doneCpuNs += c.userNs + c.sysNs;
  }

  /** CPU ns of every guest process so far, live and exited. */
  cpuNs(): number {
    let ns = this.doneCpuNs;
    if (this.s !== null) {
      for (const tg of this.s.kernel.threadGroups.values()) {
        if (this.counted.has(tg)) continue;
        const c = processCpu(tg);
        ns += c.userNs + c.sysNs;
      }
    }
    return ns;
  }

  /** A layer below reports a limit: it ends the run only if the user set that limit. */
  reached(name: LimitName): void {
    if (this.set[LIMIT_KEY[name]] === undefined || this.s === null) return;
    if (this.hit === null) {
      this.hit = { name, message: limitMessage(name, this.set), atMs: Math.round((this.s.kernel.nowNs() - this.startNs) / 1e6) };
      this.onHit?.(this.hit);
    }
    endSandbox(this.s);
  }
}
