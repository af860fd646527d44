/**
 * The container's sandbox built from its bundle (sandbox.ts runs these in order): first
 * the host's side (the host cgroup, the platform, the Gofer and the rootfs, the console),
 * pid 1's task (stdio, credentials), then the tree from the image (mounts, sysctls,
 * masks, cwd, pid 1's program found), which the Sentry may read already confined. A
 * restore (restore-sentry.ts) builds the same host side and tree, but no pid 1: the
 * image's processes are put in it.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tty from 'tty';
import { createVfs } from '../../fs/rootfs/create';
import { FdTable } from '../../fs/vfs/fdtable';
import { HostFile, consoleTty } from '../../fs/fsimpl/host/host-file';
import { tmpfsBudget } from '../../fs/vfs/space-budget';
import type { Tmpfs } from '../../fs/fsimpl/tmpfs/tmpfs';
import type { Kernel } from '../kernel/kernel';
import { Sentry } from '../kernel/sentry';
import { SYSCALL_TABLE } from '../../syscalls/table';
import { createInit } from '../kernel/process-lifecycle';
import { resolveExec, type ExecRequest } from '../loader/exec-image';
import { createPlatform, type Created } from '../platform/select';
import { installTimers } from '../kernel/time/index';
import { attach as attachTty } from '../kernel/tty';
import type { Task } from '../kernel/task';
import type { HostCgroup } from './native';
import { joinSandboxCgroup, adoptSandboxCgroup } from './resources';
import { installStdio, installTerminal, sentryNull, besideStderr } from './stdio';
import { maskPaths, readonlyPaths } from './masks';
import { applySysctl } from './sysctl';
import { ContainerMounts, nodeBind, type NodeBind } from './mounts';
import { setupFail, sendConsole, credsFor, applyRlimits, buildEnv, mkdirp, findProgram } from './process-setup';
import { compileProfile, type CompiledProfile, type SeccompProfile } from './seccomp-profile';
import { installFilter } from '../kernel/seccomp/install';
import { isBind, bundlePath } from './bundle';
import type { Mount, ProcessSpec } from './spec-types';
import type { SentryInit } from './sandbox-types';

const O_RDWR = 2;

export type Vfs = ReturnType<typeof createVfs>;

/** What the build makes, filled in as it goes (a failing build's host cgroup is still known). */
export class SandboxParts {
  s!: Sentry;
  vfs!: Vfs;
  init!: Task;
  initReq!: ExecRequest;
  platform!: Created['platform'];
  /** config.json's mounts that are not binds (made in buildTree), binds of nodes (devices, fifos: mounts.ts), binds by destination. */
  readonly later: Array<{ m: Mount; index: number }> = [];
  readonly nodeBinds: NodeBind[] = [];
  readonly bindIndex = new Map<string, number>();
  /** linux.resources' host cgroup (resources.ts), or null. */
  cgroup: HostCgroup | null = null;
  /** The host pty's slave end (pid 1's terminal), or -1. */
  ptySlave = -1;
  /** The host terminal fd the sandbox's console is (the pty slave, else a tty among 0..2), or -1. */
  ttyFd = -1;
  seccomp: CompiledProfile | null = null;

  constructor(readonly cfg: SentryInit, readonly kernel: Kernel, readonly logFd: number, readonly log: (m: string) => void) {}
}

/**
 * The host's side: cgroup, platform, rootfs through the Gofer (over `upper`, a restored
 * image's upper layer, when given), the console, the Sentry. pid 1's task is buildInit's.
 */
export function buildHost(p: SandboxParts, pre: HostCgroup | null, upper?: Tmpfs): void {
  const { cfg, kernel } = p;
  const c = cfg.config;
  const proc = c.process as ProcessSpec;
  // First: the Gofer and the stub, forked below, are then in the host cgroup with us (a
  // pool member is in one already: only the limits are written).
  const cg = pre ? adoptSandboxCgroup(pre, c.linux?.resources, p.log) : joinSandboxCgroup(c.linux?.resources);
  if (typeof cg === 'string') p.log(`linux.resources: no host cgroup (${cg}); the Sentry's own counts only`);
  else p.cgroup = cg;
  p.log(`cgroup at ${performance.now().toFixed(1)} ms`);
  const made = createPlatform(cfg.platform, { pin: true });
  if (typeof made === 'string') setupFail(made);
  const platform = made.platform;
  p.platform = platform;
  const binds: Array<{ src: string; dst: string; readonly: boolean }> = [];
  for (const [index, m] of (c.mounts ?? []).entries()) {
    if (isBind(m)) {
      p.bindIndex.set(path.posix.normalize(m.destination), index);
      const src = bundlePath(cfg.bundle, m.source!, 'mounts.source');
      const ro = (m.options ?? []).includes('ro');
      // Directories and regular files are live binds through the Gofer (a file's
      // changes on the host, e.g. Docker rewriting /etc/hosts, are seen at once);
      // a device or a fifo becomes a node of the sandbox's own (never read: /dev/zero
      // has no end), a socket is refused (mounts.ts).
      const st = fs.statSync(src);
      if (st.isDirectory() || st.isFile()) binds.push({ src, dst: m.destination, readonly: ro });
      else p.nodeBinds.push(nodeBind(src, m.destination, st));
    } else {
      p.later.push({ m, index });
    }
  }
  // Terminal: a host pty whose master goes to the console socket; the slave is the
  // guest's stdio and controlling terminal.
  let ptySlave = -1;
  if (proc.terminal && cfg.consoleSocket) {
    ptySlave = sendConsole(cfg.consoleSocket, proc.consoleSize);
  }
  p.ptySlave = ptySlave;
  const ttyFd = ptySlave >= 0 ? ptySlave : [0, 1, 2].find((fd) => tty.isatty(fd)) ?? -1;
  tmpfsBudget.limit = c.linux?.resources?.memory?.limit && c.linux.resources.memory.limit > 0
    ? c.linux.resources.memory.limit : Infinity;
  let vfs: Vfs;
  try {
    p.log(`createVfs at ${performance.now().toFixed(1)} ms`);
    vfs = besideStderr(p.logFd, () => createVfs({ root: cfg.rootfs, mounts: binds, ttyFd, kernel, upper }));
  } catch (e) {
    setupFail(`cannot set up the filesystem: ${(e as Error).message}`);
  }
  p.vfs = vfs;
  if (c.hostname) kernel.hostname = c.hostname;
  if (c.domainname) kernel.domainname = c.domainname;
  const pids = c.linux?.resources?.pids?.limit;
  if (pids && pids > 0) kernel.pidsLimit = pids;
  if (cfg.debug) kernel.debug = (m) => p.log(m);
  p.ttyFd = ttyFd;
  const s = new Sentry(kernel, platform, SYSCALL_TABLE);
  installTimers(s);
  p.s = s;
  p.seccomp = compileSeccomp(p);
}

