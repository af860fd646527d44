/**
 * mount(2), umount2(2) and pivot_root(2) inside the sandbox's mount namespaces: new
 * tmpfs/proc/sysfs/devtmpfs instances, bind mounts of sandbox paths (recursive ones
 * with their submounts), per-mount flags (a read-only bind), moves, and propagation
 * (shared, slave, private, unbindable: propagation.ts, propagate.ts). Host paths can never be mounted
 * this way: every source is a sandbox path.
 */
import { nsCapable, CAP_SYS_ADMIN } from '../../src/auth/capabilities';
import { hideIn, mountMadeIn, mountNsInUse, onlyIn, seesMount, setNsRoot, visibleTop, type MntNs } from './mount-ns';
import { bindTree, MOUNT_MAX, subtree, umountTree } from './mount-tree';
import { changePropagation, inheritPropagation, isUnbindable, propagationType } from './propagation';
import { propagateMount, propagateUmount } from './propagate';
import type { Mount, MountFlags } from './mount';
import * as E from '../../src/abi/errno';
import type { Credentials } from '../../src/auth/credentials';
import { toKid } from '../../src/auth/userns';
import type { Dentry } from './dentry';
import type { FileSystem } from './inode';
import type { Vfs, FsCaller } from './vfs';

export const MS_RDONLY = 1;
export const MS_NOSUID = 2;
export const MS_NODEV = 4;
export const MS_NOEXEC = 8;
export const MS_REMOUNT = 32;
export const MS_BIND = 4096;
export const MS_MOVE = 8192;
export const MS_REC = 16384;
const MS_PROPAGATION = (1 << 17) | (1 << 18) | (1 << 19) | (1 << 20);
const MNT_FORCE = 1;
const MNT_DETACH = 2;
const MNT_EXPIRE = 4;
const UMOUNT_NOFOLLOW = 8;

/** The per-mount flags a mount(2) call asks for. */
function flagsOf(flags: number): MountFlags {
  return {
    readonly: (flags & MS_RDONLY) !== 0, nosuid: (flags & MS_NOSUID) !== 0,
    nodev: (flags & MS_NODEV) !== 0, noexec: (flags & MS_NOEXEC) !== 0,
  };
}

/**
 * A locked mount (set up with the sandbox) lies in the subtree at d, on d's own
 * filesystem: a bind of d without MS_REC would show what that mount covers. Linux
 * refuses such a bind (EINVAL) in a container; a recursive one copies it locked.
 */
function coversLocked(vfs: Vfs, d: Dentry): boolean {
  for (const m of vfs.mounts) {
    if (!m.locked || m.mountpoint === null) continue;
    for (let x: Dentry | null = m.mountpoint; x !== null; x = x.parent) if (x === d) return true;
  }
  return false;
}

/** The mount whose root is d, if d is the root of one (a mount point's top, or a namespace root). */
function mountRootOf(d: Dentry): Mount | null {
  return d.mnt !== null && d.mnt.root === d ? d.mnt : null;
}

/** Whether d lies under (or is) root, following parents and mount points up. */
function below(d: Dentry, root: Dentry): boolean {
  for (let x: Dentry | null = d, n = 0; x !== null && n < 100_000; n++) {
    if (x === root) return true;
    x = x.mountpoint ?? x.parent;
  }
  return false;
}

/**
 * Per namespace, a mount pivot_root could not move (the sandbox's root, or one other
 * namespaces see) -> the copy of it this namespace got at put_old. A path that still
 * reaches the original (runc's fd to the old root, opened before the pivot) stands for
 * the copy there, as on Linux, where the old root mount itself moves: so umount2(".",
 * MNT_DETACH) after fchdir to it detaches the old root.
 */
const pivotCopies = new WeakMap<object, WeakMap<Mount, Mount>>();
const INIT_NS_KEY = {};

