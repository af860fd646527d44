/**
 * The container's Sentry: the detached process `create` starts (`tssandbox
 * __oci-sentry DIR`). Its host pid is the container's pid; its exit status is the
 * container's. It builds the sandbox from the bundle (rootfs through the Gofer under a
 * tmpfs overlay, mounts, hostname, the process's env/cwd/user/rlimits/capabilities),
 * creates pid 1 without running it, tells `create` it is ready, then serves its control
 * socket: `start` loads and runs pid 1, `kill` signals, `exec` adds a guest process
 * with the stdio it was sent, `ps`/`state` report. It exits when pid 1 exits.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tty from 'tty';
import { createVfs } from '../../fs/rootfs/create';
import { FdTable } from '../../fs/vfs/fdtable';
import { HostFile, consoleTty } from '../../fs/fsimpl/host/host-file';
import { tmpfsBudget } from '../../fs/vfs/space-budget';
import { Kernel } from '../kernel/kernel';
import { Sentry } from '../kernel/sentry';
import { SYSCALL_TABLE } from '../../syscalls/table';
import { createInit, startInit, stopGroup, continueGroup } from '../kernel/process-lifecycle';
import { resolveExec, type ExecRequest } from '../loader/exec-image';
import { createPlatform, type Created, type PlatformName } from '../platform/select';
import { installTimers } from '../kernel/time/index';
import { attach as attachTty } from '../kernel/tty';
import { Task } from '../kernel/task';
import { ThreadGroup } from '../kernel/thread-group';
import { sendToGroup, setHostWinchHook } from '../kernel/signal-delivery';
import { WaitQueue } from '../waiter/waitqueue';
import { hostPoller } from '../waiter/host-poller';
import { ociNative, type HostCgroup } from './native';
import { joinSandboxCgroup } from './resources';
import { installStdio, installTerminal, sentryNull, besideStderr, closeStdio } from './stdio';
import { maskPaths, readonlyPaths } from './masks';
import { applySysctl } from './sysctl';
import { ContainerMounts, nodeBind, type NodeBind } from './mounts';
import { SetupError, setupFail, sendConsole, credsFor, applyRlimits, buildEnv, mkdirp, findProgram } from './process-setup';
import { startNetwork, forkNetHelper, takeNetwork, type NetHelper } from './network';
import { compileProfile, type CompiledProfile, type SeccompProfile } from './seccomp-profile';
import { installFilter } from '../kernel/seccomp/install';
import { ServerConn, closeFd, sendLine } from './control';
import { execGuest, type ExecHost } from './guest-exec';
import { serveCheckpoint, checkpointRunFlags } from './checkpoint';
import { StateDir, procStart, type SavedState } from './state';
import { isBind, bundlePath } from './bundle';
import type { Mount, ProcessSpec, Spec } from './spec-types';

const O_RDWR = 2;
const POLLIN = 1;

/** What `create` hands its Sentry (init.json in the state directory). */
export interface SentryInit {
  id: string;
  root: string;
  bundle: string;
  rootfs: string;
  config: Spec;
  consoleSocket: string | null;
  preserveFds: number;
  /** fd of the pipe on which "ok" or the error line goes back to `create`. */
  syncFd: number;
  logPath: string | null;
  debug: boolean;
  /** The network mode: "none" (loopback only) or "sandbox" (network.ts). */
  network: string;
  /** The platform (platform.ts: --platform, the annotation, TSSANDBOX_PLATFORM). */
  platform: PlatformName;
  /** Set by `run`: start pid 1 as soon as it is created. */
  autoStart: boolean;
  /** Which of fds 0..2 `create` replaced, for being the host's /dev/null (stdio.ts). */
  nullFds: number[];
  /** The host fds of --preserve-fds when not at 3.. (a pool Sentry received them). */
  preserveHostFds?: number[];
}

/** A pool Sentry's link to its `create` (pool.ts). */
export interface PoolLink {
  /** Has the container's process (the front) made; its host pid. */
  front(): number;
  /** "ok" or "error: ..." for create, in place of the sync pipe. */
  report(line: string): void;
}