/** pid 1's task (not loaded): credentials, seccomp, stdio or the console, preserved fds, limits. */
export function buildInit(p: SandboxParts): void {
  const { cfg, s, vfs, ttyFd, ptySlave } = p;
  const proc = cfg.config.process as ProcessSpec;
  const fdTable = new FdTable();
  const fsCtx = vfs.rootContext();
  const creds = credsFor(proc);
  if (proc.user?.umask !== undefined) fsCtx.umask = proc.user.umask & 0o777;
  const init = createInit(s, { req: null as unknown as ExecRequest, fdTable, fsCtx, creds });
  p.init = init;
  if (proc.noNewPrivileges) init.noNewPrivs = true;
  if (p.seccomp) installFilter(init, p.seccomp.prog, { log: p.seccomp.log });
  // stdio.ts: fds that were the host's /dev/null are pipes now; the guest gets ours.
  if (ptySlave >= 0) installTerminal(fdTable, ptySlave, true);
  else installStdio(fdTable, [0, 1, 2].filter((fd) => !cfg.nullFds.includes(fd)), cfg.nullFds, false, (fd) => sentryNull(vfs, init, fd));
  for (let i = 0; i < cfg.preserveFds; i++) fdTable.installAt(3 + i, new HostFile(cfg.preserveHostFds?.[i] ?? 3 + i, O_RDWR), false);
  if (ttyFd >= 0) attachTty(consoleTty, init.tg);
  applyRlimits(init.tg, proc);
}

/** The sandbox's tree from the image: mounts and masks (buildMounts), cwd, pid 1's program found (confined where confinesEarly). */
export function buildTree(p: SandboxParts): void {
  const c = p.cfg.config;
  const proc = c.process as ProcessSpec;
  const { vfs, init } = p;
  const fsCtx = init.fsCtx;
  const creds = init.creds;
  buildMounts(p, init);
  const envp = buildEnv(proc.env ?? []);
  const cwd = proc.cwd || '/';
  let d = vfs.lookup(init, -100, cwd, true);
  if (typeof d === 'number') {
    mkdirp(vfs, init, cwd);
    d = vfs.lookup(init, -100, cwd, true);
  }
  if (typeof d === 'number') setupFail(`process.cwd ${cwd}: cannot be made the working directory (errno ${-d})`);
  fsCtx.cwd = d;
  const args = proc.args as string[];
  const program = findProgram(vfs, init, args[0], envp);
  p.initReq = { path: program, argv: args, envp, uid: creds.uid, euid: creds.euid, gid: creds.gid, egid: creds.egid };
  const check = resolveExec((q) => vfs.openExec(init, q), p.initReq);
  if ('errno' in check) setupFail(`exec ${args[0]}: ${check.reason}`);
}

/**
 * config.json's tree over the rootfs and binds: the other mounts in config order, the
 * node binds, sysctls, read-only and masked paths, a read-only root. `by` looks the
 * paths up (pid 1 at create; the root's caller at a restore, which has no pid 1 yet).
 */
export function buildMounts(p: SandboxParts, by: Task): void {
  const c = p.cfg.config;
  const vfs = p.vfs;
  // Mounts that are not binds, in config order.
  const mounts = new ContainerMounts(vfs, by, p.bindIndex, (m) => p.log(m));
  for (const { m, index } of p.later) mounts.mountOne(m, index);
  for (const nb of p.nodeBinds) mounts.node(nb);
  // As runc: sysctls, read-only paths, then the masks (which may lie inside them).
  const masked = applySysctl(vfs, by, c.linux?.sysctl ?? {}) ?? readonlyPaths(vfs, by, c.linux?.readonlyPaths ?? []) ?? maskPaths(vfs, by, c.linux?.maskedPaths ?? []);
  if (masked) setupFail(masked);
  if (c.root?.readonly) vfs.rootFs.readonly = true;
}

/** linux.seccomp compiled for the Sentry's guest seccomp (seccomp-profile.ts); null without one. */
function compileSeccomp(p: SandboxParts): CompiledProfile | null {
  const prof = p.cfg.config.linux?.seccomp as SeccompProfile | undefined;
  if (!prof) return null;
  const r = compileProfile(prof);
  if (typeof r === 'string') setupFail(r);
  p.log(`seccomp: ${prof.syscalls?.length ?? 0} rules compiled to ${r.prog.len} instructions`);
  return r;
}
