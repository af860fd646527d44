/**
 * Where bound unix sockets are found: abstract names in a table of their own, pathname
 * sockets by the (dev, ino) of the S_IFSOCK inode bind created in the sandbox VFS, so a
 * connect resolves the path with the caller's view and credentials (cwd, chroot,
 * permissions) and renames/links of the socket file keep working.
 */
import * as E from '../abi/errno';
import type { Task } from '../kernel/task';
import { AT_FDCWD, S_IFMT, S_IFSOCK } from '../abi/fs';
import type { UnixName } from './sockaddr';

/** The few things the namespace needs of a unix socket (avoids an import cycle). */
export interface UnixBound {
  name: UnixName;
}

const abstractNames = new Map<string, UnixBound>();
/** Every unix socket not yet closed, for /proc/net/unix (procnet.ts). */
export const liveUnix = new Set<UnixBound>();
const pathInodes = new Map<string, UnixBound>();

const absKey = (name: Buffer) => name.toString('latin1');

/** Forgets every bound name (a reused pool worker, between sandboxes: src/server/retire.ts). */
export function clearUnixNames(): void {
  abstractNames.clear();
  pathInodes.clear();
  liveUnix.clear();
}

export function bindAbstract(s: UnixBound, name: Buffer): number {
  const k = absKey(name);
  if (abstractNames.has(k)) return -E.EADDRINUSE;
  abstractNames.set(k, s);
  return 0;
}

/** Autobind: a unique abstract name of 5 hex digits, like Linux. */
let autoCounter = 0;
export function autobind(s: UnixBound): Buffer | number {
  for (let i = 0; i < 0x100000; i++) {
    const name = Buffer.from((autoCounter++ & 0xfffff).toString(16).padStart(5, '0'), 'latin1');
    if (bindAbstract(s, name) === 0) return name;
  }
  return -E.ENOSPC;
}

/** Creates the socket file at path with mode perm (EADDRINUSE if anything is there) and records it. */
export function bindPath(t: Task, s: UnixBound, path: string, perm = 0o777): number | string {
  const vfs = t.kernel.vfs;
  // The socket inode's mode (0777, or what fchmod made it: unix_bind), less the umask the VFS applies.
  const mode = S_IFSOCK | (perm & 0o7777);
  const r = vfs.mknod(t, AT_FDCWD, path, mode, 0);
  if (r === -E.EEXIST) return -E.EADDRINUSE;
  if (r < 0) return r;
  const st = vfs.stat(t, AT_FDCWD, path, false);
  if (typeof st === 'number') return st;
  const key = `${st.dev}:${st.ino}`;
  pathInodes.set(key, s);
  return key;
}

export function unbindKey(key: string | null, s: UnixBound): void {
  if (key !== null && pathInodes.get(key) === s) pathInodes.delete(key);
}
export function unbindAbstract(name: Buffer, s: UnixBound): void {
  const k = absKey(name);
  if (abstractNames.get(k) === s) abstractNames.delete(k);
}

/** Finds the socket bound at name; ECONNREFUSED when nothing listens there. */
export function lookup(t: Task, name: UnixName): UnixBound | number {
  if (name.kind === 'abstract') return abstractNames.get(absKey(name.name)) ?? -E.ECONNREFUSED;
  if (name.kind !== 'path') return -E.EINVAL;
  const vfs = t.kernel.vfs;
  const st = vfs.stat(t, AT_FDCWD, name.path, true);
  if (typeof st === 'number') return st;
  // Connecting needs write permission on the socket file.
  const acc = vfs.access(t, AT_FDCWD, name.path, 2, 0x200 /* AT_EACCESS */);
  if (acc < 0) return acc;
  if ((st.mode & S_IFMT) !== S_IFSOCK) return -E.ECONNREFUSED;
  return pathInodes.get(`${st.dev}:${st.ino}`) ?? -E.ECONNREFUSED;
}

/** Checkpoint support (src/snapshot): whether s holds abstract name (not only shows it, as an accepted socket does). */
export function holdsAbstract(name: Buffer, s: UnixBound): boolean {
  return abstractNames.get(absKey(name)) === s;
}

/** Checkpoint support: s is bound at the socket inode of key again (a restored VFS's). */
export function adoptPathKey(key: string, s: UnixBound): number {
  if (pathInodes.has(key)) return -E.EADDRINUSE;
  pathInodes.set(key, s);
  return 0;
}
