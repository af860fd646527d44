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
import { Kernel } from '../kernel/kernel';
import { startInit } from '../kernel/process-lifecycle';
import type { ThreadGroup } from '../kernel/thread-group';
import { setHostWinchHook } from '../kernel/signal-delivery';
import { WaitQueue } from '../waiter/waitqueue';
import { hostPoller } from '../waiter/host-poller';
import { ociNative, type HostCgroup } from './native';
import { closeStdio } from './stdio';
import { SetupError, setupFail } from './process-setup';
import { startNetwork, forkNetHelper, takeNetwork, type NetHelper } from './network';
import { ServerConn, closeFd, sendLine } from './control';
import type { ExecHost } from './guest-exec';
import { StateDir, procStart, type SavedState } from './state';
import { SandboxParts, buildHost, buildInit, buildTree, buildMounts } from './sandbox-build';
import { restoreSourceOf, upperOf, rootCaller, putRestored, resumeRestored, type RestoreSource } from './restore-sentry';
import { SnapshotError, type PreparedRestore } from '../snapshot/index';
import { prepareVdso } from '../loader/vdso';
import { handleRequest, type RequestHost } from './sandbox-requests';
import { Freezer } from './freezer';
import type { SentryInit, PoolLink, SentryConfine } from './sandbox-types';

export type { SentryInit, PoolLink, SentryConfine } from './sandbox-types';

const POLLIN = 1;

