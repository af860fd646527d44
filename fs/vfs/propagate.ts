/**
 * Mount and umount events sent along propagation (propagation.ts holds the state): a
 * mount on a shared mount appears at the same place on each peer and slave, an umount
 * there takes the copy away. On the same Mount seen by another namespace the tree is
 * shown or hidden there; on another Mount (a bind of the same filesystem) a copy is made
 * or removed at the corresponding dentry, if that bind shows it.
 */
import type { Dentry } from './dentry';
import type { Mount } from './mount';
import { seesMount, showMountIn, type MntNs } from './mount-ns';
import { bindTree, subtree, umountTree } from './mount-tree';
import {
  changePropagation, groupOf, isShared, MS_SHARED, newGroup, propagationTargets, setPropagation, masterOf,
} from './propagation';
import type { Vfs } from './vfs';

/** The dentry in mount t's tree that is `at` (in p's tree) when both show one filesystem, or null. */
function corresponding(p: Mount, at: Dentry, t: Mount): Dentry | null {
  if (t.fs !== p.fs) return null;
  const names: string[] = [];
  for (let x: Dentry | null = at; x !== p.root; x = x.parent) {
    if (x === null) return null;
    names.push(x.name);
  }
  names.reverse();
  const full = [...p.rootPath.split('/').filter((s) => s !== ''), ...names];
  const troot = t.rootPath.split('/').filter((s) => s !== '');
  for (let i = 0; i < troot.length; i++) if (full[i] !== troot[i]) return null;
  let d = t.root;
  for (const n of full.slice(troot.length)) {
    const next = d.child(n);
    if (typeof next === 'number') return null;
    d = next;
  }
  return d;
}

/** c (with its subtree) was just mounted in ns: the same on the peers and slaves of its parent. */
export function propagateMount(vfs: Vfs, ns: MntNs, c: Mount): void {
  const at = c.mountpoint;
  const parent = at?.mnt ?? null;
  if (at === null || parent === null || !isShared(parent, ns)) return;
  const tree = subtree(vfs, ns, c);
  // A tree mounted on a shared mount is shared (attach_recursive_mnt).
  for (const x of tree) if (groupOf(x, ns) === 0) changePropagation(x, ns, MS_SHARED);
  const inTree = new Set(tree);
  // Copies into the peers of one shared slave are peers of each other.
  const slaveGroups = new Map<string, number>();
  for (const t of propagationTargets(parent, ns)) {
    if (inTree.has(t.m)) continue;
    const pairs: Array<[Mount, Mount]> = [];
    if (t.m === parent) {
      if (seesMount(t.ns, c.root)) continue;
      for (const x of tree) {
        showMountIn(t.ns, x.root);
        pairs.push([x, x]);
      }
    } else {
      const where = corresponding(parent, at, t.m);
      if (where === null || !seesMount(t.ns, t.m.root)) continue;
      // On the top of the stack whoever sees it (a mount stacks on the last one made there).
      const top = (d: Dentry): Dentry => d.top();
      const r = bindTree(vfs, ns, c.root, top(where), vfs.pathOf(vfs.rootDentry, where), true, top, undefined, {
        madeIn: t.ns, copyOf: (o, k) => pairs.push([o, k]),
      });
      if (typeof r === 'number') continue;
    }
    for (const [o, k] of pairs) {
      const g = groupOf(o, ns);
      if (!t.slave) {
        setPropagation(k, t.ns, g, masterOf(o, ns));
        continue;
      }
      let kg = 0;
      if (t.group !== 0) {
        const key = `${t.group}:${o.id}`;
        kg = slaveGroups.get(key) ?? newGroup();
        slaveGroups.set(key, kg);
      }
      setPropagation(k, t.ns, kg, g);
    }
  }
}

/** c is being unmounted in ns: the mounts it propagated to go too (with lazy, their subtrees). */
export function propagateUmount(vfs: Vfs, ns: MntNs, c: Mount, lazy: boolean): void {
  const at = c.mountpoint;
  const parent = at?.mnt ?? null;
  if (at === null || parent === null || !isShared(parent, ns)) return;
  for (const t of propagationTargets(parent, ns)) {
    let y: Mount | null = null;
    if (t.m === parent) {
      if (seesMount(t.ns, c.root)) y = c;
    } else {
      const where = corresponding(parent, at, t.m);
      if (where === null) continue;
      for (let x = where.mounted; x !== null; x = x.mounted) if (seesMount(t.ns, x) && x.inode === c.root.inode) y = x.mnt;
    }
    if (y === null) continue;
    const sub = subtree(vfs, t.ns, y);
    if (sub.length > 1 && !lazy) continue;
    umountTree(vfs, t.ns, y, sub);
  }
}
