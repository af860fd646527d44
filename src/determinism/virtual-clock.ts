/**
 * The virtual clock of --deterministic: guest time that starts at a fixed epoch and moves
 * only with guest activity, a fixed step per syscall (the serial platform ticks it), and
 * jumps to the next deadline when every guest thread sleeps (a sleep costs no wall time).
 * Read by every clock the guest sees: src/kernel/time/clocks.ts (clock_gettime, time,
 * gettimeofday, timers, sleeps, /proc uptime) and fs/vfs/inode.ts (file timestamps).
 */

/** 2000-01-01T00:00:00Z: the wall clock at the virtual boot. */
export const VIRTUAL_EPOCH_NS = 946_684_800n * 1_000_000_000n;
/** Guest time one syscall takes. */
export const SYSCALL_STEP_NS = 10_000;
/** Virtual time since boot at the first instruction (as if the sandbox took 1 s to boot). */
const BOOT_NS = 1_000_000_000;

export const virtualClock = {
  active: false,
  /** Virtual ns since boot (the kernel.nowNs() base). */
  monoNs: BOOT_NS,
};

export function startVirtualClock(): void {
  virtualClock.active = true;
  virtualClock.monoNs = BOOT_NS;
}

/** One guest step (a syscall). */
export function tickVirtualClock(ns = SYSCALL_STEP_NS): void {
  virtualClock.monoNs += ns;
}

/** Every task waits on a deadline: time moves to it (never backwards). */
export function advanceVirtualClockTo(ns: number): void {
  if (ns > virtualClock.monoNs) virtualClock.monoNs = ns;
}

/** Virtual wall time as [sec, nsec]. */
export function virtualWallTs(): [number, number] {
  const ns = VIRTUAL_EPOCH_NS + BigInt(virtualClock.monoNs);
  return [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)];
}

/** Wall time of the virtual boot (mono 0): the epoch. */
export function virtualBootWallTs(): [number, number] {
  return [Number(VIRTUAL_EPOCH_NS / 1_000_000_000n), 0];
}

/**
 * Host memory figures as the guest sees them (/proc/meminfo, /proc/vmstat, sysinfo):
 * the host's, or under --deterministic a fixed machine (8 GiB, 7 GiB free), since the
 * host's free memory changes from run to run.
 */
export function guestMemory(hostTotal: () => number, hostFree: () => number): { total: number; free: number } {
  if (virtualClock.active) return { total: 8 * 1024 ** 3, free: 7 * 1024 ** 3 };
  return { total: hostTotal(), free: hostFree() };
}
