import { describe, it, expect } from 'vitest';
import { fakeTask, BASE, BAD, BLOCK } from './fake-task';
import * as time from '../../syscalls/time';
import { TimerQueue, TimerEntry, timerQueue, TimerSignal } from '../../src/kernel/time/timers';
import { sleepInterrupted } from '../../src/kernel/time/sleep';
import { runRestartBlock } from '../../src/kernel/time/restart';

const EINVAL = -22, EFAULT = -14, EPERM = -1, EOPNOTSUPP = -95;

function ts(t: ReturnType<typeof fakeTask>, addr: number, sec: bigint, nsec: bigint): void {
  t.mem.setI64(addr, sec);
  t.mem.setI64(addr + 8, nsec);
}

describe('clocks', () => {
  it('clock_gettime: valid clocks, EINVAL, EFAULT', () => {
    const t = fakeTask();
    for (const c of [0, 1, 2, 3, 4, 5, 6, 7, 11]) expect(time.clock_gettime(t, c, BASE)).toBe(0);
    for (const c of [10, 12, 16, 100, -29 /* fd clock of fd 3 */]) expect(time.clock_gettime(t, c, BASE)).toBe(EINVAL);
    expect(time.clock_gettime(t, 0, BAD)).toBe(EFAULT);
    expect(time.clock_gettime(t, 99, BAD)).toBe(EINVAL);
  });

  it('REALTIME is close to the host and MONOTONIC increases', () => {
    const t = fakeTask();
    // Bracketed by host reads (a loaded machine may preempt between any two of them).
    const lo = Date.now();
    time.clock_gettime(t, 0, BASE);
    const hi = Date.now();
    const sec = Number(t.mem.i64(BASE));
    const ns = Number(t.mem.i64(BASE + 8));
    expect(sec * 1000 + ns / 1e6).toBeGreaterThan(lo - 5);
    expect(sec * 1000 + ns / 1e6).toBeLessThan(hi + 5);
    let prev = -1n;
    for (let i = 0; i < 100; i++) {
      time.clock_gettime(t, 1, BASE);
      const v = t.mem.i64(BASE) * 1_000_000_000n + t.mem.i64(BASE + 8);
      expect(v >= prev).toBe(true);
      prev = v;
    }
  });

  it('CPU clocks advance with work; dynamic CPU clock ids', () => {
    const t = fakeTask();
    time.clock_gettime(t, 2, BASE);
    const a = t.mem.i64(BASE) * 1_000_000_000n + t.mem.i64(BASE + 8);
    // 30 ms of this process's CPU, not of wall time (which may give it far less under load).
    const c0 = process.cpuUsage();
    for (;;) {
      const d = process.cpuUsage(c0);
      if (d.user + d.system >= 30_000) break;
    }
    time.clock_gettime(t, 2, BASE);
    const b = t.mem.i64(BASE) * 1_000_000_000n + t.mem.i64(BASE + 8);
    expect(b - a).toBeGreaterThan(10_000_000n);
    // clock_getcpuclockid(0) and of own pid; pthread_getcpuclockid for self.
    expect(time.clock_gettime(t, (~0 << 3) | 2, BASE)).toBe(0);
    expect(time.clock_gettime(t, (~t.tid << 3) | 2, BASE)).toBe(0);
    expect(time.clock_gettime(t, (~t.tid << 3) | 6, BASE)).toBe(0);
    expect(time.clock_gettime(t, (~999999 << 3) | 2, BASE)).toBe(EINVAL);
  });

  it('clock_getres', () => {
    const t = fakeTask();
    expect(time.clock_getres(t, 1, BASE)).toBe(0);
    expect(t.mem.i64(BASE + 8)).toBe(1n);
    expect(time.clock_getres(t, 6, BASE)).toBe(0);
    expect(t.mem.i64(BASE + 8)).toBeGreaterThan(1n);
    expect(time.clock_getres(t, 1, 0)).toBe(0);
    expect(time.clock_getres(t, 42, 0)).toBe(EINVAL);
    expect(time.clock_getres(t, 1, BAD)).toBe(EFAULT);
  });

  it('clock_settime: EPERM / EINVAL', () => {
    const t = fakeTask();
    ts(t, BASE, 1n, 0n);
    expect(time.clock_settime(t, 0, BASE)).toBe(EPERM);
    expect(time.clock_settime(t, 1, BASE)).toBe(EINVAL);
    ts(t, BASE, 1n, 1_000_000_000n);
    expect(time.clock_settime(t, 0, BASE)).toBe(EINVAL);
    expect(time.clock_settime(t, 0, BAD)).toBe(EFAULT);
  });

  it('gettimeofday / time', () => {
    const t = fakeTask();
    expect(time.gettimeofday(t, BASE, BASE + 16)).toBe(0);
    expect(Number(t.mem.i64(BASE + 8))).toBeLessThan(1_000_000);
    expect(time.gettimeofday(t, 0, 0)).toBe(0);
    expect(time.gettimeofday(t, BAD, 0)).toBe(EFAULT);
    const now = time.time(t, BASE);
    expect(Math.abs(now - Date.now() / 1000)).toBeLessThan(2);
    expect(Number(t.mem.i64(BASE))).toBe(now);
    expect(time.time(t, BAD)).toBe(EFAULT);
    expect(time.time(t, 0)).toBe(now);
  });
});

