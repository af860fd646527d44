/**
 * Host files the native front opened for this run (native/launch_flags.h): `--report`,
 * `--summary=FILE`, `--record`, `--pcap` and `--replay` name files the Sentry writes or
 * reads once at set-up, but in its own user namespace (unprivileged outside, also when run as root)
 * it may not reach the invoking user's files, so the front opens them before it and
 * bin/tssandbox hands them on (`--tss-file=FD:NAME`), by the name on the command line.
 * Likewise the memory cgroup it makes for `--memory` (`--tss-cgroup=DIR`).
 */
import * as nfs from 'node:fs';

const FILES = Symbol.for('tssandbox.launchedFiles');

function table(): Map<string, number> | undefined {
  const m = (globalThis as Record<symbol, unknown>)[FILES];
  return m instanceof Map ? (m as Map<string, number>) : undefined;
}

/**
 * Whether the native front started this process in the Sentry's own user namespace
 * (unprivileged outside, also as root): host paths the invoking user reaches may then be closed to
 * the Sentry itself, and only the gofer outside can say whether they exist.
 */
export function launchedInOwnUserNs(): boolean {
  return table() !== undefined;
}

/**
 * The stubs' memory cgroup the front made for `--memory` (native/launch_cgroup.h): its
 * directory, whose member list and limits are the Sentry's host uid's; or undefined.
 */
export function launchedCgroup(): string | undefined {
  const d = (globalThis as Record<symbol, unknown>)[Symbol.for('tssandbox.launchedCgroup')];
  return typeof d === 'string' && d !== '' ? d : undefined;
}

/** The fd the front opened for `name` (used once), or undefined: then the caller opens it. */
export function launchedFile(name: string): number | undefined {
  const m = table();
  const fd = m?.get(name);
  if (fd !== undefined) m!.delete(name);
  return fd;
}

/** The text of the file the front opened for `name` (read, then closed), or undefined. */
export function launchedText(name: string, encoding: BufferEncoding): string | undefined {
  const fd = launchedFile(name);
  if (fd === undefined) return undefined;
  try {
    return nfs.readFileSync(fd, encoding);
  } finally {
    nfs.closeSync(fd);
  }
}

/** Closes what set-up did not take (at confinement: the Sentry keeps no host fd it has no use for). */
export function dropLaunchedFiles(): void {
  const m = table();
  if (!m) return;
  for (const fd of m.values()) {
    try {
      nfs.closeSync(fd);
    } catch {
      // already gone
    }
  }
  m.clear();
}
