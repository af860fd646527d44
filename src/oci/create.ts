/**
 * `create` and `run`: the bundle validated, the state directory made and locked,
 * init.json written, the container's Sentry started in the container's network
 * namespace and waited for (its sync pipe says ok or why not), the create hooks, the pid
 * file. `beginCreate` is the half a pool member shares (pool.ts). On any failure nothing
 * is left: the Sentry is killed and reaped and the state directory removed.
 */
import * as fs from 'fs';
import { removeSandboxCgroup } from './resources';
import type { HostCgroup } from './native';
import * as path from 'path';
import { spawn, type ChildProcess } from 'child_process';
import { fail } from './errors';
import { StateDir, OCI_VERSION, publicState, type SavedState } from './state';
import { loadBundle } from './bundle';
import { runHooks } from './hooks';
import { nullStdio } from './stdio';
import { networkMode } from './network';
import { call } from './control';
import { containerPlatform } from './platform';
import { parseFlags, parseGlobals, setGlobals, logLine, oneId, type Globals, type OptSpec } from './flags';
import type { ProcessSpec, Spec } from './spec-types';
import type { SentryInit } from './sandbox';

const CREATE_FLAGS: OptSpec = {
  bundle: { type: 'string', short: 'b' },
  'pid-file': { type: 'string' },
  'console-socket': { type: 'string' },
  'no-pivot': { type: 'boolean' },
  'no-new-keyring': { type: 'boolean' },
  'preserve-fds': { type: 'string' },
  'no-subreaper': { type: 'boolean' },
};

function entryScript(): string {
  return process.argv[1];
}

/**
 * How the Sentry is put in the container's network namespace, as runc puts the
 * container's process: joined when config.json names one, a new one when it asks for
 * one, the host's when it asks for none. The Sentry's pid is the container's, and
 * engines configure "the container's network" through it (Docker's libnetwork sets
 * sysctls in /proc/<pid>/ns/net): in the host's namespace they would change the host.
 */
export function netnsLauncher(config: Spec): string[] {
  const ns = containerNetns(config);
  if (ns === 'host') return [];
  if (ns === 'new') return ['unshare', '--net', '--'];
  return ['nsenter', `--net=${ns}`, '--'];
}

/** The container's network namespace: the caller's ('host'), a new one, or the path to join. */
export function containerNetns(config: Spec): 'host' | 'new' | string {
  const ns = config.linux?.namespaces?.find((n) => n.type === 'network');
  if (ns === undefined) return 'host';
  if (ns.path === undefined || ns.path === '') return 'new';
  if (!fs.existsSync(ns.path)) fail(`network namespace ${ns.path}: No such file or directory`);
  return ns.path;
}

/** TSSANDBOX_OCI_CPU_PROF=DIR: the Sentry writes a V8 CPU profile there (start-up work; NODE_OPTIONS refuses --cpu-prof). */
function sentryProfileFlags(): string[] {
  const dir = process.env.TSSANDBOX_OCI_CPU_PROF;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

/** The Sentry process for a container: started, and ready (or failed) when the promise settles. */
export function spawnSentry(st: StateDir, launcher: string[], preserveFds: number, detached: boolean, nullFds: number[]): Promise<{ child: ChildProcess; error: string | null }> {
  // With a console the guest's stdio is the pty: the Sentry keeps none of ours (an engine
  // reading create's output to its end would wait forever on a copy held open). Neither
  // does it keep the host's /dev/null (stdio.ts): a pipe whose far end we close instead.
  const stdio: Array<'inherit' | 'pipe' | 'ignore' | number> = [0, 1, 2].map((fd) => (nullFds.includes(fd) ? 'pipe' : 'inherit'));
  for (let i = 0; i < preserveFds; i++) stdio.push(3 + i);
  stdio.push('pipe');
  // unshare and nsenter exec the Sentry: its pid stays the one we started.
  const argv = [...launcher, process.execPath, ...sentryProfileFlags(), entryScript(), '__oci-sentry', st.dir];
  const child = spawn(argv[0], argv.slice(1), { detached, stdio });
  const sync = child.stdio[3 + preserveFds]!;
  for (const fd of nullFds) (child.stdio[fd] as (NodeJS.ReadableStream & { destroy(): void }) | null)?.destroy();
  return new Promise((resolve) => {
    let buf = '';
    let done = false;
    const finish = (error: string | null) => {
      if (done) return;
      done = true;
      sync.removeAllListeners();
      (sync as NodeJS.ReadableStream & { destroy(): void }).destroy();
      resolve({ child, error });
    };
    sync.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      finish(line === 'ok' ? null : line.replace(/^error: /, ''));
    });
    sync.on('error', () => undefined);
    child.on('exit', (code, sig) => finish(`the sandbox exited while being created (${sig ?? `status ${code}`})`));
    child.on('error', (e) => finish(`cannot start the sandbox: ${e.message}`));
  });
}