/** The mount m stands for in ns: the copy pivot_root made of it there (while mounted), or m. */
function asSeenIn(ns: MntNs, m: Mount): Mount {
  let x = m;
  for (let n = 0; n < 64; n++) {
    const c = pivotCopies.get(ns ?? INIT_NS_KEY)?.get(x);
    if (c === undefined || c.mountpoint === null || !seesMount(ns, c.root)) break;
    x = c;
  }
  return x;
}

/** The top of what is mounted on d, as the caller's namespace sees it. */
function topIn(d: Dentry): Dentry {
  return mountNsInUse() ? visibleTop(d) : d.top();
}

export function mount(
  vfs: Vfs, c: FsCaller, source: string | null, target: string, type: string | null, flags: number, data: string | null = null,
): number {
  if (!mountCapable(c.creds, c)) return -E.EPERM;
  const t = vfs.lookup(c, -100, target, true);
  if (typeof t === 'number') return t;
  const ns = c.fsCtx.mntNs;
  // Propagation changes (with MS_REC: of the subtree), propagation.ts.
  if (flags & MS_PROPAGATION && !(flags & (MS_BIND | MS_REMOUNT))) {
    const type = propagationType(flags);
    const m = mountRootOf(t);
    if (type === 0 || m === null) return -E.EINVAL;
    for (const x of flags & MS_REC ? subtree(vfs, ns, m) : [m]) changePropagation(x, ns, type);
    return 0;
  }
  if (flags & MS_REMOUNT) {
    const m = mountRootOf(t);
    if (m === null) return -E.EINVAL;
    const ro = (flags & MS_RDONLY) !== 0;
    if (!(flags & MS_BIND)) {
      // A read-only host tree stays read-only whatever the guest asks.
      if (!ro && m.fs.hostReadonly) return -E.EACCES;
      const k = m.fs.type === 'tmpfs' ? tmpfsKernelIds(data, c.creds) : data;
      if (typeof k === 'number') return k;
      const r = m.fs.reconfigure(k);
      if (r < 0) return r;
      m.fs.readonly = ro || m.fs.hostReadonly;
    }
    m.copyFlags(flagsOf(flags));
    return 0;
  }
  if (flags & MS_MOVE) {
    if (source === null) return -E.EFAULT;
    const s = vfs.lookup(c, -100, source, true);
    if (typeof s === 'number') return s;
    const m = mountRootOf(s);
    if (m === null || m.mountpoint === null) return -E.EINVAL;
    if (!t.inode.isDir) return -E.ENOTDIR;
    if (m.locked) return -E.EINVAL;
    // Not into its own subtree (Linux: ELOOP).
    for (let x: Dentry = t; ; ) {
      if (x === m.root) return -E.ELOOP;
      const up = x.up(vfs.rootDentry);
      if (up === x) break;
      x = up;
    }
    const at = t.top();
    if (onlyIn(ns, m.root)) {
      vfs.unlinkMount(m);
      vfs.linkMount(m, at);
      return 0;
    }
    // Other namespaces still see it where it is: this one sees a copy at the new place.
    const r = bindTree(vfs, ns, m.root, at, vfs.pathOf(vfs.rootDentry, t), true, topIn);
    if (typeof r === 'number') return r;
    r.copyFlags(m);
    for (const x of subtree(vfs, ns, m)) hideIn(ns, x.root);
    return 0;
  }
  if (!t.inode.isDir && !(flags & MS_BIND)) return -E.ENOTDIR;
  const path = vfs.pathOf(vfs.rootDentry, t);
  if (flags & MS_BIND) {
    if (source === null) return -E.EFAULT;
    const s = vfs.lookup(c, -100, source, true);
    if (typeof s === 'number') return s;
    // graft_tree: a file onto a directory or a directory onto a file (runc falls back to a tmpfs mask on it).
    if (s.inode.isDir !== t.inode.isDir) return -E.ENOTDIR;
    const rec = (flags & MS_REC) !== 0;
    if (!rec && s.inode.isDir && coversLocked(vfs, s)) return -E.EINVAL;
    if (s.mnt !== null && isUnbindable(s.mnt, ns)) return -E.EINVAL;
    // Copies are in their originals' peer groups (clone_mnt); unbindable submounts stay out.
    const r = bindTree(vfs, ns, s, t.top(), path, rec, topIn, undefined, {
      leaveOut: (x) => isUnbindable(x, ns), copyOf: (o, k) => inheritPropagation(o, k, ns),
    });
    if (typeof r === 'number') return r;
    propagateMount(vfs, ns, r);
    return 0;
  }
  if (type === null) return -E.EINVAL;
  if (vfs.mounts.length >= MOUNT_MAX) return -E.ENOSPC;
  const make = vfs.fsTypes.get(type);
  // A new tmpfs's root belongs to the mounter (shmem: current_fsuid/fsgid, kernel ids as
  // Credentials hold them) unless uid=/gid= say otherwise: rootless runc makes /dev/pts in its /dev.
  let opts = data;
  if (type === 'tmpfs') {
    const k = tmpfsKernelIds(data, c.creds);
    if (typeof k === 'number') return k;
    const own = c.creds.fsuid !== 0 || c.creds.fsgid !== 0;
    opts = own ? `uid=${c.creds.fsuid},gid=${c.creds.fsgid}${k ? `,${k}` : ''}` : k;
  }
  const fs = make === undefined ? -E.ENODEV : make(source ?? '', opts);
  if (typeof fs === 'number') return fs;
  // A filesystem already mounted (one hierarchy, as cgroup2) is read-only on this mount only.
  if (flags & MS_RDONLY && !vfs.mounts.some((x) => x.fs === fs)) fs.readonly = true;
  const m = vfs.attach(t.top(), fs, fs.root(), path, '');
  m.copyFlags(flagsOf(flags));
  mountMadeIn(ns, m.root);
  propagateMount(vfs, ns, m);
  return 0;
}

