/**
 * The native addon (native/*.cc, built by node-gyp at `npm install`): typed here once
 * so the rest of the Sentry never touches `require` of a .node file.
 * All functions are synchronous; errors come back as negative errno numbers.
 */
import * as fs from 'fs';
import * as path from 'path';

export interface NativeAddon {
  // ---- ptrace platform (native/ptrace_platform.cc) ----
  /** Binds the shared event/register buffer (see src/platform/event-buffer.ts). */
  setEventBuffer(buf: ArrayBuffer): void;
  /** Pins the calling thread (and stubs started later) to one CPU (-1: the current one). */
  pinToCpu(cpu: number): number;
  /**
   * Starts the template stub from the stub binary; returns its host pid or -errno.
   * mode 'systrap' (with the doorbell eventfd from systrapInit) makes a systrap stub;
   * trapTsc/trapCpuid (deterministic mode) make RDTSC/CPUID fault.
   */
  spawnStub(stubPath: string, mode?: 'ptrace' | 'systrap', doorbellFd?: number, trapTsc?: boolean, trapCpuid?: boolean): number;
  /** CPUID on the host: [eax, ebx, ecx, edx] of a leaf and subleaf. */
  hostCpuid(leaf: number, subleaf: number): [number, number, number, number];
  /** Whether CPUID can be made to fault here (ARCH_SET_CPUID). */
  cpuidFaultingSupported(): boolean;
  /**
   * Waits for the next stop of any stub thread, a watched host fd becoming ready
   * (revents filled), a host signal, or the timeout (< 0: none). Returns the event kind.
   */
  wait(timeoutMs: number, fds: Int32Array | null, events: Int32Array | null, revents: Int32Array | null, count: number): number;
  /** Writes rax (result) of a syscall-stopped thread and resumes it under PTRACE_SYSEMU. */
  resumeSyscall(tid: number, result: number): number;
  /** Same, then waits for the next event (the hot path: one N-API call per syscall). */
  resumeSyscallAndWait(tid: number, result: number, timeoutMs: number): number;
  /** Resumes a stopped thread under PTRACE_SYSEMU (sig: host signal to deliver, normally 0). */
  resume(tid: number, sig?: number): number;
  /** Loads the registers of a stopped thread into the shared buffer's register area. */
  getRegs(tid: number): number;
  /** Stores the shared buffer's register area into a stopped thread. */
  setRegs(tid: number): number;
  /** Loads / stores the 512-byte FXSAVE area of a stopped thread (shared buffer's fp area). */
  getFpRegs(tid: number): number;
  setFpRegs(tid: number): number;
  /** Runs one syscall inside a stopped stub thread at the gadget; returns its result. */
  inject(tid: number, nr: number, a0: number, a1: number, a2: number, a3: number, a4: number, a5: number): number;
  /** Atomic cmpxchg of the u32 at addr, run by stopped traced thread tid (stub gadget): old value or -errno. */
  casU32(tid: number, addr: number, expected: number, desired: number): number;
  /** Maps host fd into stopped ctx (passed over the stub socket, closed again in the stub). */
  mmapHostFd(tid: number, hostFd: number, addr: number, len: number, prot: number, flags: number, off: number, at?: number): number;
  /** Several mappings of one host fd in one hand-over ([addr, len, prot, flags, off] each): 0 or -errno. */
  mmapHostFdMany(tid: number, hostFd: number, maps: Float64Array, at?: number): number;
  /** Injects a fork/clone; returns the new host tid (stopped, traced) or -errno. */
  injectClone(tid: number, flags: number): number;
  /** Sentry time spent serving host thread tid's syscalls since the last call (ns). */
  takeSentryNs(tid: number): number;
  /** Sends a host signal to a host thread (SIGKILL to end a stub thread). */
  tgkill(tgid: number, tid: number, sig: number): number;
  /** kill(2): signals the host process holding thread/process id pid. */
  kill(pid: number, sig: number): number;
  /** Ends one stopped thread without waiting for it. */
  exitThread(tid: number): number;
  /** Reaps a dead thread's status without blocking (after SIGKILL). */
  reap(tid: number): number;

