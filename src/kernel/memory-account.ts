/**
 * The sandbox's memory as the Sentry counts it (`--memory`): the pages every guest
 * address space has resident on the host (anonymous, file-backed and shared: the
 * `resident` field of the stub's /proc/PID/statm, read through an fd the Gofer opened
 * for that stub, PROCFILE) plus the tmpfs data the Sentry holds (`tmpfsBudget`: the
 * overlay's upper layer, /dev/shm, memfds, --tmpfs mounts). Virtual size is not memory:
 * a 1 GiB mapping of which 4 MiB were touched counts 4 MiB.
 *
 * Page faults are the host's and the Sentry never sees them, so the figure is sampled:
 * at mmap/brk/mremap growth (when what was mapped since the last sample could pass the
 * limit, else at most once a millisecond), every 512th syscall (a countdown the Sentry
 * decrements), as each address space goes (exit, exec: its last pages count toward the
 * peak), at each MiB of tmpfs growth (the budget asks `stubBytes`), and on a 10 ms timer
 * in the Sentry's queue (a guest touching memory without syscalls; see start()). A sample is one 4 µs read
 * per live address space. Over the limit: a CI run ends with the memory limit's status
 * (kernel.hooks.limit); otherwise, as Linux's memory-cgroup OOM killer does, the address
 * space holding the most is killed with SIGKILL and the sandbox goes on.
 *
 * File-backed and shmem pages (statm's `shared`: libc, the binary, MAP_SHARED mappings)
 * count once, as the largest such set of any address space: the same libraries are in
 * all of them, so summing them would charge a `make -j4` for libc once per process.
 * Different files mapped in different processes are under-counted by this; anonymous
 * pages still shared copy-on-write after a fork count once per process (over-counted).
 * Between samples a guest may overshoot by what it touches in 10 ms; the stubs' memory
 * cgroup (src/mm/memory-limit.ts), where there is one, is a hard backstop above the limit.
 */
import { closeSync, readSync } from 'fs';
import type { Kernel } from './kernel';
import type { AddressSpace } from '../mm/address-space';
import { TaskState } from './task';
import { openProc, platformResidentKb } from './time/cputime';
import { ProcFileKind } from '../gofer/protocol';
import { TimerEntry, timerQueue, type TimerQueue } from './time/timers';
import { sendToGroup } from './signal-delivery';
import { cgroupOf, memoryLimitedGroups, type Cgroup } from './cgroup';
import { tmpfsBudget } from '../../fs/vfs/space-budget';
import { virtualClock } from '../determinism/virtual-clock';
import { overHighCharges, throttleOverHigh } from './memory-pressure';
import type { Task } from './task';

const PAGE = 4096;
const PERIOD_NS = 10e6;
const MAP_SAMPLE_NS = 1e6;
/** Syscalls between two samples (a countdown at syscall entry: no clock read on the hot path). */
const EVERY_NTH = 512;

interface StatmFd {
  pid: number;
  fd: number;
}

class Tick extends TimerEntry {
  constructor(private readonly acct: MemoryAccount) {
    super();
  }
  expire(nowNs: number, q: TimerQueue): void {
    if (this.acct.stopped) return;
    this.acct.sample(true);
    q.schedule(this, nowNs + PERIOD_NS);
  }
}

export class MemoryAccount {
  /** Highest total seen (address spaces + tmpfs), bytes. */
  peak = 0;
  /** Samples taken (for --debug and the tests' sense of cost). */
  samples = 0;
  /** Decremented by the Sentry at each syscall entry; at 0, everyNth() samples. */
  countdown = EVERY_NTH;
  stopped = false;
  private stubs = 0;
  private lastNs = -Infinity;
  /** Bytes mapped since the last sample (they may all be touched before the next). */
  private grown = 0;
  private readonly fds = new Map<AddressSpace, StatmFd>();
  /** Address spaces killed for memory: their pages are going, they are not killed twice. */
  private readonly killed = new WeakSet<AddressSpace>();
  private readonly buf = Buffer.alloc(128);
  /** statm's `shared` of the address space resident() read last, in bytes. */
  private lastShared = 0;
  /** Each address space's [resident, shared] bytes at the last sample, kept while some group has a memory.max. */
  private readonly perMm = new Map<AddressSpace, [number, number]>();
  private groups: Cgroup[] = [];
  /**
   * Pages each address space grew by while a group of its was over memory.high, not yet
   * paid for: its next syscall sleeps the penalty first (memory-pressure.ts).
   */
  readonly overHighPages = new Map<AddressSpace, number>();
  /** The groups over memory.high at this sample: how far over (bytes) and their address spaces. */
  private readonly overHighNow: Array<{ over: number; members: AddressSpace[] }> = [];
  /** Each address space's resident bytes at the previous sample (its growth since). */
  private prevResident = new Map<AddressSpace, number>();
  private readonly tick = new Tick(this);

