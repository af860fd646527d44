/**
 * linux.sysctl, written as runc writes it (the value as given, to /proc/sys/KEY with the
 * dots made slashes), into the Sentry's own /proc/sys: the values are the sandbox's. A
 * key the Sentry does not have, or cannot change, is refused, as runc refuses a key
 * its kernel lacks: a setting that would silently do nothing is an error. The runtime
 * writes as the runtime, not as the container's user (open on the inode itself).
 */
import type { createVfs } from '../../fs/rootfs/create';
import type { Task } from '../kernel/task';

type Vfs = ReturnType<typeof createVfs>;
const O_WRONLY = 1;

/** Applies every key; an error line for the first one refused, else null. */
export function applySysctl(vfs: Vfs, t: Task, sysctl: Record<string, string>): string | null {
  for (const [key, value] of Object.entries(sysctl)) {
    if (!/^[A-Za-z0-9_\-.]+$/.test(key) || key.split('.').some((c) => c === '' || c === '..')) {
      return `linux.sysctl: invalid key "${key}"`;
    }
    const d = vfs.lookup(t, -100, `/proc/sys/${key.replace(/\./g, '/')}`, true);
    if (typeof d === 'number' || d.inode.isDir) return `linux.sysctl: "${key}" is not supported in this sandbox`;
    const f = d.inode.open(O_WRONLY);
    if (typeof f === 'number') return `linux.sysctl: "${key}" cannot be set in this sandbox`;
    const w = f.write(Buffer.from(String(value), 'latin1'));
    f.decRef();
    if (w < 0) return `linux.sysctl: "${key}" = "${value}": invalid value (errno ${-w})`;
  }
  return null;
}