export function writePidFile(file: string, pid: number): void {
  const abs = path.resolve(file);
  const tmp = `${abs}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, String(pid));
  fs.renameSync(tmp, abs);
}

/** For the native entry (native/oci_fast.c): which of its fast paths the bundle's hooks rule out. */
export function writeFast(st: StateDir, config: Spec): void {
  const h = config.hooks ?? {};
  const any = (k: 'startContainer' | 'poststart' | 'poststop') => (h[k]?.length ? 1 : 0);
  fs.writeFileSync(path.join(st.dir, 'fast'), `v1 ${any('startContainer') | any('poststart')} ${any('poststop')}\n`);
}

/** What create has made before the Sentry starts: the state directory (locked), init.json, the bundle. */
export interface Begun {
  o: Record<string, any>;
  bundle: ReturnType<typeof loadBundle>;
  st: StateDir;
  init: SentryInit;
  preserve: number;
  foreground: boolean;
}

/**
 * The first half of create, shared with the pool (pool.ts): flags, the bundle, the state
 * directory (made and locked; removed again if this fails), init.json.
 */
export function beginCreate(g: Globals, args: string[], isRun: boolean, nullFds?: number[]): Begun {
  const flags: OptSpec = isRun
    ? { ...CREATE_FLAGS, detach: { type: 'boolean', short: 'd' }, keep: { type: 'boolean' } }
    : CREATE_FLAGS;
  const { values: o, rest } = parseFlags(args, flags);
  const id = oneId(rest, isRun ? 'run' : 'create');
  if (rest.length > 1) fail(`unexpected argument '${rest[1]}'`, 2);
  const preserve = o['preserve-fds'] === undefined ? 0 : Number(o['preserve-fds']);
  if (!Number.isInteger(preserve) || preserve < 0) fail(`--preserve-fds wants a number, got '${o['preserve-fds']}'`, 2);
  const bundle = loadBundle(o.bundle);
  const proc = bundle.config.process as ProcessSpec;
  const foreground = isRun && !o.detach;
  const consoleSocket = o['console-socket'] ? path.resolve(o['console-socket']) : null;
  if (proc.terminal && !consoleSocket && !foreground) {
    fail('cannot allocate a tty for a detached container without --console-socket');
  }
  if (!proc.terminal && consoleSocket) fail('--console-socket given but process.terminal is false');
  const platform = containerPlatform(g.platform, bundle.config);
  const net = networkMode(g.network, bundle.config);
  if ('error' in net) fail(net.error);
  const st = new StateDir(g.root, id);
  st.create();
  try {
    st.lock();
    const state: SavedState = {
      ociVersion: OCI_VERSION, id, pid: 0, pidStart: '', status: 'creating', bundle: bundle.dir, rootfs: bundle.rootfs,
      created: new Date().toISOString(), owner: '', annotations: bundle.config.annotations ?? undefined,
    };
    st.write(state);
    const init: SentryInit = {
      id, root: g.root, bundle: bundle.dir, rootfs: bundle.rootfs, config: bundle.config, consoleSocket,
      preserveFds: preserve, syncFd: 3 + preserve, logPath: g.log, debug: g.debug, network: net.mode, platform,
      nullFds: nullFds ?? nullStdio(!!(proc.terminal && consoleSocket)),
    };
    fs.writeFileSync(path.join(st.dir, 'init.json'), JSON.stringify(init));
    writeFast(st, bundle.config);
    return { o, bundle, st, init, preserve, foreground };
  } catch (e) {
    st.remove();
    throw e;
  }
}

/** create as a pool member does it (pool.ts): the globals and create's flags of the client's command line. */
export function poolBegin(argv: string[], nullFds: number[]): Begun {
  const { g, rest } = parseGlobals(argv);
  setGlobals(g);
  if (rest[0] !== 'create') fail(`the pool serves create only, not '${rest[0]}'`);
  return beginCreate(g, rest.slice(1), false, nullFds);
}

export async function cmdCreate(g: Globals, args: string[], isRun: boolean): Promise<number> {
  const { o, bundle, st, init, preserve, foreground } = beginCreate(g, args, isRun);
  let child: ChildProcess | null = null;
  try {
    const r = await spawnSentry(st, netnsLauncher(bundle.config), preserve, !foreground, init.nullFds);
    child = r.child;
    if (r.error) fail(r.error);
    const pub = publicState(st.read());
    for (const kind of ['prestart', 'createRuntime', 'createContainer'] as const) {
      const err = runHooks(kind, bundle.config.hooks?.[kind], pub);
      if (err) fail(err);
    }
    // The hooks have run: the Sentry takes the network over and confines itself now.
    const made = call(st.sockPath, child.pid!, { op: 'created' });
    if (!made.ok) fail(made.error ?? 'the sandbox failed while being created');
    if (isRun) {
      // `run` is create then start, as runc's: no guest code before the create hooks ran.
      const sh = runHooks('startContainer', bundle.config.hooks?.startContainer, publicState(st.read()));
      if (sh) fail(sh);
      const started = call(st.sockPath, child.pid!, { op: 'start' });
      if (!started.ok) fail(started.error ?? 'start failed');
      st.write({ ...st.read(), status: 'running' });
      const err = runHooks('poststart', bundle.config.hooks?.poststart, publicState(st.read()));
      if (err) logLine('warning', err);
    }
    if (o['pid-file']) writePidFile(o['pid-file'], child.pid!);
  } catch (e) {
    // Nothing is left behind: the Sentry is gone (reaped) before the command returns.
    const c = child;
    if (c?.pid && c.exitCode === null && c.signalCode === null) {
      const gone = new Promise((res) => c.once('exit', res));
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await gone;
    }
    // As delete: the host cgroup and its reaper gone before create returns.
    let cg: HostCgroup | undefined;
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
  if (!foreground) {
    child.unref();
    return 0;
  }
  // `run` in the foreground: wait for the container, pass signals on, then delete it.
  const c = child;
  const fwd = (sig: NodeJS.Signals) => {
    try {
      process.kill(c.pid!, sig);
    } catch {
      // gone
    }
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const) process.on(sig, () => fwd(sig));
  const status = await new Promise<number>((resolve) => {
    if (c.exitCode !== null) resolve(c.exitCode);
    else c.on('exit', (code, sig) => resolve(code ?? 128 + (sig ? (require('os').constants.signals[sig] as number) : 0)));
  });
  if (!o.keep) {
    st.lock();
    const err = runHooks('poststop', bundle.config.hooks?.poststop, publicState(st.read()));
    if (err) logLine('warning', err);
    st.remove();
  }
  return status;
}
