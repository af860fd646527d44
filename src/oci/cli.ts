/**
 * The runc-compatible command line: `tssandbox [global flags] COMMAND [flags] ARGS`,
 * as container engines call a runtime. Each command's flags are parsed by
 * node:util.parseArgs (flags stop at the first positional, as urfave/cli does; a
 * single-dash long flag like `-bundle` is accepted too). Errors are one line on stderr
 * (and a JSON line in --log when --log-format json), exit status 1.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import { spawn, type ChildProcess } from 'child_process';
import { OciError, fail } from './errors';
import {
  StateDir, DEFAULT_ROOT, OCI_VERSION, validateId, currentStatus, publicState, listContainers, procStart, sentryAlive,
  type SavedState,
} from './state';
import { loadBundle } from './bundle';
import { runHooks } from './hooks';
import { nullStdio } from './stdio';
import { networkMode } from './network';
import { call } from './control';
import type { ProcessSpec, Spec } from './spec-types';
import type { SentryInit, SentryConfine } from './sandbox';

export const VERSION = '0.1.0';

export interface Globals {
  root: string;
  log: string | null;
  logFormat: 'text' | 'json';
  debug: boolean;
  systemdCgroup: boolean;
  rootless: string;
  platform: string;
  network: string;
  /** The global flags as given, for a child process of ours. */
  raw: string[];
}

type OptSpec = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

/** Commands the OCI command line owns (besides `run`, which `run` shares with the one-program mode). */
export const OCI_COMMANDS = new Set([
  'spec', 'create', 'start', 'state', 'kill', 'delete', 'list', 'ps', 'exec', 'features', 'checkpoint', 'restore',
  'pause', 'resume', 'update', 'events', 'install', '__oci-sentry', '__oci-exec',
]);

/** Global flags a runtime takes before the command. */
export const GLOBAL_FLAGS: OptSpec = {
  root: { type: 'string' },
  log: { type: 'string' },
  'log-format': { type: 'string' },
  debug: { type: 'boolean' },
  'systemd-cgroup': { type: 'boolean' },
  rootless: { type: 'string' },
  criu: { type: 'string' },
  platform: { type: 'string' },
  network: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
};

/**
 * Splits args into flags (up to the first positional or `--`) and the rest, then
 * parses the flags strictly. `--rootless` alone means true.
 */
export function parseFlags(args: string[], options: OptSpec): { values: Record<string, any>; rest: string[] } {
  const flags: string[] = [];
  let i = 0;
  for (; i < args.length; i++) {
    let a = args[i];
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    // urfave/cli accepts -bundle for --bundle.
    if (!a.startsWith('--') && a.length > 2) {
      const name = a.slice(1).split('=')[0];
      if (options[name]) a = '-' + a;
    }
    const name = a.startsWith('--') ? a.slice(2).split('=')[0] : null;
    flags.push(a);
    if (name === 'rootless' && options.rootless?.type === 'string' && !a.includes('=')) {
      const next = args[i + 1];
      if (next === 'true' || next === 'false' || next === 'auto') flags.push(args[++i]);
      else flags.push('true');
      continue;
    }
    const spec = name !== null ? options[name] : Object.values(options).find((o) => o.short === a.slice(1));
    if (spec?.type === 'string' && !a.includes('=')) {
      if (i + 1 >= args.length) fail(`flag ${a} needs a value`, 2);
      flags.push(args[++i]);
    }
  }
  try {
    const { values } = parseArgs({ args: flags, options, strict: true, allowPositionals: false });
    return { values, rest: args.slice(i) };
  } catch (e) {
    const m = /'([^']+)'/.exec((e as Error).message);
    fail(m ? `unknown flag '${m[1]}' (try --help)` : (e as Error).message.split('\n')[0], 2);
  }
}

