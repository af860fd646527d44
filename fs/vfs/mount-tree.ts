/**
 * The mount tree as a namespace sees it: the mounts on a mount's dentries (its
 * children), recursive copies of a subtree (bind with MS_REC, pivot_root of a root
 * other namespaces still use) and the whole subtree of a mount (umount with
 * MNT_DETACH). One dentry tree holds every namespace's mounts (mount-ns.ts), so a copy
 * is a set of new mounts of the same inodes, seen only by the namespace that made it;
 * a copy of a locked mount stays locked, so nothing a sandbox mount covers shows.
 */
import * as E from '../../src/abi/errno';
import type { Dentry } from './dentry';
import type { Mount } from './mount';
import { forgetMount, hideIn, mountMadeIn, seesMount, unmountIn, type MntNs } from './mount-ns';
import type { Vfs } from './vfs';

/** Names from dir down to d inside one mount's tree, or null when d is not under dir. */
function namesBelow(dir: Dentry, d: Dentry): string[] | null {
  const names: string[] = [];
  for (let x: Dentry | null = d; x !== null; x = x.parent) {
    if (x === dir) return names.reverse();
    names.push(x.name);
  }
  return null;
}

/**
 * As Linux's fs.mount-max, more mounts than this make mount(2) ENOSPC, so recursive
 * binds of binds cannot grow the table (and the Sentry's heap) without bound. Linux
 * allows 100 000 per namespace; the sandbox allows 10 000 in all (real programs, bwrap
 * and container engines, use a few hundred at most).
 */
export const MOUNT_MAX = 10_000;

/** The mounts seen in ns, by the mount whose tree holds their mount point, in mount order. */
function childIndex(vfs: Vfs, ns: MntNs): Map<Mount, Mount[]> {
  const idx = new Map<Mount, Mount[]>();
  for (const m of vfs.mounts) {
    const on = m.mountpoint?.mnt;
    if (on === null || on === undefined || m.mountpoint!.deleted || !seesMount(ns, m.root)) continue;
    let l = idx.get(on);
    if (l === undefined) idx.set(on, (l = []));
    l.push(m);
  }
  return idx;
}

/** Mounts (from idx) whose mount point lies at or under dir in dir's own tree, in mount order. */
function mountsUnder(idx: Map<Mount, Mount[]>, dir: Dentry): Array<{ m: Mount; names: string[] }> {
  const out: Array<{ m: Mount; names: string[] }> = [];
  if (dir.mnt === null) return out;
  for (const m of idx.get(dir.mnt) ?? []) {
    const names = namesBelow(dir, m.mountpoint!);
    if (names !== null) out.push({ m, names });
  }
  return out;
}

/** m and every mount seen in ns below it, children after their parent. */
export function subtree(vfs: Vfs, ns: MntNs, m: Mount): Mount[] {
  const idx = childIndex(vfs, ns);
  const out = [m];
  for (let i = 0; i < out.length; i++) for (const c of idx.get(out[i]) ?? []) out.push(c);
  return out;
}

/** Takes m off its dentry and out of the table and of every namespace's view. */
export function removeMount(vfs: Vfs, m: Mount): void {
  vfs.detach(m.root);
  forgetMount(m.root);
}

/** A new mount at `at` showing dentry src of mount from (a bind), seen in ns only once namespaces exist. */
function bindOne(vfs: Vfs, ns: MntNs, from: Mount | null, src: Dentry, at: Dentry, path: string, copyOf?: CopyHook): Mount {
  const m = vfs.attach(at, src.inode.fs, src.inode, path, from?.options ?? '');
  if (from !== null) {
    m.copyFlags(from);
    const rel = namesBelow(from.root, src) ?? [];
    m.rootPath = rel.length === 0 ? from.rootPath : (from.rootPath === '/' ? '' : from.rootPath) + '/' + rel.join('/');
  }
  mountMadeIn(ns, m.root);
  if (from !== null && copyOf !== undefined) copyOf(from, m);
  return m;
}

/** Walks names from d by lookups, each step to the top of what is mounted there in ns. */
function walkNames(d: Dentry, names: string[], top: (d: Dentry) => Dentry): Dentry | null {
  let cur = d;
  for (const n of names) {
    const next = cur.child(n);
    if (typeof next === 'number') return null;
    cur = top(next);
  }
  return cur;
}

/** Told each copy a bind makes, with the mount it copies (propagation state follows). */
type CopyHook = (orig: Mount, copy: Mount) => void;
interface BindMore {
  /** The namespace that sees the copies (a propagated copy: another than ns). */
  madeIn?: MntNs;
  /** Mounts not copied, with what is under them (unbindable ones). */
  leaveOut?: (m: Mount) => boolean;
  copyOf?: CopyHook;
}

/**
 * umount of m (with tree, its subtree as ns sees it) in ns: hidden from ns while other
 * namespaces see it, else off its dentry with its subtree out of the table.
 */
export function umountTree(vfs: Vfs, ns: MntNs, m: Mount, tree: Mount[]): void {
  if (!unmountIn(ns, m.root)) {
    for (const x of tree.slice(1)) hideIn(ns, x.root);
    return;
  }
  // Its subtree stays on it for open files inside, out of the table.
  for (const x of tree.slice(1).reverse()) {
    forgetMount(x.root);
    vfs.drop(x);
  }
  vfs.detach(m.root);
}

/**
 * Binds src at `at`; with rec, every mount ns sees under src is copied to the same place
 * below (but those in skip). The copies of locked mounts are locked; the top is not
 * (as Linux clears MNT_LOCKED on a bind's root).
 */
export function bindTree(
  vfs: Vfs, ns: MntNs, src: Dentry, at: Dentry, path: string, rec: boolean, top: (d: Dentry) => Dentry, skip?: Mount,
  more: BindMore = {},
): Mount | number {
  const madeIn = more.madeIn !== undefined ? more.madeIn : ns;
  // What to copy is listed before anything is made, so a copy never copies itself.
  const plan: Array<{ m: Mount; names: string[]; parent: number }> = [];
  if (rec) {
    const idx = childIndex(vfs, ns);
    const queue: Array<{ dir: Dentry; idx: number }> = [{ dir: src, idx: -1 }];
    for (let q = 0; q < queue.length; q++) {
      for (const c of mountsUnder(idx, queue[q].dir)) {
        if (c.m === skip || more.leaveOut?.(c.m) === true) continue;
        plan.push({ m: c.m, names: c.names, parent: queue[q].idx });
        queue.push({ dir: c.m.root, idx: plan.length - 1 });
      }
    }
  }
  if (vfs.mounts.length + plan.length + 1 > MOUNT_MAX) return -E.ENOSPC;
  const made = bindOne(vfs, madeIn, src.mnt, src, at, path, more.copyOf);
  const copies: Array<Mount | null> = [];
  for (const p of plan) {
    const parent = p.parent < 0 ? made : copies[p.parent];
    // A mount point that vanished (or whose parent did): its subtree has nowhere to go.
    const where = parent === null ? null : walkNames(parent.root, p.names, top);
    if (where === null) {
      if (p.m.locked) {
        // What it covers would show in the copy: no copy at all.
        for (const c of [...copies].reverse()) if (c !== null) removeMount(vfs, c);
        removeMount(vfs, made);
        return -E.EINVAL;
      }
      copies.push(null);
      continue;
    }
    const c = bindOne(vfs, madeIn, p.m, p.m.root, where, vfs.pathOf(vfs.rootDentry, where), more.copyOf);
    c.locked = p.m.locked;
    copies.push(c);
  }
  return made;
}
