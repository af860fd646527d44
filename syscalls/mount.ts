/** mount, umount2, pivot_root: the mount namespace (fs/vfs/namespace). */
import type { Task } from '../src/kernel/task';
import * as ns from '../fs/vfs/namespace';
import { EFAULT } from './fs-common';

export function mount(t: Task, src: number, target: number, type: number, flags: number, data = 0): number {
  const tp = t.mem.readPath(target);
  if (typeof tp === 'number') return tp;
  let sp: string | null = null;
  if (src !== 0) {
    const s = t.mem.readCString(src, 4096);
    if (s === null) return EFAULT;
    sp = s;
  }
  let ty: string | null = null;
  if (type !== 0) {
    const s = t.mem.readCString(type, 256);
    if (s === null) return EFAULT;
    ty = s;
  }
  // The filesystem's options (tmpfs: size=, nr_inodes=, mode=); Linux copies up to a page.
  let opts: string | null = null;
  if (data !== 0) {
    const s = t.mem.readCString(data, 4095);
    if (s === null) return EFAULT;
    opts = s;
  }
  return ns.mount(t.kernel.vfs, t, sp, tp, ty, flags >>> 0, opts);
}

export function umount2(t: Task, target: number, flags: number): number {
  const tp = t.mem.readPath(target);
  if (typeof tp === 'number') return tp;
  return ns.umount(t.kernel.vfs, t, tp, flags | 0, t.creds);
}

export function pivot_root(t: Task, newRoot: number, putOld: number): number {
  const n = t.mem.readPath(newRoot);
  if (typeof n === 'number') return n;
  const o = t.mem.readPath(putOld);
  if (typeof o === 'number') return o;
  const contexts = new Set([...t.kernel.tasks.values()].map((x) => x.fsCtx));
  return ns.pivotRoot(t.kernel.vfs, t, n, o, contexts);
}
