/**
 * Mount namespaces (CLONE_NEWNS). The mount tree is one set of dentries for the whole
 * sandbox; a namespace is which of its mounts a caller sees. A mount seen by every
 * namespace (all of them until a guest unshares) is in no set here, so the path walk's
 * only cost is one size check; a mount made or removed in one namespace while others
 * exist records the namespaces that see it. What reaches another namespace is what
 * propagation (propagation.ts) sends there. The walk asks the caller under way (caller.ts) for its
 * namespace, held by its FsContext (null: the initial one).
 */
import { allocNsIno, INIT_NS_INO, type UserNamespace } from '../../src/auth/userns';
import type { Dentry } from './dentry';
import { currentCaller } from './caller';
import type { Mount } from './mount';
import { copyPropagation, dropPropagationNs } from './propagation';

export class MountNamespace {
  readonly ino = allocNsIno();
  /** Its root after a pivot_root (null: the sandbox's root); setns enters it there. */
  root: Dentry | null = null;
  constructor(
    /** The user namespace that owns it: CAP_SYS_ADMIN there allows mount/umount. */
    readonly userns: UserNamespace | null,
  ) {}
}

export type MntNs = MountNamespace | null;
export const INIT_MNT_INO = INIT_NS_INO.mnt;

/** Root dentries of mounts not seen by every namespace -> the namespaces that see them. */
const seenBy = new WeakMap<Dentry, Set<MntNs>>();
let restricted = 0;
/** Every mount namespace made so far (the initial one is null). */
const spaces = new Set<MntNs>([null]);

export function mountNsInUse(): boolean {
  return restricted > 0;
}

/** Whether the mount whose root dentry is root is seen in ns. */
export function seesMount(ns: MntNs, root: Dentry): boolean {
  const s = seenBy.get(root);
  return s === undefined || s.has(ns);
}

/** The top of the mount stack on d as the current caller's namespace sees it. */
export function visibleTop(d: Dentry): Dentry {
  const ns = currentCaller()?.fsCtx.mntNs ?? null;
  let best = d;
  for (let x = d.mounted; x !== null; x = x.mounted) if (seesMount(ns, x)) best = x;
  return best;
}

/** A mount propagated into ns (a peer or slave there): ns sees it too. */
export function showMountIn(ns: MntNs, root: Dentry): void {
  seenBy.get(root)?.add(ns);
}

/** The root of ns after a pivot_root there (null: the sandbox's root). */
let initRoot: Dentry | null = null;
export function nsRoot(ns: MntNs): Dentry | null {
  return ns === null ? initRoot : ns.root;
}
export function setNsRoot(ns: MntNs, root: Dentry): void {
  if (ns === null) initRoot = root;
  else ns.root = root;
}

/** A new namespace: a copy of parent's view (CLONE_NEWNS). */
export function copyMountNs(parent: MntNs, userns: UserNamespace | null): MountNamespace {
  const ns = new MountNamespace(userns);
  ns.root = nsRoot(parent);
  spaces.add(ns);
  // Mounts seen by every namespace stay so; the others gain ns where parent sees them.
  forEachRestricted((s) => { if (s.has(parent)) s.add(ns); });
  copyPropagation(parent, ns);
  return ns;
}

const roots: Dentry[] = [];
function forEachRestricted(fn: (s: Set<MntNs>) => void): void {
  for (let i = roots.length - 1; i >= 0; i--) {
    const s = seenBy.get(roots[i]);
    if (s === undefined) roots.splice(i, 1);
    else fn(s);
  }
}

/** A mount just made by a caller in ns: only ns sees it once other namespaces exist. */
export function mountMadeIn(ns: MntNs, root: Dentry): void {
  if (spaces.size === 1) return;
  seenBy.set(root, new Set([ns]));
  roots.push(root);
  restricted++;
}

/**
 * umount in ns: true when no namespace sees the mount any more (the caller then
 * detaches it); false when others still see it (it is only hidden from ns).
 */
export function unmountIn(ns: MntNs, root: Dentry): boolean {
  let s = seenBy.get(root);
  if (s === undefined) {
    if (spaces.size === 1) return true;
    s = new Set(spaces);
    seenBy.set(root, s);
    roots.push(root);
    restricted++;
  }
  s.delete(ns);
  if (s.size > 0) return false;
  seenBy.delete(root);
  restricted--;
  return true;
}

/**
 * Hides a mount from ns without taking it off its dentry (pivot_root's new root when
 * other namespaces still see it there); true when no namespace sees it any more.
 */
export function hideIn(ns: MntNs, root: Dentry): boolean {
  let s = seenBy.get(root);
  if (s === undefined) {
    s = new Set(spaces);
    seenBy.set(root, s);
    roots.push(root);
    restricted++;
  }
  s.delete(ns);
  return s.size === 0;
}

/** Whether only ns sees the mount (so it may be moved without another namespace noticing). */
export function onlyIn(ns: MntNs, root: Dentry): boolean {
  if (spaces.size === 1) return true;
  const s = seenBy.get(root);
  if (s === undefined) return false;
  for (const x of s) if (x !== ns) return false;
  return true;
}

/** A mount left on a detached tree: reachable only through open files, seen as it is there. */
export function forgetMount(root: Dentry): void {
  if (seenBy.delete(root)) restricted--;
}

/** How many mount namespaces exist (the initial one included). */
export function mountNsCount(): number {
  return spaces.size;
}

/**
 * Mount namespaces not in `live` (no task in them, no open or bound ns file) are gone:
 * the mounts only they saw go with them (off their dentries, out of the table), so a
 * dead namespace keeps no mount, inode or tmpfs page alive. `mounts` is the table.
 */
export function releaseMountNamespaces(live: Set<MntNs>, mounts: readonly Mount[], drop: (m: Mount) => void): void {
  const dead: MntNs[] = [];
  for (const ns of spaces) if (ns !== null && !live.has(ns)) dead.push(ns);
  if (dead.length === 0) return;
  for (const ns of dead) {
    spaces.delete(ns);
    dropPropagationNs(ns);
  }
  const orphans = new Set<Dentry>();
  forEachRestricted((s) => {
    for (const ns of dead) s.delete(ns);
  });
  for (const r of roots) {
    const s = seenBy.get(r);
    if (s !== undefined && s.size === 0) orphans.add(r);
  }
  if (orphans.size === 0) return;
  // Children before parents, so each goes off a dentry that is still where it was.
  for (const m of [...mounts].reverse()) {
    if (!orphans.has(m.root)) continue;
    forgetMount(m.root);
    drop(m);
  }
}
