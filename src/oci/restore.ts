/**
 * `tssandbox restore [--image-path DIR] [--bundle B] [--detach] [--pid-file F] ID`, as
 * runc spells it: a container started from an image `checkpoint` wrote (src/snapshot),
 * under a new id, so that an engine state/kills/deletes it as any container.
 *
 * The CLI makes the state directory and starts the restoring Sentry (`__oci-sentry DIR`
 * with restore.json beside init.json: src/oci/cli.ts sends it here), which builds the
 * sandbox the image names (its rootfs, binds and tmpfs mounts, the overlay's upper layer),
 * resumes every process where it stood with the container's stdio as the restorer's, and
 * says "ok" on the sync pipe; its pid is the container's. It then serves the control
 * socket as a container's Sentry does (state, kill, ps, checkpoint again) and exits with
 * pid 1's status. Without --detach the CLI waits for it and deletes the container after.
 *
 * Not made again from the bundle (as a plain `restore --image-path` does not): a read-only
 * root, masked and read-only paths, mounts that are not binds or tmpfs (the sandbox has
 * its own /proc, /dev, /sys), a console. pause/resume work (freezer.ts); exec and update
 * are refused by name.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tty from 'tty';
import { spawn } from 'child_process';
import { createVfs } from '../../fs/rootfs/create';
import { HostFile } from '../../fs/fsimpl/host/host-file';
import { FdTable } from '../../fs/vfs/fdtable';
import { Credentials } from '../auth/credentials';
import type { Task } from '../kernel/task';
import { tmpfsBudget } from '../../fs/vfs/space-budget';
import { Kernel } from '../kernel/kernel';
import { Sentry } from '../kernel/sentry';
import { SYSCALL_TABLE } from '../../syscalls/table';
import { installTimers } from '../kernel/time/index';
import { rebaseClock } from '../kernel/time/clocks';
import { sendToGroup, setHostWinchHook } from '../kernel/signal-delivery';
import { WaitQueue } from '../waiter/waitqueue';
import { hostPoller } from '../waiter/host-poller';
import { createPlatform, type PlatformName } from '../platform/select';
import { readImage, restoreSandbox, restoreUpper, SnapshotError, IMAGE_FILE, type ImageMeta } from '../snapshot/index';
import { fail } from './errors';
import { StateDir, OCI_VERSION, procStart } from './state';
import { parseFlags, oneId, type Globals, type OptSpec } from './flags';
import { loadBundle } from './bundle';
import { containerNetns } from './create';
import { containerPlatform } from './platform';
import { ociNative } from './native';
import { besideStderr, nullStdio, sentryNull } from './stdio';
import { startNetwork } from './network';
import { ServerConn, closeFd } from './control';
import { serveCheckpoint } from './checkpoint';
import type { SentryConfine } from './sandbox-types';
import { Freezer } from './freezer';

const O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2;

/** runc's restore flags; those that change nothing here are taken and ignored. */
const FLAGS: OptSpec = {
  'image-path': { type: 'string' },
  'work-path': { type: 'string' },
  bundle: { type: 'string', short: 'b' },
  detach: { type: 'boolean', short: 'd' },
  'pid-file': { type: 'string' },
  'console-socket': { type: 'string' },
  'tcp-established': { type: 'boolean' },
  'ext-unix-sk': { type: 'boolean' },
  'shell-job': { type: 'boolean' },
  'file-locks': { type: 'boolean' },
  'manage-cgroups-mode': { type: 'string' },
  'no-subreaper': { type: 'boolean' },
  'no-pivot': { type: 'boolean' },
  'empty-ns': { type: 'string' },
  'auto-dedup': { type: 'boolean' },
  'lazy-pages': { type: 'boolean' },
  'lsm-profile': { type: 'string' },
  'lsm-mount-context': { type: 'string' },
};

/** What the restoring Sentry reads beside init.json (restore.json). */
interface RestoreInit {
  id: string;
  root: string;
  image: string;
  syncFd: number;
  platform: PlatformName;
  logPath: string | null;
  debug: boolean;
  /** Which of fds 0..2 were the host's /dev/null (pipes in their place: stdio.ts). */
  nullFds: number[];
}

export const RESTORE_FILE = 'restore.json';

/** The image's sandbox shape (its `run` flags), checked as a command line's would be. */
interface Shape {
  root: string;
  mounts: Array<{ src: string; dst: string; readonly: boolean }>;
  tmpfs: string[];
  tmpfsLimit: number;
  pidsLimit: number;
  hostname: string | null;
}