/**
 * tmpfs's uid=/gid= name ids of the mounter's user namespace: as kernel ids for the
 * tmpfs (which keeps kernel ids), EINVAL for one with no mapping (shmem_parse_one).
 */
function tmpfsKernelIds(data: string | null, creds: Credentials): string | null | number {
  if (data === null || creds.userns === null) return data;
  const out: string[] = [];
  for (const tok of data.split(',')) {
    const m = /^(uid|gid)=(\d+)$/.exec(tok);
    if (m === null) {
      out.push(tok);
      continue;
    }
    const k = toKid(creds.userns, Number(m[2]), m[1] === 'gid');
    if (k < 0) return -E.EINVAL;
    out.push(`${m[1]}=${k}`);
  }
  return out.join(',');
}

/** CAP_SYS_ADMIN in the user namespace that owns the caller's mount namespace. */
function mountCapable(creds: Credentials, c: FsCaller): boolean {
  return nsCapable(creds, c.fsCtx.mntNs?.userns ?? null, CAP_SYS_ADMIN);
}

export function umount(vfs: Vfs, c: FsCaller, target: string, flags: number, creds: Credentials): number {
  if (flags & ~(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW)) return -E.EINVAL;
  if (flags & MNT_EXPIRE && flags & (MNT_FORCE | MNT_DETACH)) return -E.EINVAL;
  if (!mountCapable(creds, c)) return -E.EPERM;
  let t = vfs.lookup(c, -100, target, (flags & UMOUNT_NOFOLLOW) === 0);
  if (typeof t === 'number') return t;
  // LOOKUP_MOUNTPOINT: the last component goes up to the topmost mount on it, so
  // umount2(".") after mounting over the cwd (or pivot_root(".", ".")) takes that mount.
  t = topIn(t);
  const ns = c.fsCtx.mntNs;
  const found = mountRootOf(t);
  const m = found === null ? null : asSeenIn(ns, found);
  if (m === null || m.mountpoint === null || (t === vfs.rootDentry && m === found)) return -E.EINVAL;
  if (flags & MNT_EXPIRE) return -E.EAGAIN;
  // The sandbox's own mounts stay: under /proc lies the host's (Linux: MNT_LOCKED).
  if (m.locked) return -E.EINVAL;
  const tree = subtree(vfs, ns, m);
  // Mounts on it: only a lazy umount takes them along (they go with it, locked or not:
  // nothing they cover shows, since their parent is gone too).
  if (tree.length > 1 && !(flags & MNT_DETACH)) return -E.EBUSY;
  // Where it propagated goes too; other mount namespaces may still see it (then it is
  // only hidden from this one).
  propagateUmount(vfs, ns, m, (flags & MNT_DETACH) !== 0);
  umountTree(vfs, ns, m, tree);
  return 0;
}

