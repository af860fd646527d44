/**
 * The sandbox's cgroup v2 hierarchy below its root (fs/fsimpl/sys/cgroupfs.ts shows it):
 * child groups, which group each process is in (inherited at fork, moved by writing
 * cgroup.procs) and the pids controller of each group, enforced here at fork (the root's
 * own limit is --pids-limit, Kernel.pidsLimit). Other controllers are not modelled below
 * the root.
 */
import type { Kernel } from './kernel';
import type { ThreadGroup } from './thread-group';

/** What a group's subtree_control may enable in its children (the only controller modelled there). */
export const CHILD_CONTROLLERS = ['pids'];

export class Cgroup {
  readonly children = new Map<string, Cgroup>();
  readonly subtreeControl = new Set<string>();
  pidsMax = Infinity;
  constructor(
    readonly name: string,
    readonly parent: Cgroup | null,
  ) {}

  get path(): string {
    const names: string[] = [];
    for (let c: Cgroup | null = this; c !== null && c.parent !== null; c = c.parent) names.push(c.name);
    return '/' + names.reverse().join('/');
  }

  /** The controllers it has (its parent's subtree_control; the root's are all listed by cgroupfs). */
  get controllers(): string[] {
    return this.parent === null ? CHILD_CONTROLLERS : [...this.parent.subtreeControl];
  }

  contains(c: Cgroup): boolean {
    for (let x: Cgroup | null = c; x !== null; x = x.parent) if (x === this) return true;
    return false;
  }
}

const roots = new WeakMap<Kernel, Cgroup>();
const member = new WeakMap<ThreadGroup, Cgroup>();

export function cgroupRoot(k: Kernel): Cgroup {
  let r = roots.get(k);
  if (r === undefined) roots.set(k, (r = new Cgroup('', null)));
  return r;
}

export function cgroupOf(tg: ThreadGroup): Cgroup {
  return member.get(tg) ?? cgroupRoot(tg.kernel);
}

/** A new process starts in its parent's group. */
export function inheritCgroup(parent: ThreadGroup, child: ThreadGroup): void {
  const c = member.get(parent);
  if (c !== undefined) member.set(child, c);
}

export function moveToCgroup(tg: ThreadGroup, c: Cgroup): void {
  if (c.parent === null) member.delete(tg);
  else member.set(tg, c);
}

/** Live processes in exactly c. */
export function procsOf(k: Kernel, c: Cgroup): ThreadGroup[] {
  return [...k.threadGroups.values()].filter((tg) => cgroupOf(tg) === c);
}

/** Tasks (threads) in c and below: pids.current. */
export function pidsIn(k: Kernel, c: Cgroup): number {
  let n = 0;
  for (const tg of k.threadGroups.values()) if (c.contains(cgroupOf(tg))) n += tg.tasks.size;
  return n;
}

/** Whether one more task in tg's group would pass a pids.max of it or of a group above it. */
export function cgroupPidsFull(tg: ThreadGroup): boolean {
  for (let c: Cgroup | null = member.get(tg) ?? null; c !== null && c.parent !== null; c = c.parent) {
    if (Number.isFinite(c.pidsMax) && pidsIn(tg.kernel, c) >= c.pidsMax) return true;
  }
  return false;
}
