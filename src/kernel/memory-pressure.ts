/**
 * memory.high throttling and the memory.pressure (PSI) it shows, as mm/memcontrol.c and
 * kernel/sched/psi.c do it. A task that charged pages while its group (or one above it)
 * was over memory.high is put to sleep on its way back to user space
 * (mem_cgroup_handle_over_high): reclaim cannot help without swap, so the sleep is the
 * penalty, growing with the square of the overage and the task's own share of the
 * charge, at most 2 s, none under 10 ms; the sleep is a memory stall, counted in
 * memory.pressure of every group from the task's up.
 *
 * Page faults are the host's: the memory account's samples (memory-account.ts) stand for
 * the charges. What a group charged over memory.high since the last sample is the group's
 * (overHighCharges: its growth, at most how far it is over, shared among its address spaces
 * by what each grew), kept on each address space (`MemoryAccount.overHighPages`), and the
 * next syscall by one of its tasks takes the penalty before it runs (the Sentry's first
 * return towards user space after the charge).
 */
import type { Cgroup } from './cgroup';
import { cgroupOf } from './cgroup';
import type { Kernel } from './kernel';
import { type Task, TaskState } from './task';
import { WaitQueue, type WaitEntry, type WakeFn } from '../waiter/waitqueue';

const PAGE = 4096;
/** Linux's MEMCG_DELAY_PRECISION_SHIFT, MEMCG_DELAY_SCALING_SHIFT, MEMCG_CHARGE_BATCH. */
const PRECISION_SHIFT = 20;
const SCALING_SHIFT = 14;
const CHARGE_BATCH = 64;
/** Jiffies as Linux's penalty counts them (HZ 1000: one jiffy a millisecond). */
const HZ = 1000;
const MAX_DELAY_JIFFIES = 2 * HZ;
const NS_PER_JIFFY = 1e9 / HZ;

/** calculate_overage: how far over high, in 2^-20 units of high (0 when not over). */
export function overage(usage: number, high: number): number {
  if (!(usage > high)) return 0;
  const h = Math.max(Math.floor(high / PAGE), 1);
  return Math.floor(((Math.floor(usage / PAGE) - h) * 2 ** PRECISION_SHIFT) / h);
}

/**
 * The sleep (ns) for nrPages charged over high at maxOverage, as mem_cgroup_handle_over_high
 * computes it: overage² · HZ >> 34, times the pages' share of a charge batch, at most 2 s;
 * 0 when it comes to 10 ms or less (Linux does not sleep for that).
 */
export function highDelayNs(maxOverage: number, nrPages: number): number {
  if (maxOverage <= 0 || nrPages <= 0) return 0;
  const base = Math.floor((maxOverage * maxOverage * HZ) / 2 ** (PRECISION_SHIFT + SCALING_SHIFT));
  const jiffies = Math.min(Math.floor((base * nrPages) / CHARGE_BATCH), MAX_DELAY_JIFFIES);
  return jiffies <= HZ / 100 ? 0 : jiffies * NS_PER_JIFFY;
}

/**
 * The pages each address space charged over memory.high since the last sample, counted per
 * cgroup as try_charge does: once a group is over its high, every page charged in it is a
 * page over high, so a group's pages over high are its growth, at most how far it is over
 * now (what it grew by below the line was not over it), shared among its address spaces in
 * proportion to what each grew (two processes pushing one group over share its overage;
 * neither is charged the whole of it). A charge counts once however many groups of the
 * chain are over (try_charge stops at the first): an address space in several takes the
 * largest share. `groups`: each group over its high now, with how far over (bytes) and its
 * address spaces; `growth`: an address space's resident growth since the last sample (bytes).
 */
export function overHighCharges<M>(groups: ReadonlyArray<{ over: number; members: readonly M[] }>, growth: (m: M) => number): Map<M, number> {
  const out = new Map<M, number>();
  for (const g of groups) {
    const grown = g.members.map((m) => Math.max(0, growth(m)));
    const total = grown.reduce((a, b) => a + b, 0);
    if (total <= 0 || g.over <= 0) continue;
    const charged = Math.min(total, g.over);
    g.members.forEach((m, i) => {
      const pages = Math.floor((charged * grown[i]) / total / PAGE);
      if (pages > 0) out.set(m, Math.max(pages, out.get(m) ?? 0));
    });
  }
  return out;
}

/** PSI averaging as psi.c's: a sample every 2 s, decayed over 10 s, 60 s and 300 s. */
const AVG_PERIOD_NS = 2e9;
const DECAY = [10, 60, 300].map((s) => Math.exp(-2 / s));

/** One resource's stall record of a group: "some" (a task stalled) and "full" (every non-idle task stalled). */
export class Pressure {
  private readonly total = [0, 0];
  private readonly count = [0, 0];
  private readonly since = [0, 0];
  private readonly avg = [
    [0, 0, 0],
    [0, 0, 0],
  ];
  private lastAvgNs = -1;
  private readonly lastTotal = [0, 0];

