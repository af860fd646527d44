/**
 * The warm pool: up to `size` ready workers (src/server/worker.ts), each its own Node
 * process waiting on a private socket, refilled in the background as they are taken or
 * die, and capped by the memory (PSS) the ready ones take together. With `reuse` > 1 a
 * worker comes back after each request (it says "exit N", then "ready" once its next
 * sandbox is built) and counts toward the size while busy: requests beyond the pool
 * wait for one to come back instead of paying a Node start-up each.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { ANY_FD_ENV, POOL_CPU_ENV, serverNative } from './protocol';

export interface PoolOptions {
  /** Ready workers to keep. */
  size: number;
  /** Bytes of PSS the ready workers may take together (Infinity: no cap). */
  maxMemory: number;
  /** The server's private (0700) directory for the workers' sockets. */
  dir: string;
  /**
   * How to start `tssandbox __pool-worker SOCKET`: the native front (the Sentry in a user
   * namespace of its own, native/launch_flags.h), or node, its flags, the entry script.
   */
  command: string[];
  /** Environment of the workers (the front's TSSANDBOX_NODE); host workers add TSSANDBOX_USERNS=off. */
  env?: NodeJS.ProcessEnv;
  /** After the worker's socket: e.g. `--template DIR`. */
  workerArgs?: string[];
  /** Requests one worker serves in turn (`serve --reuse N`); 1: one each. */
  reuse?: number;
  /** Reuse: false for no shared socket (every request named a worker by the server). */
  shared?: boolean;
  log?: (m: string) => void;
}

export type WorkerState = 'starting' | 'ready' | 'busy' | 'gone';

export class PoolWorker {
  state: WorkerState = 'starting';
  /** PSS in bytes, measured once ready. */
  pss = 0;
  /** Called when a busy worker has taken its request. */
  onAccepted: (() => void) | null = null;
  /** Reuse: called when its sandbox ended (its status); the worker builds the next and comes back. */
  onDone: ((code: number) => void) | null = null;
  /** Called when it refused the request: the client needs a fresh worker, or (host) one on the old path. */
  onRefused: ((host: boolean) => void) | null = null;
  /** Requests it took. */
  served = 0;
  /** The CPU its Sentry is pinned to (ptrace), one the pool chose; -1: its own choice. */
  cpu = -1;
  /** It also accepts on the pool's shared socket (Pool.anySocket): never named to one client. */
  direct = false;
  /**
   * Started for one request that a worker in its own namespace refused as needing what it
   * lacks (HostRequest: the request on its command line, judged by the native front as a
   * cold run's); never kept ready for others.
   */
  host = false;
  /** Called once when the process exits: its exit code, or the signal that killed it. */
  onExit: ((code: number | null, signal: NodeJS.Signals | null) => void) | null = null;
  constructor(readonly child: ChildProcess, readonly socket: string) {}
  get pid(): number {
    return this.child.pid ?? -1;
  }
  kill(sig: NodeJS.Signals | number = 'SIGKILL'): void {
    try {
      this.child.kill(sig);
    } catch {
      // already gone
    }
  }
}

/** The client's directory for a worker started for its request, if this process can enter it; else /. */
function dirOrRoot(d: string): string {
  try {
    if (path.isAbsolute(d) && fs.statSync(d).isDirectory()) {
      fs.accessSync(d, fs.constants.X_OK);
      return d;
    }
  } catch {
    // gone, or closed to us
  }
  return '/';
}

/** PSS of a process and its descendants (a worker's Gofer and stub) from /proc/PID/smaps_rollup, in bytes. */
export function pssOf(pid: number): number {
  let n = 0;
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    if (m) n += Number(m[1]) * 1024;
    for (const c of fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) n += pssOf(Number(c));
  } catch {
    // gone meanwhile
  }
  return n;
}

/** What a request needs: any ready worker, one that has served nothing, or one started for it (HostRequest). */
export type TakeKind = 'any' | 'fresh' | 'host';

/**
 * A request a worker in its own user namespace refused as needing what it lacks (another
 * sandbox shape, a host file by name, an image): the worker started for it has it on its
 * command line, so that the native front judges it as a cold `run`/`restore`'s (opens its
 * files, makes its cgroup, its gofer-to-be serving its roots), in the client's directory
 * (relative paths are the client's).
 */
export interface HostRequest {
  cmd: 'run' | 'restore';
  argv: string[];
  cwd: string;
}

/**
 * Whether worker w may serve a request that waits for kind. A worker on the shared socket
 * may take a client of its own there at any moment: it is named to none.
 */
function fits(w: PoolWorker, kind: TakeKind): boolean {
  return !w.direct && (kind === 'host' ? w.host : !w.host && (kind === 'any' || w.served === 0));
}

/** What a worker said of a request that carried a token (protocol.ts RunRequest.token). */
export type TokenEvent = 'accepted' | 'refused' | 'refused host';