export function parseGlobals(argv: string[]): { g: Globals; rest: string[] } {
  const { values: v, rest } = parseFlags(argv, GLOBAL_FLAGS);
  const raw = argv.slice(0, argv.length - rest.length);
  const fmt = (v['log-format'] ?? 'text') as string;
  if (fmt !== 'text' && fmt !== 'json') fail(`--log-format must be text or json, got '${fmt}'`, 2);
  const platform = (v.platform ?? 'ptrace') as string;
  if (platform !== 'ptrace') fail(`unknown platform '${platform}' (available: ptrace)`, 2);
  // 'auto' (no flag): sandbox when the container has a network namespace (network.ts).
  const network = (v.network ?? 'auto') as string;
  if (network !== 'none' && network !== 'sandbox' && network !== 'auto') fail(`unknown network '${network}' (none, sandbox)`, 2);
  if (v.help) rest.unshift('--help');
  if (v.version) rest.unshift('--version');
  return {
    g: {
      root: path.resolve((v.root as string) ?? DEFAULT_ROOT), log: (v.log as string) ?? null, logFormat: fmt,
      debug: !!v.debug, systemdCgroup: !!v['systemd-cgroup'], rootless: (v.rootless as string) ?? 'false', platform, network, raw,
    },
    rest,
  };
}

let globals: Globals | null = null;

function logLine(level: string, msg: string): void {
  const g = globals;
  if (!g?.log) return;
  const line = g.logFormat === 'json'
    ? JSON.stringify({ level, msg, time: new Date().toISOString() })
    : `time="${new Date().toISOString()}" level=${level} msg="${msg.replace(/"/g, '\\"')}"`;
  try {
    fs.appendFileSync(g.log, line + '\n');
  } catch {
    // an unwritable log must not hide the error itself
  }
}

const HELP = `usage: tssandbox [global flags] COMMAND [flags] ARGS   (the OCI runtime command line)

global flags: --root DIR (default ${DEFAULT_ROOT}), --log FILE, --log-format text|json, --debug,
  --systemd-cgroup (accepted), --rootless true|false|auto, --platform ptrace, --network none|sandbox

commands:
  spec [--bundle DIR] [--rootless]       write a default config.json
  create [--bundle DIR] [--pid-file F] [--console-socket S] [--preserve-fds N] [--no-pivot] [--no-new-keyring] ID
  start ID                               run the created container's process
  run [create flags] [--detach] [--keep] ID   create + start (+ wait and delete)
  state ID                               the OCI state JSON
  kill [--all] ID [SIGNAL]               signal the container (default SIGTERM)
  delete [--force] ID                    remove a stopped container (--force: kill it first)
  exec [--process F | ARGS] [--detach] [--pid-file F] [--tty] [--console-socket S]
       [--env K=V] [--cwd DIR] [--user UID[:GID]] ID [COMMAND ARGS...]
  list [--format table|json] [--quiet]   the containers under --root
  ps [--format table|json] ID            the container's processes
  features                               what this runtime supports (JSON)
  install [--runtime-name N] [--config F] [--uninstall] [-- RUNTIME ARGS]   register with Docker
`;

/** Entry point; returns the exit status (a promise for commands that wait). */
/** What the command line above hands down (src/cli/main.ts): the Sentry's confinement. */
export interface OciHooks { confine?: SentryConfine }
let hooks: OciHooks = {};