  enter(nowNs: number, full: boolean): void {
    this.roll(nowNs);
    for (const i of full ? [0, 1] : [0]) if (this.count[i]++ === 0) this.since[i] = nowNs;
  }

  leave(nowNs: number, full: boolean): void {
    this.roll(nowNs);
    for (const i of full ? [0, 1] : [0]) if (--this.count[i] === 0) this.total[i] += nowNs - this.since[i];
  }

  /** Stalled ns so far (an ongoing stall included). */
  private totalAt(i: number, nowNs: number): number {
    return this.total[i] + (this.count[i] > 0 ? nowNs - this.since[i] : 0);
  }

  /**
   * calc_avgs at each 2 s period that passed: the stall share of the time since the last
   * update is the newest sample, the periods missed before it are samples of 0.
   */
  private roll(nowNs: number): void {
    if (this.lastAvgNs < 0) {
      this.lastAvgNs = nowNs;
      return;
    }
    const elapsed = nowNs - this.lastAvgNs;
    if (elapsed < AVG_PERIOD_NS) return;
    const missed = Math.floor(elapsed / AVG_PERIOD_NS) - 1;
    for (let i = 0; i < 2; i++) {
      const t = this.totalAt(i, nowNs);
      const pct = Math.min(100, ((t - this.lastTotal[i]) * 100) / elapsed);
      this.lastTotal[i] = t;
      for (let w = 0; w < 3; w++) {
        const e = DECAY[w];
        this.avg[i][w] = this.avg[i][w] * e ** missed * e + pct * (1 - e);
      }
    }
    this.lastAvgNs = nowNs;
  }

  /** The file's text: "some avg10=… avg60=… avg300=… total=µs", then "full …". */
  show(nowNs: number): string {
    this.roll(nowNs);
    return ['some', 'full']
      .map((name, i) => {
        const a = this.avg[i].map((v, w) => `avg${[10, 60, 300][w]}=${v.toFixed(2)}`).join(' ');
        return `${name} ${a} total=${Math.floor(this.totalAt(i, nowNs) / 1000)}\n`;
      })
      .join('');
  }
}

const memPressure = new WeakMap<Cgroup, Pressure>();

export function memoryPressureOf(c: Cgroup): Pressure {
  let p = memPressure.get(c);
  if (p === undefined) memPressure.set(c, (p = new Pressure()));
  return p;
}

/** Whether every task in c (and below) but t is idle (parked in the Sentry or stopped): t's stall is then "full". */
function othersIdle(k: Kernel, c: Cgroup, t: Task): boolean {
  for (const tg of k.threadGroups.values()) {
    if (!c.contains(cgroupOf(tg))) continue;
    for (const o of tg.tasks) if (o !== t && o.state === TaskState.Running) return false;
  }
  return true;
}

/**
 * The penalty sleep's wait: registering it starts a memory stall in each group of the
 * chain, removing it (the wake at the deadline, or the task's death: both clear a task's
 * waits) ends it. Nothing ever notifies it.
 */
class StallQueue extends WaitQueue {
  constructor(
    private readonly k: Kernel,
    private readonly chain: Cgroup[],
    private readonly full: boolean[],
  ) {
    super();
  }
  override add(mask: number, fn: WakeFn, owner?: { tid: number }): WaitEntry {
    const now = this.k.nowNs();
    this.chain.forEach((c, i) => memoryPressureOf(c).enter(now, this.full[i]));
    return super.add(mask, fn, owner);
  }
  override remove(e: WaitEntry): void {
    if (!e.removed) {
      const now = this.k.nowNs();
      this.chain.forEach((c, i) => memoryPressureOf(c).leave(now, this.full[i]));
    }
    super.remove(e);
  }
}

/**
 * At t's syscall entry, with nrPages charged by its address space over memory.high: the
 * penalty, if any, runs before the call (t.syscallOverride) as a sleep only SIGKILL cuts
 * short (schedule_timeout_killable), counted as a memory stall up the hierarchy.
 */
export function throttleOverHigh(k: Kernel, t: Task, nrPages: number): void {
  const chain: Cgroup[] = [];
  let worst = 0;
  for (let c: Cgroup | null = cgroupOf(t.tg); c !== null; c = c.parent) {
    chain.push(c);
    worst = Math.max(worst, overage(c.memUsed, c.limits.get('memory.high') ?? Infinity));
  }
  const delay = highDelayNs(worst, nrPages);
  if (delay === 0) return;
  const until = k.nowNs() + delay;
  const q = new StallQueue(k, chain, chain.map((c) => othersIdle(k, c, t)));
  t.uninterruptible = true;
  t.syscallOverride = () => {
    if (k.nowNs() < until) {
      t.waitOn(q, 0);
      return t.block(until);
    }
    t.uninterruptible = false;
    t.syscallOverride = null;
    return k.sentry!.runHandler(t);
  };
}
