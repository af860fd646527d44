/** epoll_create, epoll_create1, epoll_ctl, epoll_wait, epoll_pwait, epoll_pwait2 (the instance: fs/fsimpl/epoll). */
import * as E from '../src/abi/errno';
import type { Task } from '../src/kernel/task';
import { EpollFile } from '../fs/fsimpl/epoll/epoll';
import { O_CLOEXEC, O_RDWR, POLLIN } from '../src/abi/fs';
import {
  EFAULT, stage, fileOf, install, deadlineOf, finish, applySigmask, restoreSigmask, readTimespecNs,
} from './fs-common';

export function epoll_create(t: Task, size: number): number {
  if ((size | 0) <= 0) return -E.EINVAL;
  return install(t, new EpollFile(O_RDWR), false);
}
export function epoll_create1(t: Task, flags: number): number {
  if (flags & ~O_CLOEXEC) return -E.EINVAL;
  return install(t, new EpollFile(O_RDWR), (flags & O_CLOEXEC) !== 0);
}

export function epoll_ctl(t: Task, epfd: number, op: number, fd: number, event: number): number {
  const ep = fileOf(t, epfd);
  const f = fileOf(t, fd);
  if (!ep || !f) return -E.EBADF;
  if (!(ep instanceof EpollFile)) return -E.EINVAL;
  let events = 0;
  let data = Buffer.alloc(8);
  if ((op | 0) !== 2) {
    const b = t.mem.read(event, 12);
    if (b === null) return EFAULT;
    events = b.readUInt32LE(0);
    data = b.subarray(4, 12);
  }
  return ep.ctl(op | 0, fd | 0, f, events, data);
}

function epollWaitCommon(t: Task, epfd: number, events: number, max: number, relNs: number): number {
  const ep = fileOf(t, epfd);
  if (!ep) return -E.EBADF;
  if (!(ep instanceof EpollFile)) return -E.EINVAL;
  if (max <= 0 || max > 0x7fffffff / 12) return -E.EINVAL;
  const deadline = deadlineOf(t, relNs);
  const evs = ep.collect(max);
  if (evs.length === 0) {
    if (relNs === 0 || t.timedOut || t.kernel.nowNs() >= deadline) return 0;
    ep.armAll();
    t.intrResult = -E.EINTR;
    return t.blockOn(ep.waitQueue, POLLIN, deadline);
  }
  const b = stage(evs.length * 12).subarray(0, evs.length * 12);
  evs.forEach((e, i) => {
    b.writeUInt32LE(e.events, i * 12);
    e.data.copy(b, i * 12 + 4);
  });
  return t.mem.write(events, b) ? evs.length : EFAULT;
}

export function epoll_wait(t: Task, epfd: number, events: number, max: number, timeout: number): number {
  const ms = timeout | 0;
  return finish(t, epollWaitCommon(t, epfd | 0, events, max | 0, ms < 0 ? Infinity : ms * 1e6));
}
export function epoll_pwait(t: Task, epfd: number, events: number, max: number, timeout: number, sigmask: number, size: number): number {
  const m = applySigmask(t, sigmask, size);
  if (m < 0) return m;
  const ms = timeout | 0;
  return finish(t, restoreSigmask(t, epollWaitCommon(t, epfd | 0, events, max | 0, ms < 0 ? Infinity : ms * 1e6)));
}
export function epoll_pwait2(t: Task, epfd: number, events: number, max: number, tsp: number, sigmask: number, size: number): number {
  const ns = readTimespecNs(t, tsp);
  if (ns < 0) return ns;
  const m = applySigmask(t, sigmask, size);
  if (m < 0) return m;
  return finish(t, restoreSigmask(t, epollWaitCommon(t, epfd | 0, events, max | 0, ns)));
}
