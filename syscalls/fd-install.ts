/** Giving new file descriptions to a task: fd numbers under RLIMIT_NOFILE. */
import type { Task } from '../src/kernel/task';
import type { FileDescription } from '../fs/vfs/file';
import { limitsOf, RLIMIT_NOFILE } from '../src/kernel/limits';
import * as E from '../src/abi/errno';

/** Installs f at the lowest free fd >= minFd below RLIMIT_NOFILE (-EMFILE when none). */
export function installFd(t: Task, f: FileDescription, cloexec: boolean, minFd = 0): number {
  t.fdTable.limit = Math.min(limitsOf(t.tg).soft(RLIMIT_NOFILE), 1 << 20);
  const fd = t.fdTable.install(f, cloexec, minFd);
  // --nofile: the sandbox's own ceiling reached (not one the guest lowered itself to).
  if (fd === -E.EMFILE && t.fdTable.limit >= t.kernel.nofileLimit) t.kernel.hooks?.limit('nofile', `${t.kernel.nofileLimit} open files`);
  return fd;
}

/** Whether installFd would find an fd (accept takes one before it dequeues a connection). */
export function hasFreeFd(t: Task): boolean {
  const limit = Math.min(limitsOf(t.tg).soft(RLIMIT_NOFILE), 1 << 20);
  // Fewer open fds than the limit leaves one below it; else look (a full table is rare).
  if (t.fdTable.size < limit) return true;
  for (let fd = 0; fd < limit; fd++) if (t.fdTable.get(fd) === undefined) return true;
  return false;
}

/**
 * pipe2/socketpair: installs both ends and writes the two fds to guest memory at addr;
 * on any failure nothing stays installed.
 */
export function installPair(t: Task, a: FileDescription, b: FileDescription, cloexec: boolean, addr: number): number {
  const fa = installFd(t, a, cloexec);
  if (fa < 0) {
    b.decRef();
    return fa;
  }
  const fb = installFd(t, b, cloexec);
  if (fb < 0) {
    t.fdTable.close(fa);
    return fb;
  }
  if (!t.mem.writeI32(addr, fa) || !t.mem.writeI32(addr + 4, fb)) {
    t.fdTable.close(fa);
    t.fdTable.close(fb);
    return -E.EFAULT;
  }
  return 0;
}
