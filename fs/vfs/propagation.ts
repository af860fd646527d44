/**
 * Mount propagation (shared subtrees, Documentation/filesystems/sharedsubtree.rst). A
 * Mount seen by several namespaces (mount-ns.ts) stands for one Linux mount per
 * namespace, so propagation state is kept per (mount, namespace): the peer group it is
 * in (shared:N), the group it receives from (master:N), unbindable. Everything starts
 * private (as a container's mounts); a namespace copy keeps each mount's state (the copy
 * of a shared mount is its peer). A mount or umount on a shared mount is repeated on its
 * peers and slaves: on the same Mount another namespace sees, it is shown or hidden
 * there; on another Mount (a bind), a copy is made or removed at the same place.
 */
import type { Mount } from './mount';
import type { MntNs } from './mount-ns';
import { seesMount } from './mount-ns';

export const MS_UNBINDABLE = 1 << 17;
export const MS_PRIVATE = 1 << 18;
export const MS_SLAVE = 1 << 19;
export const MS_SHARED = 1 << 20;

interface Prop {
  group: number;
  master: number;
  unbindable: boolean;
}

/** Only mounts that are not private everywhere have an entry. */
const props = new Map<Mount, Map<MntNs, Prop>>();
let nextGroup = 1;

function get(m: Mount, ns: MntNs): Prop {
  return props.get(m)?.get(ns) ?? { group: 0, master: 0, unbindable: false };
}

function put(m: Mount, ns: MntNs, p: Prop): void {
  let per = props.get(m);
  if (p.group === 0 && p.master === 0 && !p.unbindable) {
    per?.delete(ns);
    if (per?.size === 0) props.delete(m);
    return;
  }
  if (per === undefined) props.set(m, (per = new Map()));
  per.set(ns, p);
}

/** Every (mount, namespace) with state, where that namespace still sees the mount. */
function* entries(): Generator<[Mount, MntNs, Prop]> {
  for (const [m, per] of props) for (const [ns, p] of per) if (seesMount(ns, m.root)) yield [m, ns, p];
}

export function isShared(m: Mount, ns: MntNs): boolean {
  return get(m, ns).group !== 0;
}
export function isUnbindable(m: Mount, ns: MntNs): boolean {
  return get(m, ns).unbindable;
}

/** mountinfo's optional fields (" shared:1 master:2", " unbindable"). */
export function optionalFields(m: Mount, ns: MntNs): string {
  const p = get(m, ns);
  return (p.group ? ` shared:${p.group}` : '') + (p.master ? ` master:${p.master}` : '') + (p.unbindable ? ' unbindable' : '');
}

/** A new mount namespace child copied from parent: each mount keeps its state there. */
export function copyPropagation(parent: MntNs, child: MntNs): void {
  for (const per of props.values()) {
    const p = per.get(parent);
    if (p !== undefined) per.set(child, { ...p });
  }
}

/** A namespace is gone: its mounts leave their groups. */
export function dropPropagationNs(ns: MntNs): void {
  for (const [m, per] of props) if (per.delete(ns) && per.size === 0) props.delete(m);
}

/** A mount is out of the table. */
export function forgetPropagation(m: Mount): void {
  props.delete(m);
}

/** The propagation type a mount(2) call without MS_BIND/MS_MOVE/MS_REMOUNT asks for, or 0 (EINVAL). */
export function propagationType(flags: number): number {
  const t = flags & ~(16384 /* MS_REC */ | 32768 /* MS_SILENT */);
  return t === MS_SHARED || t === MS_PRIVATE || t === MS_SLAVE || t === MS_UNBINDABLE ? t : 0;
}

/** change_mnt_propagation: m (as ns sees it) becomes shared, slave, private or unbindable. */
export function changePropagation(m: Mount, ns: MntNs, type: number): void {
  const p = get(m, ns);
  if (type === MS_SHARED) {
    if (p.group === 0) p.group = nextGroup++;
    put(m, ns, p);
    return;
  }
  // do_make_slave: the master becomes its old peer group, or (no peers) its old master.
  if (p.group !== 0) {
    let peers = false;
    for (const [x, xns, q] of entries()) if (q.group === p.group && (x !== m || xns !== ns)) peers = true;
    if (!peers) {
      // The group ends: its slaves now receive from what it received from.
      for (const [x, xns, q] of [...entries()]) {
        if (q.master !== p.group) continue;
        q.master = p.master;
        put(x, xns, q);
      }
      p.group = 0;
    } else {
      p.master = p.group;
      p.group = 0;
    }
  }
  if (type !== MS_SLAVE) {
    p.master = 0;
    p.unbindable = type === MS_UNBINDABLE;
  }
  put(m, ns, p);
}

/** A bind (clone_mnt) copy of orig as ns sees it: in the same group, with the same master. */
export function inheritPropagation(orig: Mount, copy: Mount, ns: MntNs): void {
  const p = get(orig, ns);
  put(copy, ns, { group: p.group, master: p.master, unbindable: false });
}

/** Sets a copy's state in a namespace (propagated copies). */
export function setPropagation(m: Mount, ns: MntNs, group: number, master: number): void {
  put(m, ns, { group, master, unbindable: false });
}

/** A new peer group id. */
export function newGroup(): number {
  return nextGroup++;
}

export function groupOf(m: Mount, ns: MntNs): number {
  return get(m, ns).group;
}
export function masterOf(m: Mount, ns: MntNs): number {
  return get(m, ns).master;
}

/**
 * Where an event on mount m (in ns) propagates: its peers, then the slaves of its group
 * and theirs, each with whether it receives as a slave (kind) and, for a shared slave,
 * its own group (copies there are peers of each other).
 */
export function propagationTargets(m: Mount, ns: MntNs): Array<{ m: Mount; ns: MntNs; slave: boolean; group: number }> {
  const start = get(m, ns).group;
  if (start === 0) return [];
  const out: Array<{ m: Mount; ns: MntNs; slave: boolean; group: number }> = [];
  const all = [...entries()];
  const seenGroups = new Set<number>([start]);
  const queue: Array<{ group: number; slave: boolean }> = [{ group: start, slave: false }];
  for (let i = 0; i < queue.length; i++) {
    const { group, slave } = queue[i];
    for (const [x, xns, q] of all) {
      if (q.group === group && (x !== m || xns !== ns)) out.push({ m: x, ns: xns, slave, group: q.group });
    }
    for (const [x, xns, q] of all) {
      if (q.master !== group) continue;
      if (q.group !== 0) {
        if (!seenGroups.has(q.group)) {
          seenGroups.add(q.group);
          queue.push({ group: q.group, slave: true });
        }
      } else {
        out.push({ m: x, ns: xns, slave: true, group: 0 });
      }
    }
  }
  return out;
}
