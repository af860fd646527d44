/**
 * The native calls the gofer protocol needs (native/gofer.cc). Optional until the addon
 * registers them: callers fall back to direct host access when absent.
 * TSSANDBOX_GOFER_ADDON may name another build of the addon (for testing).
 */
import { native, type NativeAddon } from '../platform/native';

export interface GoferNative {
  goferSocketpair(): number[] | number;
  /**
   * Forks the gofer (native/gofer_server.cc) for these roots (readonly[i]: root i is
   * read-only, enforced by the gofer); the Sentry's socket end or -errno.
   */
  goferFork(roots: string[], readonly?: boolean[], launchFd?: number): number;
  openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number;
  goferSend(sock: number, buf: Uint8Array, len: number, fd: number): number;
  goferRecv(sock: number, buf: Uint8Array, fdOut: Int32Array): number;
  goferCall(sock: number, req: Uint8Array, len: number, reqFd: number, resp: Uint8Array, fdOut: Int32Array): number;
  /** copy_file_range(2) between two host fds the Sentry holds: bytes or -errno. */
  hostCopyRange?(fdIn: number, offIn: number, fdOut: number, offOut: number, len: number): number;
  /** read(2) of a host fd into buf: bytes or -errno (EAGAIN returned, not thrown). */
  hostReadNb?(fd: number, buf: Uint8Array): number;
  /** utimensat(fd, NULL) with exact (sec, nsec) pairs, UTIME_NOW/UTIME_OMIT passed: 0 or -errno. */
  hostFutimens?(fd: number, aSec: number, aNsec: number, mSec: number, mNsec: number): number;
  /** Unmaps the read windows (native/host_file_read.cc) of the host file (st_dev, st_ino): how many. */
  hostFileWindowsDrop?(dev: number, ino: number): number;
  /** The read windows mapped now (a debug counter). */
  hostFileWindows?(): number;
}

let cached: GoferNative | null | undefined;

export function goferNative(): GoferNative | null {
  if (cached !== undefined) return cached;
  cached = null;
  try {
    const override = process.env.TSSANDBOX_GOFER_ADDON;
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const n = (override ? require(override) : native()) as NativeAddon & Partial<GoferNative>;
    if (typeof n.goferCall === 'function' && typeof n.goferFork === 'function') cached = n as unknown as GoferNative;
  } catch {
    cached = null;
  }
  return cached;
}