function shapeOf(meta: ImageMeta): Shape | null {
  const r = meta.run as Record<string, unknown>;
  const abs = (p: unknown): p is string => typeof p === 'string' && p.startsWith('/');
  const mounts = r.mounts as Array<{ src: unknown; dst: unknown; readonly: unknown }>;
  if (!abs(r.root) || !Array.isArray(mounts) || !mounts.every((m) => abs(m?.src) && abs(m?.dst) && typeof m?.readonly === 'boolean')) return null;
  if (!Array.isArray(r.tmpfs) || !r.tmpfs.every(abs)) return null;
  if (typeof r.tmpfsLimit !== 'number' || typeof r.pidsLimit !== 'number' || (r.hostname !== null && typeof r.hostname !== 'string')) return null;
  return {
    root: r.root, mounts: mounts.map((m) => ({ src: m.src as string, dst: m.dst as string, readonly: m.readonly as boolean })),
    tmpfs: r.tmpfs as string[], tmpfsLimit: r.tmpfsLimit, pidsLimit: r.pidsLimit, hostname: r.hostname as string | null,
  };
}

/** The image of dir read and checked: a sandbox's state with a shape (one line otherwise). */
function loadImage(dir: string): { meta: ImageMeta; payload: Buffer; shape: Shape } {
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
  const shape = shapeOf(meta);
  if (shape === null) fail(`restore: ${dir}: image corrupted (its run flags)`);
  return { meta, payload: image.payload, shape };
}

export async function cmdRestore(g: Globals, args: string[]): Promise<number> {
  const { values: o, rest } = parseFlags(args, FLAGS);
  const id = oneId(rest, 'restore');
  if (rest.length > 1) fail(`unexpected argument '${rest[1]}'`, 2);
  if (o['console-socket']) fail('restore --console-socket is not supported (a restored container keeps the restorer\'s stdio)');
  if (o['lazy-pages']) fail('restore --lazy-pages is not supported (the image holds every page itself)');
  const image = path.resolve(typeof o['image-path'] === 'string' && o['image-path'] ? o['image-path'] : 'checkpoint');
  // Checked here, so a bad image is one line of ours and no state directory is made.
  const { meta } = loadImage(image);
  const saved = (meta.run as { oci?: { bundle?: unknown } }).oci;
  const bundle = loadBundle(typeof o.bundle === 'string' ? o.bundle : typeof saved?.bundle === 'string' ? saved.bundle : undefined);
  const platform = containerPlatform(g.platform, bundle.config);
  const ns = containerNetns(bundle.config);
  const st = new StateDir(g.root, id);
  st.create();
  let child: ReturnType<typeof spawn> | null = null;
  try {
    st.lock();
    // `creating` until the restoring Sentry records its pid and `running`.
    const annotations = bundle.config.annotations ?? undefined;
    const created = new Date().toISOString();
    st.write({ ociVersion: OCI_VERSION, id, pid: 0, pidStart: '', status: 'creating', bundle: bundle.dir, rootfs: bundle.rootfs, created, owner: '', annotations });
    const nullFds = nullStdio(false);
    const init: RestoreInit = { id, root: g.root, image, syncFd: 3, platform, logPath: g.log, debug: g.debug, nullFds };
    fs.writeFileSync(path.join(st.dir, RESTORE_FILE), JSON.stringify(init));
    // In the container's network namespace, as create's Sentry (engines reach it by pid).
    const launcher = ns === 'host' ? [] : ns === 'new' ? ['unshare', '--net', '--'] : ['nsenter', `--net=${ns}`, '--'];
    const argv = [...launcher, process.execPath, process.argv[1], '__oci-sentry', st.dir];
    const stdio = [0, 1, 2].map((fd) => (nullFds.includes(fd) ? 'pipe' as const : 'inherit' as const));
    const c = spawn(argv[0], argv.slice(1), { detached: !!o.detach, stdio: [...stdio, 'pipe'] });
    child = c;
    for (const fd of nullFds) (c.stdio[fd] as (NodeJS.ReadableStream & { destroy(): void }) | null)?.destroy();
    const err = await new Promise<string | null>((resolve) => {
      let buf = '';
      const sync = c.stdio[3]!;
      sync.on('data', (d: Buffer) => {
        buf += d.toString();
        const nl = buf.indexOf('\n');
        if (nl >= 0) resolve(buf.slice(0, nl) === 'ok' ? null : buf.slice(0, nl).replace(/^error: /, ''));
      });
      sync.on('error', () => undefined);
      c.on('exit', (code, sig) => resolve(`the sandbox exited while being restored (${sig ?? `status ${code}`})`));
      c.on('error', (e) => resolve(`cannot start the sandbox: ${e.message}`));
    });
    (c.stdio[3] as NodeJS.ReadableStream & { destroy(): void }).destroy();
    if (err) fail(err);
    if (typeof o['pid-file'] === 'string') {
      const abs = path.resolve(o['pid-file']);
      fs.writeFileSync(`${abs}.${process.pid}.tmp`, String(c.pid));
      fs.renameSync(`${abs}.${process.pid}.tmp`, abs);
    }
  } catch (e) {
    // Nothing is left behind: the Sentry is gone (reaped) before the command returns.
    const c = child;
    if (c?.pid && c.exitCode === null && c.signalCode === null) {
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await gone;
    }
    st.remove();
    throw e;
  }
  st.unlock();
  const c = child;
  if (o.detach) {
    c.unref();
    return 0;
  }
  // In the foreground, as runc's: signals passed on, the container deleted once it ends.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const) process.on(sig, () => c.kill(sig));
  const status = await new Promise<number>((resolve) => {
    if (c.exitCode !== null) resolve(c.exitCode);
    else c.on('exit', (code, sig) => resolve(code ?? 128 + (sig ? (require('os').constants.signals[sig] as number) : 0)));
  });
  st.lock();
  st.remove();
  return status;
}

