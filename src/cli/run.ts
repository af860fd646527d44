/**
 * `tssandbox run`: builds one sandbox (filesystem, platform, Sentry), starts the
 * program as pid 1, runs until it exits and returns the exit code to pass on.
 */
import * as path from 'path';
import * as tty from 'tty';
import type { RunOptions } from './args';
import { createVfs } from '../../fs/rootfs/create';
import { FdTable } from '../../fs/vfs/fdtable';
import { HostFile } from '../../fs/fsimpl/host/host-file';
import { tmpfsBudget } from '../../fs/vfs/space-budget';
import { Kernel } from '../kernel/kernel';
import { memoryLimit } from '../mm/memory-limit';
import { Credentials } from '../auth/credentials';
import { Sentry } from '../kernel/sentry';
import { writeDiagnostic } from './diagnostics';
import { prepareVdso } from '../loader/vdso';
import type { Task } from '../kernel/task';
import { SYSCALL_TABLE } from '../../syscalls/table';
import { createInit, startInit } from '../kernel/process-lifecycle';
import { releaseResolution, resolveExec, type ExecRequest } from '../loader/exec-image';
import { hostStringToArg } from '../loader/exec-args';
import { createPlatform } from '../platform/select';
import { resolvePlatform } from './platforms';
import { native } from '../platform/native';
import { StraceTracer } from './strace';
import { installTimers } from '../kernel/time/index';
import { setupNetwork } from '../net/setup';
import { EACCES, ENOEXEC, ENOTDIR, errnoMessage } from '../abi/errno';
import * as nfs from 'node:fs';
import * as os from 'node:os';
import { Console } from './console';
import { attach as attachTty } from '../kernel/tty';
import { consoleTty } from '../../fs/fsimpl/host/host-file';
import { setHostWinchHook } from '../kernel/signal-delivery';
import { confineSentry } from './confine';

const O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2;

class RunError extends Error {
  constructor(message: string, readonly code: number) {
    super(message);
  }
}

function fail(message: string, code: number): never {
  throw new RunError(message, code);
}

export function runSandbox(o: RunOptions): number {
  try {
    return run(o);
  } catch (e) {
    if (e instanceof RunError) {
      process.stderr.write(`tssandbox: ${e.message}\n`);
      return e.code;
    }
    throw e;
  }
}