export class Pool {
  private readonly workers = new Set<PoolWorker>();
  /** Requests waiting for a worker; a 'host' one for the worker started for it (owner). */
  private readonly waiting: Array<{ kind: TakeKind; give: (w: PoolWorker) => void; req?: HostRequest; owner?: PoolWorker | null }> = [];
  private seq = 0;
  private closed = false;
  /** Workers started in all (the tests read it to see refills). */
  started = 0;
  /**
   * Reuse: the socket every ready worker accepts on (the kernel gives each connection to
   * one), so that a client goes straight to a ready Sentry, the server off its path; null
   * without reuse or if it could not be made (then every request is named a worker).
   */
  readonly anySocket: string | null = null;
  private readonly anyFd: number = -1;
  /** A worker took or refused a request with a token (a client on the shared socket). */
  onToken: ((w: PoolWorker, token: string, ev: TokenEvent) => void) | null = null;

  constructor(private readonly o: PoolOptions) {
    if ((o.reuse ?? 1) > 1 && o.shared !== false) {
      const p = path.join(o.dir, 'any.sock');
      const fd = serverNative().ociListen(p);
      if (fd >= 0) {
        this.anySocket = p;
        this.anyFd = fd;
      } else o.log?.(`cannot make the pool's shared socket ${p} (errno ${-fd}): each request is named a worker`);
    }
  }

  private ready(): PoolWorker[] {
    return [...this.workers].filter((w) => w.state === 'ready');
  }

  /** Workers of the pool proper in that state (host ones are per request, not counted). */
  private count(state: WorkerState, host = false): number {
    let n = 0;
    for (const w of this.workers) if (w.state === state && w.host === host) n++;
    return n;
  }

  /** Typical PSS of a ready worker (to judge whether one more fits the cap). */
  private typicalPss(): number {
    const r = this.ready().map((w) => w.pss).filter((p) => p > 0);
    return r.length ? r.reduce((a, b) => a + b, 0) / r.length : 0;
  }

  get reusing(): boolean {
    return (this.o.reuse ?? 1) > 1;
  }

  /** Starts workers until `size` are ready or starting, within the memory cap. */
  refill(): void {
    if (this.closed) return;
    // A request that needs the host gets a worker of its own, started for it (HostRequest).
    for (const x of this.waiting) {
      if (x.kind !== 'host' || x.req === undefined) continue;
      x.owner = this.spawnOne(true, false, x.req);
      delete x.req;
    }
    // With the shared socket, a request that needs a worker of its own (refused by a reused
    // one) gets one started for it, off the shared socket.
    if (this.anyFd >= 0) {
      const named = [...this.workers].filter((w) => !w.host && !w.direct && w.state === 'starting').length;
      const owed = this.waiting.filter((x) => x.kind !== 'host').length - named;
      for (let i = 0; i < owed; i++) this.spawnOne(false, false);
    }
    for (;;) {
      // Reused workers come back: busy ones count (but not those on their last request).
      const back = this.reusing ? [...this.workers].filter((w) => !w.host && w.state === 'busy' && w.served < (this.o.reuse ?? 1)).length : 0;
      const have = this.count('ready') + this.count('starting') + back;
      // A request waiting with nothing on the way gets a worker even past the caps (reuse:
      // one that needs a fresh worker, or any when none will come back).
      const fresh = this.anyFd >= 0 ? 0 : this.waiting.filter((x) => x.kind === 'fresh').length;
      const pending = this.anyFd >= 0 ? 0 : this.waiting.length - this.waiting.filter((x) => x.kind === 'host').length;
      const owed = this.reusing
        ? fresh > this.count('starting') || (pending > 0 && have === 0)
        : pending > this.count('starting');
      if (have >= this.o.size && !owed) return;
      const used = this.ready().reduce((a, w) => a + w.pss, 0) + this.count('starting') * this.typicalPss();
      if (!owed && used + this.typicalPss() > this.o.maxMemory) return;
      // Under a cap, one at a time until one's size is known.
      if (!owed && this.o.maxMemory !== Infinity && this.typicalPss() === 0 && this.count('starting') > 0) return;
      this.spawnOne();
    }
  }