  // ---- systrap platform (native/systrap_platform.cc; ctx = guest host tid) ----
  /** Creates the doorbell eventfd stubs ring while the Sentry sleeps: its fd or -errno. */
  systrapInit(): number;
  /** 0 if this host can run systrap, else why not. */
  systrapSupport(): number | string;
  /** A new address space forked from the template stub (or from ctx's); its first thread, stopped. */
  systrapNewAddressSpace(templateOrCtx: number, at?: number): number;
  systrapNewThread(ctx: number): number;
  /** The traced injector thread (stub leader) of ctx's address space, or -ESRCH. */
  systrapLeader(ctx: number): number;
  /** execve by ctx, its address space's only thread, in place: every guest mapping unmapped, FP state reset; ctx or -errno (nothing changed). */
  systrapRecycle(ctx: number): number;
  /** mmaps of one host fd in one injection where a lent page allows (native/systrap_batch.cc): the last map's address or -errno. */
  systrapMmapHostFdMany(ctx: number, hostFd: number, maps: Float64Array, at?: number): number;
  systrapGetRegs(ctx: number): number;
  systrapSetRegs(ctx: number): number;
  systrapGetFpRegs(ctx: number): number;
  systrapSetFpRegs(ctx: number): number;
  systrapResumeSyscall(ctx: number, result: number): number;
  systrapResumeSyscallAndWait(ctx: number, result: number, timeoutMs: number): number;
  systrapResume(ctx: number): number;
  systrapWait(timeoutMs: number, fds: Int32Array | null, events: Int32Array | null, revents: Int32Array | null, count: number): number;
  systrapKick(ctx: number): number;
  systrapExitThread(ctx: number): number;
  systrapDestroyAddressSpace(ctx: number): number;
  /** Syscall-site patching is on (TSSANDBOX_SYSTRAP_PATCH). */
  systrapPatchEnabled(): boolean;
  /** Patches the site ctx's last syscall event offered (info[6]); prot: its page's. 0 or -errno. */
  systrapPatch(ctx: number, prot: number): number;
  /** readMem in a systrap address space (by its injector): patched sites read as they were. */
  systrapReadMem(pid: number, addr: number, buf: Uint8Array, off: number, len: number): number;
  /** The mm unmapped or replaced [start, end) of ctx's address space: its patched sites are gone. */
  systrapForgetPatches(ctx: number, start: number, end: number): void;

  // ---- guest memory (process_vm_readv/writev) ----
  /** Reads len bytes at addr of host process pid into buf[off..]; returns bytes read or -errno. */
  readMem(pid: number, addr: number, buf: Uint8Array, off: number, len: number): number;
  writeMem(pid: number, addr: number, buf: Uint8Array, off: number, len: number): number;
  /** Reads a NUL-terminated string up to max bytes; returns a string, or a negative errno (-EFAULT, -ENAMETOOLONG). */
  readCString(pid: number, addr: number, max: number): string | number;

  /** pread (pos >= 0) or read from host fd straight into guest memory; bytes or -errno. */
  hostReadToGuest(pid: number, fd: number, pos: number, addr: number, len: number): number;
  /** The same from a regular file at pos in one copy (native/host_file_read.cc); -1000: use hostReadToGuest. */
  hostFileToGuest(pid: number, fd: number, pos: number, addr: number, len: number): number;