  constructor(readonly limit: number, private readonly k: Kernel) {}

  /**
   * Arms the periodic sample, for a guest that touches memory without syscalls (a timed
   * platform wait costs a timer re-arm when the deadline moves: native/README.md). Not in
   * deterministic mode (its clock stands still while a guest spins).
   */
  start(): void {
    if (!virtualClock.active) timerQueue.schedule(this.tick, this.k.nowNs() + PERIOD_NS);
  }

  /** Whether its periodic sample waits in the timer queue (the Sentry's own: a checkpoint leaves it, a restore arms its own). */
  get armed(): boolean {
    return this.tick.heapIndex >= 0;
  }

  /** Every EVERY_NTH syscalls (the Sentry's countdown reached 0). */
  everyNth(): void {
    this.countdown = EVERY_NTH;
    if (!this.stopped) this.sample(true);
  }

  stop(): void {
    this.stopped = true;
    timerQueue.cancel(this.tick);
    for (const s of this.fds.values()) closeQuietly(s.fd);
    this.fds.clear();
  }

  /** Resident bytes of one address space (0 if its stub cannot be read). */
  private resident(mm: AddressSpace): number {
    const kb = platformResidentKb(this.k, mm.asPid);
    if (kb !== null) {
      this.lastShared = 0;
      return kb * 1024;
    }
    let s = this.fds.get(mm);
    if (s !== undefined && s.pid !== mm.asPid) {
      closeQuietly(s.fd);
      this.fds.delete(mm);
      s = undefined;
    }
    if (s === undefined) {
      const fd = openProc(this.k, mm.asPid, ProcFileKind.Statm);
      if (fd < 0) return 0;
      s = { pid: mm.asPid, fd };
      this.fds.set(mm, s);
    }
    let n: number;
    try {
      n = readSync(s.fd, this.buf, 0, this.buf.length, 0);
    } catch {
      closeQuietly(s.fd);
      this.fds.delete(mm);
      return 0;
    }
    // "size resident shared text lib data dt", in pages.
    const resident = statmField(this.buf, n, 1);
    const shared = statmField(this.buf, n, 2);
    this.lastShared = Math.min(shared, resident) * PAGE;
    return resident * PAGE;
  }

  /** Σ private resident + the largest shared set over the live address spaces; the largest (not already killed). */
  private readStubs(): { total: number; largest: AddressSpace | null; largestBytes: number } {
    const seen = new Set<AddressSpace>();
    let total = 0;
    let largest: AddressSpace | null = null;
    let largestBytes = -1;
    let maxShared = 0;
    this.perMm.clear();
    const keep = this.groups.length > 0;
    for (const t of this.k.tasks.values()) {
      const mm = t.mm;
      if (!mm || t.state === TaskState.Dead || seen.has(mm) || this.killed.has(mm)) continue;
      seen.add(mm);
      const b = this.resident(mm);
      // Private pages add up; file-backed and shmem pages ("shared") are mostly the same
      // ones in every address space (libc, the binary, the stub), so they count once: the
      // largest such set (a cgroup charges a page cache page once, too).
      total += b - this.lastShared;
      if (this.lastShared > maxShared) maxShared = this.lastShared;
      if (keep) this.perMm.set(mm, [b, this.lastShared]);
      if (b > largestBytes) {
        largestBytes = b;
        largest = mm;
      }
    }
    // Address spaces gone without passing dropping() (e.g. a checkpoint's): their fds go.
    if (this.fds.size > seen.size) {
      for (const [mm, s] of this.fds) {
        if (!seen.has(mm)) {
          closeQuietly(s.fd);
          this.fds.delete(mm);
        }
      }
    }
    total += maxShared;
    this.samples++;
    return { total, largest, largestBytes };
  }