/**
 * pivot_root(2): new_root (a mount's root, not the caller's root) becomes the root, and
 * cwd where it was the old root, of every caller of this mount namespace (`contexts`);
 * the old root, with the mounts on it, is mounted at put_old (at or under new_root) so it
 * can be reached and then detached (runc's pivot_root(".", ".") + umount2(".",
 * MNT_DETACH) included). Mounts only this namespace sees move; the sandbox's root and
 * mounts other namespaces see stay where they are for them, and this namespace gets a
 * copy (mount-tree.ts).
 */
export function pivotRoot(vfs: Vfs, c: FsCaller, newRoot: string, putOld: string, contexts: Iterable<FsCaller['fsCtx']>): number {
  if (!mountCapable(c.creds, c)) return -E.EPERM;
  const n = vfs.lookup(c, -100, newRoot, true);
  if (typeof n === 'number') return n;
  const o = vfs.lookup(c, -100, putOld, true);
  if (typeof o === 'number') return o;
  if (!n.inode.isDir || !o.inode.isDir) return -E.ENOTDIR;
  const root = c.fsCtx.root;
  // Linux's order: on the root's own mount (a loop) is EBUSY, then "not a mount point" EINVAL.
  if (n.mnt === root.mnt || o.mnt === root.mnt) return -E.EBUSY;
  const nm = mountRootOf(n);
  const rm = mountRootOf(root);
  if (nm === null || rm === null) return -E.EINVAL;
  // new_root must lie under the caller's root (not reached through a cwd outside it).
  if (!below(n, root)) return -E.EINVAL;
  // put_old must be at or under new_root.
  let under = false;
  for (let x: Dentry = o; ; ) {
    if (x === n) {
      under = true;
      break;
    }
    const up = x.up(root);
    if (up === x) break;
    x = up;
  }
  if (!under) return -E.EINVAL;
  const ns = c.fsCtx.mntNs;
  // The new root leaves its mount point when only this namespace sees it (else it stays
  // there for the others, out of this namespace's reach from its new root).
  let moved = false;
  if (nm.mountpoint !== null && onlyIn(ns, nm.root)) {
    vfs.unlinkMount(nm);
    moved = true;
  }
  const at = o.top();
  if (moved && rm.root !== vfs.rootDentry && onlyIn(ns, rm.root)) {
    vfs.unlinkMount(rm);
    vfs.linkMount(rm, at);
  } else {
    const r = bindTree(vfs, ns, rm.root, at, vfs.pathOf(vfs.rootDentry, o), true, topIn, nm);
    if (typeof r === 'number') return r;
    r.copyFlags(rm);
    r.locked = rm.locked;
    let copies = pivotCopies.get(ns ?? INIT_NS_KEY);
    if (copies === undefined) pivotCopies.set(ns ?? INIT_NS_KEY, (copies = new WeakMap()));
    copies.set(rm, r);
  }
  setNsRoot(ns, n);
  for (const f of contexts) {
    if (f.mntNs !== ns) continue;
    if (f.root === root) f.root = n;
    if (f.cwd === root) f.cwd = n;
  }
  return 0;
}
