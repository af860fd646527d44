/**
 * What a process closing one of its fds does beyond dropping the reference (Linux's
 * filp_close: the file's flush, then its POSIX locks): its record locks on the file go,
 * and an mq_notify registration it owns on a queue ends. Every way a process closes an
 * fd comes here: close, close_range, dup2/dup3 over an open fd, exec's close-on-exec, exit.
 */
import type { FileDescription } from '../../fs/vfs/file';
import type { FdTable } from '../../fs/vfs/fdtable';
import { releaseProcessLocks } from '../../fs/vfs/locks';
import { mqueueFlush } from '../../fs/fsimpl/mqueue/mqueue';
import type { ThreadGroup } from './thread-group';

export function processClosing(f: FileDescription, tg: ThreadGroup): void {
  mqueueFlush(f, tg.pid);
  releaseProcessLocks(f, tg);
}

/** Before exec closes tg's close-on-exec fds (fdTable.closeOnExec). */
export function closingOnExec(fds: FdTable, tg: ThreadGroup): void {
  for (const [fd, f] of fds.entries()) if (fds.isCloexec(fd)) processClosing(f, tg);
}

/** Before the last user of an fd table, tg, closes all of it at exit (closeAll). */
export function closingAll(fds: FdTable, tg: ThreadGroup): void {
  for (const [, f] of fds.entries()) mqueueFlush(f, tg.pid);
}
