/**
 * What the kernel, the VFS calls and the socket calls tell a watcher above them (the
 * policy, the audit report, the library API's hooks: src/policy, src/audit, src/api):
 * the layers below call `kernel.hooks` at a few points, a null check when nothing
 * watches. Deciding hooks return 0 (go on) or a negative errno (the call fails with it).
 */
import type { Task } from './task';
import type { ThreadGroup } from './thread-group';
import type { Sentry } from './sentry';
import type { FileDescription } from '../../fs/vfs/file';
import { sendToGroup } from './signal-delivery';

/** The sandbox-wide limits that end a run when reached. */
export type LimitName = 'timeout' | 'cpu-time' | 'memory' | 'pids' | 'nofile' | 'output' | 'disk';

export interface SandboxHooks {
  /** Every syscall as it enters (not its re-runs after a wait): 0, or -errno to fail it unserved. */
  syscall(t: Task, nr: number): number;
  /** execve of a resolved file, before the point of no return: 0 or -errno. */
  exec(t: Task, path: string, argv: readonly string[], scripts: readonly string[]): number;
  /** exec succeeded: t runs `path` now, reached through the #! `scripts` (outermost first). */
  execDone(t: Task, path: string, scripts: readonly string[]): void;
  /** A new process (fork/clone without CLONE_THREAD). */
  fork(parent: ThreadGroup, child: ThreadGroup): void;
  /** A process ended with a wait status. */
  exit(tg: ThreadGroup, status: number): void;
  /** open/openat/creat (path as the guest gave it): 0, -errno to refuse, or a string: the path to open instead. */
  open(t: Task, dirfd: number, path: string, flags: number): number | string;
  /** The open's outcome: an fd (>= 0) or -errno. */
  opened(t: Task, dirfd: number, path: string, flags: number, result: number): void;
  /** A read/pread/readv took n bytes from a file description. */
  read(t: Task, f: FileDescription, n: number): void;
  /**
   * n bytes went into a file description: write/pwrite/writev/pwritev2, sendfile, splice,
   * copy_file_range, AIO (a file's sha256 is of its content, so only the count travels).
   */
  wrote(t: Task, f: FileDescription, n: number): void;
  /** A MAP_SHARED writable mapping of f: what the guest writes there is the file's. */
  mappedShared(t: Task, f: FileDescription): void;
  /** unlink/unlinkat or a rename onto path is about to remove a file (its content is hashed first). */
  removing(t: Task, dirfd: number, path: string): void;
  /** unlink/unlinkat/rmdir of path, with its result. */
  removed(t: Task, dirfd: number, path: string, result: number): void;
  /** connect(2) to a socket address (raw sockaddr bytes): 0, -errno, or the address to connect to instead. */
  connect(t: Task, addr: Uint8Array): number | Uint8Array;
  /** connect's outcome (0, -EINPROGRESS, or -errno). */
  connected(t: Task, sock: FileDescription, addr: Uint8Array, result: number): void;
  /** A sandbox limit was reached: the watcher records it; the run then ends (endSandbox). */
  limit(name: LimitName, detail: string): void;
}

/**
 * Ends every process of the sandbox with SIGKILL (a limit was reached): init's death
 * then ends the run loop, and the CLI's exit takes the stubs and the Gofer with it.
 */
export function endSandbox(s: Sentry): void {
  const init = s.init;
  for (const tg of [...s.kernel.threadGroups.values()]) {
    if (tg !== init && !tg.zombie) sendToGroup(s, tg, { signo: 9, code: 0x80, force: true });
  }
  if (init && !init.zombie) sendToGroup(s, init, { signo: 9, code: 0x80, force: true });
}
