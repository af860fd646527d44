/** inotify_init, inotify_init1, inotify_add_watch, inotify_rm_watch (events: fs/vfs/inotify). */
import * as E from '../src/abi/errno';
import type { Task } from '../src/kernel/task';
import type { Dentry } from '../fs/vfs/dentry';
import * as inotify from '../fs/vfs/inotify';
import { AT_FDCWD, O_CLOEXEC, O_NONBLOCK, O_RDONLY } from '../src/abi/fs';
import { fileOf, install } from './fs-common';
import { mayAccess, MAY_READ } from '../fs/vfs/perm';

export function inotify_init(t: Task): number {
  return inotify_init1(t, 0);
}
export function inotify_init1(t: Task, flags: number): number {
  if (flags & ~(O_CLOEXEC | O_NONBLOCK)) return -E.EINVAL;
  return install(t, new inotify.InotifyFile(O_RDONLY | (flags & O_NONBLOCK)), (flags & O_CLOEXEC) !== 0);
}
export function inotify_add_watch(t: Task, fd: number, path: number, mask: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (!(f instanceof inotify.InotifyFile)) return -E.EINVAL;
  mask >>>= 0;
  if ((mask & inotify.IN_ALL_EVENTS) === 0) return -E.EINVAL;
  if (mask & inotify.IN_MASK_ADD && mask & inotify.IN_MASK_CREATE) return -E.EINVAL;
  const p = t.mem.readPath(path);
  if (typeof p === 'number') return p;
  const d = t.kernel.vfs.lookup(t, AT_FDCWD, p, (mask & inotify.IN_DONT_FOLLOW) === 0);
  if (typeof d === 'number') return d;
  if (mask & inotify.IN_ONLYDIR && !d.inode.isDir) return -E.ENOTDIR;
  if (!mayRead(t, d)) return -E.EACCES;
  return f.addWatch(d.inode, mask);
}
export function inotify_rm_watch(t: Task, fd: number, wd: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (!(f instanceof inotify.InotifyFile)) return -E.EINVAL;
  return f.rmWatch(wd | 0);
}
/** inode_permission(MAY_READ): the mode bits, then CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH. */
function mayRead(t: Task, d: Dentry): boolean {
  return mayAccess(d.inode, t.creds, MAY_READ);
}
