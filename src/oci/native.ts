/**
 * The OCI mode's host calls (native/oci_console.cc), typed here once. They live in the
 * same addon as the platform's; this view adds only what OCI needs.
 */
import { native } from '../platform/native';

/** A sandbox's host cgroup (native/oci_cgroup.cc): its directories, v1 one per controller, v2 one; '' for none. */
export interface HostCgroup {
  v2: boolean;
  memory: string;
  pids: string;
  cpu: string;
  /** Its reapers, "PID:START" comma-separated (delete ends them: native/oci_cgroup_rm.h). */
  reapers?: string;
}

export interface OciNative {
  /** A listening, non-blocking unix stream socket at path (long paths reached through their directory). */
  ociListen(path: string): number;
  /** A connected, blocking unix stream socket, or -errno. */
  ociConnect(path: string): number;
  /** A new non-blocking connection or -EAGAIN. */
  ociAccept(fd: number): number;
  /** sendmsg with fds (SCM_RIGHTS); bytes or -errno. */
  ociSend(sock: number, buf: Uint8Array, len: number, fds: Int32Array | null, nfds: number): number;
  /** recvmsg; fdsOut[0] = count of received fds, fdsOut[1..] the fds. Bytes (0: closed) or -errno. */
  ociRecv(sock: number, buf: Uint8Array, fdsOut: Int32Array, dontwait: boolean): number;
  /** A host pty: [master, slave], or -errno. */
  ociOpenPty(rows: number, cols: number): number[] | number;
  ociSetWinsize(fd: number, rows: number, cols: number): number;
  ociFlock(fd: number, op: number): number;
  ociSetCloexec(fd: number, on: boolean): number;
  ociDup(fd: number, min: number): number;
  /** dup2; 0 or -errno. */
  ociDup2(fd: number, to: number): number;
  /** The main thread joins the network namespace of fd (-1: a new one); 0 or -errno. */
  ociEnterNetns(fd: number): number;
  /** A thread that ends the process (status 137) once the peer of socket fd closes. */
  ociWatchFront(fd: number): number;
  /** The wait status of child pid, -ETIMEDOUT after timeoutMs (-1: none), or -errno. */
  ociWaitPid(pid: number, timeoutMs: number): number;
  hostPoll(fds: Int32Array, events: Int32Array, revents: Int32Array, count: number, timeoutMs: number): number;
  installSignalHandlers(): void;
  /** linux.resources' host cgroup made (reaper started, this process in it); -1: unset. Its directories, or why not. */
  ociSandboxCgroup(memory: number, pids: number, cpuShares: number, cpuQuota: number, cpuPeriod: number): HostCgroup | string;
  /** The network takeover's helper forked (oci_net.cc): [pid, socket], or -errno. */
  ociNetHelper(): [number, number] | number;
  /** The platform's stub socket pair closed (ptrace_platform.cc; a pool member's warm-up, once its stubs are gone). */
  closeStubSocket(): void;
  /** delete's removal of that cgroup, its reapers ended, once the Sentry is gone; 0 or -errno. */
  ociRemoveCgroup(memory: string, pids: string, cpu: string, reapers: string): number;
  /** update's limits written into that cgroup (-1: unchanged); 0 or -errno. */
  ociCgroupLimits(v2: boolean, mem: string, pids: string, cpu: string, memory: number, npids: number, cpuShares: number, cpuQuota: number, cpuPeriod: number): number;
  takeHostSignals(): number;
}

export function ociNative(): OciNative {
  return native() as unknown as OciNative;
}

export const LOCK_EX = 2, LOCK_NB = 4, LOCK_UN = 8;
export const EAGAIN = 11, EINTR = 4;
