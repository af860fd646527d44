/** pipe, pipe2. */
import * as E from '../src/abi/errno';
import type { Task } from '../src/kernel/task';
import { Pipe } from '../fs/fsimpl/pipefs/pipe';
import { O_CLOEXEC, O_NONBLOCK, O_DIRECT } from '../src/abi/fs';
import { installPair } from './fd-install';

export function pipe(t: Task, fds: number): number {
  return pipe2(t, fds, 0);
}

export function pipe2(t: Task, fds: number, flags: number): number {
  if (flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT)) return -E.EINVAL;
  const [r, w] = Pipe.pair(t.creds.euid, t.creds.egid, flags);
  return installPair(t, r, w, (flags & O_CLOEXEC) !== 0, fds);
}