describe('sleeps', () => {
  it('nanosleep blocks until the deadline and validates', () => {
    const t = fakeTask();
    ts(t, BASE, 0n, 50_000_000n);
    const before = t.kernel.nowNs();
    expect(time.nanosleep(t, BASE, BASE + 16)).toBe(BLOCK);
    const after = t.kernel.nowNs();
    expect(t.deadline - before).toBeGreaterThanOrEqual(50_000_000);
    expect(t.deadline - after).toBeLessThanOrEqual(50_000_000);
    // Spurious re-run before the deadline: blocks again with the same deadline.
    const d = t.deadline;
    expect(time.nanosleep(t, BASE, BASE + 16)).toBe(BLOCK);
    expect(t.deadline).toBe(d);
    // Signal: remaining time written.
    expect(sleepInterrupted(t)).toBe(-4);
    const rem = t.mem.i64(BASE + 16) * 1_000_000_000n + t.mem.i64(BASE + 24);
    expect(rem > 0n && rem <= 50_000_000n).toBe(true);
    t.sysState = undefined;
    ts(t, BASE, 0n, 1_000_000_000n);
    expect(time.nanosleep(t, BASE, 0)).toBe(EINVAL);
    ts(t, BASE, -1n, 0n);
    expect(time.nanosleep(t, BASE, 0)).toBe(EINVAL);
    expect(time.nanosleep(t, BAD, 0)).toBe(EFAULT);
    ts(t, BASE, 0n, 0n);
    expect(time.nanosleep(t, BASE, 0)).toBe(0);
  });

  it('restart_syscall continues an interrupted sleep with the time left', () => {
    const t = fakeTask() as any;
    expect(runRestartBlock(t)).toBe(-4); // nothing to restart: EINTR
    ts(t, BASE, 1n, 0n);
    expect(time.nanosleep(t, BASE, BASE + 16)).toBe(BLOCK);
    const d = t.deadline;
    expect(t.intrResult).toBe(-516);
    t.onInterrupt();
    t.sysState = undefined; // the interrupted call completed
    t.deadline = 0;
    expect(time.restart_syscall(t)).toBe(BLOCK);
    expect(t.deadline).toBe(d);
  });

  it('clock_nanosleep absolute, bad clocks', () => {
    const t = fakeTask();
    // The deadline is the monotonic image of "REALTIME when read + 100 ms": between the
    // monotonic times just before that read and just before the call (plus rounding).
    const t0 = t.kernel.nowNs();
    time.clock_gettime(t, 0, BASE);
    const abs = t.mem.i64(BASE) * 1_000_000_000n + t.mem.i64(BASE + 8) + 100_000_000n;
    ts(t, BASE, abs / 1_000_000_000n, abs % 1_000_000_000n);
    const before = t.kernel.nowNs();
    expect(time.clock_nanosleep(t, 0, 1, BASE, BASE + 16)).toBe(BLOCK);
    expect(t.deadline).toBeGreaterThan(t0 + 100_000_000 - 2_000_000);
    expect(t.deadline).toBeLessThan(before + 100_000_000 + 2_000_000);
    expect(sleepInterrupted(t)).toBe(-4); // abs: no rem
    t.sysState = undefined;
    ts(t, BASE, 0n, 0n); // absolute time in the past
    expect(time.clock_nanosleep(t, 1, 1, BASE, 0)).toBe(0);
    t.sysState = undefined;
    // CLOCK_THREAD_CPUTIME_ID has no nsleep in Linux: EOPNOTSUPP, as for CLOCK_PROCESS_CPUTIME_ID here.
    expect(time.clock_nanosleep(t, 3, 0, BASE, 0)).toBe(EOPNOTSUPP);
    expect(time.clock_nanosleep(t, 4, 0, BASE, 0)).toBe(EOPNOTSUPP);
    expect(time.clock_nanosleep(t, 77, 0, BASE, 0)).toBe(EINVAL);
    expect(time.clock_nanosleep(t, 1, 0, BAD, 0)).toBe(EFAULT);
  });
});