/** A host path the sandbox will serve: it must exist (and be a directory for --root); errors name the error. */
function checkHostSource(flag: string, p: string, dirOnly: boolean): void {
  let st: nfs.Stats;
  try {
    st = nfs.statSync(p);
  } catch (e) {
    const n = (e as { errno?: number }).errno;
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

function run(o: RunOptions): number {
  // -t: the guest gets a Sentry pty (src/cli/console.ts) instead of the host terminal.
  const useConsole = o.tty && tty.isatty(0);
  const ttyFd = useConsole ? -1 : [0, 1, 2].find((fd) => tty.isatty(fd)) ?? -1;
  // First: pinning applies to what is forked after it (the gofer, the stubs), and the
  // gofer answers the Sentry synchronously, best on the same CPU.
  const hostCpus = Math.min(31, Math.max(1, os.availableParallelism())); // before any pinning
  const made = createPlatform(resolvePlatform(o.platform), { pin: o.pin });
  if (typeof made === 'string') fail(made, 125);
  const platform = made.platform;
  const kernel = new Kernel();
  // Pinned, every guest thread shares one CPU: that is the machine the guest sees.
  kernel.cpus = made.pinned ? 1 : hostCpus;
  kernel.memoryLimit = o.memoryLimit;
  checkHostSource('--root', o.root, true);
  for (const m of o.mounts) checkHostSource('--mount', m.src, false);
  prepareVdso(); // the clock calibrates while the rest is set up
  tmpfsBudget.limit = o.tmpfsLimit;
  const memNote = memoryLimit.setup(o.memoryLimit);
  // With --memory, tmpfs and the stubs' memory share the one limit.
  if (memoryLimit.cgroupDir !== null) {
    tmpfsBudget.external = () => memoryLimit.usage();
    tmpfsBudget.onUsage = (used) => memoryLimit.reserve(used);
  }
  let vfs;
  try {
    vfs = createVfs({ root: o.root, mounts: o.mounts, tmpfs: o.tmpfs, ttyFd, kernel });
  } catch (e) {
    fail(`cannot set up the filesystem: ${(e as Error).message}`, 125);
  }
  kernel.pidsLimit = o.pidsLimit;
  if (o.debug) kernel.debug = (m) => writeDiagnostic(`tssandbox: ${m}\n`);
  if (o.debug) kernel.log(memNote);

  const fdTable = new FdTable();
  if (!useConsole) {
    fdTable.installAt(0, new HostFile(0, tty.isatty(0) ? O_RDWR : O_RDONLY), false);
    fdTable.installAt(1, new HostFile(1, tty.isatty(1) ? O_RDWR : O_WRONLY), false);
    fdTable.installAt(2, new HostFile(2, tty.isatty(2) ? O_RDWR : O_WRONLY), false);
  }
  const fsCtx = vfs.rootContext();
  const creds = new Credentials(0, 0);

  const s = new Sentry(kernel, platform, SYSCALL_TABLE);
  installTimers(s);
  try {
    setupNetwork(kernel, { mode: o.network, netns: o.netns, pcap: o.pcap, allowNet: o.allowNet, denyNet: o.denyNet, debug: o.debug ? (m) => writeDiagnostic(`tssandbox: ${m}\n`) : undefined });
  } catch (e) {
    fail(`cannot set up the network: ${(e as Error).message}`, 125);
  }
  if (o.hostname !== null) kernel.hostname = o.hostname;
  const tracer = o.strace ? new StraceTracer((l) => writeDiagnostic(l + '\n')) : null;
  s.tracer = tracer;

  const envp = buildEnv(o);
  const init = createInit(s, { req: null as unknown as ExecRequest, fdTable, fsCtx, creds });
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
  const cwd = o.cwd ?? process.cwd();
  const d = vfs.lookup(init, -100, toVfsPath(cwd), true);
  if (typeof d !== 'number') fsCtx.cwd = d;
  else if (o.cwd) fail(`--cwd ${o.cwd}: no such directory in the sandbox`, 125);

  const program = findProgram(init, o.program, envp);
  // The guest's strings are bytes (src/loader/exec-args.ts): the command line's in UTF-8.
  const req: ExecRequest = {
    path: program, argv: [o.program, ...o.args].map(hostStringToArg), envp: envp.map(hostStringToArg),
    uid: 0, euid: 0, gid: 0, egid: 0,
  };
  const check = resolveExec((p) => vfs.openExec(init, p), req);
  if ('errno' in check) fail(check.reason, check.notFound ? 127 : 126);
  releaseResolution(check);

  const started = platform.start();
  if (started < 0) fail(`cannot start the sandbox stub (errno ${-started}): ptrace or namespaces unavailable?`, 125);
  // Every address space is a clone of this stub: they all inherit its memory cgroup.
  if (memoryLimit.cgroupDir !== null && !memoryLimit.attach(started)) kernel.log('cannot move the stub into its memory cgroup');
  native().installSignalHandlers();
  // Set up: from here the Sentry needs only the host calls it serves guests with.
  confineSentry({ gofer: vfs.gofer !== null, stubPid: started }, (m) => process.stderr.write(`tssandbox: ${m}\n`));
  if (cons) {
    cons.enterRaw();
    cons.start();
  }
  tracer?.execLine(init.tid, program, req.argv, envp.length);
  const err = startInit(s, init, req);
  if (err) fail(err.reason, err.notFound ? 127 : 126);

  let status: number;
  try {
    status = s.run();
  } finally {
    cons?.restore();
  }
  const sig = status & 0x7f;
  return sig ? 128 + sig : (status >> 8) & 0xff;
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
