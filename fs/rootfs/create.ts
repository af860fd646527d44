/**
 * The sandbox's file tree: the host root read-only under a tmpfs overlay, the Sentry's
 * own /proc, /sys and /dev, bind mounts and tmpfs mounts, and the filesystem types
 * mount(2) may create inside. It sits above every filesystem it assembles, so the VFS
 * core (fs/vfs) knows none of them.
 */
import { mqueueFsFor } from '../fsimpl/mqueue/mqueue';
import * as nfs from 'node:fs';
import * as path from 'node:path';
import { errnoMessage } from '../../src/abi/errno';
import { spawnGofer } from '../../src/gofer/client';
import type { GoferClient } from '../../src/gofer/client';
import { Vfs } from '../vfs/vfs';
import type { Inode } from '../vfs/inode';
import { Kernel } from '../../src/kernel/kernel';
import { timerQueue, TimerEntry } from '../../src/kernel/time/timers';
import { HostFs } from '../fsimpl/hostfs/hostfs';
import { DirectBackend, type HostBackend } from '../fsimpl/hostfs/host-backend';
import { GoferBackend } from '../fsimpl/hostfs/gofer-backend';
import type { CacheMode } from '../fsimpl/hostfs/cache';
import { OverlayFs } from '../fsimpl/overlay/overlay';
import { Tmpfs } from '../fsimpl/tmpfs/tmpfs';
import { guestMemory } from '../../src/determinism/virtual-clock';
import { hostMemFree, hostMemTotal } from '../../src/kernel/host-stats';
import { createDevFs, createDevPts } from '../fsimpl/dev/devfs';
import { openDevice, setControllingTty } from '../fsimpl/dev/devices';
import { createProcFs, createProcFsForCaller } from '../fsimpl/proc/procfs';
import { createSysFs } from '../fsimpl/sys/sysfs';
import { cgroupFsFor } from '../fsimpl/sys/cgroupfs';

export interface VfsOptions {
  /** Host directory shown (read-only, under a tmpfs overlay) as the guest's "/". Default "/". */
  root?: string;
  /**
   * Bind mounts: host src at guest dst; readonly=false writes through to the host.
   * cache: shared (default: the host may change it too) or exclusive (fs/fsimpl/hostfs/cache.ts).
   */
  mounts?: Array<{ src: string; dst: string; readonly: boolean; cache?: CacheMode }>;
  /** Extra tmpfs mount points. */
  tmpfs?: string[];
  /** Host fd of the controlling terminal for /dev/tty, or -1. */
  ttyFd?: number;
  /** Skip /proc, /sys and /dev (unit tests of the bare overlay). */
  bare?: boolean;
  /** The sandbox /proc shows (default: a new one, whose vfs is the one made here). */
  kernel?: Kernel;
  /**
   * Reach host trees through a gofer process (default: whenever the native support is
   * built). false: the Sentry opens host files itself.
   */
  gofer?: boolean;
  /**
   * A running gofer that already serves exactly these roots (a reused pool worker's,
   * src/server): used instead of starting one.
   */
  goferClient?: GoferClient | null;
  /** The root overlay's upper layer to start from (a restored checkpoint's, src/snapshot); default empty. */
  upper?: Tmpfs;
}

// Character devices in any tmpfs (/dev, mknod in the overlay) open by rdev.
Tmpfs.deviceOpener = openDevice;

