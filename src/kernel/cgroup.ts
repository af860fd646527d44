/**
 * The sandbox's cgroup v2 hierarchy below its root (fs/fsimpl/sys/cgroupfs.ts shows it):
 * child groups, which group each process is in (inherited at fork, moved by writing
 * cgroup.procs) and the pids controller of each group, enforced here at fork (the root's
 * own limit is --pids-limit, Kernel.pidsLimit). memory.max of a group is enforced by the
 * memory account (memory-account.ts: the group's largest address space is OOM-killed, as
 * the memory controller's OOM killer does, and memory.events counts it); memory.high is
 * counted (memory.events' high) and throttles the tasks that charge over it
 * (memory-pressure.ts, shown in memory.pressure). The other
 * controllers' settings are kept per group, not enforced below the root.
 */
import type { Kernel } from './kernel';
import type { ThreadGroup } from './thread-group';

/**
 * What a group's subtree_control may enable in its children, in Linux's order. pids is
 * enforced; the others' files are kept (fs/fsimpl/sys/cgroup-controllers.ts).
 */
export const CHILD_CONTROLLERS = ['cpuset', 'cpu', 'io', 'memory', 'pids'];

export class Cgroup {
  readonly children = new Map<string, Cgroup>();
  readonly subtreeControl = new Set<string>();
  pidsMax = Infinity;
  /** memory.min/low/high/max, memory.swap.max (bytes; Infinity: "max"). */
  readonly limits = new Map<string, number>();
  /** The other controllers' knobs as written (cpu.max, cpu.weight, cpuset.cpus, io.weight...). */
  readonly settings = new Map<string, string>();
  /**
   * memory.events: charges over memory.high, each breach of memory.max, the OOMs it caused
   * and their kills (hierarchical, as Linux's).
   */
  readonly memEvents = { high: 0, max: 0, oom: 0, oomKill: 0 };
  /** Usage at the last sample that found it over memory.high (growth above it is a new "high" event). */
  highSeen = 0;
  /** Its memory usage at the memory account's last sample (bytes; 0 if it has no memory limit). */
  memUsed = 0;
  /** io.max, per device "MAJ:MIN". */
  ioMax?: Map<string, string>;
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
    const p = this.parent;
    return p === null ? CHILD_CONTROLLERS : CHILD_CONTROLLERS.filter((n) => p.subtreeControl.has(n));
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
  return groupPidsFull(tg.kernel, member.get(tg) ?? null);
}

/** Whether one more task in group c would pass a pids.max of it or of a group above it. */
export function groupPidsFull(k: Kernel, c: Cgroup | null): boolean {
  for (; c !== null && c.parent !== null; c = c.parent) {
    if (Number.isFinite(c.pidsMax) && pidsIn(k, c) >= c.pidsMax) return true;
  }
  return false;
}

/** The groups below the root with a memory.max or memory.high (the root's is --memory). */
export function memoryLimitedGroups(k: Kernel): Cgroup[] {
  const out: Cgroup[] = [];
  const walk = (c: Cgroup) => {
    for (const ch of c.children.values()) {
      if ((ch.limits.get('memory.max') ?? Infinity) < Infinity || (ch.limits.get('memory.high') ?? Infinity) < Infinity) out.push(ch);
      walk(ch);
    }
  };
  walk(cgroupRoot(k));
  return out;
}
