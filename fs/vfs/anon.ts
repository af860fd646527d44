/**
 * anon_inodefs: the one inode that anonymous files (eventfd, epoll, timerfd, signalfd,
 * pidfd, inotify...) report in fstat, as Linux's anon_inode does.
 */
import { FileSystem, Inode, emptyStat, type Stat } from './inode';

class AnonFs extends FileSystem {
  readonly magic = 0x09041934; // ANON_INODE_FS_MAGIC
  readonly type = 'anon_inodefs';
  root(): Inode {
    throw new Error('anon_inodefs has no root');
  }
}
export const anonFs = new AnonFs();

/** The single shared inode anonymous files (eventfd, epoll, timerfd...) report, as Linux's anon_inode. */
class AnonInode extends Inode {
  readonly fs = anonFs;
  readonly ino = 1;
  readonly mode = 0o600;
  readonly uid = 0;
  readonly gid = 0;
  stat(): Stat {
    const st = emptyStat();
    st.dev = anonFs.dev;
    st.ino = 1;
    st.mode = this.mode;
    st.blksize = 4096;
    return st;
  }
}
export const anonInode = new AnonInode();
