/**
 * linux.maskedPaths, as runc masks them once the container's mounts are made: a
 * directory gets an empty read-only tmpfs over it, anything else the sandbox's own
 * /dev/null (reads see nothing, writes go nowhere). A path that does not exist is
 * skipped, as runc skips it. The masks are locked, as mounts a container inherits are:
 * the guest cannot unmount or move them to uncover what they hide.
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
