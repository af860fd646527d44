import { EventBuffer } from '../event-buffer';
import { native } from '../native';
import type { Platform } from '../platform';
import { kvmNative, type KvmNative } from './native-kvm';

/**
 * The kvm platform (native/kvm/): each address space is a KVM VM whose memory is the
 * Sentry's (an anonymous memfd and the host files' mappings, as memslots), each thread a
 * vCPU on a native thread of its own running KVM_RUN; the guest runs in ring 3 and the
 * ring-0 shim turns `syscall` and exceptions into exits, whose registers the platform
 * reads from the shim's state page. Memory calls edit the platform's mirror and page
 * tables (no stub, no injection); page faults of mapped memory are answered natively.
 * Not a default: on this host a syscall round trip still costs several times systrap's.
 * Its /dev/kvm is kvm_pvm (the guest's ring 0 runs in the hardware's ring 3, no VMX, and
 * none of upstream PVM's paravirtual ABI), where a ring-3 `syscall` stays in ring 3: the
 * native side then takes syscalls as direct exits from ring 3 (no ring-0 code), and the
 * shim's ring 0 only for exceptions and TLB work (README.md beside this file: the costs).
 */
export class KvmPlatform implements Platform {
  readonly name = 'kvm';
  readonly ev = new EventBuffer();
  private readonly n: KvmNative;
  /** ctx -> its address space's id (its first ctx). */
  private readonly spaces = new Map<number, number>();

  constructor() {
    this.n = kvmNative();
    native().setEventBuffer(this.ev.buffer);
  }

  /**
   * Opens /dev/kvm now, or takes the fd the native front handed on (the Sentry confines
   * itself after start()): the Sentry's own pid (no stub: native/sentry_confine.cc keeps
   * no CAP_SYS_PTRACE for it), or -errno.
   */
  start(): number {
    const r = this.n.kvmInit();
    if (typeof r === 'string') {
      process.stderr.write(`tssandbox: kvm platform: ${r}\n`);
      return -19; // ENODEV
    }
    return process.pid;
  }

  private as(ctx: number): number {
    return this.spaces.get(ctx) ?? ctx;
  }

  /** A new context (native's answer), recorded with its address space; why not: one line, -errno. */
  private made(r: number | string, asOf: (ctx: number) => number, errno: number): number {
    if (typeof r === 'string') {
      process.stderr.write(`tssandbox: kvm platform: ${r}\n`);
      return -errno;
    }
    this.spaces.set(r, asOf(r));
    return r;
  }

  newAddressSpace(): number {
    return this.made(this.n.kvmNewAddressSpace(), (c) => c, 12 /* ENOMEM */);
  }

  /** A new VM with ctx's memory (shared mappings shared, private ones copied) and one vCPU. */
  forkAddressSpace(ctx: number): number {
    return this.made(this.n.kvmForkAddressSpace(ctx), (c) => c, 11 /* EAGAIN */);
  }

  /** A thread (or vfork's child): another vCPU of ctx's VM, on a native thread of its own. */
  newThread(ctx: number): number {
    return this.made(this.n.kvmNewThread(ctx), () => this.as(ctx), 11 /* EAGAIN */);
  }

  mmSyscall(ctx: number, nr: number, a0: number, a1: number, a2: number, a3: number, a4: number, a5: number): number {
    return this.n.kvmMmSyscall(ctx, nr, a0, a1, a2, a3, a4, a5);
  }

  mmapHostFd(ctx: number, hostFd: number, addr: number, len: number, prot: number, flags: number, off: number): number {
    return this.n.kvmMmapHostFd(ctx, hostFd, addr, len, prot, flags, off);
  }

  mmapHostFdMany(ctx: number, hostFd: number, maps: Float64Array): number {
    return this.n.kvmMmapHostFdMany(ctx, hostFd, maps);
  }

  getRegs(ctx: number): number {
    return this.n.kvmGetRegs(ctx);
  }

  setRegs(ctx: number): number {
    return this.n.kvmSetRegs(ctx);
  }

  getFpState(ctx: number): number {
    return this.n.kvmGetFpRegs(ctx);
  }

  setFpState(ctx: number): number {
    return this.n.kvmSetFpRegs(ctx);
  }

  resumeSyscall(ctx: number, result: number): void {
    this.n.kvmResumeSyscall(ctx, result);
  }

  resumeSyscallAndWait(ctx: number, result: number, timeoutMs = -1): number {
    return this.n.kvmResumeSyscallAndWait(ctx, result, timeoutMs);
  }

  resume(ctx: number): void {
    this.n.kvmResume(ctx);
  }

  wait(timeoutMs: number, fds: Int32Array | null, events: Int32Array | null, revents: Int32Array | null, count: number): number {
    const k = this.n.kvmWait(timeoutMs, fds, events, revents, count);
    if (k === 3) this.spaces.delete(this.ev.tid); // EventKind.Exit
    return k;
  }

  kick(_asPid: number, ctx: number): void {
    this.n.kvmKick(ctx);
  }

  exitThread(ctx: number): void {
    this.n.kvmExitThread(ctx);
  }

  destroyAddressSpace(asPid: number): void {
    this.n.kvmDestroyAddressSpace(this.as(asPid));
  }

  /** The CPU clock of ctx's vCPU thread (guest time included, as Linux counts it: user time). */
  threadCpuNs(ctx: number): number {
    return this.n.kvmThreadCpuNs(ctx);
  }

  /** Page faults and context switches of ctx's vCPU thread (the host's faults on guest memory count). */
  threadCounts(ctx: number): readonly number[] | null {
    const r = this.n.kvmThreadCounts(ctx);
    return typeof r === 'number' ? null : r;
  }

  /** Resident guest memory of ctx's VM (its memfd's pages, its private views' resident pages), or its peak. */
  memoryKb(ctx: number, peak: boolean): number {
    return this.n.kvmMemoryKb(ctx, peak);
  }

  casU32(ctx: number, addr: number, expected: number, desired: number): number {
    return this.n.kvmCasU32(this.as(ctx), addr, expected, desired);
  }

  readFromHost(asPid: number, hostFd: number, pos: number, addr: number, len: number): number {
    return this.n.kvmReadFromHost(this.as(asPid), hostFd, pos, addr, len);
  }

  readMem(asPid: number, addr: number, buf: Uint8Array, off: number, len: number): number {
    return this.n.kvmReadMem(this.as(asPid), addr, buf, off, len);
  }

  writeMem(asPid: number, addr: number, buf: Uint8Array, off: number, len: number): number {
    return this.n.kvmWriteMem(this.as(asPid), addr, buf, off, len);
  }

  readCString(asPid: number, addr: number, max: number): string | number {
    return this.n.kvmReadCString(this.as(asPid), addr, max);
  }
}