/** Signals whose default action is to ignore (a created container survives them). */
const DEFAULT_IGNORED = new Set([17, 18, 23, 28]);

type Vfs = ReturnType<typeof createVfs>;

export class ContainerSentry {
  private readonly st: StateDir;
  private state!: SavedState;
  private s!: Sentry;
  private vfs!: Vfs;
  private init!: Task;
  private initReq!: ExecRequest;
  /** The container's sandbox (one per Sentry process). */
  private readonly kernel = new Kernel();
  private started = false;
  private settled = false;
  private isConfined = false;
  /** The network takeover's helper, until the hooks have run (network.ts). */
  private netHelper: NetHelper | null = null;
  private seccomp: CompiledProfile | null = null;
  private stubPid = -1;
  private paused = false;
  private listenFd = -1;
  private readonly conns = new Set<ServerConn>();
  /** Host pids of exec clients (ps --format json), by guest pid. */
  private readonly execClients = new Map<number, number>();
  private log: (m: string) => void;
  private platform!: Created['platform'];
  /** config.json's mounts that are not binds (made in buildTree), binds of nodes (devices, fifos: mounts.ts), binds by destination. */
  private readonly later: Array<{ m: Mount; index: number }> = [];
  private readonly nodeBinds: NodeBind[] = [];
  private readonly bindIndex = new Map<string, number>();
  private logFd = -1;
  /** linux.resources' host cgroup (resources.ts), or null. */
  private cgroup: HostCgroup | null = null;
  /** The host pty's slave end (pid 1's terminal), or -1. */
  private ptySlave = -1;

  constructor(readonly cfg: SentryInit, private readonly confine: SentryConfine | null, private readonly pool: PoolLink | null = null) {
    this.st = new StateDir(cfg.root, cfg.id);
    // Opened now: the confined Sentry opens no host path for writing.
    if (cfg.debug && cfg.logPath) {
      try {
        this.logFd = fs.openSync(cfg.logPath, 'a');
      } catch {
        // the log is best effort
      }
    }
    this.log = (m) => {
      if (this.logFd < 0) return;
      try {
        fs.writeSync(this.logFd, JSON.stringify({ level: 'debug', msg: m, time: new Date().toISOString() }) + '\n');
      } catch {
        // the log is best effort
      }
    };
  }

  /** A line in the --debug log. */
  note(m: string): void {
    this.log(m);
  }

  /** Builds the sandbox and reports to `create`; then serves until pid 1 exits. */
  main(): never {
    this.log(`sentry up at ${performance.now().toFixed(1)} ms`);
    const setup = (fn: () => void): void => {
      try {
        fn();
      } catch (e) {
        const msg = e instanceof SetupError ? e.message : `internal error: ${(e as Error)?.message ?? e}`;
        if (!(e instanceof SetupError)) this.log(String((e as Error)?.stack));
        // Not yet published: the host cgroup recorded for create, which removes it (pool.ts sends it).
        if (!this.pool && this.cgroup && !this.isConfined) this.st.write({ ...this.st.read(), cgroup: this.cgroup });
        this.report(`error: ${msg}`);
        process.exit(1);
      }
    };
    // The host's side first (the platform, the Gofer, the console). Then, where no host
    // program of create's is still to run in our stead (confinesEarly), we confine before
    // the image is read: the rootfs's content (its mount points, cwd, the program and its
    // ELF) is then walked and parsed by a Sentry that can no longer use root's powers.
    setup(() => this.build());
    const early = this.confinesEarly();
    if (early) {
      setup(() => this.startStub());
      this.publish();
      if (this.netAfterHooks()) {
        const h = forkNetHelper();
        if (typeof h === 'string') {
          this.report(`error: ${h}`);
          process.exit(1);
        }
        this.netHelper = h;
      }
      const err = this.confineNow();
      if (err) {
        this.report(`error: ${err}`);
        process.exit(1);
      }
    }
    setup(() => this.buildTree());
    if (!early) {
      setup(() => this.startStub());
      this.publish();
    }
    // pid 1's program is loaded now (not run: no instruction of it runs before `start`),
    // while a pool member still waits for Docker's prestart hook: off the path of start.
    const err = this.cfg.autoStart ? this.start() ?? this.loadInit(false) : this.loadInit(true);
    if (err) {
      this.report(`error: ${err}`);
      process.exit(1);
    }
    this.log(`ready at ${performance.now().toFixed(1)} ms`);
    this.report('ok');
    if (!this.started) this.serveCreated();
    this.serveRunning();
    const status = this.s.run();
    closeStdio([...(this.cfg.preserveHostFds ?? Array.from({ length: this.cfg.preserveFds }, (_, i) => 3 + i)), this.ptySlave]);
    this.log(`pid 1 exited, wait status ${status}`);
    const sig = status & 0x7f;
    process.exit(sig ? 128 + sig : (status >> 8) & 0xff);
  }

