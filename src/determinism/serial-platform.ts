/**
 * The deterministic schedule (--deterministic): a Platform in front of the real one that
 * lets one guest thread run at a time. Every "let it run" (resume, resumeSyscall) joins
 * a FIFO; the head runs only once the thread that ran before has stopped (a syscall, a
 * signal, its exit), so threads switch only at those stops, in an order fixed by the
 * order of the Sentry's own decisions: round robin over runnable threads. Each stop of
 * the running thread advances the virtual clock one step; when no thread can run and one
 * waits on a deadline, virtual time jumps to it at once.
 *
 * Host fds (a terminal, host sockets) are polled only when no guest thread can run, so a
 * host reply wakes its reader at a point the schedule decides, not mid-schedule.
 *
 * Preemption: ptrace gives no deterministic way to stop a thread that runs without
 * syscalls (no retired-branch counter here: this VM exposes no PMU), so a thread that
 * holds the CPU for PREEMPT_MS of wall time and then PREEMPT_MS more of its own CPU time
 * while others wait is kicked (a host signal); each such kick is counted in
 * `wallPreemptions` and reported, since the instruction it stops at may differ on
 * another run. A thread that makes a syscall within PREEMPT_MS of CPU time is never
 * kicked, however loaded the host.
 */
import { ENOSYS } from '../abi/errno';
import { EventKind } from '../platform/event-buffer';
import type { EventBuffer } from '../platform/event-buffer';
import type { Platform } from '../platform/platform';
import { detRun } from './run-state';
import { advanceVirtualClockTo, tickVirtualClock, virtualClock } from './virtual-clock';

/** Wall time a thread may run without a stop while others are runnable. */
export const PREEMPT_MS = 200;

interface Pending {
  ctx: number;
  /** Syscall result to complete with, or null for a plain resume. */
  result: number | null;
}

export class SerialPlatform implements Platform {
  readonly name: string;
  readonly ev: EventBuffer;
  private readonly queue: Pending[] = [];
  /** The one thread let run (0: none). */
  private running = 0;
  /** Address space (stub pid) of each thread, for kicks. */
  private readonly asOf = new Map<number, number>();
  /** Kicks by the wall clock (nondeterministic preemptions). */
  wallPreemptions = 0;
  /** Stops of guest threads seen (each one virtual step). */
  stops = 0;
  /** Whether a task sleeps to a deadline or a timer is armed (set by the CLI: the Sentry knows). */
  deadlinesPending: () => boolean = () => false;
  /** Host CPU ns of a running guest thread, or -1 (set by the CLI: the stub's /proc stat through the Gofer). */
  cpuNsOf: (hostTid: number) => number = () => -1;
  /** The running thread's CPU time at its first preemption timeout (-1: none yet). */
  private sliceTid = 0;
  private sliceCpu = -1;

  constructor(private readonly inner: Platform) {
    this.name = inner.name;
    this.ev = inner.ev;
  }

  newAddressSpace(): number {
    const c = this.inner.newAddressSpace();
    if (c > 0) this.asOf.set(c, c);
    return c;
  }

  forkAddressSpace(ctx: number): number {
    const c = this.inner.forkAddressSpace(ctx);
    if (c > 0) this.asOf.set(c, c);
    return c;
  }

  newThread(ctx: number): number {
    const c = this.inner.newThread(ctx);
    if (c > 0) this.asOf.set(c, this.asOf.get(ctx) ?? ctx);
    return c;
  }

  mmSyscall(ctx: number, nr: number, a0: number, a1: number, a2: number, a3: number, a4: number, a5: number): number {
    return this.inner.mmSyscall(ctx, nr, a0, a1, a2, a3, a4, a5);
  }

  mmapHostFd(ctx: number, hostFd: number, addr: number, len: number, prot: number, flags: number, off: number, at = 0): number {
    return this.inner.mmapHostFd(ctx, hostFd, addr, len, prot, flags, off, at);
  }

  mmapHostFdMany(ctx: number, hostFd: number, maps: Float64Array, at = 0): number {
    return this.inner.mmapHostFdMany ? this.inner.mmapHostFdMany(ctx, hostFd, maps, at) : -ENOSYS;
  }

  getRegs(ctx: number): number {
    return this.inner.getRegs(ctx);
  }

  setRegs(ctx: number): number {
    return this.inner.setRegs(ctx);
  }

  getFpState(ctx: number): number {
    return this.inner.getFpState(ctx);
  }

  setFpState(ctx: number): number {
    return this.inner.setFpState(ctx);
  }

  casU32(ctx: number, addr: number, expected: number, desired: number): number {
    return this.inner.casU32(ctx, addr, expected, desired);
  }

  resumeSyscall(ctx: number, result: number): void {
    this.enqueue(ctx, result);
  }

  resumeSyscallAndWait(ctx: number, result: number, timeoutMs = -1): number {
    this.enqueue(ctx, result);
    return this.wait(timeoutMs, null, null, null, 0);
  }

  resume(ctx: number): void {
    this.enqueue(ctx, null);
  }