  private spawnOne(host = false, direct = !host && this.anyFd >= 0, req?: HostRequest): PoolWorker | null {
    const sock = path.join(this.o.dir, `w${++this.seq}.sock`);
    const [cmd, ...args] = this.o.command;
    // fd 3 is the worker's line to us (a socketpair): "ready", then "accepted". A host
    // worker serves its one request, which its command line carries (no --reuse, no
    // --template: it is not kept for others).
    const workerArgs = req ? ['--', req.cmd, ...req.argv] : (this.o.workerArgs ?? []);
    const cpu = this.spreadCpu();
    const env = { ...(this.o.env ?? process.env), [POOL_CPU_ENV]: String(cpu), ...(direct ? { [ANY_FD_ENV]: '5' } : {}) };
    // Its socket is made here, in our 0700 directory, and handed over as fd 4: a worker in
    // its own user namespace (another host uid) could not make it there, and a directory
    // open to that uid would be open to every Sentry of it.
    const lfd = serverNative().ociListen(sock);
    if (lfd < 0) {
      this.o.log?.(`cannot make a pool worker's socket ${sock} (errno ${-lfd})`);
      return null;
    }
    const child = spawn(cmd, [...args, '__pool-worker', sock, '--listen-fd', '4', ...workerArgs], { stdio: ['ignore', 'ignore', 'inherit', 'pipe', lfd, ...(direct ? [this.anyFd] : [])], env, cwd: req ? dirOrRoot(req.cwd) : undefined });
    fs.closeSync(lfd);
    const w = new PoolWorker(child, sock);
    w.host = host;
    w.cpu = cpu;
    w.direct = direct;
    this.workers.add(w);
    this.started++;
    const line = child.stdio[3] as Readable;
    let buf = '';
    line.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const msg = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (msg === 'ready' && (w.state === 'starting' || w.state === 'busy')) {
          if (w.state === 'starting') w.pss = pssOf(w.pid);
          w.state = 'ready';
          w.onDone = w.onRefused = w.onAccepted = null;
          const i = this.waiting.findIndex((x) => fits(w, x.kind) && (!w.host || x.owner === w));
          if (i >= 0) this.hand(w, this.waiting.splice(i, 1)[0].give);
          // Its request is gone (the client left): a worker of one request, or one off the
          // shared socket (only started for a request), is not kept for others.
          else if (w.host || (!w.direct && this.anyFd >= 0)) w.kill();
        } else if (msg === 'accepted' || msg.startsWith('accepted ')) {
          w.served++;
          // A client of the shared socket: busy from here, its server connection found by the token.
          if (w.state === 'ready') w.state = 'busy';
          if (w.onAccepted) w.onAccepted();
          else if (msg.length > 9) this.onToken?.(w, msg.slice(9), 'accepted');
        } else if (msg.startsWith('exit ')) w.onDone?.(Number(msg.slice(5)));
        else {
          const r = /^(refused|refused host)(?: ([0-9a-f]{32}))?$/.exec(msg);
          if (r && w.onRefused) w.onRefused(r[1] === 'refused host');
          else if (r?.[2]) this.onToken?.(w, r[2], r[1] as TokenEvent);
        }
      }
    });
    line.on('error', () => { /* the worker's exit tells */ });
    child.on('exit', (code, signal) => {
      const was = w.state;
      w.state = 'gone';
      this.workers.delete(w);
      try {
        fs.unlinkSync(sock);
      } catch {
        // the worker removed it
      }
      if (was !== 'busy' && !this.closed && !w.host) this.o.log?.(`pool worker ${w.pid} ended while ${was} (${signal ?? code}): replacing it`);
      w.onExit?.(code, signal);
      // A worker started for one request that died before it was ready: that request is told (serve.ts give).
      const mine = w.host ? this.waiting.findIndex((x) => x.owner === w) : -1;
      if (mine >= 0) this.waiting.splice(mine, 1)[0].give(w);
      // A worker that dies before it is ready (a broken install) is retried slowly, not in a loop.
      if (was === 'starting') setTimeout(() => this.refill(), 1000).unref();
      else this.refill();
    });
    child.on('error', (e) => this.o.log?.(`cannot start a pool worker: ${e.message}`));
    return w;
  }

  /**
   * The CPU with the fewest live workers: a pinned Sentry takes the CPU it runs on when it
   * starts, and workers started together often ran on one, so a pool of two served on one
   * CPU with the other idle (half the sandboxes a second: src/server/README.md).
   */
  private spreadCpu(): number {
    const n = Math.max(1, os.cpus().length);
    const load = new Array<number>(n).fill(0);
    for (const w of this.workers) if (w.cpu >= 0 && w.cpu < n) load[w.cpu]++;
    return load.indexOf(Math.min(...load));
  }

  private hand(w: PoolWorker, give: (w: PoolWorker) => void): void {
    w.state = 'busy';
    give(w);
    this.refill();
  }

  /**
   * A ready worker, now busy (waits for one if none is ready) of that kind (fits); 'host':
   * one started for req, which it alone is handed.
   */
  take(kind: TakeKind = 'any', req?: HostRequest): Promise<PoolWorker> {
    return new Promise((resolve) => {
      const w = kind === 'host' ? undefined : this.ready().find((x) => fits(x, kind));
      if (w) this.hand(w, resolve);
      else {
        this.waiting.push({ kind, give: resolve, ...(kind === 'host' && req ? { req } : {}) });
        this.refill();
      }
    });
  }

  /** Stops refilling and kills every worker; resolves when all have exited. */
  close(): Promise<void> {
    this.closed = true;
    if (this.anyFd >= 0) fs.closeSync(this.anyFd);
    const all = [...this.workers];
    return Promise.all(all.map((w) => new Promise<void>((res) => {
      if (w.state === 'gone' || w.child.exitCode !== null || w.child.signalCode !== null) return res();
      w.child.once('exit', () => res());
      w.kill('SIGKILL');
    }))).then(() => undefined);
  }

  stats(): { ready: number; starting: number; busy: number; started: number; readyPss: number } {
    return {
      ready: this.count('ready'), starting: this.count('starting'), busy: this.count('busy'), started: this.started,
      readyPss: this.ready().reduce((a, w) => a + w.pss, 0),
    };
  }
}
