import { native, stubBinaryPath, type NativeAddon } from './native';
import { EventBuffer } from './event-buffer';
import type { Platform } from './platform';

/** The syscall-patch window (native/stub/systrap_abi.h ST_PATCH_BASE/SIZE). */
const PATCH_BASE = 0x050f0000;
const PATCH_SIZE = 0x10000;

/**
 * The systrap platform (native/systrap_platform.cc, native/stub/systrap.c): guest
 * threads run untraced; each syscall traps (seccomp SECCOMP_RET_TRAP) into the stub's
 * SIGSYS handler, which hands the registers over through memory shared with the Sentry
 * and spins for the reply (from a site the platform patched, `mov $nr,%eax; syscall`, a
 * jump to the stub's trampoline posts the same frame without the signal: the mm is asked
 * first through bindPatchPolicy). Each address space keeps one traced injector thread (its
 * stub's leader) through which mmap/munmap/mprotect and forks are run, as on ptrace.
 *
 * Contexts are guest threads' host tids; asPid is any of them. Memory calls go to the
 * injector, which lives as long as the address space.
 */
export class SystrapPlatform implements Platform {
  readonly name = 'systrap';
  readonly ev = new EventBuffer();
  private readonly n: NativeAddon;
  private template = 0;
  /** Guest ctx -> its address space's injector (stub leader) pid. */
  private readonly leaders = new Map<number, number>();

  private readonly bell: number;
  readonly patchWindow?: readonly [number, number];
  /** Injector pid -> its address space's patch policy (the Sentry's mm, bindPatchPolicy). */
  private readonly policies = new Map<number, (addr: number) => number>();

  /**
   * Made first (like ptrace's pinning): the doorbell, and the Sentry's main thread on
   * one CPU, which the gofer and the stubs' injectors forked after it share (guest
   * threads get every CPU back).
   */
  constructor() {
    this.n = native();
    this.n.setEventBuffer(this.ev.buffer);
    this.bell = this.n.systrapInit();
    if (this.n.systrapPatchEnabled()) this.patchWindow = [PATCH_BASE, PATCH_BASE + PATCH_SIZE];
  }

  bindPatchPolicy(asPid: number, policy: (addr: number) => number): void {
    if (!this.patchWindow) return;
    const l = this.leader(asPid);
    if (l <= 0) return;
    // Entries of address spaces gone: dropped now and then (a pid reused is rebound).
    if (this.policies.size >= 256) for (const k of this.policies.keys()) if (this.n.systrapLeader(k) !== k) this.policies.delete(k);
    this.policies.set(l, policy);
  }

  forgetPatches(ctx: number, start: number, end: number): void {
    if (this.patchWindow) this.n.systrapForgetPatches(ctx, start, end);
  }

  /** A syscall event whose site may be patched (native info[6]): asks the mm, patches. */
  private offered(): void {
    const ctx = this.ev.info[0];
    const policy = this.policies.get(this.leader(ctx));
    const site = Number(this.ev.regs[16]) - 7; // Reg.RIP: the syscall's return address
    const prot = policy ? policy(site) : -1;
    if (prot >= 0) this.n.systrapPatch(ctx, prot);
  }

  /** Starts the template stub; returns its pid or -errno. */
  start(): number {
    const bell = this.bell;
    if (bell < 0) return bell;
    const pid = this.n.spawnStub(stubBinaryPath(), 'systrap', bell);
    if (pid > 0) this.template = pid;
    return pid;
  }

  private leader(ctx: number): number {
    let l = this.leaders.get(ctx);
    if (l === undefined) {
      l = this.n.systrapLeader(ctx);
      if (l > 0) this.leaders.set(ctx, l);
    }
    return l;
  }

  /** A clone of the template made ahead (prepareAddressSpace), taken by the next newAddressSpace. */
  private spare = -1;

