/** unshare and setns: thin over src/kernel/namespaces (clone's CLONE_NEW* flags go through cloneTask). */
import type { Task } from '../src/kernel/task';
import { setns as joinNs, unshare as unshareNs } from '../src/kernel/namespaces/create';
import { unshareFdTable } from '../src/kernel/process-lifecycle';

export function unshare(t: Task, flags: number): number {
  return unshareNs(t, flags >>> 0, { unshareFiles: unshareFdTable });
}

export function setns(t: Task, fd: number, nstype: number): number {
  return joinNs(t, fd, nstype >>> 0);
}
