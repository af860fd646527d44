/**
 * `tssandbox checkpoint [--image-path DIR] [--leave-running] ID`, as runc spells it (what
 * `docker checkpoint create` and `podman container checkpoint` call): the container's
 * whole sandbox saved into DIR/checkpoint.img (src/snapshot), then ended (the container
 * is stopped) or, with --leave-running, let go on.
 *
 * The CLI, not confined, makes DIR and opens the image file; the fd goes to the
 * container's Sentry over its control socket (SCM_RIGHTS) in a `{"op":"checkpoint"}`
 * line: the confined Sentry opens no path. The Sentry stops the world as `run
 * --checkpoint-on` does (src/snapshot/checkpoint.ts `checkpointNow`), writes the image and
 * answers. A state the image cannot hold yet is refused by name and the container goes on.
 *
 * The image names the bundle's rootfs, its file and directory binds and its tmpfs mounts
 * as a plain run's flags: `tssandbox restore --image-path DIR` (no container id) resumes
 * it as a plain sandbox, stdio to the restoring command. An OCI `restore ID`
 * starts a container from it (restore.ts).
 */
import * as fs from 'fs';
import * as path from 'path';
import { fail } from './errors';
import { StateDir, currentStatus, sentryAlive } from './state';
import { call, closeFd, type ServerConn } from './control';
import { parseFlags, oneId, existing, type Globals, type OptSpec } from './flags';
import { isBind, bundlePath } from './bundle';
import type { Spec } from './spec-types';
import type { Sentry } from '../kernel/sentry';
import { checkpointNow, openImageForWrite } from '../snapshot/index';
import type { Freezer } from './freezer';

/** runc's checkpoint flags: those that change nothing here are taken and ignored. */
const FLAGS: OptSpec = {
  'image-path': { type: 'string' },
  'work-path': { type: 'string' },
  'parent-path': { type: 'string' },
  'leave-running': { type: 'boolean' },
  'tcp-established': { type: 'boolean' },
  'ext-unix-sk': { type: 'boolean' },
  'shell-job': { type: 'boolean' },
  'file-locks': { type: 'boolean' },
  'pre-dump': { type: 'boolean' },
  'lazy-pages': { type: 'boolean' },
  'auto-dedup': { type: 'boolean' },
  'status-fd': { type: 'string' },
  'page-server': { type: 'string' },
  'manage-cgroups-mode': { type: 'string' },
  'empty-ns': { type: 'string' },
};

/** How long `checkpoint` waits for a Sentry that saved and ends to be gone (so `state` says stopped). */
const EXIT_WAIT_MS = 10_000;

export function cmdCheckpoint(g: Globals, args: string[]): number {
  const { values: o, rest } = parseFlags(args, FLAGS);
  const id = oneId(rest, 'checkpoint');
  if (o['pre-dump']) fail('checkpoint --pre-dump is not supported (the image is written in one go, with the world stopped)');
  if (o['lazy-pages'] || o['page-server']) fail('checkpoint --lazy-pages/--page-server are not supported (the image holds every page itself)');
  const st = existing(g, id);
  st.lock();
  const s = st.read();
  const status = currentStatus(s);
  // Paused: saved as it is held (freezer.ts), as runc checkpoints a frozen container.
  if (status !== 'running' && status !== 'paused') fail(`cannot checkpoint a container that is ${status}`);
  // runc's default: ./checkpoint.
  const dir = path.resolve(typeof o['image-path'] === 'string' && o['image-path'] ? o['image-path'] : 'checkpoint');
  let fd: number;
  try {
    fd = openImageForWrite(dir);
  } catch (e) {
    fail(`--image-path ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const leave = !!o['leave-running'];
  try {
    const r = call(st.sockPath, s.pid, { op: 'checkpoint', leaveRunning: leave }, [fd]);
    if (!r.ok) fail(`checkpoint: ${r.error ?? 'refused'}`);
  } finally {
    closeFd(fd);
  }
  if (!leave) waitGone(st);
  return 0;
}

/** The saved container's Sentry ends after its answer: bounded wait, so a `state` after us says stopped. */
function waitGone(st: StateDir): void {
  const s = st.read();
  const tick = new Int32Array(new SharedArrayBuffer(4));
  for (let waited = 0; waited < EXIT_WAIT_MS && sentryAlive(s); waited += 10) Atomics.wait(tick, 0, 0, 10);
}

/** What the container's Sentry knows of its sandbox's shape, for the image (the restorer's `run` flags). */
export interface CheckpointShape {
  id: string;
  bundle: string;
  rootfs: string;
  config: Spec;
  tmpfsLimit: number;
  pidsLimit: number;
  hostname: string | null;
  /** The host pty slave the container's stdio is on (process.terminal), or -1. */
  consoleHostFd: number;
}

/**
 * The image's `run` flags for a container: its rootfs as --root, its directory and file
 * binds as --mount, its tmpfs mounts as --tmpfs (their contents are saved as --tmpfs's
 * are); the id and bundle for an OCI restore.
 */
export function checkpointRunFlags(c: CheckpointShape): Record<string, unknown> {
  const mounts: Array<{ src: string; dst: string; readonly: boolean }> = [];
  const tmpfs: string[] = [];
  for (const m of c.config.mounts ?? []) {
    const dst = path.posix.normalize(m.destination);
    if (isBind(m)) {
      const src = bundlePath(c.bundle, m.source!, 'mounts.source');
      let st: fs.Stats;
      try {
        st = fs.statSync(src);
      } catch {
        continue;
      }
      if (st.isDirectory() || st.isFile()) mounts.push({ src, dst, readonly: (m.options ?? []).includes('ro') });
    } else if (m.type === 'tmpfs' && dst !== '/dev') {
      tmpfs.push(dst);
    }
  }
  return {
    root: c.rootfs, mounts, tmpfs, pin: true, memoryLimit: Infinity, tmpfsLimit: c.tmpfsLimit, pidsLimit: c.pidsLimit,
    hostname: c.hostname, oci: { id: c.id, bundle: c.bundle },
    // The console is saved as host stdio (src/snapshot/capture.ts): a restore gives it a new one.
    ...(c.consoleHostFd >= 0 ? { consoleHostFd: c.consoleHostFd } : {}),
  };
}

/**
 * The Sentry's side of `{"op":"checkpoint"}` (src/oci/sandbox.ts): the image's fd came
 * with the line. True: the connection stays open, the answer comes once the world has
 * stopped and the image is written (then the sandbox ends, or goes on with leaveRunning).
 */
export function serveCheckpoint(s: Sentry, c: ServerConn, msg: Record<string, unknown>, fds: number[], run: Record<string, unknown>, freezer: Freezer): boolean {
  if (fds.length !== 1) {
    for (const f of fds) closeFd(f);
    c.send({ ok: false, error: 'the request carried no image file' });
    return false;
  }
  const fd = fds[0];
  const leaveRunning = msg.leaveRunning === true;
  const paused = freezer.paused;
  const started = checkpointNow(s, fd, {
    run,
    leaveRunning,
    done: (err) => {
      // Called before the hold is released: a paused container that goes on stays paused.
      if (paused && (err !== null || leaveRunning)) freezer.refreeze();
      closeFd(fd);
      c.send(err === null ? { ok: true } : { ok: false, error: `${err}; the container goes on` });
      c.close();
    },
  });
  if (!started) {
    closeFd(fd);
    c.send({ ok: false, error: 'a checkpoint is already under way' });
    return false;
  }
  if (paused) freezer.thawIntoCheckpoint();
  return true;
}