class Probe extends TimerEntry {
  fired: number[] = [];
  constructor(readonly name: number) {
    super();
  }
  expire(now: number): void {
    this.fired.push(this.name);
  }
}

describe('TimerQueue', () => {
  it('orders, cancels and fires by deadline', () => {
    const q = new TimerQueue();
    const es = [5, 1, 4, 2, 3].map((d) => new Probe(d));
    for (const e of es) q.schedule(e, e.name * 100);
    expect(q.nextDeadline()).toBe(100);
    q.cancel(es[2]); // 4
    q.schedule(es[0], 50); // 5 moves first
    expect(q.nextDeadline()).toBe(50);
    const order: number[] = [];
    for (const e of es) e.fired = order;
    expect(q.fire(250)).toBe(3);
    expect(order).toEqual([5, 1, 2]);
    expect(q.fire(1000)).toBe(1);
    expect(order).toEqual([5, 1, 2, 3]);
    expect(q.nextDeadline()).toBe(Infinity);
  });

  it('random operations keep heap order', () => {
    const q = new TimerQueue();
    const es = Array.from({ length: 200 }, (_, i) => new Probe(i));
    for (let i = 0; i < 2000; i++) {
      const e = es[Math.floor(Math.random() * es.length)];
      if (Math.random() < 0.3) q.cancel(e);
      else q.schedule(e, Math.floor(Math.random() * 10000));
    }
    let last = -1;
    const seen: number[] = [];
    for (const e of es) e.fired = seen;
    while (q.size) {
      const d = q.nextDeadline();
      expect(d).toBeGreaterThanOrEqual(last);
      last = d;
      q.fire(d);
    }
  });
});