  private enqueue(ctx: number, result: number | null): void {
    if (ctx === this.running) this.running = 0; // it stopped (injections may re-stop it)
    this.queue.push({ ctx, result });
  }

  /**
   * Lets the head of the queue run if no thread runs. A syscall result goes with the
   * wait for the next stop in one native call (the hot path); returns that event's kind,
   * or -1 when nothing was waited for yet.
   */
  private releaseNext(): number {
    if (this.running !== 0 || this.queue.length === 0) return -1;
    const p = this.queue.shift()!;
    this.running = p.ctx;
    if (p.result === null) {
      this.inner.resume(p.ctx);
      return -1;
    }
    const k = this.inner.resumeSyscallAndWait(p.ctx, p.result, this.othersWait() ? PREEMPT_MS : -1);
    return k === EventKind.Timeout ? this.waitRunning(true) : this.seen(k);
  }

  wait(timeoutMs: number, fds: Int32Array | null, events: Int32Array | null, revents: Int32Array | null, count: number): number {
    const first = this.releaseNext();
    if (first !== -1) return first;
    if (this.running === 0) {
      // No guest thread can run: host fds may answer now, and deadlines come at once.
      if (count === 0 && timeoutMs > 0) {
        // A look first: a host signal (^C, a kill of the sandbox) must not wait behind a
        // guest that sleeps in a loop, which would otherwise never let the host speak.
        const now = this.inner.wait(0, null, null, null, 0);
        if (now !== EventKind.Timeout) return this.seen(now);
        advanceVirtualClockTo(virtualClock.monoNs + timeoutMs * 1e6);
        return EventKind.Timeout;
      }
      const k = this.inner.wait(timeoutMs, fds, events, revents, count);
      if (k === EventKind.Timeout && timeoutMs > 0) advanceVirtualClockTo(virtualClock.monoNs + timeoutMs * 1e6);
      return this.seen(k);
    }
    return this.waitRunning(false);
  }

  /** Waits for the running thread's next stop; timedOut: it already ran PREEMPT_MS. */
  private waitRunning(timedOut: boolean): number {
    for (;;) {
      if (!timedOut) {
        const k = this.inner.wait(this.othersWait() ? PREEMPT_MS : -1, null, null, null, 0);
        if (k !== EventKind.Timeout) return this.seen(k);
      }
      timedOut = false;
      if (!this.othersWait()) continue;
      // Others wait (their turn, or a deadline). Preempt only once this thread has used
      // PREEMPT_MS of CPU time of its own since the first timeout (not wall time: a host
      // busy with other work must not make a thread that computes less than that
      // between two syscalls lose its turn, which would change the schedule).
      const cpu = this.cpuNsOf(this.running);
      if (cpu >= 0) {
        if (this.sliceTid !== this.running || this.sliceCpu < 0) {
          this.sliceTid = this.running;
          this.sliceCpu = cpu;
          continue;
        }
        if (cpu - this.sliceCpu < PREEMPT_MS * 1e6) continue;
      }
      this.sliceCpu = -1;
      // It used that much CPU time, so virtual time moves by as much.
      this.wallPreemptions++;
      detRun.wallPreemptions++;
      advanceVirtualClockTo(virtualClock.monoNs + PREEMPT_MS * 1e6);
      this.inner.kick(this.asOf.get(this.running) ?? this.running, this.running);
    }
  }

  private othersWait(): boolean {
    return this.queue.length > 0 || this.deadlinesPending();
  }

  private seen(kind: number): number {
    const tid = this.ev.tid;
    switch (kind) {
      case EventKind.Syscall:
      case EventKind.Signal:
      case EventKind.GroupStop:
      case EventKind.PtraceEvent:
        if (tid === this.running) {
          this.running = 0;
          this.sliceCpu = -1;
          this.stops++;
          tickVirtualClock();
        }
        break;
      case EventKind.Exit:
        this.forget(tid);
        break;
    }
    return kind;
  }

  /** The thread is gone: it neither runs nor waits its turn. */
  private forget(ctx: number): void {
    if (this.running === ctx) this.running = 0;
    for (let i = this.queue.length - 1; i >= 0; i--) if (this.queue[i].ctx === ctx) this.queue.splice(i, 1);
    this.asOf.delete(ctx);
  }

  kick(asPid: number, ctx: number): void {
    this.asOf.set(ctx, asPid);
    this.inner.kick(asPid, ctx);
  }

  exitThread(ctx: number): void {
    this.forget(ctx);
    this.inner.exitThread(ctx);
  }

  destroyAddressSpace(asPid: number): void {
    this.inner.destroyAddressSpace(asPid);
  }

  readMem(asPid: number, addr: number, buf: Uint8Array, off: number, len: number): number {
    return this.inner.readMem(asPid, addr, buf, off, len);
  }

  writeMem(asPid: number, addr: number, buf: Uint8Array, off: number, len: number): number {
    return this.inner.writeMem(asPid, addr, buf, off, len);
  }

  readCString(asPid: number, addr: number, max: number): string | number {
    return this.inner.readCString(asPid, addr, max);
  }
}
