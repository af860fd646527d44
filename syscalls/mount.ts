/** mount, umount2: the mount namespace (fs/vfs/namespace). */
import type { Task } from '../src/kernel/task';
import * as ns from '../fs/vfs/namespace';
import { EFAULT } from './fs-common';

export function mount(t: Task, src: number, target: number, type: number, flags: number): number {
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
  return ns.mount(t.kernel.vfs, t, sp, tp, ty, flags >>> 0);
}

export function umount2(t: Task, target: number, flags: number): number {
  const tp = t.mem.readPath(target);
  if (typeof tp === 'number') return tp;
  return ns.umount(t.kernel.vfs, t, tp, flags | 0, t.creds);
}