describe('interval timers', () => {
  const sigs: TimerSignal[] = [];
  timerQueue.setSink((s) => {
    sigs.push(s);
    return true;
  });

  it('setitimer/getitimer/alarm', () => {
    const t = fakeTask();
    sigs.length = 0;
    // it_interval 0.1s, it_value 0.25s
    ts(t, BASE, 0n, 100_000n);
    ts(t, BASE + 16, 0n, 250_000n);
    const set = t.kernel.nowNs();
    expect(time.setitimer(t, 0, BASE, BASE + 32)).toBe(0);
    expect(t.mem.i64(BASE + 48) + t.mem.i64(BASE + 56)).toBe(0n); // old was disarmed
    expect(time.getitimer(t, 0, BASE + 64)).toBe(0);
    expect(t.mem.i64(BASE + 72)).toBe(100_000n);
    const left = Number(t.mem.i64(BASE + 88));
    // Less by at most the time since the call (however long a loaded machine took).
    expect(left).toBeLessThanOrEqual(250_000);
    expect(left).toBeGreaterThanOrEqual(250_000 - Math.ceil((t.kernel.nowNs() - set) / 1000) - 1);
    timerQueue.fire(t.kernel.nowNs() + 260_000_000);
    expect(sigs.map((s) => s.signo)).toEqual([14]);
    expect(sigs[0].tg).toBe(t.tg);
    expect(time.alarm(t, 10)).toBe(1); // ~0.09 s left rounds up to 1
    expect(time.alarm(t, 0)).toBe(10);
    expect(time.getitimer(t, 3, BASE)).toBe(EINVAL);
    expect(time.setitimer(t, 3, BASE, 0)).toBe(EINVAL);
    expect(time.setitimer(t, 0, BAD, 0)).toBe(EFAULT);
    ts(t, BASE + 16, 0n, 1_000_000n);
    expect(time.setitimer(t, 0, BASE, 0)).toBe(EINVAL);
    expect(time.setitimer(t, 0, 0, 0)).toBe(0);
  });

  it('timer_create / settime / overrun / delete', () => {
    const t = fakeTask();
    sigs.length = 0;
    const ID = BASE + 200;
    expect(time.timer_create(t, 1, 0, ID)).toBe(0);
    expect(t.mem.readI32(ID)).toBe(0);
    expect(time.timer_create(t, 1, 0, ID)).toBe(0);
    expect(t.mem.readI32(ID)).toBe(1);
    expect(time.timer_create(t, 4, 0, ID)).toBe(EOPNOTSUPP);
    expect(time.timer_create(t, 55, 0, ID)).toBe(EINVAL);
    expect(time.timer_create(t, 1, BAD, ID)).toBe(EFAULT);
    // sigevent: SIGEV_SIGNAL with signo 0 -> EINVAL; SIGEV_THREAD_ID to self ok.
    const SEV = BASE + 300;
    t.mem.setI64(SEV, 0x1234n);
    t.mem.writeI32(SEV + 8, 0);
    t.mem.writeI32(SEV + 12, 0);
    expect(time.timer_create(t, 1, SEV, ID)).toBe(EINVAL);
    t.mem.writeI32(SEV + 8, 34);
    t.mem.writeI32(SEV + 12, 4);
    t.mem.writeI32(SEV + 16, t.tid);
    expect(time.timer_create(t, 1, SEV, ID)).toBe(0);
    const tid = t.mem.readI32(ID)!;
    // 10 ms period starting in 10 ms.
    ts(t, BASE, 0n, 10_000_000n);
    ts(t, BASE + 16, 0n, 10_000_000n);
    expect(time.timer_settime(t, tid, 0, BASE, 0)).toBe(0);
    const now = t.kernel.nowNs();
    timerQueue.fire(now + 10_500_000);
    expect(sigs.length).toBe(1);
    expect(sigs[0]).toMatchObject({ signo: 34, code: -2, timerId: tid, value: 0x1234n });
    // By identity: a deep match walks the whole fake kernel (2.7 s idle, 5 min on a loaded machine).
    expect(sigs[0].task).toBe(t);
    // Two more expiries while pending: overruns.
    timerQueue.fire(now + 30_500_000);
    expect(sigs.length).toBe(1);
    expect(sigs[0].onDequeue!()).toBe(2);
    expect(time.timer_getoverrun(t, tid)).toBe(2);
    timerQueue.fire(now + 40_500_000);
    expect(sigs.length).toBe(2);
    expect(time.timer_gettime(t, tid, BASE + 64)).toBe(0);
    expect(t.mem.i64(BASE + 72)).toBe(10_000_000n);
    expect(time.timer_delete(t, tid)).toBe(0);
    expect(time.timer_delete(t, tid)).toBe(EINVAL);
    expect(time.timer_gettime(t, tid, BASE)).toBe(EINVAL);
    expect(time.timer_settime(t, 99, 0, BASE, 0)).toBe(EINVAL);
    expect(time.timer_settime(t, 0, 0, 0, 0)).toBe(EINVAL);
    expect(time.timer_getoverrun(t, 99)).toBe(EINVAL);
    timerQueue.fire(now + 100_000_000);
    expect(sigs.length).toBe(2);
  });

  it('SIGEV_NONE timers count down without signals', () => {
    const t = fakeTask();
    sigs.length = 0;
    const SEV = BASE + 300;
    t.mem.writeI32(SEV + 8, 0);
    t.mem.writeI32(SEV + 12, 1);
    expect(time.timer_create(t, 0, SEV, BASE + 200)).toBe(0);
    ts(t, BASE, 0n, 0n);
    ts(t, BASE + 16, 5n, 0n);
    expect(time.timer_settime(t, t.mem.readI32(BASE + 200)!, 0, BASE, 0)).toBe(0);
    expect(time.timer_gettime(t, 0, BASE + 64)).toBe(0);
    expect(t.mem.i64(BASE + 80)).toBe(4n);
    timerQueue.fire(t.kernel.nowNs() + 10e9);
    expect(sigs.length).toBe(0);
  });
});
