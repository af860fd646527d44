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
 * property in this VFS, not a mount's, so the path gets a second, read-only instance of
 * its filesystem, at the same place inside it: for the Sentry's /proc and /sys (every
 * path engines list: /proc/sys, /proc/bus, /proc/sysrq-trigger...), whose instances show
 * the same kernel state. Elsewhere a path is refused, unless it is read-only already.
 */
import { Tmpfs } from '../../fs/fsimpl/tmpfs/tmpfs';
import type { createVfs } from '../../fs/rootfs/create';
import type { Task } from '../kernel/task';
import { ENOENT } from '../abi/errno';

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
  const views = new Map<unknown, ReturnType<NonNullable<ReturnType<Vfs['fsTypes']['get']>>>>();
  for (const p of paths) {
    if (!p.startsWith('/')) return `linux.readonlyPaths: ${p}: not an absolute path`;
    const d = vfs.lookup(t, -100, p, true);
    if (d === -ENOENT) continue;
    if (typeof d === 'number') return `linux.readonlyPaths: ${p}: cannot be reached (errno ${-d})`;
    const at = d.top();
    const fsys = at.inode.fs;
    if (fsys.readonly) continue;
    const where = vfs.pathOf(vfs.rootDentry, at);
    const m = vfs.mounts.find((x) => x.fs === fsys);
    const make = vfs.fsTypes.get(fsys.type);
    if ((fsys.type !== 'proc' && fsys.type !== 'sysfs') || m === undefined || make === undefined) {
      return `linux.readonlyPaths: ${p}: not supported on ${fsys.type} (only under the sandbox's /proc and /sys)`;
    }
    const view = views.get(fsys) ?? make('');
    if (typeof view === 'number') return `linux.readonlyPaths: ${p}: errno ${-view}`;
    view.readonly = true;
    views.set(fsys, view);
    let inode = view.root();
    const rel = where.slice(m.path === '/' ? 1 : m.path.length + 1).split('/').filter(Boolean);
    for (const name of rel) {
      const next = inode.lookup(name);
      if (typeof next === 'number') return `linux.readonlyPaths: ${p}: not found again in a new ${fsys.type} (errno ${-next})`;
      inode = next;
    }
    vfs.attach(at, view, inode, where, '').locked = true;
  }
  return null;
}
