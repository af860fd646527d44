/**
 * The container's stdio, and why the host's /dev/null never becomes one of the
 * Sentry's fds.
 *
 * Engines see the Sentry as the container's process: its pid is in the state and the
 * pid file, and whatever they do to "the container's stdio" they do through
 * /proc/<pid>/fd/N. An engine (or a shim) that hands a container no stdin gives the
 * runtime the host's /dev/null; a helper that then makes the container's stdio the
 * container user's (as runc's init does for its own fds, skipping /dev/null) would
 * chown the host's /dev/null instead (it was found owned by 65534 after Docker runs).
 * So `create` gives the Sentry a pipe in place of any stdio fd that is the host's
 * /dev/null (and in place of all three when a console replaces them), closes the far
 * end at once, and names those fds in init.json: the guest gets the Sentry's own
 * /dev/null there. `exec` sends no such fd either, only its index.
 */
import * as fs from 'fs';
import * as tty from 'tty';
import { FdTable } from '../../fs/vfs/fdtable';
import { HostFile } from '../../fs/fsimpl/host/host-file';
import type { FileDescription } from '../../fs/vfs/file';
import type { Task } from '../kernel/task';
import type { createVfs } from '../../fs/rootfs/create';
import { ociNative } from './native';
import { closeFd } from './control';

const O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2;

let nullRdev: number | null = null;

/** True when host fd `fd` is the host's /dev/null (the character device itself, however it was opened). */
export function isHostNull(fd: number): boolean {
  try {
    const s = fs.fstatSync(fd);
    if (!s.isCharacterDevice()) return false;
    nullRdev ??= fs.statSync('/dev/null').rdev;
    return s.rdev === nullRdev;
  } catch {
    return false;
  }
}

/** Which of fds 0..2 of ours are the host's /dev/null (all three when `all`). */
export function nullStdio(all: boolean): number[] {
  return [0, 1, 2].filter((fd) => all || isHostNull(fd));
}

/** The Sentry's own /dev/null, opened as the guest would (O_RDONLY for stdin). */
export function sentryNull(vfs: ReturnType<typeof createVfs>, t: Task, fd: number): FileDescription {
  const f = vfs.open(t, -100, '/dev/null', fd === 0 ? O_RDONLY : O_WRONLY, 0);
  if (typeof f === 'number') throw new Error(`cannot open the sandbox's /dev/null (errno ${-f})`);
  return f;
}

/**
 * Guest fds 0..2 from the host fds given, in order, skipping the indices in `nulls`
 * (those get the Sentry's /dev/null). `owned`: the host fds were received (closed with
 * the guest's last close), not the Sentry's own 0..2.
 */
export function installStdio(
  fdTable: FdTable, hostFds: number[], nulls: number[], owned: boolean, nul: (fd: number) => FileDescription,
): void {
  const modes = [O_RDONLY, O_WRONLY, O_WRONLY];
  let next = 0;
  for (let i = 0; i < 3; i++) {
    if (nulls.includes(i)) {
      fdTable.installAt(i, nul(i), false);
      continue;
    }
    const h = hostFds[next++];
    if (h === undefined) {
      fdTable.installAt(i, nul(i), false);
      continue;
    }
    fdTable.installAt(i, new HostFile(h, tty.isatty(h) ? O_RDWR : modes[i], owned), false);
  }
}

/** Guest fds 0..2 all on one host terminal fd (a pty slave). */
export function installTerminal(fdTable: FdTable, fd: number, owned: boolean): void {
  const f = new HostFile(fd, O_RDWR, owned);
  fdTable.installAt(0, f, false);
  fdTable.installAt(1, f.incRef(), false);
  fdTable.installAt(2, f.incRef(), false);
}

/**
 * Runs fn (which forks the Gofer) with fd 2 on logFd (the --debug log), else the host's
 * /dev/null: the Gofer keeps the stderr it is forked with for its diagnostics, and the
 * container's stderr is no place for them (they would be in its log, and the engine,
 * which waits for the stream's end before it deletes the container, would wait for the
 * Gofer's exit too).
 */
export function besideStderr<T>(logFd: number, fn: () => T): T {
  const n = ociNative();
  const saved = n.ociDup(2, 3);
  const alt = logFd >= 0 ? logFd : fs.openSync('/dev/null', 'w');
  if (saved < 0 || n.ociDup2(alt, 2) < 0) {
    if (alt !== logFd) fs.closeSync(alt);
    if (saved >= 0) closeFd(saved);
    return fn();
  }
  try {
    return fn();
  } finally {
    n.ociDup2(saved, 2);
    closeFd(saved);
    if (alt !== logFd) fs.closeSync(alt);
  }
}

/**
 * pid 1 has exited: the container's stdio (0..2 and `more`: the preserved fds, the pty's
 * slave) closed at once, so engines see its streams end now rather than after the
 * Sentry's, the Gofer's and the stubs' exits (Docker waits for that end before it
 * deletes the container).
 */
export function closeStdio(more: number[]): void {
  for (const fd of [0, 1, 2, ...more]) if (fd >= 0) closeFd(fd);
}