  /**
   * Makes the next address space now (a warm pool worker, between requests): a clone of
   * the never-run template is the same whenever it is made, and the clone is a third of
   * an exec's cost (src/server/README.md).
   */
  prepareAddressSpace(): void {
    if (this.spare > 0 || this.template <= 0) return;
    const c = this.n.systrapNewAddressSpace(this.template);
    if (c > 0) this.spare = c;
  }

  newAddressSpace(): number {
    const c = this.spare;
    this.spare = -1;
    return c > 0 ? c : this.n.systrapNewAddressSpace(this.template);
  }

  forkAddressSpace(ctx: number, at = 0): number {
    return this.n.systrapNewAddressSpace(ctx, at);
  }

  recycleAddressSpace(ctx: number): number {
    return this.n.systrapRecycle(ctx);
  }

  newThread(ctx: number): number {
    return this.n.systrapNewThread(ctx);
  }

  mmSyscall(ctx: number, nr: number, a0: number, a1: number, a2: number, a3: number, a4: number, a5: number): number {
    return this.n.inject(this.leader(ctx), nr, a0, a1, a2, a3, a4, a5);
  }

  private readonly oneMap = new Float64Array(5);

  /** A host fd's hand-over and mmaps: one injection with a lent page (native/systrap_batch.cc). */
  mmapHostFd(ctx: number, hostFd: number, addr: number, len: number, prot: number, flags: number, off: number, at = 0): number {
    this.oneMap.set([addr, len, prot, flags, off]);
    return this.n.systrapMmapHostFdMany(ctx, hostFd, this.oneMap, at);
  }

  mmapHostFdMany(ctx: number, hostFd: number, maps: Float64Array, at = 0): number {
    const r = this.n.systrapMmapHostFdMany(ctx, hostFd, maps, at);
    return r < 0 ? r : 0;
  }

  getRegs(ctx: number): number {
    return this.n.systrapGetRegs(ctx);
  }

  setRegs(ctx: number): number {
    return this.n.systrapSetRegs(ctx);
  }

  getFpState(ctx: number): number {
    return this.n.systrapGetFpRegs(ctx);
  }

  setFpState(ctx: number): number {
    return this.n.systrapSetFpRegs(ctx);
  }

  resumeSyscall(ctx: number, result: number): void {
    this.n.systrapResumeSyscall(ctx, result);
  }

  resumeSyscallAndWait(ctx: number, result: number, timeoutMs = -1): number {
    const k = this.n.systrapResumeSyscallAndWait(ctx, result, timeoutMs);
    if (k === 1 && this.ev.info[6] !== 0) this.offered();
    return k;
  }

  resume(ctx: number): void {
    this.n.systrapResume(ctx);
  }

  wait(timeoutMs: number, fds: Int32Array | null, events: Int32Array | null, revents: Int32Array | null, count: number): number {
    const k = this.n.systrapWait(timeoutMs, fds, events, revents, count);
    // EventKind.Exit: a context that is gone keeps no injector entry.
    if (k === 3) this.leaders.delete(this.ev.tid);
    else if (k === 1 && this.ev.info[6] !== 0) this.offered();
    return k;
  }

  kick(_asPid: number, ctx: number): void {
    this.n.systrapKick(ctx);
  }

  exitThread(ctx: number): void {
    this.n.systrapExitThread(ctx);
  }

  destroyAddressSpace(asPid: number): void {
    this.n.systrapDestroyAddressSpace(asPid);
  }

  casU32(ctx: number, addr: number, expected: number, desired: number): number {
    return this.n.casU32(this.leader(ctx), addr, expected, desired);
  }

  readMem(asPid: number, addr: number, buf: Uint8Array, off: number, len: number): number {
    return this.n.systrapReadMem(this.leader(asPid), addr, buf, off, len);
  }

  writeMem(asPid: number, addr: number, buf: Uint8Array, off: number, len: number): number {
    return this.n.writeMem(this.leader(asPid), addr, buf, off, len);
  }

  readCString(asPid: number, addr: number, max: number): string | number {
    return this.n.readCString(this.leader(asPid), addr, max);
  }
}
