import { native, stubBinaryPath, type NativeAddon } from './native';
import { EventBuffer } from './event-buffer';
import { KICK_SIGNAL, type Platform } from './platform';

const CLONE_VM = 0x100;
const CLONE_PARENT = 0x8000;
const CLONE_SIGHAND = 0x800;
const CLONE_THREAD = 0x10000;

/**
 * The CPU a pinned Sentry takes; -1: the one it runs on when the platform is made. A warm
 * pool's workers are told one each (src/server/pool.ts): started together, they would
 * otherwise often land on one CPU and share it.
 */
let pinCpu = -1;
export function preferPinCpu(cpu: number): void {
  pinCpu = cpu;
}

/**
 * The ptrace platform (PTRACE_SYSEMU). A template stub is started once; every new
 * address space is a fork of it (injected clone), so the host never execs again and
 * all stubs share its seccomp filter and namespaces.
 */
export class PtracePlatform implements Platform {
  readonly name = 'ptrace';
  readonly ev = new EventBuffer();
  private readonly n: NativeAddon;
  private template = 0;
  /** Deterministic mode: stubs start with RDTSC/RDTSCP faulting, and CPUID faulting (the Sentry answers them). */
  trapTsc = false;
  trapCpuid = false;

  constructor(opts: { pin: boolean }) {
    this.n = native();
    this.n.setEventBuffer(this.ev.buffer);
    // A CPU outside this process's affinity mask is refused: then the current one.
    if (opts.pin && (pinCpu < 0 || this.n.pinToCpu(pinCpu) < 0)) this.n.pinToCpu(-1);
  }

  /** Starts the template stub; returns -errno on failure. */
  start(): number {
    const pid = this.n.spawnStub(stubBinaryPath(), 'ptrace', -1, this.trapTsc, this.trapCpuid);
    if (pid > 0) this.template = pid;
    return pid;
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
    const c = this.n.injectClone(this.template, 0);
    if (c > 0) this.spare = c;
  }

  newAddressSpace(): number {
    const c = this.spare;
    this.spare = -1;
    return c > 0 ? c : this.n.injectClone(this.template, 0);
  }

  forkAddressSpace(ctx: number): number {
    return this.n.injectClone(ctx, 0);
  }

  forkSibling(ctx: number): number {
    return this.n.injectClone(ctx, CLONE_PARENT);
  }

  newThread(ctx: number): number {
    return this.n.injectClone(ctx, CLONE_VM | CLONE_SIGHAND | CLONE_THREAD);
  }

  mmSyscall(ctx: number, nr: number, a0: number, a1: number, a2: number, a3: number, a4: number, a5: number): number {
    return this.n.inject(ctx, nr, a0, a1, a2, a3, a4, a5);
  }

  mmapHostFd(ctx: number, hostFd: number, addr: number, len: number, prot: number, flags: number, off: number, at = 0): number {
    return this.n.mmapHostFd(ctx, hostFd, addr, len, prot, flags, off, at);
  }

  mmapHostFdMany(ctx: number, hostFd: number, maps: Float64Array, at = 0): number {
    return this.n.mmapHostFdMany(ctx, hostFd, maps, at);
  }

  getRegs(ctx: number): number {
    return this.n.getRegs(ctx);
  }

  setRegs(ctx: number): number {
    return this.n.setRegs(ctx);
  }

  getFpState(ctx: number): number {
    return this.n.getFpRegs(ctx);
  }

  setFpState(ctx: number): number {
    return this.n.setFpRegs(ctx);
  }

  resumeSyscall(ctx: number, result: number): void {
    this.n.resumeSyscall(ctx, result);
  }

  resumeSyscallAndWait(ctx: number, result: number, timeoutMs = -1): number {
    return this.n.resumeSyscallAndWait(ctx, result, timeoutMs);
  }

  resume(ctx: number): void {
    this.n.resume(ctx, 0);
  }

  wait(timeoutMs: number, fds: Int32Array | null, events: Int32Array | null, revents: Int32Array | null, count: number): number {
    return this.n.wait(timeoutMs, fds, events, revents, count);
  }

  kick(asPid: number, ctx: number): void {
    this.n.tgkill(asPid, ctx, KICK_SIGNAL);
  }

  exitThread(ctx: number): void {
    this.n.exitThread(ctx);
  }

  destroyAddressSpace(asPid: number): void {
    this.n.kill(asPid, 9);
  }

  casU32(ctx: number, addr: number, expected: number, desired: number): number {
    return this.n.casU32(ctx, addr, expected, desired);
  }

  readMem(asPid: number, addr: number, buf: Uint8Array, off: number, len: number): number {
    return this.n.readMem(asPid, addr, buf, off, len);
  }

  writeMem(asPid: number, addr: number, buf: Uint8Array, off: number, len: number): number {
    return this.n.writeMem(asPid, addr, buf, off, len);
  }

  readCString(asPid: number, addr: number, max: number): string | number {
    return this.n.readCString(asPid, addr, max);
  }
}