  // ---- host calls Node lacks (native/host.cc) ----
  /** poll(2) on host fds; fills revents; returns count or -errno. */
  hostPoll(fds: Int32Array, events: Int32Array, revents: Int32Array, count: number, timeoutMs: number): number;
  hostRead(fd: number, buf: Uint8Array, off: number, len: number): number;
  hostWrite(fd: number, buf: Uint8Array, off: number, len: number): number;
  hostPread(fd: number, buf: Uint8Array, off: number, len: number, pos: number): number;
  /** zlib's crc32 of [pos, pos+len) of fd (page-aligned pos), read through a map; or -errno. */
  hostFileCrc32?(fd: number, pos: number, len: number): number;
  hostIoctlWinsize(fd: number, out: Int32Array): number;
  /** tcgetattr into a 60-byte buffer as struct termios (kernel layout); returns 0 or -errno. */
  hostTcgets(fd: number, out: Uint8Array): number;
  hostTcsets(fd: number, action: number, termios: Uint8Array): number;
  /** Installs the Sentry's own handlers for SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGTSTP/SIGWINCH/SIGCONT. */
  installSignalHandlers(): void;
  /** Returns and clears the bit set (1 << signo) of host signals received since the last call. */
  takeHostSignals(): number;

  // ---- gofer transport (native/gofer.cc; registered by tss::InitGofer) ----
  /** SOCK_SEQPACKET pair, close-on-exec: [fd0, fd1] or -errno. */
  goferSocketpair?(): number[] | number;
  /** openat2(2): fd (close-on-exec) or -errno. */
  openat2?(dirfd: number, path: string, flags: number, mode: number, resolve: number): number;
  /** One message with at most one fd (SCM_RIGHTS, -1 for none); bytes sent or -errno. */
  goferSend?(sock: number, buf: Uint8Array, len: number, fd: number): number;
  /** Blocking receive; fdOut[0] = received fd or -1. Bytes (0 = peer closed) or -errno. */
  goferRecv?(sock: number, buf: Uint8Array, fdOut: Int32Array): number;
  /** Send then block for the reply, in one call. Reply bytes or -errno. */
  goferCall?(sock: number, req: Uint8Array, len: number, reqFd: number, resp: Uint8Array, fdOut: Int32Array): number;
  /** lseek(2) on a host fd: new offset or -errno. */
  hostLseek?(fd: number, off: number, whence: number): number;
  /** memfd_create(name, MFD_CLOEXEC): fd or -errno. */
  hostMemfd?(name: string): number;

  /** Creates the sealed clock page the vDSO reads and starts its clock thread: its fd or -errno. */
  vdsoStart(): number;
  /** The sandbox's monotonic clock (ns since boot), from the same line the vDSO reads. */
  vdsoNowNs(): number;
  /** CLOCK_REALTIME minus that clock, fixed at start. */
  vdsoRealtimeOffsetNs(): bigint;
  /** Sets the clock so that it reads ns now (before vdsoStart only: -EBUSY after). */
  vdsoSetBoot(ns: number): number;
  /** True once the TSC line is calibrated and published (false: vDSO reads make the syscall). */
  vdsoEnabled(): boolean;
}

let addon: NativeAddon | undefined;

export function native(): NativeAddon {
  if (!addon) {
    const file = path.join(__dirname, nativeRoot(), 'build', 'Release', 'tssandbox_native.node');
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    addon = require(file) as NativeAddon;
  }
  return addon;
}

/**
 * Repository root relative to this file: src/platform (ts), dist/src/platform (js) or
 * dist/ (the bundle). The first ancestor holding binding.gyp.
 */
function nativeRoot(): string {
  for (const up of ['..', '../..', '../../..']) {
    if (fs.existsSync(path.join(__dirname, up, 'binding.gyp'))) return up;
  }
  return '../..';
}

export function stubBinaryPath(): string {
  return path.join(__dirname, nativeRoot(), 'build', 'Release', 'tssandbox-stub');
}

/** The vDSO image (native/vdso/), built beside the stub. */
export function vdsoImagePath(): string {
  return path.join(__dirname, nativeRoot(), 'build', 'Release', 'tssandbox-vdso.so');
}
