/** The types the container's Sentry (sandbox.ts) shares with create, the pool and restore. */
import type { PlatformName } from '../platform/select';
import type { Spec } from './spec-types';
import type { HostCgroup } from './native';

/** What `create` hands its Sentry (init.json in the state directory). */
export interface SentryInit {
  id: string;
  root: string;
  bundle: string;
  rootfs: string;
  config: Spec;
  consoleSocket: string | null;
  preserveFds: number;
  /** fd of the pipe on which "ok" or the error line goes back to `create`. */
  syncFd: number;
  logPath: string | null;
  debug: boolean;
  /** The network mode: "none" (loopback only) or "sandbox" (network.ts). */
  network: string;
  /** The platform (platform.ts: --platform, the annotation, TSSANDBOX_PLATFORM). */
  platform: PlatformName;
  /** Which of fds 0..2 `create` replaced, for being the host's /dev/null (stdio.ts). */
  nullFds: number[];
  /** The host fds of --preserve-fds when not at 3.. (a pool Sentry received them). */
  preserveHostFds?: number[];
}

/** A pool Sentry's link to its `create` (pool.ts). */
export interface PoolLink {
  /** Has the container's process (the front) made; its host pid. */
  front(): number;
  /** "ok" or "error: ..." for create, in place of the sync pipe. */
  report(line: string): void;
  /** The host cgroup the member made and joined before its claim (resources.ts adoptSandboxCgroup), or null. */
  cgroup: HostCgroup | null;
}

/** The Sentry's self-confinement (src/cli/confine.ts's confineSentry, passed down: cli is the layer above). */
export type SentryConfine = (o: { gofer: boolean; stubPid: number }, warn: (m: string) => void) => number;
