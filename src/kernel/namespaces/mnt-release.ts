/**
 * Dead mount namespaces (fs/vfs/mount-ns.ts): when a process exits while guests have
 * made mount namespaces, those no task is in and no ns file holds (an open fd, a bind
 * mount of /proc/PID/ns/mnt) go, with the mounts only they saw. Without this each
 * `unshare -m` run would keep its mounts, their inodes and tmpfs pages for the
 * sandbox's life.
 */
import { mountNsCount, releaseMountNamespaces, type MntNs } from '../../../fs/vfs/mount-ns';
import type { Kernel } from '../kernel';
import { TaskState } from '../task';
import { NsFile, nsRefOf } from './nsfs';

export function releaseDeadMountNs(k: Kernel): void {
  if (mountNsCount() <= 1) return;
  const live = new Set<MntNs>();
  const tables = new Set<object>();
  const hold = (ref: { kind: string; ns: object | null } | null): void => {
    if (ref !== null && ref.kind === 'mnt') live.add(ref.ns as MntNs);
  };
  for (const t of k.tasks.values()) {
    if (t.state === TaskState.Dead) continue;
    live.add(t.fsCtx.mntNs);
    if (tables.has(t.fdTable)) continue;
    tables.add(t.fdTable);
    for (const [, f] of t.fdTable.entries()) if (f instanceof NsFile) hold(f.ref);
  }
  const vfs = k.vfs;
  for (const m of vfs.mounts) hold(nsRefOf(m.root.inode));
  releaseMountNamespaces(live, vfs.mounts, (m) => vfs.drop(m, true));
}
