/**
 * linux.resources on the host (issue 7): the sandbox's Sentry, Gofer and stubs in one
 * host cgroup with the config's memory, pids and cpu limits, made by the Sentry itself
 * before it forks the Gofer and the stub and before it is confined (native/oci_cgroup.cc,
 * the leaf, limits and reaper of `run --memory`'s front: native/launch_cgroup.h). A guest
 * (or a Sentry taken over) that allocates past the limit is OOM-killed there, the stub
 * first (oom_score_adj 1000), which the engine sees as the container's exit; a fork bomb
 * stops at pids.max. `update` rewrites the limits; `delete` removes the cgroup before it
 * returns, as runc (its reaper only where no delete comes). The Sentry's own counts (pids,
 * the tmpfs budget) still apply inside.
 */
import { ociNative, type HostCgroup } from './native';
import type { Resources } from './spec-types';

/** The limits asked for, -1 where unset (and no cgroup when all are). */
export interface Limits {
  memory: number;
  pids: number;
  shares: number;
  quota: number;
  period: number;
}

const positive = (v: unknown): number => (typeof v === 'number' && v > 0 ? v : -1);

export function limitsOf(r: Resources | undefined): Limits {
  return {
    memory: positive(r?.memory?.limit), pids: positive(r?.pids?.limit),
    shares: positive(r?.cpu?.shares), quota: positive(r?.cpu?.quota), period: positive(r?.cpu?.period),
  };
}

/**
 * Makes and joins the sandbox's cgroup, with no limit asked too (pids.max then the
 * default's): as runc, every container has one, so `delete` finds every process of it
 * there. Its directories, or why it could not.
 */
export function joinSandboxCgroup(r: Resources | undefined): HostCgroup | string {
  const l = limitsOf(r);
  return ociNative().ociSandboxCgroup(l.memory, l.pids, l.shares, l.quota, l.period);
}

/**
 * A pool member's cgroup (pool.ts: made and joined before its claim, off create's path,
 * where joining cost a v1 host an RCU grace period, ~10 ms): the container's limits
 * written into it. Kept if a limit cannot be written (it is still removed at delete),
 * the reason logged.
 */
export function adoptSandboxCgroup(cg: HostCgroup, r: Resources | undefined, log: (m: string) => void): HostCgroup {
  const l = limitsOf(r);
  if (Object.values(l).every((v) => v < 0)) return cg;
  const err = updateSandboxCgroup(cg, l);
  if (err) log(`linux.resources: ${err}; the Sentry's own counts only`);
  return cg;
}

/** delete: the cgroup removed, every task left in it and its reapers ended; null, or why not. */
export function removeSandboxCgroup(cg: HostCgroup): string | null {
  const r = ociNative().ociRemoveCgroup(cg.memory, cg.pids, cg.cpu, cg.reapers ?? '');
  return r < 0 ? `cannot remove the container's cgroup (errno ${-r})` : null;
}

/** update's new limits in the cgroup (-1: unchanged); null, or why not. */
export function updateSandboxCgroup(cg: HostCgroup, l: Limits): string | null {
  const r = ociNative().ociCgroupLimits(cg.v2, cg.memory, cg.pids, cg.cpu, l.memory, l.pids, l.shares, l.quota, l.period);
  return r < 0 ? `cannot update the container's cgroup (errno ${-r})` : null;
}