export async function ociMain(argv: string[], h: OciHooks = {}): Promise<number> {
  hooks = h;
  try {
    const { g, rest } = parseGlobals(argv);
    globals = g;
    const cmd = rest[0];
    const args = rest.slice(1);
    switch (cmd) {
      case undefined:
      case '--help':
      case 'help':
        process.stdout.write(HELP);
        return cmd === undefined ? 2 : 0;
      case '--version':
        process.stdout.write(`tssandbox version ${VERSION}\nspec: ${OCI_VERSION}\n`);
        return 0;
      case 'spec': return cmdSpec(args);
      case 'create': return await cmdCreate(g, args, false);
      case 'run': return await cmdCreate(g, args, true);
      case 'start': return cmdStart(g, args);
      case 'state': return cmdState(g, args);
      case 'kill': return cmdKill(g, args);
      case 'delete': return cmdDelete(g, args);
      case 'list': return cmdList(g, args);
      case 'ps': return cmdPs(g, args);
      case 'features': return cmdFeatures(args);
      case 'exec': return await (await import('./exec')).cmdExec(g, args);
      case '__oci-exec': return await (await import('./exec')).execChildMain(args);
      case 'install': return (await import('./install')).cmdInstall(args);
      case '__oci-sentry': {
        const { sentryMain } = await import('./sandbox');
        return sentryMain(args[0], hooks.confine ?? null);
      }
      case 'pause':
      case 'resume': return cmdPause(g, args, cmd);
      case 'update': return cmdUpdate(g, args);
      case 'events': return cmdEvents(g, args);
      case 'checkpoint':
      case 'restore':
        fail(`${cmd} is not supported by tssandbox`);
      // eslint-disable-next-line no-fallthrough
      default:
        fail(`unknown command '${cmd}' (try --help)`, 2);
    }
  } catch (e) {
    if (e instanceof OciError) {
      process.stderr.write(`tssandbox: ${e.message}\n`);
      logLine('error', e.message);
      return e.code;
    }
    const msg = (e as Error)?.message ?? String(e);
    process.stderr.write(`tssandbox: internal error: ${msg}\n`);
    logLine('error', `internal error: ${msg}`);
    if (process.env.TSSANDBOX_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
    return 125;
  }
}

function oneId(rest: string[], cmd: string): string {
  if (rest.length < 1) fail(`${cmd}: a container id is required`, 2);
  return validateId(rest[0]);
}

/** The state directory of an existing container (one clear line when there is none). */
function existing(g: Globals, id: string): StateDir {
  const st = new StateDir(g.root, id);
  if (!st.exists) fail(`container "${id}" does not exist`);
  return st;
}

// ---- spec ----

export function defaultSpec(rootless: boolean): Spec {
  const caps = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
  const spec: Spec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps, ambient: caps, inheritable: undefined },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'tssandbox',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] } as never,
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: ['/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
        '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
  delete (spec.process!.capabilities as Record<string, unknown>).inheritable;
  if (rootless) {
    spec.linux!.uidMappings = [{ containerID: 0, hostID: process.getuid?.() ?? 0, size: 1 }];
    spec.linux!.gidMappings = [{ containerID: 0, hostID: process.getgid?.() ?? 0, size: 1 }];
    spec.linux!.namespaces = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'user' }];
    delete spec.linux!.resources;
  }
  return spec;
}