export class ContainerSentry implements RequestHost {
  private readonly st: StateDir;
  private state!: SavedState;
  /** What the build makes (sandbox-build.ts). */
  readonly p: SandboxParts;
  private isStarted = false;
  private settled = false;
  private isConfined = false;
  /** The network takeover's helper, until the hooks have run (network.ts). */
  private netHelper: NetHelper | null = null;
  private stubPid = -1;
  private freezerOf: Freezer | null = null;
  private listenFd = -1;
  private readonly conns = new Set<ServerConn>();
  /** Host pids of exec clients (ps --format json), by guest pid. */
  private readonly execClients = new Map<number, number>();
  private log: (m: string) => void;
  private logFd = -1;
  /** A restore's processes, put in and held until restore's hooks have run (restore-sentry.ts). */
  private restored: PreparedRestore | null = null;

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
    this.p = new SandboxParts(cfg, new Kernel(), this.logFd, this.log);
  }

  /** A line in the --debug log. */
  note(m: string): void {
    this.log(m);
  }

  /** Runs fn; a failure is create's (or restore's) one line, and the Sentry ends. */
  private setup(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      const known = e instanceof SetupError || e instanceof SnapshotError;
      const msg = e instanceof SnapshotError ? `restore: ${e.message}` : known ? (e as Error).message : `internal error: ${(e as Error)?.message ?? e}`;
      if (!known) this.log(String((e as Error)?.stack));
      // Not yet published: the host cgroup recorded for create, which removes it (pool.ts sends it).
      if (!this.pool && this.p.cgroup && !this.isConfined) this.st.write({ ...this.st.read(), cgroup: this.p.cgroup });
      this.report(`error: ${msg}`);
      process.exit(1);
    }
  }

  /** Builds the sandbox and reports to `create`; then serves until pid 1 exits. */
  main(): never {
    this.log(`sentry up at ${performance.now().toFixed(1)} ms`);
    const setup = (fn: () => void) => this.setup(fn);
    // The host's side first (the platform, the Gofer, the console). Then, where no host
    // program of create's is still to run in our stead (confinesEarly), we confine before
    // the image is read: the rootfs's content (its mount points, cwd, the program and its
    // ELF) is then walked and parsed by a Sentry that can no longer use root's powers.
    setup(() => {
      buildHost(this.p, this.pool?.cgroup ?? null);
      buildInit(this.p);
    });
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
    setup(() => buildTree(this.p));
    if (!early) {
      setup(() => this.startStub());
      this.publish();
    }
    // pid 1's program is loaded now (not run: no instruction of it runs before `start`;
    // `run` sends start too, once create's hooks have run), while a pool member still
    // waits for Docker's prestart hook: off the path of start.
    const err = this.loadInit(true);
    if (err) {
      this.report(`error: ${err}`);
      process.exit(1);
    }
    this.log(`ready at ${performance.now().toFixed(1)} ms`);
    this.report('ok');
    return this.serveToEnd();
  }

  /**
   * A restore (restore.ts): the same host side and tree as create's from the bundle,
   * with the image's upper layer under the rootfs, confined before the tree is walked;
   * then the image's processes put in, held until restore has run its hooks (`created`,
   * as create's), which lets them go on.
   */
  restoreMain(src: RestoreSource): never {
    this.log(`restoring sentry up at ${performance.now().toFixed(1)} ms`);
    this.setup(() => buildHost(this.p, null, upperOf(src)));
    this.setup(() => this.startStub());
    this.publish();
    // The image's [vvar] is mapped from the clock page (its image file opened now, before the confinement).
    prepareVdso();
    const err = this.confineNow();
    if (err) {
      this.report(`error: ${err}`);
      process.exit(1);
    }
    this.setup(() => {
      buildMounts(this.p, rootCaller(this.p));
      this.restored = putRestored(this.p, src);
    });
    this.log(`restored (held) at ${performance.now().toFixed(1)} ms`);
    this.report('ok');
    return this.serveToEnd();
  }

  /** Serves the control socket (before `start`, then while the guest runs) until pid 1 exits; exits with its status. */
  private serveToEnd(): never {
    if (!this.isStarted) this.serveCreated();
    this.serveRunning();
    const status = this.p.s.run();
    closeStdio([...(this.cfg.preserveHostFds ?? Array.from({ length: this.cfg.preserveFds }, (_, i) => 3 + i)), this.p.ptySlave]);
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
    this.state.status = 'created';
    if (this.p.cgroup) this.state.cgroup = this.p.cgroup;
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
    return this.p.cgroup;
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

  private startStub(): void {
    this.log(`stub start at ${performance.now().toFixed(1)} ms`);
    const started = this.p.platform.start();
    this.stubPid = started;
    if (started < 0) setupFail(`cannot start the sandbox stub (errno ${-started}): ptrace or namespaces unavailable?`);
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
      const netErr = takeNetwork(this.p.kernel, h, (m) => this.log(m));
      if (netErr) return netErr;
      this.log(`network (the helper's takeover) at ${performance.now().toFixed(1)} ms`);
    }
    this.settled = true;
    // A restore's hooks have run: its processes go on where they stood (no `start` comes).
    const held = this.restored;
    if (held !== null) {
      this.restored = null;
      const serr = this.start();
      if (serr) return serr;
      resumeRestored(this.p, held);
      this.log(`restored processes running at ${performance.now().toFixed(1)} ms`);
    }
    return null;
  }

  /** Confined; the network taken over first unless the helper is to do it after the hooks. */
  private confineNow(): string | null {
    if (this.isConfined) return null;
    if (this.netHelper === null) {
      const netErr = startNetwork(this.p.kernel, this.cfg.network, (m) => this.log(m));
      if (netErr) return netErr;
      this.log(`network at ${performance.now().toFixed(1)} ms`);
    }
    this.confine?.({ gofer: this.p.vfs.gofer !== null, stubPid: this.stubPid }, (m) => this.log(m));
    this.log(`confined at ${performance.now().toFixed(1)} ms`);
    this.isConfined = true;
    return null;
  }

  start(): string | null {
    if (this.isStarted) return 'container already started';
    this.log(`start at ${performance.now().toFixed(1)} ms`);
    const err = this.settle();
    if (err) return err;
    // Host signals for the run loop from now on (before, a signal's default ends us).
    ociNative().installSignalHandlers();
    this.isStarted = true;
    return null;
  }

  /**
   * Loads pid 1's program (found earlier in build), at create: a program that cannot be
   * loaded fails create. `hold`: loaded, not resumed; `start` resumes it.
   */
  private loadInit(hold: boolean): string | null {
    const err = startInit(this.p.s, this.p.init, this.p.initReq, hold);
    if (err) return `exec ${this.p.initReq.argv[0]}: ${err.reason}`;
    this.log(`pid 1 loaded at ${performance.now().toFixed(1)} ms`);
    return null;
  }

  /** Before `start`: no guest code runs, so a plain poll loop serves the socket. */
  private serveCreated(): void {
    const n = ociNative();
    while (!this.isStarted) {
      const list = [...this.conns];
      const fds = new Int32Array(list.length + 1);
      const ev = new Int32Array(list.length + 1).fill(POLLIN);
      const rev = new Int32Array(list.length + 1);
      fds[0] = this.listenFd;
      list.forEach((c, i) => (fds[i + 1] = c.fd));
      const r = n.hostPoll(fds, ev, rev, fds.length, -1);
      if (r <= 0) continue;
      list.forEach((c, i) => {
        if (rev[i + 1] && !this.isStarted) this.serveConn(c);
      });
      if (rev[0] && !this.isStarted) this.acceptAll(false);
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
        keep = handleRequest(this, c, msg, fds);
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

  get started(): boolean {
    return this.isStarted;
  }

  get freezer(): Freezer {
    return (this.freezerOf ??= new Freezer(this.p.s, this.p.kernel));
  }

  ownPids(): number[] {
    return this.pool ? [this.state.pid, process.pid] : [process.pid];
  }

  runInit(): void {
    // Loaded at create: its first instruction runs now, as runc's init execs at start.
    this.p.s.resumeNow(this.p.init);
    this.log(`pid 1 running at ${performance.now().toFixed(1)} ms`);
  }

  /** Exec connections whose later lines signal their process. */
  readonly onSignalLine = new Map<ServerConn, ThreadGroup>();

  get execHost(): ExecHost {
    const p = this.p;
    return { s: p.s, vfs: p.vfs, init: p.init, kernel: p.kernel, seccomp: p.seccomp, execClients: this.execClients, onSignalLine: this.onSignalLine, conns: this.conns };
  }
}

/** Entry point of `tssandbox __oci-sentry DIR` (a restore's too: restore.json beside init.json). */
export function sentryMain(dir: string, confine: SentryConfine | null): never {
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'init.json'), 'utf8')) as SentryInit;
  let src: RestoreSource | null;
  try {
    src = restoreSourceOf(dir, () => undefined);
  } catch (e) {
    try {
      fs.writeSync(cfg.syncFd, `error: ${(e as Error).message.replace(/^tssandbox: /, '')}\n`);
    } catch {
      // restore is gone: nothing to tell
    }
    process.exit(1);
  }
  const c = new ContainerSentry(cfg, confine);
  return src ? c.restoreMain(src) : c.main();
}

export { sendLine };