  /** The container's pid and status in state.json, the control socket listening. */
  private publish(): void {
    this.state = this.st.read();
    this.state.pid = this.pool ? this.pool.front() : process.pid;
    this.state.pidStart = procStart(this.state.pid) ?? '';
    if (this.pool) {
      this.state.sentryPid = process.pid;
      this.state.sentryStart = procStart(process.pid) ?? '';
    }
    // The last state the Sentry writes: once confined it writes no host path, and the
    // commands that change the status (start, pause, resume) record it themselves.
    this.state.status = this.cfg.autoStart ? 'running' : 'created';
    if (this.cgroup) this.state.cgroup = this.cgroup;
    this.st.write(this.state);
    this.listenFd = ociNative().ociListen(this.st.sockPath);
    if (this.listenFd < 0) {
      this.report(`error: cannot listen on ${this.st.sockPath} (errno ${-this.listenFd})`);
      process.exit(1);
    }
  }

  /**
   * Whether the Sentry confines itself before it reads the image: unless a host program
   * of create's is still to be started by this process (a confined process's children
   * inherit its seccomp filter and chroot): a pool member's hooks past Docker's first
   * prestart one (started before the build, pool.ts). The Node command line's create runs
   * the hooks itself. A hook that configures the network the Sentry takes over no longer
   * holds it back: the helper does the takeover after it (netAfterHooks).
   */
  private confinesEarly(): boolean {
    if (!this.pool) return true;
    const h = this.cfg.config.hooks ?? {};
    return !((h.prestart?.length ?? 0) > 1 || !!h.createRuntime?.length || !!h.createContainer?.length);
  }

  /** Mode sandbox with create hooks (Docker's configures the namespace in its prestart hook): the takeover waits for them. */
  private netAfterHooks(): boolean {
    const h = this.cfg.config.hooks ?? {};
    return this.cfg.network === 'sandbox' && (['prestart', 'createRuntime', 'createContainer'] as const).some((k) => h[k]?.length);
  }

  /** The host cgroup made (a failing create removes it), or null. */
  get hostCgroup(): HostCgroup | null {
    return this.cgroup;
  }

  /** True once confined (a failing create then leaves its state directory to `create` to remove). */
  get confined(): boolean {
    return this.isConfined;
  }

  private report(line: string): void {
    if (this.pool) return this.pool.report(line);
    try {
      fs.writeSync(this.cfg.syncFd, line + '\n');
      fs.closeSync(this.cfg.syncFd);
    } catch {
      // `create` is gone: nothing to tell
    }
  }

  // ---- building the sandbox ----

