/**
 * `tssandbox run`: builds one sandbox (filesystem, platform, Sentry), starts the
 * program as pid 1, runs until it exits and returns the exit code to pass on.
 */
import * as path from 'path';
import * as tty from 'tty';
import { parseRunArgs, type RunOptions } from './args';
import { createVfs } from '../../fs/rootfs/create';
import { FdTable } from '../../fs/vfs/fdtable';
import { HostFile } from '../../fs/fsimpl/host/host-file';
import { tmpfsBudget } from '../../fs/vfs/space-budget';
import { Kernel } from '../kernel/kernel';
import { memoryLimit } from '../mm/memory-limit';
import { installMemoryAccount } from '../kernel/memory-account';
import { Credentials } from '../auth/credentials';
import { Sentry } from '../kernel/sentry';
import { writeDiagnostic } from './diagnostics';
import { prepareVdso } from '../loader/vdso';
import type { Task } from '../kernel/task';
import { SYSCALL_TABLE } from '../../syscalls/table';
import { createInit, startInit } from '../kernel/process-lifecycle';
import { releaseResolution, resolveExec, type ExecRequest } from '../loader/exec-image';
import { hostStringToArg } from '../loader/exec-args';
import { createPlatform, type PlatformName, type StartablePlatform } from '../platform/select';
import { detActive } from '../determinism/flags';
import { resolvePlatform } from './platforms';
import { native } from '../platform/native';
import { StraceTracer } from './strace';
import { installTimers } from '../kernel/time/index';
import { rebaseClock } from '../kernel/time/clocks';
import { setupNetwork } from '../net/setup';
import { netEtcFiles, writeNetFiles } from '../net/etc-files';
import { EACCES, ENOEXEC, ENOTDIR, errnoMessage } from '../abi/errno';
import * as nfs from 'node:fs';
import * as os from 'node:os';
import { Console } from './console';
import { attach as attachTty } from '../kernel/tty';
import { consoleTty } from '../../fs/fsimpl/host/host-file';
import { setControllingTty } from '../../fs/fsimpl/dev/devices';
import type { Vfs } from '../../fs/vfs/vfs';
import { setHostWinchHook } from '../kernel/signal-delivery';
import { confineSentry, testHookKind } from './confine';
import { launchedInOwnUserNs } from '../platform/launched-files';
import { CiSession, CiSetupError } from '../policy/session';
import { armCheckpoint, finishRestore, prepareRestore, restoreSandbox, restoreUpper, SnapshotError, type ImageMeta, type PreparedRestore } from '../snapshot/index';
import { Determinism, DetSetupError } from './deterministic';
import { ciActive } from '../policy/flags';
import type { CowSpaces } from '../snapshot/index';
import type { GoferClient } from '../gofer/client';
import { retireSandbox } from '../server/retire';
import { phase } from '../server/phases';

const O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2;

class RunError extends Error {
  constructor(message: string, readonly code: number) {
    super(message);
  }
}

function fail(message: string, code: number): never {
  throw new RunError(message, code);
}

/** A checkpoint image to run on instead of starting o.program (`tssandbox restore`). */
export interface RestoreInput {
  meta: ImageMeta;
  payload: Buffer;
}

/** The flags a checkpoint keeps, so that the restorer builds the same sandbox. */
export function checkpointedRunOptions(o: RunOptions): Record<string, unknown> {
  const { root, mounts, tmpfs, pin, memoryLimit, tmpfsLimit, pidsLimit, hostname } = o;
  return { root, mounts, tmpfs, pin, memoryLimit, tmpfsLimit, pidsLimit, hostname };
}

export function runSandbox(o: RunOptions, restore?: RestoreInput): number {
  try {
    return run(o, restore);
  } catch (e) {
    if (e instanceof RunError) {
      process.stderr.write(`tssandbox: ${e.message}\n`);
      return e.code;
    }
    throw e;
  } finally {
    phase('run.returned');
    const b = current;
    current = null;
    // A reusing worker's next sandbox sees nothing of this one; one of another shape ends the process.
    if (reusing && b !== null && !(kept !== null && kept.key === b.key && kept.platform === b.platform && retireSandbox(b.s))) kept = null;
  }
}

