/** eventfd, eventfd2. */
import * as E from '../src/abi/errno';
import type { Task } from '../src/kernel/task';
import { EventFd, EFD_SEMAPHORE } from '../fs/fsimpl/eventfd/eventfd';
import { O_CLOEXEC, O_NONBLOCK, O_RDWR } from '../src/abi/fs';
import { install } from './fs-common';

export function eventfd(t: Task, initval: number): number {
  return eventfd2(t, initval, 0);
}
export function eventfd2(t: Task, initval: number, flags: number): number {
  if (flags & ~(O_CLOEXEC | O_NONBLOCK | EFD_SEMAPHORE)) return -E.EINVAL;
  const f = new EventFd(initval >>> 0, O_RDWR | (flags & O_NONBLOCK), (flags & EFD_SEMAPHORE) !== 0);
  return install(t, f, (flags & O_CLOEXEC) !== 0);
}