  private build(): void {
    const c = this.cfg.config;
    const proc = c.process as ProcessSpec;
    // First: the Gofer and the stub, forked below, are then in the host cgroup with us.
    const cg = joinSandboxCgroup(c.linux?.resources);
    if (typeof cg === 'string') this.log(`linux.resources: no host cgroup (${cg}); the Sentry's own counts only`);
    else this.cgroup = cg;
    this.log(`cgroup at ${performance.now().toFixed(1)} ms`);
    const made = createPlatform(this.cfg.platform, { pin: true });
    if (typeof made === 'string') setupFail(made);
    const platform = made.platform;
    this.platform = platform;
    const binds: Array<{ src: string; dst: string; readonly: boolean }> = [];
    const { later, nodeBinds, bindIndex } = this;
    for (const [index, m] of (c.mounts ?? []).entries()) {
      if (isBind(m)) {
        bindIndex.set(path.posix.normalize(m.destination), index);
        const src = bundlePath(this.cfg.bundle, m.source!, 'mounts.source');
        const ro = (m.options ?? []).includes('ro');
        // Directories and regular files are live binds through the Gofer (a file's
        // changes on the host, e.g. Docker rewriting /etc/hosts, are seen at once);
        // a device or a fifo becomes a node of the sandbox's own (never read: /dev/zero
        // has no end), a socket is refused (mounts.ts).
        const st = fs.statSync(src);
        if (st.isDirectory() || st.isFile()) binds.push({ src, dst: m.destination, readonly: ro });
        else nodeBinds.push(nodeBind(src, m.destination, st));
      } else {
        later.push({ m, index });
      }
    }
    // Terminal: a host pty whose master goes to the console socket; the slave is the
    // guest's stdio and controlling terminal.
    let ptySlave = -1;
    if (proc.terminal && this.cfg.consoleSocket) {
      ptySlave = sendConsole(this.cfg.consoleSocket, proc.consoleSize);
    }
    this.ptySlave = ptySlave;
    const ttyFd = ptySlave >= 0 ? ptySlave : [0, 1, 2].find((fd) => tty.isatty(fd)) ?? -1;
    tmpfsBudget.limit = c.linux?.resources?.memory?.limit && c.linux.resources.memory.limit > 0
      ? c.linux.resources.memory.limit : Infinity;
    let vfs: Vfs;
    try {
      this.log(`createVfs at ${performance.now().toFixed(1)} ms`);
      vfs = besideStderr(this.logFd, () => createVfs({ root: this.cfg.rootfs, mounts: binds, ttyFd, kernel: this.kernel }));
    } catch (e) {
      setupFail(`cannot set up the filesystem: ${(e as Error).message}`);
    }
    this.vfs = vfs;
    if (c.hostname) this.kernel.hostname = c.hostname;
    if (c.domainname) this.kernel.domainname = c.domainname;
    const pids = c.linux?.resources?.pids?.limit;
    if (pids && pids > 0) this.kernel.pidsLimit = pids;
    if (this.cfg.debug) this.kernel.debug = (m) => this.log(m);

    const fdTable = new FdTable();
    const fsCtx = vfs.rootContext();
    const creds = credsFor(proc);
    if (proc.user?.umask !== undefined) fsCtx.umask = proc.user.umask & 0o777;

    const s = new Sentry(this.kernel, platform, SYSCALL_TABLE);
    installTimers(s);
    this.s = s;
    const init = createInit(s, { req: null as unknown as ExecRequest, fdTable, fsCtx, creds });
    this.init = init;
    if (proc.noNewPrivileges) init.noNewPrivs = true;
    this.seccomp = this.compileSeccomp();
    if (this.seccomp) installFilter(init, this.seccomp.prog, { log: this.seccomp.log });
    // stdio.ts: fds that were the host's /dev/null are pipes now; the guest gets ours.
    if (ptySlave >= 0) installTerminal(fdTable, ptySlave, true);
    else installStdio(fdTable, [0, 1, 2].filter((fd) => !this.cfg.nullFds.includes(fd)), this.cfg.nullFds, false, (fd) => sentryNull(vfs, init, fd));
    for (let i = 0; i < this.cfg.preserveFds; i++) fdTable.installAt(3 + i, new HostFile(this.cfg.preserveHostFds?.[i] ?? 3 + i, O_RDWR), false);
    if (ttyFd >= 0) attachTty(consoleTty, init.tg);
    applyRlimits(init.tg, proc);
  }

