/**
 * The kvm platform's native functions (native/kvm/kvm_napi.cc), typed once. Contexts are
 * vCPUs named by ids of the platform's own (never host pids); an address space is named
 * by its first context. Errors are negative errno numbers, or a string saying why.
 */
import * as nfs from 'node:fs';
import { launchedFile } from '../launched-files';
import { native } from '../native';

export interface KvmNative {
  /** Round trip of one guest `syscall` through the shim and back, in ns; or why KVM cannot run here. */
  kvmProbe(n: number): number | string;
  /** After a probe: the module behind /dev/kvm, its kind and the syscall path, e.g. "kvm_pvm: PVM, syscalls exit from ring 3". */
  kvmHostKind(): string;
  /** Opens /dev/kvm (before the Sentry confines itself), or takes the adopted fd: 0, or why not. */
  kvmInit(): number | string;
  /** The fd to use instead of opening /dev/kvm (before the first probe or init): 0, or -EALREADY. */
  kvmAdoptFd(fd: number): number;
  /** A new VM with one stopped vCPU: its ctx, or why not. */
  kvmNewAddressSpace(): number | string;
  /** Another stopped vCPU in stopped ctx's VM (registers and FP state ctx's): its ctx, or why not. */
  kvmNewThread(ctx: number): number | string;
  /** A copy of stopped ctx's address space with one stopped vCPU (fork): its ctx, or why not. */
  kvmForkAddressSpace(ctx: number): number | string;
  kvmMmSyscall(ctx: number, nr: number, a0: number, a1: number, a2: number, a3: number, a4: number, a5: number): number;
  kvmMmapHostFd(ctx: number, hostFd: number, addr: number, len: number, prot: number, flags: number, off: number): number;
  kvmMmapHostFdMany(ctx: number, hostFd: number, maps: Float64Array): number;
  kvmGetRegs(ctx: number): number;
  kvmSetRegs(ctx: number): number;
  kvmGetFpRegs(ctx: number): number;
  kvmSetFpRegs(ctx: number): number;
  kvmResumeSyscall(ctx: number, result: number): number;
  kvmResumeSyscallAndWait(ctx: number, result: number, timeoutMs: number): number;
  kvmResume(ctx: number): number;
  kvmWait(timeoutMs: number, fds: Int32Array | null, events: Int32Array | null, revents: Int32Array | null, count: number): number;
  kvmKick(ctx: number): number;
  kvmExitThread(ctx: number): number;
  kvmDestroyAddressSpace(asId: number): number;
  kvmCasU32(asId: number, addr: number, expected: number, desired: number): number;
  kvmThreadCpuNs(ctx: number): number;
  kvmMemoryKb(ctx: number, peak: boolean): number;
  kvmThreadCounts(ctx: number): number[] | number;
  /** read (pos < 0) or pread of a host fd into guest memory: bytes or -errno. */
  kvmReadFromHost(asId: number, hostFd: number, pos: number, addr: number, len: number): number;
  kvmReadMem(asId: number, addr: number, buf: Uint8Array, off: number, len: number): number;
  kvmWriteMem(asId: number, addr: number, buf: Uint8Array, off: number, len: number): number;
  kvmReadCString(asId: number, addr: number, max: number): string | number;
}

/**
 * The addon, given once the /dev/kvm fd the native front opened for a kvm run
 * (native/launch_flags.h: the launched Sentry, unprivileged outside its user namespace,
 * may not open root's device); without one (the library, the old path) it opens its own.
 */
let adopted = false;
export function kvmNative(): KvmNative {
  const n = native() as unknown as KvmNative;
  if (!adopted) {
    adopted = true;
    const fd = launchedFile('/dev/kvm');
    if (fd !== undefined && n.kvmAdoptFd(fd) !== 0) closeQuietly(fd);
  }
  return n;
}

function closeQuietly(fd: number): void {
  try {
    nfs.closeSync(fd);
  } catch {
    // already gone
  }
}

/**
 * The probe: a VM with the shim runs a guest `syscall` loop of n round trips; ns per
 * round trip, or why the kvm platform cannot run here (cached per process and n).
 */
const probed = new Map<number, number | string>();
export function kvmProbe(n = 3): number | string {
  let r = probed.get(n);
  if (r === undefined) {
    try {
      r = kvmNative().kvmProbe(n);
    } catch (e) {
      r = (e as Error).message;
    }
    probed.set(n, r);
  }
  return r;
}

/** After kvmProbe worked: which KVM it ran on and how guest syscalls leave the guest. */
export function kvmHostKind(): string {
  try {
    return kvmNative().kvmHostKind();
  } catch (e) {
    return (e as Error).message;
  }
}