function cmdSpec(args: string[]): number {
  const { values, rest } = parseFlags(args, { bundle: { type: 'string', short: 'b' }, rootless: { type: 'boolean' } });
  if (rest.length) fail(`spec: unexpected argument '${rest[0]}'`, 2);
  const dir = path.resolve(values.bundle ?? '.');
  const p = path.join(dir, 'config.json');
  if (fs.existsSync(p)) fail(`file ${p} exists: remove it first`);
  try {
    fs.writeFileSync(p, JSON.stringify(defaultSpec(!!values.rootless), null, '\t') + '\n');
  } catch (e) {
    fail(`cannot write ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return 0;
}

// ---- create / run ----

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
function netnsLauncher(config: Spec): string[] {
  const ns = config.linux?.namespaces?.find((n) => n.type === 'network');
  if (ns === undefined) return [];
  if (ns.path === undefined || ns.path === '') return ['unshare', '--net', '--'];
  if (!fs.existsSync(ns.path)) fail(`network namespace ${ns.path}: No such file or directory`);
  return ['nsenter', `--net=${ns.path}`, '--'];
}

/** TSSANDBOX_OCI_CPU_PROF=DIR: the Sentry writes a V8 CPU profile there (start-up work; NODE_OPTIONS refuses --cpu-prof). */
function sentryProfileFlags(): string[] {
  const dir = process.env.TSSANDBOX_OCI_CPU_PROF;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

/** The Sentry process for a container: started, and ready (or failed) when the promise settles. */
function spawnSentry(st: StateDir, launcher: string[], preserveFds: number, detached: boolean, nullFds: number[]): Promise<{ child: ChildProcess; error: string | null }> {
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

function writePidFile(file: string, pid: number): void {
  const abs = path.resolve(file);
  const tmp = `${abs}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, String(pid));
  fs.renameSync(tmp, abs);
}

async function cmdCreate(g: Globals, args: string[], isRun: boolean): Promise<number> {
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
  const net = networkMode(g.network, bundle.config);
  if ('error' in net) fail(net.error);
  const st = new StateDir(g.root, id);
  st.create();
  let child: ChildProcess | null = null;
  try {
    st.lock();
    const state: SavedState = {
      ociVersion: OCI_VERSION, id, pid: 0, pidStart: '', status: 'creating', bundle: bundle.dir, rootfs: bundle.rootfs,
      created: new Date().toISOString(), owner: '', annotations: bundle.config.annotations ?? undefined,
    };
    st.write(state);
    const init: SentryInit = {
      id, root: g.root, bundle: bundle.dir, rootfs: bundle.rootfs, config: bundle.config, consoleSocket,
      preserveFds: preserve, syncFd: 3 + preserve, logPath: g.log, debug: g.debug, network: net.mode, autoStart: isRun,
      nullFds: nullStdio(!!(proc.terminal && consoleSocket)),
    };
    fs.writeFileSync(path.join(st.dir, 'init.json'), JSON.stringify(init));
    // For the native entry (native/oci_fast.c): which of its fast paths hooks rule out.
    const h = bundle.config.hooks ?? {};
    const any = (k: 'startContainer' | 'poststart' | 'poststop') => (h[k]?.length ? 1 : 0);
    fs.writeFileSync(path.join(st.dir, 'fast'), `v1 ${any('startContainer') | any('poststart')} ${any('poststop')}\n`);
    const r = await spawnSentry(st, netnsLauncher(bundle.config), preserve, !foreground, init.nullFds);
    child = r.child;
    if (r.error) fail(r.error);
    const pub = publicState(st.read());
    for (const kind of ['prestart', 'createRuntime', 'createContainer'] as const) {
      const err = runHooks(kind, bundle.config.hooks?.[kind], pub);
      if (err) fail(err);
    }
    if (isRun) {
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

// ---- start / state / kill / delete ----

function cmdStart(g: Globals, args: string[]): number {
  const { rest } = parseFlags(args, {});
  const id = oneId(rest, 'start');
  const st = existing(g, id);
  st.lock();
  const s = st.read();
  const status = currentStatus(s);
  if (status !== 'created') fail(`cannot start a container that is ${status}`);
  const config = readConfig(s);
  const err = runHooks('startContainer', config?.hooks?.startContainer, publicState(s));
  if (err) fail(err);
  const r = call(st.sockPath, s.pid, { op: 'start' });
  if (!r.ok) fail(r.error ?? 'start failed');
  // Recorded here, under the lock: the started Sentry is confined (writes no host path).
  st.write({ ...s, status: 'running' });
  const perr = runHooks('poststart', config?.hooks?.poststart, publicState(st.read()));
  if (perr) logLine('warning', perr);
  return 0;
}

function readConfig(s: SavedState): Spec | null {
  try {
    return (JSON.parse(fs.readFileSync(path.join(s.bundle, 'config.json'), 'utf8')) as Spec);
  } catch {
    return null;
  }
}

function cmdState(g: Globals, args: string[]): number {
  const { rest } = parseFlags(args, {});
  const id = oneId(rest, 'state');
  const st = existing(g, id);
  process.stdout.write(JSON.stringify(publicState(st.read()), null, '  ') + '\n');
  return 0;
}

export function parseSignal(v: string | undefined): number {
  if (v === undefined || v === '') return 15;
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n < 0 || n > 64) fail(`invalid signal '${v}'`, 2);
    return n;
  }
  const name = v.toUpperCase().replace(/^SIG/, '');
  const n = (require('os').constants.signals as Record<string, number>)[`SIG${name}`];
  if (n === undefined) fail(`unknown signal '${v}'`, 2);
  return n;
}

function cmdKill(g: Globals, args: string[]): number {
  const { values: o, rest } = parseFlags(args, { all: { type: 'boolean', short: 'a' }, pid: { type: 'string' } });
  const id = oneId(rest, 'kill');
  const sig = parseSignal(rest[1]);
  const st = existing(g, id);
  st.lock();
  const s = st.read();
  const status = currentStatus(s);
  if (status === 'stopped' || status === 'creating') fail('container not running');
  let r: { ok: boolean; error?: string } | null = null;
  try {
    r = call(st.sockPath, s.pid, { op: 'kill', signal: sig, all: !!o.all });
  } catch (e) {
    if (!(e instanceof OciError)) throw e;
  }
  if (r === null || !r.ok) {
    // The Sentry did not answer: SIGKILL still ends it (and its Gofer and stubs with it).
    if (sig === 9 && sentryAlive(s)) {
      process.kill(s.pid, 'SIGKILL');
      return 0;
    }
    fail(r?.error ?? 'container not running');
  }
  return 0;
}

function waitGone(pid: number, start: string): void {
  const sab = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 2000 && procStart(pid) === start; i++) Atomics.wait(sab, 0, 0, 5);
}

function cmdDelete(g: Globals, args: string[]): number {
  const { values: o, rest } = parseFlags(args, { force: { type: 'boolean', short: 'f' } });
  const id = oneId(rest, 'delete');
  const st = new StateDir(g.root, id);
  if (!st.exists) {
    // As runc: --force on a container that is gone (or half made) is not an error.
    if (o.force) {
      if (fs.existsSync(st.dir)) st.remove();
      return 0;
    }
    fail(`container "${id}" does not exist`);
  }
  st.lock();
  const s = st.read();
  const status = currentStatus(s);
  if ((status === 'running' || status === 'paused') && !o.force) fail(`cannot delete container ${id} that is not stopped: ${status}`);
  if (sentryAlive(s)) {
    process.kill(s.pid, 'SIGKILL');
    waitGone(s.pid, s.pidStart);
  }
  const config = readConfig(s);
  const err = runHooks('poststop', config?.hooks?.poststop, { ...publicState(s), status: 'stopped', pid: 0 });
  if (err) logLine('warning', err);
  st.remove();
  return 0;
}

// ---- list / ps / features ----

function cmdList(g: Globals, args: string[]): number {
  const { values: o, rest } = parseFlags(args, { format: { type: 'string', short: 'f' }, quiet: { type: 'boolean', short: 'q' } });
  if (rest.length) fail(`list: unexpected argument '${rest[0]}'`, 2);
  const all = listContainers(g.root).map(publicState);
  if (o.quiet) {
    for (const s of all) process.stdout.write(`${s.id}\n`);
    return 0;
  }
  const fmt = o.format ?? 'table';
  if (fmt === 'json') {
    process.stdout.write(JSON.stringify(all) + '\n');
    return 0;
  }
  if (fmt !== 'table') fail(`invalid format '${fmt}' (table or json)`, 2);
  const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'],
    ...all.map((s) => [s.id, s.pid, s.status, s.bundle, s.created, s.owner || 'root'].map(String))];
  process.stdout.write(table(rows));
  return 0;
}