  /** The sandbox's tree from the image: mounts, masks, cwd, pid 1's program found (confined where confinesEarly). */
  private buildTree(): void {
    const c = this.cfg.config;
    const proc = c.process as ProcessSpec;
    const { vfs, init, later, nodeBinds, bindIndex } = this;
    const fsCtx = init.fsCtx;
    const creds = init.creds;
    // Mounts that are not binds, in config order.
    const mounts = new ContainerMounts(vfs, init, bindIndex, (m) => this.log(m));
    for (const { m, index } of later) mounts.mountOne(m, index);
    for (const nb of nodeBinds) mounts.node(nb);
    // As runc: sysctls, read-only paths, then the masks (which may lie inside them).
    const masked = applySysctl(vfs, init, c.linux?.sysctl ?? {}) ?? readonlyPaths(vfs, init, c.linux?.readonlyPaths ?? []) ?? maskPaths(vfs, init, c.linux?.maskedPaths ?? []);
    if (masked) setupFail(masked);
    if (c.root?.readonly) vfs.rootFs.readonly = true;

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
    this.initReq = { path: program, argv: args, envp, uid: creds.uid, euid: creds.euid, gid: creds.gid, egid: creds.egid };
    const check = resolveExec((p) => vfs.openExec(init, p), this.initReq);
    if ('errno' in check) setupFail(`exec ${args[0]}: ${check.reason}`);
  }

  private startStub(): void {
    this.log(`stub start at ${performance.now().toFixed(1)} ms`);
    const started = this.platform.start();
    this.stubPid = started;
    if (started < 0) setupFail(`cannot start the sandbox stub (errno ${-started}): ptrace or namespaces unavailable?`);
  }

  /** linux.seccomp compiled for the Sentry's guest seccomp (seccomp-profile.ts); null without one. */
  private compileSeccomp(): CompiledProfile | null {
    const prof = this.cfg.config.linux?.seccomp as SeccompProfile | undefined;
    if (!prof) return null;
    const r = compileProfile(prof);
    if (typeof r === 'string') setupFail(r);
    this.log(`seccomp: ${prof.syscalls?.length ?? 0} rules compiled to ${r.prog.len} instructions`);
    return r;
  }

  // ---- lifecycle ----

  /**
   * The container's network taken over (network.ts) and the Sentry confined as `run`'s
   * is (src/cli/confine.ts, handed down by the command line): from here it needs only
   * the host calls it serves guests with. Done as soon as create's hooks have run (they
   * are host programs, and Docker's configures the network namespace), so a created
   * container's Sentry is confined before `start`; at `start` at the latest. Confined
   * early (before the image), a network a hook configures is taken over by the helper.
   */
  settle(): string | null {
    if (this.settled) return null;
    const err = this.confineNow();
    if (err) return err;
    const h = this.netHelper;
    if (h !== null) {
      this.netHelper = null;
      const netErr = takeNetwork(this.kernel, h, (m) => this.log(m));
      if (netErr) return netErr;
      this.log(`network (the helper's takeover) at ${performance.now().toFixed(1)} ms`);
    }
    this.settled = true;
    return null;
  }

  /** Confined; the network taken over first unless the helper is to do it after the hooks. */
  private confineNow(): string | null {
    if (this.isConfined) return null;
    if (this.netHelper === null) {
      const netErr = startNetwork(this.kernel, this.cfg.network, (m) => this.log(m));
      if (netErr) return netErr;
      this.log(`network at ${performance.now().toFixed(1)} ms`);
    }
    this.confine?.({ gofer: this.vfs.gofer !== null, stubPid: this.stubPid }, (m) => this.log(m));
    this.log(`confined at ${performance.now().toFixed(1)} ms`);
    this.isConfined = true;
    return null;
  }

  private start(): string | null {
    if (this.started) return 'container already started';
    this.log(`start at ${performance.now().toFixed(1)} ms`);
    const err = this.settle();
    if (err) return err;
    // Host signals for the run loop from now on (before, a signal's default ends us).
    ociNative().installSignalHandlers();
    this.started = true;
    return null;
  }

  /**
   * Loads pid 1's program (found earlier in build), at create: a program that cannot be
   * loaded fails create. `hold`: loaded, not resumed; `start` resumes it.
   */
  private loadInit(hold: boolean): string | null {
    const err = startInit(this.s, this.init, this.initReq, hold);
    if (err) return `exec ${this.initReq.argv[0]}: ${err.reason}`;
    this.log(`pid 1 loaded at ${performance.now().toFixed(1)} ms`);
    return null;
  }