export function createVfs(opts: VfsOptions = {}): Vfs {
  const hostRoot = opts.root ?? '/';
  const binds = opts.mounts ?? [];
  // A bind of one file is served from its directory, and only that file is mounted.
  const fileBind = binds.map((m) => isHostFile(m.src));
  const served = binds.map((m, i) => (fileBind[i] ? path.dirname(m.src) : m.src));
  // Read-only roots are enforced by the gofer too (EROFS whatever the Sentry asks).
  const roots = [{ path: hostRoot, readonly: true }, ...binds.map((m, i) => ({ path: served[i], readonly: m.readonly }))];
  const gofer = opts.goferClient !== undefined ? opts.goferClient : opts.gofer !== false ? spawnGofer(roots) : null;
  const vfs = new Vfs(new OverlayFs(new HostFs(backendFor(gofer, hostRoot, 0), true).root(), opts.upper), gofer);
  const kernel = opts.kernel ?? new Kernel();
  kernel.vfs = vfs;
  if (gofer) boundWriteBehind(gofer, kernel);
  registerFsTypes(vfs, kernel);
  if (opts.ttyFd !== undefined) setControllingTty(opts.ttyFd);
  if (!opts.bare) {
    vfs.mountAt('/proc', createProcFs(vfs, kernel), 'nosuid,nodev,noexec');
    vfs.mountAt('/sys', createSysFs(kernel), 'nosuid,nodev,noexec');
    vfs.mountAt('/sys/fs/cgroup', cgroupFsFor(kernel), 'nosuid,nodev,noexec');
    vfs.mountAt('/dev', createDevFs(), 'nosuid,mode=755');
    vfs.mountAt('/dev/pts', createDevPts(), 'nosuid,noexec,mode=620,ptmxmode=666');
    vfs.mountAt('/dev/shm', new Tmpfs({ mode: 0o1777 }), 'nosuid,nodev');
    vfs.mountAt('/dev/mqueue', mqueueFsFor(kernel), 'nosuid,nodev,noexec');
    // /tmp is the root overlay's, like every other directory: the host's /tmp shows
    // through read-only and writes stay private (`--tmpfs /tmp` gives an empty one).
  }
  for (const [i, m] of binds.entries()) {
    const fs = new HostFs(backendFor(gofer, served[i], i + 1), m.readonly, '9p', m.cache ?? 'shared');
    let rootInode: Inode = fs.root();
    if (fileBind[i]) {
      // Host names are UTF-8 strings here; VFS names are latin1 (fs/README.md).
      const f = rootInode.lookup(Buffer.from(path.basename(m.src)).toString('latin1'));
      if (typeof f === 'number') throw new Error(`cannot mount ${m.src} at ${m.dst}: ${errnoMessage(-f)}`);
      rootInode = f;
    }
    const r = vfs.mountAt(Buffer.from(m.dst).toString('latin1'), fs, '', rootInode);
    if (r < 0) throw new Error(`cannot mount ${m.src} at ${m.dst}: ${errnoMessage(-r)}`);
  }
  for (const dst of opts.tmpfs ?? []) {
    const r = vfs.mountAt(Buffer.from(dst).toString('latin1'), new Tmpfs({ mode: 0o1777 }), '');
    if (r < 0) throw new Error(`cannot mount tmpfs at ${dst}: ${errnoMessage(-r)}`);
  }
  // What the sandbox mounted covers host directories (the host's /proc, /sys, /dev):
  // the guest may stack mounts on them but never uncover them (fs/vfs/namespace.ts).
  for (const m of vfs.mounts) if (m.mountpoint !== null) m.locked = true;
  return vfs;
}

/**
 * How long a write-behind setattr (fs/fsimpl/hostfs: the owner, mode or times of a file
 * the sandbox made) may wait for a round trip to carry it before the Sentry sends it
 * alone: the host sees it within this bound (the guest sees it at once).
 */
export const WRITE_BEHIND_MS = 20;

class FlushGofer extends TimerEntry {
  constructor(private readonly gofer: GoferClient) {
    super();
  }
  expire(): void {
    this.gofer.flush();
  }
}

function boundWriteBehind(gofer: GoferClient, kernel: Kernel): void {
  const t = new FlushGofer(gofer);
  gofer.onDeferred = () => timerQueue.schedule(t, kernel.nowNs() + WRITE_BEHIND_MS * 1e6);
}

/** A host path that exists and is not a directory (a bind of one file). */
function isHostFile(p: string): boolean {
  try {
    return !nfs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** How host trees are reached: the gofer when available (see fs/README.md), else directly. */
function backendFor(gofer: GoferClient | null, root: string, index: number): HostBackend {
  return gofer ? new GoferBackend(gofer, index, root) : new DirectBackend(root);
}

/** What `mount -t TYPE` may create inside the sandbox. */
function registerFsTypes(vfs: Vfs, kernel: Kernel): void {
  Tmpfs.ramBytes = () => guestMemory(hostMemTotal, hostMemFree).total;
  vfs.fsTypes.set('tmpfs', (source, data) => Tmpfs.fromMountData(source || 'tmpfs', data ?? null));
  vfs.fsTypes.set('proc', () => createProcFsForCaller(vfs, kernel));
  vfs.fsTypes.set('sysfs', () => createSysFs(kernel));
  vfs.fsTypes.set('devtmpfs', () => createDevFs());
  vfs.fsTypes.set('devpts', () => createDevPts());
  // Accepted as empty directories, like an unpopulated instance.
  // The sandbox's one IPC namespace: every mqueue mount shows the queues mq_open sees.
  vfs.fsTypes.set('mqueue', () => mqueueFsFor(kernel));
  vfs.fsTypes.set('cgroup2', () => cgroupFsFor(kernel));
  for (const type of ['cgroup', 'binfmt_misc', 'debugfs', 'tracefs', 'securityfs', 'pstore', 'bpf', 'hugetlbfs']) {
    vfs.fsTypes.set(type, (source) => new Tmpfs({ type, mode: 0o755, source: source || type }));
  }
}