function table(rows: string[][]): string {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i] + 3))).join('') + '\n').join('');
}

function cmdPs(g: Globals, args: string[]): number {
  const { values: o, rest } = parseFlags(args, { format: { type: 'string', short: 'f' } });
  const id = oneId(rest, 'ps');
  const st = existing(g, id);
  const s = st.read();
  if (currentStatus(s) === 'stopped') fail(`container ${id} is not running`);
  const r = call(st.sockPath, s.pid, { op: 'ps' });
  if (!r.ok) fail(r.error ?? 'ps failed');
  if ((o.format ?? 'table') === 'json') {
    process.stdout.write(JSON.stringify(r.hostPids) + '\n');
    return 0;
  }
  const procs = r.procs as Array<{ uid: number; pid: number; ppid: number; cmd: string }>;
  process.stdout.write(table([['UID', 'PID', 'PPID', 'CMD'], ...procs.map((p) => [String(p.uid), String(p.pid), String(p.ppid), p.cmd])]));
  return 0;
}

function cmdFeatures(args: string[]): number {
  parseFlags(args, {});
  const { CAP_NAMES } = require('./caps') as typeof import('./caps');
  const features = {
    ociVersionMin: '1.0.0',
    ociVersionMax: OCI_VERSION,
    hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
    mountOptions: ['ro', 'rw', 'bind', 'rbind', 'nosuid', 'nodev', 'noexec', 'mode', 'size'],
    linux: {
      namespaces: ['cgroup', 'ipc', 'mount', 'network', 'pid', 'user', 'uts'],
      capabilities: CAP_NAMES,
      cgroup: { v1: true, v2: false, systemd: false, systemdUser: false },
      seccomp: { enabled: false },
      apparmor: { enabled: false },
      selinux: { enabled: false },
    },
    annotations: { 'org.tssandbox.version': VERSION, 'org.tssandbox.platform': 'ptrace' },
  };
  process.stdout.write(JSON.stringify(features, null, '    ') + '\n');
  return 0;
}

// ---- pause / resume / update / events ----

