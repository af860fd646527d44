/**
 * linux.maskedPaths and readonlyPaths, once the container's mounts are made.
 *
 * maskedPaths, as runc masks them: a
 * directory gets an empty read-only tmpfs over it, anything else the sandbox's own
 * /dev/null (reads see nothing, writes go nowhere). A path that does not exist is
 * skipped, as runc skips it. The masks are locked, as mounts a container inherits are:
 * the guest cannot unmount or move them to uncover what they hide.
 *
 * readonlyPaths: runc binds each path on itself read-only. Read-only is a filesystem's
 * property in this VFS, not a mount's. A path that is a mount's root, whose filesystem
 * is mounted nowhere else (a bind, a file bind, a tmpfs), makes that filesystem
 * read-only. Any other path gets a second, read-only instance of its filesystem
 * (readonlyView), attached at the same place inside it: /proc and /sys (every path
 * engines list: /proc/sys, /proc/bus, /proc/sysrq-trigger...), the root overlay, binds,
 * and a directory inside a tmpfs (ro-view.ts); mounts below the path are kept.
 */
import { Tmpfs } from '../../fs/fsimpl/tmpfs/tmpfs';
import { OverlayFs } from '../../fs/fsimpl/overlay/overlay';
import { HostFs } from '../../fs/fsimpl/hostfs/hostfs';
import type { FileSystem } from '../../fs/vfs/inode';
import type { createVfs } from '../../fs/rootfs/create';
import type { Task } from '../kernel/task';
import { ENOENT } from '../abi/errno';
import { ReadonlyView } from './ro-view';

type Vfs = ReturnType<typeof createVfs>;

/** Masks each path; returns an error line for a path that cannot be masked, else null. */
export function maskPaths(vfs: Vfs, t: Task, paths: string[]): string | null {
  const nul = vfs.lookup(t, -100, '/dev/null', true);
  if (typeof nul === 'number') return `linux.maskedPaths: the sandbox has no /dev/null (errno ${-nul})`;
  for (const p of paths) {
    if (!p.startsWith('/')) return `linux.maskedPaths: ${p}: not an absolute path`;
    const d = vfs.lookup(t, -100, p, true);
    if (d === -ENOENT) continue;
    if (typeof d === 'number') return `linux.maskedPaths: ${p}: cannot be reached (errno ${-d})`;
    const at = d.top();
    const where = vfs.pathOf(vfs.rootDentry, at);
    const m = at.inode.isDir
      ? (() => {
        const fs = new Tmpfs({ mode: 0o755 });
        fs.readonly = true;
        return vfs.attach(at, fs, fs.root(), where, '');
      })()
      : vfs.attach(at, nul.inode.fs, nul.inode, where, '');
    m.locked = true;
  }
  return null;
}

/** Makes each path read-only; returns an error line for a path that cannot be, else null. */
export function readonlyPaths(vfs: Vfs, t: Task, paths: string[]): string | null {
  // One read-only instance per filesystem serves all its paths (an instance of procfs
  // costs ~2 ms to make, and engines list five paths in it).
  const views = new Map<FileSystem, FileSystem>();
  for (const p of paths) {
    if (!p.startsWith('/')) return `linux.readonlyPaths: ${p}: not an absolute path`;
    const d = vfs.lookup(t, -100, p, true);
    if (d === -ENOENT) continue;
    if (typeof d === 'number') return `linux.readonlyPaths: ${p}: cannot be reached (errno ${-d})`;
    const at = d.top();
    const fsys = at.inode.fs;
    if (fsys.readonly) continue;
    const where = vfs.pathOf(vfs.rootDentry, at);
    // The root of a mount whose filesystem is mounted nowhere else (a bind of a
    // directory or a file, a tmpfs): the filesystem itself becomes read-only.
    const own = vfs.mounts.find((x) => x.root === at);
    if (own !== undefined && vfs.mounts.filter((x) => x.fs === fsys).length === 1) {
      fsys.readonly = true;
      continue;
    }
    const m = vfs.mounts.find((x) => x.fs === fsys);
    if (m === undefined) return `linux.readonlyPaths: ${p}: not on a mount of the sandbox`;
    const view = views.get(fsys) ?? readonlyView(vfs, fsys);
    if (typeof view === 'string') return `linux.readonlyPaths: ${p}: ${view}`;
    views.set(fsys, view);
    // The same place in the view: the path below the mount's root (for a bind of a
    // subdirectory, its root inode is that of the view's root only if the bind serves it).
    let inode = view.root();
    const rel = where.slice(m.path === '/' ? 1 : m.path.length + 1).split('/').filter(Boolean);
    for (const name of rel) {
      const next = inode.lookup(name);
      if (typeof next === 'number') return `linux.readonlyPaths: ${p}: not found again in a read-only view of ${fsys.type} (errno ${-next})`;
      inode = next;
    }
    const below = vfs.mounts.filter((x) => x.path.startsWith(where === '/' ? '/' : `${where}/`) && x.path !== where);
    vfs.attach(at, view, inode, where, '').locked = true;
    // Mounts below the path stay as they were (runc's bind is recursive, its remount
    // read-only is not): attached again on the view, or it would hide them.
    for (const sub of below) {
      const d2 = vfs.lookup(t, -100, sub.path, false);
      if (typeof d2 === 'number' || d2.top().inode.fs !== view) continue;
      vfs.attach(d2.top(), sub.fs, sub.root.inode, sub.path, sub.options).locked = sub.locked;
    }
  }
  return null;
}

/**
 * A second, read-only instance of fsys showing the same files: procfs and sysfs (the
 * same kernel state), the root overlay (the same lower tree and upper tmpfs: writes
 * through the view are refused, the upper layer is never changed by it), a host tree
 * (the same Gofer root, another client-side tree); anything else, a tmpfs, through
 * ro-view.ts (its inodes wrapped: a tmpfs has no second instance of its pages).
 */
function readonlyView(vfs: Vfs, fsys: FileSystem): FileSystem | string {
  let view: FileSystem;
  if (fsys instanceof OverlayFs) {
    const lower = fsys.root().lower;
    if (lower === null) return 'the root has no lower layer';
    view = new OverlayFs(lower, fsys.upperFs);
  } else if (fsys instanceof HostFs) {
    view = new HostFs(fsys.backend, true, fsys.type, 'shared');
  } else if (fsys.type === 'proc' || fsys.type === 'sysfs') {
    const made = vfs.fsTypes.get(fsys.type)!('');
    if (typeof made === 'number') return `errno ${-made}`;
    view = made;
  } else {
    // A tmpfs (or another in-memory tree): its own inodes through read-only wrappers.
    view = new ReadonlyView(fsys);
  }
  view.readonly = true;
  return view;
}
