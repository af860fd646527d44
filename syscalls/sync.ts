/** sync, syncfs, fsync, fdatasync, sync_file_range, and the hints readahead and fadvise64. */
import * as E from '../src/abi/errno';
import type { Task } from '../src/kernel/task';
import { PipeEnd } from '../fs/fsimpl/pipefs/pipe';
import { EventFd } from '../fs/fsimpl/eventfd/eventfd';
import { EpollFile } from '../fs/fsimpl/epoll/epoll';
import { S_IFMT, S_IFREG } from '../src/abi/fs';
import { fileOf } from './fs-common';

export function sync(): number {
  return 0;
}
export function syncfs(t: Task, fd: number): number {
  return fileOf(t, fd) ? 0 : -E.EBADF;
}
export function fsync(t: Task, fd: number): number {
  const f = fileOf(t, fd);
  if (!f || f.isPath) return -E.EBADF;
  if (f instanceof PipeEnd || f instanceof EventFd || f instanceof EpollFile) return -E.EINVAL;
  return f.fsync();
}
export function fdatasync(t: Task, fd: number): number {
  return fsync(t, fd);
}
export function sync_file_range(t: Task, fd: number, off: number, nbytes: number, flags: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (flags & ~7 || off < 0 || nbytes < 0) return -E.EINVAL;
  if (f instanceof PipeEnd) return -E.ESPIPE;
  return 0;
}

export function readahead(t: Task, fd: number): number {
  const f = fileOf(t, fd);
  if (!f || !f.readable) return -E.EBADF;
  const ino = f.dentry?.inode ?? f.inode;
  return (ino.mode & S_IFMT) === S_IFREG ? 0 : -E.EINVAL;
}
export function fadvise64(t: Task, fd: number, _off: number, len: number, advice: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (f instanceof PipeEnd) return -E.ESPIPE;
  if ((advice | 0) < 0 || (advice | 0) > 5 || len < 0) return -E.EINVAL;
  return 0;
}
