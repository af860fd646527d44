/**
 * The restoring Sentry's own steps (sandbox.ts `ContainerSentry.restoreMain` runs them):
 * the image read and checked, its processes put into the sandbox the bundle built (the
 * same host side and tree as create's: sandbox-build.ts), and let go once restore's
 * hooks have run. What only the image knows comes from it (the overlay's upper layer,
 * the tmpfs mounts' contents, the processes, the pids limit an `update` set); what the
 * bundle says is made again from the bundle, as runc's restore does from config.json:
 * the read-only root, masked and read-only paths, binds, the other mounts, the console.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tty from 'tty';
import { HostFile, consoleTty } from '../../fs/fsimpl/host/host-file';
import { FdTable } from '../../fs/vfs/fdtable';
import type { FileDescription } from '../../fs/vfs/file';
import { Credentials } from '../auth/credentials';
import type { Task } from '../kernel/task';
import { attach as attachTty } from '../kernel/tty';
import { rebaseClock } from '../kernel/time/clocks';
import { readImage, prepareRestore, finishRestore, restoreUpper, SnapshotError, type ImageMeta, type PreparedRestore } from '../snapshot/index';
import type { Tmpfs } from '../../fs/fsimpl/tmpfs/tmpfs';
import { fail } from './errors';
import { sentryNull } from './stdio';
import type { SandboxParts } from './sandbox-build';

const O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2;

/** restore.json, beside init.json in a restored container's state directory: the image to restore. */
export const RESTORE_FILE = 'restore.json';

export interface RestoreSource {
  meta: ImageMeta;
  payload: Buffer;
}

/** The image of dir read and checked: a container's sandbox state (one line otherwise). */
export function loadImage(dir: string): RestoreSource {
  let image;
  try {
    image = readImage(dir);
  } catch (e) {
    if (e instanceof SnapshotError) fail(`restore: ${e.message}`);
    throw e;
  }
  const meta = image.meta as ImageMeta;
  if (meta === null || typeof meta !== 'object' || meta.kind !== 'tssandbox-checkpoint' || typeof meta.run !== 'object' || meta.run === null) {
    fail(`restore: ${dir}: image corrupted (not a sandbox's state)`);
  }
  return { meta, payload: image.payload };
}

/** The state directory dir is a restore's: its image read (the clock set back to the image's first). */
export function restoreSourceOf(dir: string, log: (m: string) => void): RestoreSource | null {
  const file = path.join(dir, RESTORE_FILE);
  if (!fs.existsSync(file)) return null;
  const { image } = JSON.parse(fs.readFileSync(file, 'utf8')) as { image: string };
  const src = loadImage(image);
  // The restored sandbox's clock goes on where the checkpointed one stood (before it starts).
  if (typeof src.meta.clockNs === 'number' && !rebaseClock(src.meta.clockNs)) log('the clock could not be set back to the checkpoint\'s');
  return src;
}

/** The overlay's upper layer the bundle's rootfs is built under. */
export function upperOf(src: RestoreSource): Tmpfs {
  return restoreUpper(src.meta.upper ?? [], src.payload);
}

/** Who looks the tree's paths up at a restore (there is no pid 1 yet): the sandbox's root, as root. */
export function rootCaller(p: SandboxParts): Task {
  return { fsCtx: p.vfs.rootContext(), creds: new Credentials(0, 0), fdTable: new FdTable() } as unknown as Task;
}

/**
 * The image's processes put into the built sandbox, held (not one instruction runs until
 * resumeRestored): pid 1 becomes the container's (kill, exec's template), the console
 * the controlling terminal of pid 1's session again.
 */
export function putRestored(p: SandboxParts, src: RestoreSource): PreparedRestore {
  const { meta, payload } = src;
  // An engine restores over a new copy of the image's tree (containerd makes a new snapshot
  // of the image, at the same bundle path): its files have other inodes, so only their
  // size and mtime are compared (CRIU compares sizes).
  const prepared = prepareRestore(p.s, meta, payload, undefined, false);
  const init = p.s.init!;
  p.init = [...init.tasks].find((t) => t.tid === init.pid) ?? [...init.tasks][0];
  // An `update`'s pids limit is the image's (the bundle's is what it started with).
  const run = meta.run as { pidsLimit?: unknown };
  if (typeof run.pidsLimit === 'number' && run.pidsLimit > 0) p.kernel.pidsLimit = run.pidsLimit;
  if (p.ttyFd >= 0) {
    const fg = meta.foregroundPgid;
    attachTty(consoleTty, init);
    if (fg > 0) {
      consoleTty.fgPgid = fg;
      p.kernel.foregroundPgid = fg;
    }
  }
  return prepared;
}

/**
 * The container's stdio put where the image had host stdio, then every thread let go. A
 * console (process.terminal with --console-socket) is the new pty's slave in every such
 * slot; else each is the restorer's fd of that number, or the sandbox's /dev/null where
 * that was the host's (stdio.ts).
 */
export function resumeRestored(p: SandboxParts, prepared: PreparedRestore): void {
  let console: HostFile | null = null;
  const caller = rootCaller(p);
  finishRestore(prepared, {
    stdio: (fd, flags): FileDescription => {
      if (p.ptySlave >= 0) {
        if (console) return console.incRef() as HostFile;
        return (console = new HostFile(p.ptySlave, O_RDWR, true));
      }
      if (p.cfg.nullFds.includes(fd)) return sentryNull(p.vfs, caller, fd);
      return new HostFile(fd, (tty.isatty(fd) ? O_RDWR : fd === 0 ? O_RDONLY : O_WRONLY) | (flags & ~3));
    },
  });
}
