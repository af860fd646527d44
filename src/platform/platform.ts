import type { EventBuffer } from './event-buffer';

/**
 * What the Sentry needs from a platform, and nothing more: address spaces and
 * threads to run guest code in, a way to run until the next syscall/fault/interrupt,
 * register and memory access. The Sentry never mentions ptrace (or KVM) elsewhere.
 *
 * Identifiers are host thread ids ("contexts"); an address space is named by the
 * host pid of the stub process that holds it.
 */
export interface Platform {
  readonly name: string;
  /** Filled by wait()/getRegs(): registers, syscall args, signal info. */
  readonly ev: EventBuffer;

  /** A new, empty address space with one stopped thread; returns that thread's id. */
  newAddressSpace(): number;
  /**
   * Copy-on-write copy of the address space of stopped thread ctx (fork). `at`: a page
   * of private writable memory of ctx's address space that the copy keeps, which the
   * platform may lend from the copy (no guest code runs there yet) for its own set-up,
   * bytes put back; 0 or absent: none.
   */
  forkAddressSpace(ctx: number, at?: number): number;
  /**
   * Optional: as forkAddressSpace, but the copy is a child of ctx's parent (a template's
   * copies, src/snapshot: reaped by the stub that reaps every address space, not left as
   * zombies of a master that never runs).
   */
  forkSibling?(ctx: number): number;
  /**
   * Optional: execve by stopped ctx, the only thread of its address space, in place: the
   * address space is emptied (every guest mapping gone, as a new one has none), ctx's FP
   * state reset to its initial state; the same ctx (and asPid) stays. Returns ctx, or
   * -errno with nothing changed (the caller then makes a new address space).
   */
  recycleAddressSpace?(ctx: number): number;
  /** Optional: makes the next newAddressSpace's result now (a warm pool worker, between requests). */
  prepareAddressSpace?(): void;
  /** A new stopped thread sharing ctx's address space. */
  newThread(ctx: number): number;
  /** Runs a memory-management syscall (mmap, munmap, mprotect, mremap, madvise) in stopped ctx. */
  mmSyscall(ctx: number, nr: number, a0: number, a1: number, a2: number, a3: number, a4: number, a5: number): number;

  /**
   * mmap of a host file (its fd stays the Sentry's) into stopped ctx. `at`: a page of
   * writable private memory of ctx that no guest code can touch during the call (no
   * other thread uses the address space), lent for the fd's hand-over and put back; 0
   * or absent: the platform's own page.
   */
  mmapHostFd(ctx: number, hostFd: number, addr: number, len: number, prot: number, flags: number, off: number, at?: number): number;
  /**
   * Optional: several mmaps of one host file in one hand-over of its fd (an ELF's
   * segments); `maps` holds [addr, len, prot, flags, off] per mapping (at most 16).
   * 0, or -errno (mappings made before the failing one stay: the caller unmaps).
   */
  mmapHostFdMany?(ctx: number, hostFd: number, maps: Float64Array, at?: number): number;

  getRegs(ctx: number): number;
  setRegs(ctx: number): number;
  getFpState(ctx: number): number;
  setFpState(ctx: number): number;

  /** Completes the syscall ctx is stopped in with `result` and lets it run. */
  resumeSyscall(ctx: number, result: number): void;
  /** resumeSyscall + wait (forever, or timeoutMs) in one call: the per-syscall hot path. */
  resumeSyscallAndWait(ctx: number, result: number, timeoutMs?: number): number;
  /** Lets a stopped ctx run (after registers were set, or after a fault was handled). */
  resume(ctx: number): void;
  /** Next event (see EventKind); timeoutMs < 0 waits forever. */
  wait(timeoutMs: number, fds: Int32Array | null, events: Int32Array | null, revents: Int32Array | null, count: number): number;

  /** Makes a running ctx stop soon (it then reports a Signal event with signo KICK_SIGNAL). */
  kick(asPid: number, ctx: number): void;
  /** Ends one thread (ctx must be stopped). */
  exitThread(ctx: number): void;
  /** Ends every thread of an address space at once. */
  destroyAddressSpace(asPid: number): void;

  /**
   * Atomic compare-and-swap of the aligned u32 at addr in stopped ctx's address space
   * (run by a thread of it, so atomic against its other threads on any CPU): the old
   * value, or -errno (-EFAULT: bad address; -ESRCH: ctx cannot run it now).
   */
  casU32(ctx: number, addr: number, expected: number, desired: number): number;

  /**
   * Optional (systrap with syscall-site patching on): the range of every address space
   * the platform takes for its patch window once it patches a first site there (the
   * Sentry's mm then keeps the guest out of it: src/mm/platform-regions.ts).
   */
  readonly patchWindow?: readonly [number, number];
  /**
   * Optional: how the platform asks the Sentry's mm of asPid's address space whether a
   * trapped syscall's site at addr may be patched: the page's protection, or -1. A yes
   * also means the patch window is the platform's from then on.
   */
  bindPatchPolicy?(asPid: number, policy: (addr: number) => number): void;
  /** Optional: [start, end) of ctx's address space was unmapped or replaced (patched sites there are gone). */
  forgetPatches?(ctx: number, start: number, end: number): void;

  /**
   * Optional: a read (pos < 0) or pread of host fd straight into asPid's memory at addr;
   * bytes or -errno. Absent: the native process_vm path by host pid (ptrace, systrap).
   */
  readFromHost?(asPid: number, hostFd: number, pos: number, addr: number, len: number): number;

  /**
   * Optional: the host CPU time (ns) of the thread that runs ctx's guest code, or -1 (gone).
   * Absent: the Sentry reads the stub thread's /proc files by host tid (ptrace, systrap);
   * kvm's vCPU threads are the Sentry's own, so it answers from their CPU clocks.
   */
  threadCpuNs?(ctx: number): number;

  /** Optional, with threadCpuNs: [minflt, majflt, nvcsw, nivcsw] of that thread, or null (gone). */
  threadCounts?(ctx: number): readonly number[] | null;

  /**
   * Optional, with threadCpuNs: the resident guest memory (kB) of ctx's address space now,
   * or (peak) the most it has had; -1 (gone). Absent: the stub's /proc status.
   */
  memoryKb?(ctx: number, peak: boolean): number;

  readMem(asPid: number, addr: number, buf: Uint8Array, off: number, len: number): number;
  writeMem(asPid: number, addr: number, buf: Uint8Array, off: number, len: number): number;
  readCString(asPid: number, addr: number, max: number): string | number;
}

/** Host signal used to interrupt a running stub thread (ignored by default, so harmless). */
export const KICK_SIGNAL = 23; // SIGURG
