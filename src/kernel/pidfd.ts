/**
 * pidfds: file descriptors that name a process. Readable (POLLIN) once the process has
 * exited; used by pidfd_send_signal, waitid(P_PIDFD) and pidfd_getfd.
 */
import { FileDescription } from '../../fs/vfs/file';
import { anonInode } from '../../fs/vfs/anon';
import type { ThreadGroup } from './thread-group';

const POLLIN = 0x1, POLLRDNORM = 0x40;

export class PidFd extends FileDescription {
  constructor(readonly tg: ThreadGroup, flags: number) {
    super(anonInode, flags);
    this.waitQueue = tg.exitEvents;
  }

  override readiness(): number {
    return this.tg.zombie ? POLLIN | POLLRDNORM : 0;
  }

  override anonName(): string {
    return 'anon_inode:[pidfd]';
  }
}
