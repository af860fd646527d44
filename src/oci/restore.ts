/**
 * `tssandbox restore [--image-path DIR] [--bundle B] [--detach] [--pid-file F]
 * [--console-socket S] ID`, as runc spells it: a container started from an image
 * `checkpoint` wrote (src/snapshot), under a new id, so that an engine
 * states/kills/execs/deletes it as any container.
 *
 * The CLI checks the image, makes the state directory with init.json (the bundle's, as
 * create's) and restore.json (the image), and starts the Sentry in the container's
 * network namespace. The Sentry (sandbox.ts `restoreMain`, restore-sentry.ts) builds the
 * sandbox from the bundle as create's does (read-only root, binds, mounts, masked and
 * read-only paths, the console sent to --console-socket) over the image's upper layer,
 * puts the image's processes in it held, and says ok. Then, as runc's restore, the
 * prestart and createRuntime hooks run (with the Sentry's pid), and only then do the
 * processes go on (`created`, as create's): the container is `running`. Without
 * --detach the CLI waits for it and deletes it after (poststop hooks).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { ChildProcess } from 'child_process';
import { fail } from './errors';
import { StateDir, OCI_VERSION, publicState } from './state';
import { parseFlags, oneId, logLine, type Globals, type OptSpec } from './flags';
import { loadBundle } from './bundle';
import { netnsLauncher, spawnSentry, writeFast, writePidFile } from './create';
import { containerPlatform } from './platform';
import { nullStdio } from './stdio';
import { call } from './control';
import { runHooks } from './hooks';
import { removeSandboxCgroup } from './resources';
import { loadImage, RESTORE_FILE } from './restore-sentry';
import type { ProcessSpec } from './spec-types';
import type { SentryInit } from './sandbox-types';

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

export async function cmdRestore(g: Globals, args: string[]): Promise<number> {
  const { values: o, rest } = parseFlags(args, FLAGS);
  const id = oneId(rest, 'restore');
  if (rest.length > 1) fail(`unexpected argument '${rest[1]}'`, 2);
  if (o['lazy-pages']) fail('restore --lazy-pages is not supported (the image holds every page itself)');
  const image = path.resolve(typeof o['image-path'] === 'string' && o['image-path'] ? o['image-path'] : 'checkpoint');
  // Checked here, so a bad image is one line of ours and no state directory is made.
  const { meta } = loadImage(image);
  const saved = (meta.run as { oci?: { bundle?: unknown } }).oci;
  const bundle = loadBundle(typeof o.bundle === 'string' ? o.bundle : typeof saved?.bundle === 'string' ? saved.bundle : undefined);
  const proc = bundle.config.process as ProcessSpec;
  const foreground = !o.detach;
  const consoleSocket = typeof o['console-socket'] === 'string' && o['console-socket'] ? path.resolve(o['console-socket']) : null;
  // As create: a terminal needs somewhere to go.
  if (proc.terminal && !consoleSocket && !foreground) fail('cannot allocate a tty for a detached container without --console-socket');
  if (!proc.terminal && consoleSocket) fail('--console-socket given but process.terminal is false');
  const platform = containerPlatform(g.platform, bundle.config);
  const st = new StateDir(g.root, id);
  st.create();
  let child: ChildProcess | null = null;
  try {
    st.lock();
    // `creating` until the restoring Sentry records its pid.
    st.write({
      ociVersion: OCI_VERSION, id, pid: 0, pidStart: '', status: 'creating', bundle: bundle.dir, rootfs: bundle.rootfs,
      created: new Date().toISOString(), owner: '', annotations: bundle.config.annotations ?? undefined,
    });
    const init: SentryInit = {
      id, root: g.root, bundle: bundle.dir, rootfs: bundle.rootfs, config: bundle.config, consoleSocket, preserveFds: 0, syncFd: 3,
      logPath: g.log, debug: g.debug, network: 'none', platform, nullFds: nullStdio(!!(proc.terminal && consoleSocket)),
    };
    fs.writeFileSync(path.join(st.dir, 'init.json'), JSON.stringify(init));
    fs.writeFileSync(path.join(st.dir, RESTORE_FILE), JSON.stringify({ image }));
    writeFast(st, bundle.config);
    const r = await spawnSentry(st, netnsLauncher(bundle.config), 0, !foreground, init.nullFds);
    child = r.child;
    if (r.error) fail(r.error);
    // runc's restore runs these once the namespaces are made, before the processes are.
    for (const kind of ['prestart', 'createRuntime'] as const) {
      const err = runHooks(kind, bundle.config.hooks?.[kind], publicState(st.read()));
      if (err) fail(err);
    }
    const go = call(st.sockPath, child.pid!, { op: 'created' });
    if (!go.ok) fail(go.error ?? 'the sandbox failed while being restored');
    const s = st.read();
    s.status = 'running';
    st.write(s);
    if (typeof o['pid-file'] === 'string') writePidFile(o['pid-file'], child.pid!);
  } catch (e) {
    // Nothing is left behind: the Sentry is gone (reaped), its host cgroup removed, before the command returns.
    const c = child;
    if (c?.pid && c.exitCode === null && c.signalCode === null) {
      const gone = new Promise((res) => c.once('exit', res));
      c.kill('SIGKILL');
      await gone;
    }
    let cg;
    try {
      cg = st.read().cgroup;
    } catch {
      // no state written
    }
    if (cg) removeSandboxCgroup(cg);
    st.remove();
    throw e;
  }
  st.unlock();
  const c = child;
  if (!foreground) {
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
  const s = st.read();
  if (s.cgroup) removeSandboxCgroup(s.cgroup);
  const err = runHooks('poststop', bundle.config.hooks?.poststop, { ...publicState(s), status: 'stopped', pid: 0 });
  if (err) logLine('warning', err);
  st.remove();
  return status;
}