  /** Samples now; with `check`, acts on a total over the limit. Returns the total. */
  sample(check: boolean): number {
    this.groups = memoryLimitedGroups(this.k);
    const r = this.readStubs();
    this.stubs = r.total;
    this.lastNs = this.k.nowNs();
    this.grown = 0;
    const all = r.total + tmpfsBudget.used;
    if (all > this.peak) this.peak = all;
    if (check && all > this.limit && r.largest !== null) this.over(all, r.largest);
    if (check) for (const g of this.groups) this.checkGroup(g);
    if (check) this.chargeOverHigh();
    return all;
  }

  /**
   * A group over its memory.max: its largest address space is killed, as the memory
   * controller's OOM killer does once reclaim fails (the sandbox has no swap to reclaim
   * anonymous pages into). Counted as the group's usage is: private pages summed, the
   * file-backed ones once (memory.current's rule).
   */
  private checkGroup(g: Cgroup): void {
    const max = g.limits.get('memory.max') ?? Infinity;
    let priv = 0, shared = 0, largestBytes = -1;
    let largest: AddressSpace | null = null;
    const seen = new Set<AddressSpace>();
    for (const tg of this.k.threadGroups.values()) {
      if (!g.contains(cgroupOf(tg))) continue;
      for (const t of tg.tasks) {
        const m = this.perMm.get(t.mm);
        if (m === undefined || seen.has(t.mm)) continue;
        seen.add(t.mm);
        priv += m[0] - m[1];
        shared = Math.max(shared, m[1]);
        if (m[0] > largestBytes) {
          largestBytes = m[0];
          largest = t.mm;
        }
      }
    }
    const used = priv + shared;
    g.memUsed = used;
    this.overHigh(g, used);
    const over = used - (g.limits.get('memory.high') ?? Infinity);
    if (over > 0) this.overHighNow.push({ over, members: [...seen] });
    if (largest === null || used <= max) return;
    for (let c: Cgroup | null = g; c !== null; c = c.parent) {
      c.memEvents.max++;
      c.memEvents.oom++;
      c.memEvents.oomKill++;
    }
    this.kill(largest, `memory cgroup ${g.path}`, used, max);
  }

  /**
   * memory.high: Linux counts a "high" event at each charge that finds the group above it
   * and reclaims (nothing reclaimable without swap: usage stays over, nobody is killed; the
   * charging task is throttled instead, see chargeOverHigh). A
   * sample stands for the charges since the last one: it counts when usage grew while
   * over, in the group and each group above it (memory.events is hierarchical).
   */
  private overHigh(g: Cgroup, used: number): void {
    const high = g.limits.get('memory.high') ?? Infinity;
    if (used <= high) {
      g.highSeen = 0;
      return;
    }
    if (used <= g.highSeen) return;
    g.highSeen = used;
    for (let c: Cgroup | null = g; c !== null; c = c.parent) c.memEvents.high++;
  }

  /**
   * What each group over memory.high charged over it since the last sample, shared among
   * its address spaces (overHighCharges), in pages: the charges Linux would have made over
   * the limit, for each one's next syscall to pay (mem_cgroup_handle_over_high).
   */
  private chargeOverHigh(): void {
    const charges = overHighCharges(this.overHighNow, (mm) => (this.perMm.get(mm)?.[0] ?? 0) - (this.prevResident.get(mm) ?? 0));
    for (const [mm, pages] of charges) this.overHighPages.set(mm, (this.overHighPages.get(mm) ?? 0) + pages);
    this.overHighNow.length = 0;
    this.prevResident = new Map([...this.perMm].map(([mm, r]) => [mm, r[0]]));
  }

  /** At t's syscall entry, while some address space owes a memory.high penalty: t pays its own. */
  payOverHigh(t: Task): void {
    const pages = this.overHighPages.get(t.mm);
    if (pages === undefined) return;
    this.overHighPages.delete(t.mm);
    throttleOverHigh(this.k, t, pages);
  }