/** Whether the state directory dir is a restore's (`__oci-sentry DIR` then runs restoreSentryMain). */
export function isRestoreDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, RESTORE_FILE));
}

/** The restoring Sentry (`__oci-sentry DIR` with restore.json): builds, resumes, serves, exits with pid 1's status. */
export function restoreSentryMain(dir: string, confine: SentryConfine | null): never {
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, RESTORE_FILE), 'utf8')) as RestoreInit;
  const st = new StateDir(cfg.root, cfg.id);
  let logFd = -1;
  if (cfg.debug && cfg.logPath) {
    try {
      logFd = fs.openSync(cfg.logPath, 'a');
    } catch {
      // the log is best effort
    }
  }
  const log = (m: string) => {
    if (logFd >= 0) try { fs.writeSync(logFd, JSON.stringify({ level: 'debug', msg: m, time: new Date().toISOString() }) + '\n'); } catch { /* best effort */ }
  };
  const report = (line: string) => {
    try {
      fs.writeSync(cfg.syncFd, line + '\n');
      fs.closeSync(cfg.syncFd);
    } catch {
      // restore's CLI is gone: nothing to tell
    }
  };
  const setupFail = (m: string): never => {
    report(`error: ${m}`);
    process.exit(1);
  };
  let s: Sentry;
  let stubPid: number;
  let gofer: boolean;
  try {
    const { meta, payload, shape } = loadImage(cfg.image);
    restoredRun = meta.run as Record<string, unknown>;
    log(`image ${path.join(cfg.image, IMAGE_FILE)} read at ${performance.now().toFixed(1)} ms`);
    // The restored sandbox's clock goes on where the checkpointed one stood (before it starts).
    if (typeof meta.clockNs === 'number' && !rebaseClock(meta.clockNs)) log('the clock could not be set back to the checkpoint\'s');
    const made = createPlatform(cfg.platform, { pin: true });
    if (typeof made === 'string') return setupFail(made);
    const kernel = new Kernel();
    kernel.cpus = made.pinned ? 1 : kernel.cpus;
    tmpfsBudget.limit = shape.tmpfsLimit;
    const upper = restoreUpper(meta.upper ?? [], payload);
    const ttyFd = [0, 1, 2].find((fd) => tty.isatty(fd)) ?? -1;
    const vfs = besideStderr(logFd, () => createVfs({ root: shape.root, mounts: shape.mounts, tmpfs: shape.tmpfs, ttyFd, kernel, upper }));
    gofer = vfs.gofer !== null;
    if (shape.hostname !== null) kernel.hostname = shape.hostname;
    kernel.pidsLimit = shape.pidsLimit;
    if (cfg.debug) kernel.debug = log;
    s = new Sentry(kernel, made.platform, SYSCALL_TABLE);
    installTimers(s);
    const netErr = startNetwork(kernel, 'none', log);
    if (netErr) return setupFail(netErr);
    stubPid = made.platform.start();
    if (stubPid < 0) return setupFail(`cannot start the sandbox stub (errno ${-stubPid}): ptrace or namespaces unavailable?`);
    // The container's stdio (the restorer's) stands in for the checkpointed one's.
    // One that was the host's /dev/null is the sandbox's own (stdio.ts: never the host's).
    const root = { fsCtx: vfs.rootContext(), creds: new Credentials(0, 0), fdTable: new FdTable() } as unknown as Task;
    restoreSandbox(s, meta, payload, {
      stdio: (fd, flags) => (cfg.nullFds.includes(fd) ? sentryNull(vfs, root, fd)
        : new HostFile(fd, (tty.isatty(fd) ? O_RDWR : fd === 0 ? O_RDONLY : O_WRONLY) | (flags & ~3))),
    });
  } catch (e) {
    if (e instanceof SnapshotError) return setupFail(`restore: ${e.message}`);
    log(String((e as Error)?.stack));
    return setupFail((e as Error)?.message ?? String(e));
  }
  const state = st.read();
  state.pid = process.pid;
  state.pidStart = procStart(process.pid) ?? '';
  state.status = 'running';
  st.write(state);
  const listenFd = ociNative().ociListen(st.sockPath);
  if (listenFd < 0) setupFail(`cannot listen on ${st.sockPath} (errno ${-listenFd})`);
  confine?.({ gofer, stubPid }, log);
  ociNative().installSignalHandlers();
  log(`restored and confined at ${performance.now().toFixed(1)} ms`);
  report('ok');
  serveControl(s, listenFd, log);
  const status = s.run();
  log(`pid 1 exited, wait status ${status}`);
  const sig = status & 0x7f;
  process.exit(sig ? 128 + sig : (status >> 8) & 0xff);
}

