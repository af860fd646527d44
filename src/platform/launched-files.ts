/**
 * Host files the native front opened for this run (native/launch_flags.h): `--report`,
 * `--summary=FILE`, `--record`, `--pcap` and `--replay` name files the Sentry writes or
 * reads once at set-up, but in its own user namespace (unprivileged outside, also when run as root)
 * it may not reach the invoking user's files, so the front opens them before it and
 * bin/tssandbox hands them on (`--tss-file=FD:NAME`), by the name on the command line.
 * Likewise the memory cgroup it makes for `--memory` (`--tss-cgroup=DIR`), and the
 * interfaces of a `--netns`/`--tap` it took over (`--tss-net`, `--tss-netinfo`).
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
 * The sandbox's cgroup the front made, limited and joined for `--memory`/`--pids-limit`/
 * `--policy` (native/launch_cgroup.h): its memory directory, or undefined.
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

const LISTENERS = Symbol.for('tssandbox.launchedListeners');

/**
 * The host socket the front bound and listens on for `--publish PORT` (a port below
 * ip_unprivileged_port_start, which the unprivileged Sentry may not bind; taken once),
 * or undefined: then the caller binds it.
 */
export function launchedListener(port: number, proto: 'tcp' | 'udp'): number | undefined {
  const m = (globalThis as Record<symbol, unknown>)[LISTENERS] as Map<string, number> | undefined;
  const fd = m?.get(`${port}/${proto}`);
  if (fd !== undefined) m!.delete(`${port}/${proto}`);
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

/** A --netns/--tap the front took over (native/launch_netns.h), for src/net/setup.ts. */
export interface LaunchedNet {
  /** Each Ethernet interface it opened (AF_PACKET, or the TAP), by name. */
  ifs: Map<string, { fd: number; tap: boolean }>;
  /** `ip -d -j addr show`, `ip -j -4 route show table main`, `-6` of the namespace, before its addresses went. */
  addr: string;
  route4: string;
  route6: string;
}

const NET = Symbol.for('tssandbox.launchedNet');

/** What the front took over of the namespace (taken once: read, its record fds closed), or undefined. */
export function launchedNet(): LaunchedNet | undefined {
  const g = globalThis as Record<symbol, unknown>;
  const n = g[NET] as { ifs: Map<string, { fd: number; tap: boolean }>; info: number[] } | undefined;
  if (n === undefined) return undefined;
  delete g[NET];
  const text = (fd: number): string => {
    try {
      return nfs.readFileSync(fd, 'utf8');
    } finally {
      nfs.closeSync(fd);
    }
  };
  const [addr, route4, route6] = n.info.map(text);
  return { ifs: n.ifs, addr, route4, route6 };
}

/** Closes what set-up did not take (at confinement: the Sentry keeps no host fd it has no use for). */
export function dropLaunchedFiles(): void {
  // The platform probe cache (src/cli/platforms.ts), if the run never needed it.
  const cache = (globalThis as Record<symbol, unknown>)[Symbol.for('tssandbox.launchedPlatformCache')];
  delete (globalThis as Record<symbol, unknown>)[Symbol.for('tssandbox.launchedPlatformCache')];
  if (typeof cache === 'number') {
    try {
      nfs.closeSync(cache);
    } catch {
      // already gone
    }
  }
  const n = (globalThis as Record<symbol, unknown>)[NET] as { ifs: Map<string, { fd: number }>; info: number[] } | undefined;
  if (n !== undefined) {
    delete (globalThis as Record<symbol, unknown>)[NET];
    for (const fd of [...[...n.ifs.values()].map((i) => i.fd), ...n.info]) {
      try {
        nfs.closeSync(fd);
      } catch {
        // already gone
      }
    }
  }
  const l = (globalThis as Record<symbol, unknown>)[LISTENERS] as Map<string, number> | undefined;
  const m = table();
  if (!m) return;
  for (const fd of [...m.values(), ...(l?.values() ?? [])]) {
    try {
      nfs.closeSync(fd);
    } catch {
      // already gone
    }
  }
  m.clear();
  l?.clear();
}