  /** mmap/brk/mremap gave the guest `bytes` more address space it may touch. */
  mapped(bytes: number): void {
    if (this.stopped) return;
    this.grown += bytes;
    if (this.stubs + tmpfsBudget.used + this.grown > this.limit || this.k.nowNs() - this.lastNs >= MAP_SAMPLE_NS) this.sample(true);
  }

  /**
   * An address space is about to be destroyed: its pages count toward the peak one last
   * time, and a CI run over the limit ends with the limit's status even if this process
   * got there between two samples (killing what exits anyway is pointless elsewhere).
   */
  dropping(mm: AddressSpace): void {
    if (this.stopped) return;
    if (!this.killed.has(mm)) {
      const all = this.sample(false);
      if (all > this.limit) this.reportLimit(all);
    }
    const s = this.fds.get(mm);
    if (s !== undefined) {
      closeQuietly(s.fd);
      this.fds.delete(mm);
    }
    this.overHighPages.delete(mm);
    this.prevResident.delete(mm);
  }

  /** The address spaces' bytes now (the tmpfs budget's other user of the same limit). */
  stubBytes(): number {
    if (this.stopped) return 0;
    const r = this.readStubs();
    this.stubs = r.total;
    if (r.total + tmpfsBudget.used > this.peak) this.peak = r.total + tmpfsBudget.used;
    return r.total;
  }

  /** Tells a CI watcher once (ending the sandbox destroys address spaces, which sample again). */
  private reportLimit(all: number): void {
    if (this.reported || this.k.hooks === null) return;
    this.reported = true;
    this.k.hooks.limit('memory', `${all} bytes of ${this.limit}`);
  }
  private reported = false;

  private over(all: number, largest: AddressSpace): void {
    const k = this.k;
    const s = k.sentry;
    // A CI run ends here with the memory limit's status (the watcher ends every process).
    this.reportLimit(all);
    if (!s) return;
    this.kill(largest, 'the sandbox', all, this.limit);
  }

  /** SIGKILL to the processes of one address space, once. */
  private kill(mm: AddressSpace, where: string, bytes: number, limit: number): void {
    const k = this.k;
    const s = k.sentry;
    if (!s || this.killed.has(mm)) return;
    this.killed.add(mm);
    for (const tg of k.threadGroups.values()) {
      if (tg.zombie || tg.exiting) continue;
      let uses = false;
      for (const t of tg.tasks) if (t.mm === mm) uses = true;
      if (!uses) continue;
      // As Linux's kernel log says it (dmesg).
      k.log(`Memory cgroup out of memory (${where}): Killed process ${tg.pid} (${tg.leader?.comm ?? ''}), ${bytes} bytes of limit ${limit} bytes`);
      sendToGroup(s, tg, { signo: 9, code: 0x80, force: true });
    }
  }
}

/** The index-th space-separated decimal field of a statm line (0 if absent). */
function statmField(buf: Buffer, n: number, index: number): number {
  let i = 0;
  for (let f = 0; f < index; f++) {
    i = buf.indexOf(32, i);
    if (i < 0 || i >= n) return 0;
    i++;
  }
  let v = 0;
  for (; i < n; i++) {
    const c = buf[i];
    if (c < 48 || c > 57) break;
    v = v * 10 + (c - 48);
  }
  return v;
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* closed */
  }
}

/** --memory: the sandbox's memory is counted by the Sentry (tmpfs asks it at each MiB of growth). */
/**
 * A group's memory.max was written: the account runs from now on even without --memory
 * (limit Infinity: it then only watches the groups), and a limit below the group's usage
 * acts at once, as Linux's write does.
 */
export function groupMemoryLimitSet(k: Kernel): void {
  let acct = k.memAcct;
  if (acct === null) {
    acct = new MemoryAccount(Infinity, k);
    k.memAcct = acct;
    acct.start();
  }
  acct.sample(true);
}

export function installMemoryAccount(k: Kernel, limit: number): MemoryAccount | null {
  if (!(limit < Infinity)) return null;
  const acct = new MemoryAccount(limit, k);
  k.memAcct = acct;
  tmpfsBudget.external = () => acct.stubBytes();
  acct.start();
  return acct;
}