function cmdPause(g: Globals, args: string[], op: 'pause' | 'resume'): number {
  const { rest } = parseFlags(args, {});
  const id = oneId(rest, op);
  const st = existing(g, id);
  st.lock();
  const s = st.read();
  const status = currentStatus(s);
  if (op === 'pause' && status !== 'running') fail(`cannot pause a container that is ${status}`);
  if (op === 'resume' && status !== 'paused') fail(`cannot resume a container that is ${status}`);
  const r = call(st.sockPath, s.pid, { op });
  if (!r.ok) fail(r.error ?? `${op} failed`);
  st.write({ ...s, status: op === 'pause' ? 'paused' : 'running' });
  return 0;
}

/** "64m", "1g", plain bytes; -1 for unlimited. */
function parseBytes(v: string, flag: string): number {
  if (v === '-1') return -1;
  const m = /^(\d+)([kmgKMG]?)[bB]?$/.exec(v);
  if (!m) fail(`${flag} wants a size like 64m, got '${v}'`, 2);
  return Number(m[1]) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[m[2].toLowerCase()];
}

function cmdUpdate(g: Globals, args: string[]): number {
  const { values: o, rest } = parseFlags(args, {
    resources: { type: 'string', short: 'r' }, memory: { type: 'string', short: 'm' }, 'pids-limit': { type: 'string' },
    'memory-swap': { type: 'string' }, 'memory-reservation': { type: 'string' }, 'kernel-memory': { type: 'string' },
    'cpu-shares': { type: 'string' }, 'cpu-quota': { type: 'string' }, 'cpu-period': { type: 'string' },
    'cpuset-cpus': { type: 'string' }, 'cpuset-mems': { type: 'string' }, 'blkio-weight': { type: 'string' },
  });
  const id = oneId(rest, 'update');
  const st = existing(g, id);
  st.lock();
  const s = st.read();
  if (currentStatus(s) === 'stopped') fail(`container ${id} is not running`);
  const req: Record<string, unknown> = { op: 'update' };
  if (o.resources) {
    let text: string;
    try {
      text = fs.readFileSync(o.resources === '-' ? 0 : o.resources, 'utf8');
    } catch {
      fail(`--resources ${o.resources}: cannot read it`);
    }
    let res: any;
    try {
      res = JSON.parse(text);
    } catch (e) {
      fail(`--resources: bad JSON: ${(e as Error).message}`);
    }
    if (res?.memory?.limit !== undefined) req.memory = res.memory.limit;
    if (res?.pids?.limit !== undefined) req.pids = res.pids.limit;
  }
  if (o.memory !== undefined) req.memory = parseBytes(o.memory, '--memory');
  if (o['pids-limit'] !== undefined) {
    const n = Number(o['pids-limit']);
    if (!Number.isInteger(n)) fail(`--pids-limit wants a number, got '${o['pids-limit']}'`, 2);
    req.pids = n;
  }
  const r = call(st.sockPath, s.pid, req);
  if (!r.ok) fail(r.error ?? 'update failed');
  return 0;
}

function statsEvent(id: string, r: Record<string, any>): string {
  return JSON.stringify({
    type: 'stats', id,
    data: {
      pids: { current: r.pids, limit: r.pidsLimit },
      memory: { usage: { usage: r.memory, limit: r.memoryLimit } },
    },
  });
}

function cmdEvents(g: Globals, args: string[]): number {
  const { values: o, rest } = parseFlags(args, { stats: { type: 'boolean' }, interval: { type: 'string' } });
  const id = oneId(rest, 'events');
  const st = existing(g, id);
  const iv = /^(\d+)(ms|s)?$/.exec(o.interval ?? '5s');
  if (!iv) fail(`--interval wants a duration like 5s, got '${o.interval}'`, 2);
  const ms = Number(iv[1]) * (iv[2] === 'ms' ? 1 : 1000);
  const sab = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    const s = st.exists ? st.read() : null;
    if (!s || currentStatus(s) === 'stopped') {
      if (o.stats) fail(`container ${id} is not running`);
      return 0;
    }
    const r = call(st.sockPath, s.pid, { op: 'stats' });
    if (!r.ok) fail(r.error ?? 'events failed');
    process.stdout.write(statsEvent(id, r) + '\n');
    if (o.stats) return 0;
    Atomics.wait(sab, 0, 0, ms);
  }
}