  /** Before `start`: no guest code runs, so a plain poll loop serves the socket. */
  private serveCreated(): void {
    const n = ociNative();
    while (!this.started) {
      const list = [...this.conns];
      const fds = new Int32Array(list.length + 1);
      const ev = new Int32Array(list.length + 1).fill(POLLIN);
      const rev = new Int32Array(list.length + 1);
      fds[0] = this.listenFd;
      list.forEach((c, i) => (fds[i + 1] = c.fd));
      const r = n.hostPoll(fds, ev, rev, fds.length, -1);
      if (r <= 0) continue;
      list.forEach((c, i) => {
        if (rev[i + 1] && !this.started) this.serveConn(c);
      });
      if (rev[0] && !this.started) this.acceptAll(false);
    }
  }

  /**
   * After `start`. The listening socket is not polled by the run loop (a watched host
   * fd costs every guest syscall its fast path): a client rings the doorbell, SIGWINCH
   * to this process, after connecting, and the Sentry accepts then. Only connections
   * that stay open (an exec waiting for its process) are polled, while they last.
   */
  private serveRunning(): void {
    // The platform's wait hears host signals before every stop (native/ptrace_platform.cc),
    // so the doorbell rings even under a guest that never stops making syscalls.
    setHostWinchHook(() => this.acceptAll(true));
    for (const c of this.conns) this.watchConn(c);
    // A client that rang before the hook was set.
    this.acceptAll(true);
  }

  private acceptAll(running: boolean): void {
    const n = ociNative();
    for (;;) {
      const fd = n.ociAccept(this.listenFd);
      if (fd < 0) return;
      const c = new ServerConn(fd);
      this.conns.add(c);
      if (!running) continue;
      this.serveConn(c);
      if (!c.closed) this.watchConn(c);
    }
  }

  private watchConn(c: ServerConn): void {
    const q = new WaitQueue();
    q.add(0xffffffff, () => {
      this.serveConn(c);
      if (!c.closed) hostPoller.watch(c.fd, POLLIN, q);
    });
    hostPoller.watch(c.fd, POLLIN, q);
  }

  private serveConn(c: ServerConn): void {
    for (const { msg, fds } of c.read()) {
      let keep = false;
      try {
        keep = this.handle(c, msg, fds);
      } catch (e) {
        this.log(`request ${msg.op} failed: ${(e as Error)?.stack ?? e}`);
        for (const f of fds) closeFd(f);
        c.send({ ok: false, error: `internal error: ${(e as Error)?.message ?? e}` });
      }
      // One request, one reply: only an exec's connection stays.
      if (!keep) c.close();
    }
    if (c.closed) this.conns.delete(c);
  }