/** A host path the sandbox will serve: it must exist (and be a directory for --root); errors name the error. */
function checkHostSource(flag: string, p: string, dirOnly: boolean): void {
  let st: nfs.Stats;
  try {
    st = nfs.statSync(p);
  } catch (e) {
    const n = (e as { errno?: number }).errno;
    // In its own user namespace the Sentry may not search the invoking user's directories:
    // the gofer, outside as that user, opens the source or refuses it.
    if (n === -EACCES && launchedInOwnUserNs()) return;
    fail(`${flag} ${p}: ${typeof n === 'number' ? errnoMessage(-n) : (e as Error).message}`, 125);
  }
  if (dirOnly && !st.isDirectory()) fail(`${flag} ${p}: ${errnoMessage(ENOTDIR)}`, 125);
}

function buildEnv(o: RunOptions): string[] {
  const env = new Map<string, string>();
  if (!o.clearEnv) for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env.set(k, v);
  if (!env.has('PATH')) env.set('PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  for (const kv of o.env) env.set(kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1));
  return [...env].map(([k, v]) => `${k}=${v}`);
}

/**
 * The part of a sandbox that its flags decide and no detail of the request does (stdio,
 * environment, working directory, program): platform, kernel, the Gofer and the VFS,
 * the Sentry, the network, and the template stub once started. It is the expensive
 * part: a warm pool's worker builds it ahead of its request (prebuildSandbox).
 */
interface Built {
  key: string;
  platform: StartablePlatform;
  kernel: Kernel;
  vfs: Vfs;
  s: Sentry;
  memNote: string;
  /** Host pid of the template stub once started, else 0. */
  stubPid: number;
  /** --deterministic/--record/--replay (src/cli/deterministic.ts); null without them. */
  det: Determinism | null;
}

/** The flags a Built depends on: a prebuilt sandbox serves a request whose flags agree. */
function shapeKey(o: RunOptions): string {
  const { root, mounts, tmpfs, pin, memoryLimit, tmpfsLimit, network, netns, tap, pcap, allowNet, denyNet, publish, debug, det } = o;
  // The --platform flag as given: a sandbox built ahead on the default platform is not one
  // for `--platform kvm` (a launched worker cannot open /dev/kvm: the request gets a worker
  // started for it, whose front hands it on).
  return JSON.stringify({ root, mounts, tmpfs, pin, memoryLimit: String(memoryLimit), tmpfsLimit, network, netns, tap, pcap, allowNet, denyNet, publish, debug, det, platform: o.platform });
}

/**
 * The platform a run uses: --platform, else TSSANDBOX_PLATFORM, else the probed default.
 * Deterministic mode serializes guest threads over ptrace stops and traps RDTSC/CPUID
 * there, so it runs on ptrace (refused only when another platform was asked for by flag).
 */
function platformFor(o: RunOptions): PlatformName {
  if (!detActive(o.det)) return resolvePlatform(o.platform);
  if (o.platform && o.platform !== 'ptrace') fail(`--deterministic runs on the ptrace platform only (not --platform=${o.platform})`, 125);
  return 'ptrace';
}

/**
 * `serve --reuse N` (src/server/README.md): what a pool worker keeps from one sandbox to
 * the next of the same shape. The template stub is never run as a guest (every address
 * space is a clone of it) and the Gofer keeps no state per client beyond its roots; the
 * Sentry is confined once, before its first guest. Everything else is built anew.
 */
interface Kept {
  key: string;
  /** shapeOnly() of the sandboxes it serves. */
  shape: string;
  /** A template's restored address spaces, forked (copy-on-write) for each restore (src/snapshot). */
  cow: CowSpaces;
  platform: StartablePlatform;
  pinned: boolean;
  hostCpus: number;
  gofer: GoferClient | null;
  stubPid: number;
}
let kept: Kept | null = null;
/** Set by a reusing pool worker: each sandbox is retired (src/server/retire.ts) and its stub and Gofer kept. */
let reusing = false;
let confined = false;
/** The sandbox of the current run (retired after it in a reusing worker). */
let current: Built | null = null;

export function setReuse(on: boolean): void {
  reusing = on;
}

/** A pool worker that would run guest code as root in the host's user namespace (src/cli/pool-worker.ts): set-up only. */
let hostRootRefused = false;
export function refuseHostRoot(): void {
  hostRootRefused = true;
}

/** The client's working directory (a pool worker's request: a confined worker cannot chdir to it). */
let callerCwd: string | null = null;
export function setCallerCwd(cwd: string | null): void {
  callerCwd = cwd;
}

/** What may differ between successive sandboxes of one reusing worker: the request's own details. */
const PER_REQUEST: ReadonlySet<string> = new Set(['program', 'args', 'env', 'clearEnv', 'cwd', 'hostname', 'dns', 'via']);
function shapeOnly(o: RunOptions): string {
  const entries = Object.entries({ ...o, ci: perSentryCi(o) }).filter(([k]) => !PER_REQUEST.has(k));
  return JSON.stringify(entries, (_k, v: unknown) => (v === Infinity ? 'Infinity' : v));
}
/** A report or summary written to a fd the request handed over, or none: no path to open once confined. */
const handedOver = (f: string | null): boolean => f === null || /^\/dev\/fd\/[0-9]+$/.test(f);
/** The CI flags without what is the request's own (its report and summary fds, the library's channel and hooks). */
function perSentryCi(o: RunOptions): RunOptions['ci'] {
  return { ...o.ci, report: null, summary: null, apiFd: -1, apiHooks: [] };
}
/**
 * Whether sandboxes of flags o can follow one another in one process: not with what needs
 * a set-up the confined Sentry can no longer make, or state of its own outside the Kernel
 * (a network, a memory cgroup, a report file by path, limits, a policy, the deterministic
 * clock, --strace, a pty). A report to a handed-over fd and the library's channel are the
 * request's own (the library through a pool: src/api).
 */
function keepable(o: RunOptions): boolean {
  return o.network === 'none' && o.memoryLimit === Infinity && !detActive(o.det) && !ciActive(perSentryCi(o)) && Object.keys(o.ci.limits).length === 0
    && handedOver(o.ci.report) && handedOver(o.ci.summary)
    && o.checkpointOn === null && !o.strace && !o.debug && !o.tty;
}

/** Whether flags o fit what this process keeps (or, before it keeps anything, could keep). */
function reusableShape(o: RunOptions): boolean {
  return kept !== null ? shapeOnly(o) === kept.shape : keepable(o);
}

/** Whether this process can run a sandbox of flags o now: always before its first, then only of the kept shape. */
export function canServe(o: RunOptions): boolean {
  return !confined || (kept !== null && reusableShape(o));
}

/**
 * Whether a pool worker that the native front started in its own user namespace (as a
 * cold `run`: unprivileged outside) can serve flags o as the old path would: the sandbox
 * of the default shape its gofer-to-be was used for (another shape would fork a gofer
 * inside, with the Sentry's host uid's file access: a root server's `--mount
 * /root/x:/x` would fail), and no host file by name (report, summary, policy: the
 * client's files, which that uid may not reach). Anything else gets a worker on the old
 * path (src/server/pool.ts), never less than before.
 */
const DEFAULT_PIDS = parseRunArgs(['/bin/true']).pidsLimit;
export function fitsLaunchedWorker(o: RunOptions): boolean {
  return shapeKey(o) === shapeKey(parseRunArgs(['/bin/true'])) && handedOver(o.ci.report)
    && (o.ci.summary === '-' || handedOver(o.ci.summary)) && o.ci.policyFile === null && o.checkpointOn === null
    && o.pidsLimit === DEFAULT_PIDS; // --pids-limit: the host cgroup the front makes for a worker started for it
}

/** Reuse: whether this process still keeps what a next sandbox is built on. */
export function keepsSandboxes(): boolean {
  return kept !== null;
}

function build(o: RunOptions, restore?: RestoreInput): Built {
  const keep = kept !== null && reusableShape(o) ? kept : null;
  // First: pinning applies to what is forked after it (the gofer, the stubs), and the
  // gofer answers the Sentry synchronously, best on the same CPU.
  const hostCpus = keep?.hostCpus ?? Math.min(31, Math.max(1, os.availableParallelism())); // before any pinning
  const made = keep ? { platform: keep.platform, pinned: keep.pinned } : createPlatform(platformFor(o), { pin: o.pin });
  if (typeof made === 'string') fail(made, 125);
  const platform = made.platform;
  // --deterministic/--record/--replay (src/cli/deterministic.ts); null without them.
  let det: Determinism | null = null;
  try { det = Determinism.create(o.det, platform, [o.program, ...o.args]); } catch (e) { if (e instanceof DetSetupError) fail(e.message, 125); throw e; }
  const kernel = new Kernel();
  // Pinned, every guest thread shares one CPU: that is the machine the guest sees.
  kernel.cpus = made.pinned ? 1 : hostCpus;
  kernel.memoryLimit = o.memoryLimit;
  checkHostSource('--root', o.root, true);
  for (const m of o.mounts) checkHostSource('--mount', m.src, false);
  tmpfsBudget.limit = o.tmpfsLimit;
  const memNote = memoryLimit.setup(o.memoryLimit);
  // With --memory, tmpfs and the stubs' memory share the one limit.
  installMemoryAccount(kernel, o.memoryLimit); // the Sentry's count (src/kernel/memory-account.ts)
  if (memoryLimit.cgroupDir !== null) tmpfsBudget.onUsage = (used) => memoryLimit.reserve(used);
  let vfs;
  try {
    // A restore starts from the checkpoint's overlay upper layer (what the guest wrote).
    const upper = restore ? restoreUpper(restore.meta.upper ?? [], restore.payload) : undefined;
    vfs = createVfs({ root: o.root, mounts: o.mounts, tmpfs: o.tmpfs, kernel, upper, ...(keep ? { goferClient: keep.gofer } : {}) });
  } catch (e) {
    fail(`cannot set up the filesystem: ${(e as Error).message}`, 125);
  }
  const s = new Sentry(kernel, det ? det.platform : platform, SYSCALL_TABLE);
  installTimers(s);
  try {
    setupNetwork(kernel, { mode: o.network, netns: o.netns, tap: o.tap, pcap: o.pcap, allowNet: o.allowNet, denyNet: o.denyNet, publish: o.publish, debug: o.debug ? (m) => writeDiagnostic(`tssandbox: ${m}\n`) : undefined });
  } catch (e) {
    fail(`cannot set up the network: ${(e as Error).message}`, 125);
  }
  if (reusing && !keep && keepable(o)) kept = { key: shapeKey(o), shape: shapeOnly(o), cow: { masters: null }, platform, pinned: made.pinned, hostCpus, gofer: vfs.gofer, stubPid: 0 };
  return { key: shapeKey(o), platform, kernel, vfs, s, memNote, stubPid: keep?.stubPid ?? 0, det };
}

let prebuilt: Built | null = null;

/**
 * Builds a sandbox for flags o ahead of a request, the template stub started (src/server's
 * workers, with the default flags). A later run with the same flags takes it; false if it
 * could not be built (the run then builds its own).
 */
export function prebuildSandbox(o: RunOptions): boolean {
  if (!canServe(o)) return false; // confined: only sandboxes of the kept shape can be built
  try {
    const b = build(o);
    const pid = b.stubPid || b.platform.start();
    if (pid < 0) return false;
    b.stubPid = pid;
    if (kept !== null && kept.key === b.key) kept.stubPid = pid;
    // The first exec's address space too (not under --memory: the stub's cgroup is joined at start).
    if (o.memoryLimit === Infinity && !detActive(o.det)) b.platform.prepareAddressSpace?.();
    prebuilt = b;
    return true;
  } catch {
    return false;
  }
}

/** A checkpoint restored ahead of its request (a template in a warm pool's worker), stdio and resume to come. */
let prerestored: { dir: string; stamp: string; input: RestoreInput; b: Built; prep: PreparedRestore } | null = null;

/** Restores the image of dir (read as input, stamp its size/mtime/inode) up to its resume; false if it cannot. */
export function prerestoreSandbox(dir: string, stamp: string, o: RunOptions, input: RestoreInput): boolean {
  if (!canServe(o)) return false; // confined: only sandboxes of the kept shape can be built
  try {
    rebaseClock(input.meta.clockNs); // false after the first in a reusing worker: the clock goes on
    prepareVdso();
    const b = build(o, input);
    const pid = b.stubPid || b.platform.start();
    if (pid < 0) return false;
    b.stubPid = pid;
    const own = kept !== null && kept.platform === b.platform ? kept : null;
    if (own) own.stubPid = pid;
    current = b;
    prerestored = { dir, stamp, input, b, prep: prepareRestore(b.s, input.meta, input.payload, own?.cow) };
    current = null;
    return true;
  } catch {
    return false;
  }
}

/** The prerestored image of dir if its file is still the one restored (then a run with it skips the restore's work). */
export function takePrerestored(dir: string, stamp: string): RestoreInput | null {
  return prerestored !== null && prerestored.dir === dir && prerestored.stamp === stamp ? prerestored.input : null;
}

function run(o: RunOptions, restore?: RestoreInput): number {
  let kernelNote = '';
  // -t: the guest gets a Sentry pty (src/cli/console.ts) instead of the host terminal.
  const useConsole = o.tty && tty.isatty(0);
  const ttyFd = useConsole ? -1 : [0, 1, 2].find((fd) => tty.isatty(fd)) ?? -1;
  // Limits, policy, report (src/policy/session.ts); null without those flags. First: the
  // policy may add mounts and set the network, which the build depends on.
  let ci: CiSession | null = null;
  try { ci = CiSession.create(o); } catch (e) { if (e instanceof CiSetupError) fail(e.message, 125); throw e; }
  const pre = prerestored !== null && restore === prerestored.input ? prerestored : null;
  // A template restored ahead but not asked for: its stubs go, and what it armed or bound
  // in the process-wide tables (timers, socket names, ports) with them.
  if (prerestored !== null && pre === null) retireSandbox(prerestored.b.s);
  prerestored = null;
  // A restored sandbox's clock goes on where the checkpointed one stood (before it starts).
  if (restore && !pre && typeof restore.meta.clockNs === 'number' && !rebaseClock(restore.meta.clockNs)) kernelNote = 'the clock could not be set back to the checkpoint\'s';
  prepareVdso(); // the clock calibrates while the rest is set up
  const ready = prebuilt !== null && !restore && prebuilt.key === shapeKey(o) ? prebuilt : null;
  if (prebuilt !== null && ready === null) {
    prebuilt.platform.destroyAddressSpace(prebuilt.stubPid); // not for these flags
    if (kept !== null && kept.platform === prebuilt.platform) kept = null;
  }
  prebuilt = null;
  const b = pre?.b ?? ready ?? build(o, restore);
  current = b;
  phase('run.built');
  const { platform, kernel, vfs, s, memNote } = b;
  setControllingTty(ttyFd);
  kernel.pidsLimit = o.pidsLimit;
  if (o.debug) kernel.debug = (m) => writeDiagnostic(`tssandbox: ${m}\n`);
  if (o.debug) kernel.log(memNote);
  if (kernelNote) kernel.log(kernelNote);

  const fdTable = new FdTable();
  if (!useConsole) {
    fdTable.installAt(0, new HostFile(0, tty.isatty(0) ? O_RDWR : O_RDONLY), false);
    fdTable.installAt(1, ci ? ci.stdio(1, tty.isatty(1) ? O_RDWR : O_WRONLY) : new HostFile(1, tty.isatty(1) ? O_RDWR : O_WRONLY), false);
    fdTable.installAt(2, ci ? ci.stdio(2, tty.isatty(2) ? O_RDWR : O_WRONLY) : new HostFile(2, tty.isatty(2) ? O_RDWR : O_WRONLY), false);
  }
  const fsCtx = vfs.rootContext();
  const creds = new Credentials(0, 0);

  if (o.hostname !== null) kernel.hostname = o.hostname;
  const tracer = o.strace ? new StraceTracer((l) => writeDiagnostic(l + '\n')) : null;
  s.tracer = tracer;
  b.det?.attach(s);
  const startPlatform = () => {
    if (hostRootRefused) fail('through a pool this request needs a Sentry with the host\'s privileges (the native front could not start a confined one for its flags): run it without --via', 125);
    const started = b.stubPid || platform.start();
    if (started < 0) fail(`cannot start the sandbox stub (errno ${-started}): ptrace or namespaces unavailable?`, 125);
    if (kept !== null && kept.key === b.key && kept.platform === platform) kept.stubPid = started;
    if (confined) {
      // A reusing worker's later sandbox: the Sentry is confined already. A host signal
      // that came between two requests was for neither.
      (native() as unknown as { takeHostSignals(): number }).takeHostSignals();
      return;
    }
    confined = true;
    // Every address space is a clone of this stub: they all inherit its memory cgroup.
    if (memoryLimit.cgroupDir !== null && !memoryLimit.attach(started)) kernel.log('cannot move the stub into its memory cgroup');
    native().installSignalHandlers();
    // Set up: from here the Sentry needs only the host calls it serves guests with.
    confineSentry({ gofer: vfs.gofer !== null, stubPid: started }, (m) => process.stderr.write(`tssandbox: ${m}\n`));
    if (testHookKind() === 'pids-unbounded') kernel.pidsLimit = Infinity; // only the host's pids cgroup is left
  };
  if (restore) {
    startPlatform();
    try {
      // The restoring command's stdio stands in for the checkpointed one's.
      const hooks = { stdio: (fd: number, flags: number) => new HostFile(fd, (tty.isatty(fd) ? O_RDWR : fd === 0 ? O_RDONLY : O_WRONLY) | (flags & ~3)) };
      if (pre) finishRestore(pre.prep, hooks);
      else restoreSandbox(s, restore.meta, restore.payload, hooks);
    } catch (e) {
      if (e instanceof SnapshotError) fail(`restore: ${e.message}`, 125);
      throw e;
    }
    if (ttyFd >= 0 && s.init) attachTty(consoleTty, s.init);
    const st = s.run();
    return st & 0x7f ? 128 + (st & 0x7f) : (st >> 8) & 0xff;
  }
  if (o.checkpointOn !== null && o.imagePath !== null) {
    try {
      armCheckpoint(s, { signal: o.checkpointOn, imagePath: o.imagePath, run: checkpointedRunOptions(o), report: (m) => writeDiagnostic(`tssandbox: ${m}\n`) });
    } catch (e) {
      fail(`--image-path ${o.imagePath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 125);
    }
  }

  const envp = ci ? ci.env(buildEnv(o)) : buildEnv(o);
  const init = createInit(s, { req: null as unknown as ExecRequest, fdTable, fsCtx, creds });
  try {
    writeNetFiles(vfs, init, netEtcFiles(kernel, { dns: o.dns, hostname: o.hostname }), (m) => kernel.log(m));
  } catch (e) {
    fail(`cannot set up the network: ${(e as Error).message}`, 125);
  }
  try { ci?.attach(s, init); } catch (e) { if (e instanceof CiSetupError) fail(e.message, 125); throw e; }
  let cons: Console | null = null;
  if (useConsole) {
    const c = Console.create(init, fdTable);
    if (typeof c === 'string') fail(c, 125);
    cons = c;
    cons.attachSession(init);
    cons.syncWinsize();
    setHostWinchHook(() => c.syncWinsize());
  } else if (ttyFd >= 0) {
    // The host terminal is pid 1's controlling tty: tcsetpgrp keeps kernel.foregroundPgid
    // (where host ^C/^Z go) on the guest's foreground job.
    attachTty(consoleTty, init.tg);
  }

  // Working directory: the caller's when the sandbox can see it, else /.
  const cwd = o.cwd ?? callerCwd ?? process.cwd();
  const d = vfs.lookup(init, -100, toVfsPath(cwd), true);
  if (typeof d !== 'number') fsCtx.cwd = d;
  else if (o.cwd) fail(`--cwd ${o.cwd}: no such directory in the sandbox`, 125);

  const program = findProgram(init, o.program, envp);
  // The guest's strings are bytes (src/loader/exec-args.ts): the command line's in UTF-8.
  const req: ExecRequest = {
    path: program, argv: [o.program, ...o.args].map(hostStringToArg), envp: envp.map(hostStringToArg),
    uid: 0, euid: 0, gid: 0, egid: 0,
  };
  phase('run.init-made');
  const check = resolveExec((p) => vfs.openExec(init, p), req);
  if ('errno' in check) fail(check.reason, check.notFound ? 127 : 126);
  releaseResolution(check);

  startPlatform();
  if (cons) {
    cons.enterRaw();
    cons.start();
  }
  phase('run.platform-started');
  tracer?.execLine(init.tid, program, req.argv, envp.length);
  const err = startInit(s, init, req);
  phase('run.exec-loaded');
  if (err) {
    ci?.startFailed(err.notFound ? 127 : 126);
    fail(err.reason, err.notFound ? 127 : 126);
  }

  let status: number;
  try {
    status = s.run();
  } finally {
    cons?.restore();
  }
  phase('run.guest-ended');
  const sig = status & 0x7f;
  const code = sig ? 128 + sig : (status >> 8) & 0xff;
  const exit = ci ? ci.finish(status, code) : code;
  return b.det ? b.det.finish(exit) : exit;
}

/** A program name without '/' is looked up in the guest's PATH, like execvp. */
/** A host (UTF-8) string as a VFS path: latin1, one char per byte (fs/README.md). */
function toVfsPath(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

function findProgram(init: Task, hostName: string, envp: string[]): string {
  const name = toVfsPath(hostName);
  if (name.includes('/')) return name;
  const pathVar = envp.find((e) => e.startsWith('PATH='))?.slice(5) ?? '/usr/bin:/bin';
  let sawDenied = false;
  for (const dir of pathVar.split(':')) {
    const cand = path.posix.join(dir || '.', name);
    const r = init.kernel.vfs.openExec(init, cand);
    if (typeof r !== 'number') return cand;
    if (r === -EACCES || r === -ENOEXEC) sawDenied = true;
  }
  fail(`${hostName}: ${sawDenied ? 'permission denied' : 'command not found'}`, sawDenied ? 126 : 127);
}
