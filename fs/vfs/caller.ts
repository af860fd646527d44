/**
 * What the VFS needs from the task that calls it. The kernel's Task satisfies these
 * interfaces structurally, so fs/vfs never imports src/kernel (which sits above it).
 */
import type { Credentials } from '../../src/auth/credentials';
import type { WaitQueue } from '../../src/waiter/waitqueue';
import type { FdTable } from './fdtable';
import type { FsContext } from './context';

/** The caller of a path operation. */
export interface FsCaller {
  fsCtx: FsContext;
  creds: Credentials;
  fdTable: FdTable;
}

/** A caller that may also park on wait queues (poll, select). */
export interface FsWaiter extends FsCaller {
  waitOn(q: WaitQueue, mask: number): void;
}

/** The VFS's view of a controlling terminal; job control lives in src/kernel/tty.ts. */
export interface Ctty {
  /** Session this terminal controls; 0 when none. */
  sid: number;
  /** Foreground process group; 0 when none. */
  fgPgid: number;
  /** The sandbox's console (`run -t`): kernel.foregroundPgid mirrors its foreground group. */
  isConsole: boolean;
}

/**
 * The caller of the path walk under way, for what is resolved relative to it without
 * being passed it (/proc/self, /dev/tty). Set by Vfs.startDir at every walk; the Sentry
 * runs one syscall at a time, so this never outlives the call that set it.
 */
let current: FsCaller | null = null;
export function setCurrentCaller(c: FsCaller): void {
  current = c;
}
export function currentCaller(): FsCaller | null {
  return current;
}