/**
 * The control socket while the guest runs: a client rings the doorbell (SIGWINCH) after
 * connecting, as to a container's Sentry (src/oci/README.md); a connection that stays
 * open (a checkpoint under way) is polled while it lasts.
 */
function serveControl(s: Sentry, listenFd: number, log: (m: string) => void): void {
  const serve = (c: ServerConn) => {
    for (const { msg, fds } of c.read()) {
      let keep = false;
      try {
        keep = handle(s, c, msg, fds);
      } catch (e) {
        log(`request ${msg.op} failed: ${(e as Error)?.stack ?? e}`);
        for (const f of fds) closeFd(f);
        c.send({ ok: false, error: `internal error: ${(e as Error)?.message ?? e}` });
      }
      if (!keep) c.close();
    }
    if (!c.closed) {
      const q = new WaitQueue();
      q.add(0xffffffff, () => serve(c));
      hostPoller.watch(c.fd, 1, q);
    }
  };
  const acceptAll = () => {
    for (let fd = ociNative().ociAccept(listenFd); fd >= 0; fd = ociNative().ociAccept(listenFd)) serve(new ServerConn(fd));
  };
  setHostWinchHook(acceptAll);
  acceptAll();
}

function handle(s: Sentry, c: ServerConn, msg: Record<string, unknown>, fds: number[]): boolean {
  const k = s.kernel;
  switch (msg.op) {
    case 'state':
      c.send({ ok: true, status: 'running' });
      return false;
    case 'kill': {
      // As a container's Sentry: pid 1, or with --all every process; 0 only asks.
      const sig = Number(msg.signal);
      const valid = sig >= 0 && sig < 65;
      c.send(valid ? { ok: true } : { ok: false, error: `invalid signal ${msg.signal}` });
      const targets = !valid || sig === 0 ? [] : msg.all ? [...k.threadGroups.values()] : s.init ? [s.init] : [];
      for (const tg of targets) sendToGroup(s, tg, { signo: sig, code: 0, pid: 0, uid: 0, force: true });
      return false;
    }
    case 'ps': {
      const procs = [...k.threadGroups.values()].filter((tg) => !tg.zombie).map((tg) => ({
        pid: tg.pid, ppid: tg.parent?.pid ?? 0, uid: [...tg.tasks][0]?.creds.uid ?? 0, cmd: (tg.argv ?? []).join(' '),
      }));
      c.send({ ok: true, hostPids: [process.pid], procs });
      return false;
    }
    case 'checkpoint': // a restored container checkpointed again: the same shape
      return serveCheckpoint(s, c, msg, fds, runFlagsNow(s), freezerOf(s));
    case 'pause':
    case 'resume': {
      // As a created container's (freezer.ts).
      const f = freezerOf(s);
      const want = msg.op === 'pause';
      if (f.paused === want) c.send({ ok: false, error: want ? 'container already paused' : 'container not paused' });
      else {
        if (want) f.pause();
        else f.resume();
        c.send({ ok: true });
      }
      return false;
    }
    default:
      for (const f of fds) closeFd(f);
      c.send({ ok: false, error: `${String(msg.op)} is not supported for a restored container` });
      return false;
  }
}

let freezer: Freezer | null = null;
function freezerOf(s: Sentry): Freezer {
  return (freezer ??= new Freezer(s, s.kernel));
}

/** The restored image's run flags again (the sandbox has the shape it was restored with). */
let restoredRun: Record<string, unknown> = {};
function runFlagsNow(s: Sentry): Record<string, unknown> {
  return { ...restoredRun, pidsLimit: s.kernel.pidsLimit, hostname: s.kernel.hostname, tmpfsLimit: tmpfsBudget.limit };
}