  /** Serves one request; true when the connection stays open (a running exec). */
  private handle(c: ServerConn, msg: Record<string, unknown>, fds: number[]): boolean {
    switch (msg.op) {
      case 'state':
        c.send({ ok: true, status: this.started ? 'running' : 'created' });
        return false;
      case 'created': {
        // create's hooks have run (the Node command line's create; a pool member calls settle itself).
        const err = this.settle();
        c.send(err ? { ok: false, error: err } : { ok: true });
        return false;
      }
      case 'start': {
        const err = this.start();
        c.send(err ? { ok: false, error: err } : { ok: true });
        c.close();
        if (err) {
          if (!this.started) process.exit(127);
          return false;
        }
        // Loaded at create: its first instruction runs now, as runc's init execs at start.
        this.s.resumeNow(this.init);
        this.log(`pid 1 running at ${performance.now().toFixed(1)} ms`);
        return false;
      }
      case 'checkpoint': // checkpoint.ts
        if (!this.started) {
          for (const f of fds) closeFd(f);
          c.send({ ok: false, error: 'cannot checkpoint a container that has not been started' });
          return false;
        }
        return serveCheckpoint(this.s, c, msg, fds, checkpointRunFlags({ ...this.cfg, tmpfsLimit: tmpfsBudget.limit, pidsLimit: this.kernel.pidsLimit, hostname: this.kernel.hostname }));
      case 'kill': {
        const sig = Number(msg.signal);
        if (!(sig >= 0 && sig < 65)) {
          c.send({ ok: false, error: `invalid signal ${msg.signal}` });
          return false;
        }
        c.send({ ok: true });
        if (sig === 0) return false;
        if (!this.started) {
          if (DEFAULT_IGNORED.has(sig)) return false;
          c.close();
          process.exit(128 + sig);
        }
        const targets = msg.all ? [...this.kernel.threadGroups.values()] : [this.init.tg];
        for (const tg of targets) sendToGroup(this.s, tg, { signo: sig, code: 0, pid: 0, uid: 0, force: true });
        return false;
      }
      case 'ps': {
        const procs = [...this.kernel.threadGroups.values()].filter((tg) => !tg.zombie).map((tg) => ({
          pid: tg.pid, ppid: tg.parent?.pid ?? 0, uid: [...tg.tasks][0]?.creds.uid ?? 0, cmd: (tg.argv ?? []).join(' '),
        }));
        const own = this.pool ? [this.state.pid, process.pid] : [process.pid];
        c.send({ ok: true, hostPids: [...own, ...this.execClients.values()], procs });
        return false;
      }
      case 'exec':
        if (!this.started) {
          for (const f of fds) closeFd(f);
          c.send({ ok: false, error: 'cannot exec in a container that has not been started' });
          return false;
        }
        return execGuest(this.execHost, c, msg, fds);
      case 'pause':
      case 'resume': {
        // As the cgroup freezer: every thread held at its next stop, the guest not told.
        if (!this.started) {
          c.send({ ok: false, error: `cannot ${msg.op} a container that has not been started` });
          return false;
        }
        const want = msg.op === 'pause';
        if (this.paused === want) {
          c.send({ ok: false, error: want ? 'container already paused' : 'container not paused' });
          return false;
        }
        for (const tg of this.kernel.threadGroups.values()) if (!tg.zombie) want ? stopGroup(this.s, tg, 19, true) : continueGroup(this.s, tg, true);
        this.paused = want;
        c.send({ ok: true });
        return false;
      }
      case 'update': {
        const pidsLimit = Number(msg.pids);
        if (msg.pids !== undefined && pidsLimit > 0) this.kernel.pidsLimit = pidsLimit;
        else if (msg.pids !== undefined && pidsLimit <= 0) this.kernel.pidsLimit = 16384;
        const mem = Number(msg.memory);
        if (msg.memory !== undefined) tmpfsBudget.limit = mem > 0 ? mem : Infinity;
        c.send({ ok: true });
        return false;
      }
      case 'stats': {
        const lim = (v: number) => (Number.isFinite(v) ? v : 0);
        c.send({
          ok: true, pids: this.kernel.tasks.size, pidsLimit: this.kernel.pidsLimit, memory: tmpfsBudget.used,
          memoryLimit: lim(tmpfsBudget.limit), processes: [...this.kernel.threadGroups.values()].filter((tg) => !tg.zombie).length,
        });
        return false;
      }
      case 'signal': {
        const tg = this.onSignalLine.get(c);
        const sig = Number(msg.signal);
        if (tg && !tg.zombie && sig > 0 && sig < 65) sendToGroup(this.s, tg, { signo: sig, code: 0, pid: 0, uid: 0, force: true });
        return !!tg;
      }
      default:
        for (const f of fds) closeFd(f);
        c.send({ ok: false, error: `unknown request ${String(msg.op)}` });
        return false;
    }
  }

  /** Exec connections whose later lines signal their process. */
  private readonly onSignalLine = new Map<ServerConn, ThreadGroup>();

  private get execHost(): ExecHost {
    return { s: this.s, vfs: this.vfs, init: this.init, kernel: this.kernel, seccomp: this.seccomp, execClients: this.execClients, onSignalLine: this.onSignalLine, conns: this.conns };
  }
}

/** Entry point of `tssandbox __oci-sentry DIR`. */
export function sentryMain(dir: string, confine: SentryConfine | null): never {
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'init.json'), 'utf8')) as SentryInit;
  return new ContainerSentry(cfg, confine).main();
}

/** The Sentry's self-confinement (src/cli/confine.ts's confineSentry, passed down: cli is the layer above). */
export type SentryConfine = (o: { gofer: boolean; stubPid: number }, warn: (m: string) => void) => number;

export { sendLine };
