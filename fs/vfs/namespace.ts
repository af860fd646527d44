/**
 * mount(2) and umount2(2) inside the sandbox's mount namespace: new tmpfs/proc/sysfs/
 * devtmpfs instances, bind mounts of sandbox paths, remounts and propagation changes
 * (accepted, with nothing to propagate to). Host paths can never be mounted this way:
 * every source is a sandbox path.
 */
import { capable, CAP_SYS_ADMIN } from '../../src/auth/capabilities';
import * as E from '../../src/abi/errno';
import type { Credentials } from '../../src/auth/credentials';
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

function optionsOf(flags: number): string {
  const o: string[] = [];
  if (flags & MS_NOSUID) o.push('nosuid');
  if (flags & MS_NODEV) o.push('nodev');
  if (flags & MS_NOEXEC) o.push('noexec');
  return o.join(',');
}

/**
 * A locked mount (set up with the sandbox) lies in the subtree at d, on d's own
 * filesystem: a bind of d would show what that mount covers. Linux refuses such a
 * non-recursive bind (EINVAL) in a container; recursive binds are not implemented here
 * (a bind never carries submounts), so they are refused alike.
 */
function coversLocked(vfs: Vfs, d: Dentry): boolean {
  for (const m of vfs.mounts) {
    if (!m.locked || m.mountpoint === null) continue;
    for (let x: Dentry | null = m.mountpoint; x !== null; x = x.parent) if (x === d) return true;
  }
  return false;
}

/** The mount whose root is (the top of) d, if d names a mount point. */
function mountRootOf(d: Dentry): Dentry | null {
  return d.mountpoint !== null ? d : null;
}

export function mount(
  vfs: Vfs, c: FsCaller, source: string | null, target: string, type: string | null, flags: number,
): number {
  if (!capable(c.creds, CAP_SYS_ADMIN)) return -E.EPERM;
  const t = vfs.lookup(c, -100, target, true);
  if (typeof t === 'number') return t;
  // Propagation changes: one namespace, nothing to propagate to.
  if (flags & MS_PROPAGATION && !(flags & (MS_BIND | MS_REMOUNT | MS_MOVE))) return 0;
  if (flags & MS_REMOUNT) {
    const root = mountRootOf(t);
    if (root === null) return -E.EINVAL;
    const fs = root.inode.fs;
    const ro = (flags & MS_RDONLY) !== 0;
    // A read-only host tree stays read-only whatever the guest asks.
    if (!ro && fs.hostReadonly) return -E.EACCES;
    if (!(flags & MS_BIND)) fs.readonly = ro || fs.hostReadonly;
    return 0;
  }
  if (flags & MS_MOVE) {
    if (source === null) return -E.EFAULT;
    const s = vfs.lookup(c, -100, source, true);
    if (typeof s === 'number') return s;
    const root = mountRootOf(s);
    if (root === null) return -E.EINVAL;
    if (!t.inode.isDir) return -E.ENOTDIR;
    const m = vfs.mounts.find((x) => x.root === root);
    if (!m || m.locked) return -E.EINVAL;
    const r = vfs.detach(root);
    if (r < 0) return r;
    vfs.attach(t.top(), m.fs, root.inode, vfs.pathOf(vfs.rootDentry, t), m.options);
    return 0;
  }
  if (!t.inode.isDir && !(flags & MS_BIND)) return -E.ENOTDIR;
  const path = vfs.pathOf(vfs.rootDentry, t);
  if (flags & MS_BIND) {
    if (source === null) return -E.EFAULT;
    const s = vfs.lookup(c, -100, source, true);
    if (typeof s === 'number') return s;
    if (s.inode.isDir !== t.inode.isDir) return s.inode.isDir ? -E.ENOTDIR : -E.EINVAL;
    if (s.inode.isDir && coversLocked(vfs, s)) return -E.EINVAL;
    vfs.attach(t.top(), s.inode.fs, s.inode, path, optionsOf(flags));
    return 0;
  }
  if (type === null) return -E.EINVAL;
  const make = vfs.fsTypes.get(type);
  const fs = make === undefined ? -E.ENODEV : make(source ?? '');
  if (typeof fs === 'number') return fs;
  if (flags & MS_RDONLY) fs.readonly = true;
  vfs.attach(t.top(), fs, fs.root(), path, optionsOf(flags));
  return 0;
}

export function umount(vfs: Vfs, c: FsCaller, target: string, flags: number, creds: Credentials): number {
  if (flags & ~(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW)) return -E.EINVAL;
  if (flags & MNT_EXPIRE && flags & (MNT_FORCE | MNT_DETACH)) return -E.EINVAL;
  if (!capable(creds, CAP_SYS_ADMIN)) return -E.EPERM;
  let t = vfs.lookup(c, -100, target, (flags & UMOUNT_NOFOLLOW) === 0);
  if (typeof t === 'number') return t;
  // LOOKUP_MOUNTPOINT: the last component goes up to the topmost mount on it, so
  // umount2(".") after mounting over the cwd (or pivot_root(".", ".")) takes that mount.
  while (t.mounted !== null) t = t.mounted;
  const root = mountRootOf(t);
  if (root === null || t === vfs.rootDentry) return -E.EINVAL;
  if (flags & MNT_EXPIRE) return -E.EAGAIN;
  // The sandbox's own mounts stay: under /proc lies the host's (Linux: MNT_LOCKED).
  if (vfs.mounts.find((m) => m.root === root)?.locked) return -E.EINVAL;
  return vfs.detach(root);
}
