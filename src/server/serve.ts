/**
 * `tssandbox serve --socket PATH [--pool N] [--max-memory SIZE]`: the warm pool's
 * server. It accepts clients on PATH (src/server/client.ts), hands each a ready worker
 * (src/server/pool.ts), passes the client's signals on to that worker's Sentry and the
 * worker's exit status back. SIGINT/SIGTERM stop it: the socket is removed and every
 * worker (with its stubs and Gofer, which die with it) is ended before it exits.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Pool, type HostRequest, type PoolWorker } from './pool';
import { flushPhases, phase } from './phases';
import { TOKEN_RE } from './protocol';
import { randomBytes } from 'node:crypto';

export class ServeUsageError extends Error {}

export interface ServeOptions {
  socket: string;
  pool: number;
  maxMemory: number;
  /** --template DIR: every worker holds this checkpoint restored up to its resume. */
  template: string | null;
  /** --reuse N: each worker serves up to N requests in turn (a fresh sandbox each); 1: one each. */
  reuse: number;
}

export function parseServeArgs(argv: string[]): ServeOptions {
  const o: ServeOptions = { socket: '', pool: 4, maxMemory: Infinity, template: null, reuse: 1 };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let v: string | undefined;
    if (a.startsWith('--') && a.includes('=')) {
      v = a.slice(a.indexOf('=') + 1);
      a = a.slice(0, a.indexOf('='));
    }
    const val = () => {
      const x = v ?? argv[++i];
      if (x === undefined) throw new ServeUsageError(`${a} needs a value`);
      return x;
    };
    switch (a) {
      case '--socket': o.socket = val(); break;
      case '--template': o.template = path.resolve(val()); break;
      case '--pool': {
        const x = val();
        if (!/^[0-9]+$/.test(x) || Number(x) > 1024) throw new ServeUsageError(`--pool wants a number from 0 to 1024, got '${x}'`);
        o.pool = Number(x);
        break;
      }
      case '--reuse': {
        const x = val();
        if (!/^[0-9]+$/.test(x) || Number(x) < 1 || Number(x) > 1_000_000) throw new ServeUsageError(`--reuse wants a number from 1 to 1000000, got '${x}'`);
        o.reuse = Number(x);
        break;
      }
      case '--max-memory': {
        const x = val();
        const m = /^(\d+)([kmgKMG]?)[bB]?$/.exec(x);
        if (!m) throw new ServeUsageError(`--max-memory wants a size like 512m or 2g, got '${x}'`);
        o.maxMemory = Number(m[1]) * { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
        break;
      }
      default: throw new ServeUsageError(`serve: unknown argument '${argv[i]}' (usage: serve --socket PATH [--pool N] [--max-memory SIZE] [--template DIR] [--reuse N])`);
    }
  }
  if (!o.socket) throw new ServeUsageError('serve needs --socket PATH');
  return o;
}

/** A stale socket file (no server behind it) is replaced; a live one or a non-socket is an error. */
function claimSocketPath(p: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new ServeUsageError(`--socket ${p}: exists and is not a socket`);
  fs.unlinkSync(p);
}

/**
 * Requests on the pool's shared socket, by token (protocol.ts RunRequest.token): the
 * client's connection here and the worker that took it, as each becomes known (the
 * worker's `accepted TOKEN` and the client's `watch` come in either order).
 */
interface Pending {
  /** Ties the worker to the connection that waits for it (serveClient's watch). */
  bind: ((w: PoolWorker, p: Pending) => void) | null;
  /** The worker that took it (or refused it: `refused` set), before the connection came. */
  worker: PoolWorker | null;
  refused: 'refused' | 'refused host' | null;
  /** Its status, or its worker's death, if either came before the connection did. */
  exit: number | null;
  died: { code: number | null; signal: NodeJS.Signals | null } | null;
}

/** Routes the pool's token events to the connections that wait for them. */
export class Tokens {
  private readonly m = new Map<string, Pending>();
  constructor(pool: Pool) {
    pool.onToken = (w, token, ev) => {
      const p = this.entry(token);
      p.worker = w;
      p.refused = ev === 'accepted' ? null : ev;
      if (p.bind) return p.bind(w, p);
      if (ev !== 'accepted') return;
      // Until its connection claims it, the worker's word on it is kept here.
      w.onDone = (code) => {
        p.exit = code;
        w.onDone = w.onExit = null;
      };
      w.onExit = (code, signal) => {
        p.died = { code, signal };
      };
    };
  }

  private entry(token: string): Pending {
    const had = this.m.get(token);
    if (had) return had;
    const p: Pending = { bind: null, worker: null, refused: null, exit: null, died: null };
    this.m.set(token, p);
    // A token no connection claims (its client gone before it said `watch`) is dropped.
    setTimeout(() => {
      if (this.m.get(token) === p && p.bind === null) this.m.delete(token);
    }, 30_000).unref();
    return p;
  }

  /** A connection waits for token's worker: bind is called with it (now, if known); false if claimed already. */
  claim(token: string, bind: (w: PoolWorker, p: Pending) => void): boolean {
    const p = this.entry(token);
    if (p.bind) return false;
    p.bind = bind;
    if (p.worker) bind(p.worker, p);
    return true;
  }

  drop(token: string): void {
    this.m.delete(token);
  }
}

/** A client's line: a request's argv (`again`) is the longest. */
const MAX_LINE = 1 << 20;

/** Serves one client connection: a worker for its request, its signals, its status. */
function serveClient(pool: Pool, tokens: Tokens | null, conn: net.Socket, live: Set<net.Socket>): void {
  live.add(conn);
  let worker: PoolWorker | null = null;
  let buf = '';
  let asked = false;
  let ended = false;
  let closed = false;
  /** Reuse: the worker said this request's sandbox ended. */
  let done = false;
  let token: string | null = null;
  const end = (msg: object) => {
    if (ended) return;
    ended = true;
    if (token !== null) tokens?.drop(token);
    conn.end(JSON.stringify(msg) + '\n');
  };
  /** The client is gone (killed, or its program's caller quit): its sandbox goes too. */
  const abandon = (w: PoolWorker) => {
    if (w.state === 'gone' || done) return;
    if (!pool.reusing) return w.kill('SIGKILL');
    // Reuse: a client leaves as soon as the worker told it the status; the worker's
    // "exit" line to us follows that at once (worker.ts), but may come after the close.
    // The grace covers a worker descheduled between the two writes on a crowded machine;
    // an abandoned sandbox ends after it.
    setTimeout(() => {
      if (!done) w.kill('SIGKILL');
    }, 1000).unref();
  };
  conn.on('close', () => {
    closed = true;
    live.delete(conn);
    const w = worker;
    worker = null;
    if (w) abandon(w);
  });
  conn.on('error', () => { /* close follows */ });
  /** From here w serves this connection's request: its exit (or death) is the status. */
  const bind = (w: PoolWorker) => {
    worker = w;
    w.onExit = (code, signal) => {
      worker = null;
      if (code !== null) end({ exit: code });
      else end({ error: `the sandbox's process died (${signal})`, exit: 128 + (os.constants.signals[signal as NodeJS.Signals] ?? 0) });
    };
    // Reuse: the worker outlives the request; the client's part ends with its status.
    w.onDone = (code) => {
      done = true;
      w.onExit = null;
      worker = null;
      end({ exit: code });
    };
    if (closed) {
      worker = null;
      abandon(w);
    }
  };
  // Reuse: a worker that can no longer build this request's sandbox; a fresh one can.
  // host: a worker in its own user namespace refused flags that need the host's
  // privileges; one started on the old path serves them (src/cli/pool-worker.ts).
  const refused = (w: PoolWorker, host: boolean) => {
    if (w.onExit) w.onExit = null;
    w.onDone = null;
    if (worker === w) worker = null;
    if (!host) pool.take('fresh').then(give);
    else if (again !== null) pool.take('host', again).then(give);
    else hostWanted = true;
  };
  /**
   * The request itself (the client's `{"op":"again"}` after a NAK): a worker started for
   * one that needs the host has it on its command line (pool.ts HostRequest). The client's
   * word, not the refusing worker's: a Sentry taken over must not choose what the front,
   * with the host's privileges, opens.
   */
  let again: HostRequest | null = null;
  let hostWanted = false;
  const give = (w: PoolWorker) => {
    if (conn.destroyed) {
      w.kill('SIGKILL');
      return;
    }
    if (w.state === 'gone') return end({ error: 'the pool could not start a sandbox for this request' });
    bind(w);
    w.onRefused = (host) => refused(w, host);
    conn.write(JSON.stringify({ worker: w.socket, pid: w.pid }) + '\n');
    phase('server.named');
    flushPhases();
  };
  /** A request on the shared socket under token t: bound to its worker when that says so. */
  const watch = (t: string) => {
    token = t;
    const claimed = tokens!.claim(t, (w, p) => {
      if (p.refused !== null) refused(w, p.refused === 'refused host');
      else if (p.exit !== null) {
        done = true;
        end({ exit: p.exit });
      } else if (p.died !== null) {
        bind(w);
        w.onExit?.(p.died.code, p.died.signal);
      } else bind(w);
    });
    if (!claimed) end({ error: 'malformed request' });
  };
  conn.on('data', (d) => {
    buf += d.toString('utf8');
    if (buf.length > MAX_LINE) return conn.destroy();
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let m: { op?: string; sig?: number; token?: string };
      try {
        m = JSON.parse(line);
      } catch {
        return end({ error: 'malformed request' });
      }
      if (m.op === 'run' && !asked) {
        asked = true;
        phase('server.asked');
        if (tokens && pool.anySocket) {
          // Reuse: the shared socket, where the first ready worker takes it; the client
          // remembers it and comes straight there next time (`watch`).
          const t = randomBytes(16).toString('hex');
          watch(t);
          conn.write(JSON.stringify({ worker: pool.anySocket, token: t, shared: true }) + '\n');
          phase('server.named');
          flushPhases();
        } else pool.take().then(give);
      } else if (m.op === 'again' && asked) {
        if (again !== null) continue; // a second refusal: the request is the same
        const r = m as { cmd?: unknown; argv?: unknown; cwd?: unknown };
        if ((r.cmd !== 'run' && r.cmd !== 'restore') || !Array.isArray(r.argv) || !r.argv.every((a) => typeof a === 'string') || typeof r.cwd !== 'string') return end({ error: 'malformed request' });
        again = { cmd: r.cmd, argv: r.argv as string[], cwd: r.cwd };
        if (hostWanted) {
          hostWanted = false;
          pool.take('host', again).then(give);
        }
      } else if (m.op === 'watch' && !asked && tokens && typeof m.token === 'string' && TOKEN_RE.test(m.token)) {
        asked = true;
        watch(m.token);
      } else if (typeof m.sig === 'number' && Number.isInteger(m.sig) && m.sig > 0 && m.sig < 65) {
        // Only the signals a terminal or a caller sends; never SIGKILL/SIGSTOP to the Sentry.
        if (worker && m.sig !== 9 && m.sig !== 19) worker.kill(m.sig);
      } else {
        return end({ error: 'malformed request' });
      }
    }
  });
}

/**
 * Runs the server until SIGINT/SIGTERM; `entry` is the command that starts a worker (the
 * native front, or Node on the entry script), env its environment.
 */
export function serveMain(o: ServeOptions, entry: string[], env?: NodeJS.ProcessEnv): void {
  claimSocketPath(o.socket);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tssandbox-pool-'));
  fs.chmodSync(dir, 0o700);
  const log = (m: string) => process.stderr.write(`tssandbox serve: ${m}\n`);
  const workerArgs = [...(o.template ? ['--template', o.template] : []), ...(o.reuse > 1 ? ['--reuse', String(o.reuse)] : [])];
  const pool = new Pool({ size: o.pool, maxMemory: o.maxMemory, dir, command: entry, env, log, workerArgs, reuse: o.reuse });
  const live = new Set<net.Socket>();
  const tokens = pool.anySocket ? new Tokens(pool) : null;
  const server = net.createServer((c) => serveClient(pool, tokens, c, live));
  server.on('error', (e: NodeJS.ErrnoException) => {
    log(`--socket ${o.socket}: ${e.code ?? e.message}`);
    pool.close().then(() => process.exit(125));
  });
  // Whoever can connect runs sandboxes as this user: the socket is the owner's only from
  // its bind on (a chmod after the bind left a window for another user's connect).
  const umask = process.umask(0o177);
  server.listen(o.socket, () => {
    process.umask(umask);
    fs.chmodSync(o.socket, 0o600);
    pool.refill();
    process.stderr.write(`tssandbox serve: listening on ${o.socket} (pool ${o.pool})\n`);
  });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.close();
    try {
      fs.unlinkSync(o.socket);
    } catch {
      // already gone
    }
    for (const c of live) c.end(JSON.stringify({ error: 'the pool is shutting down' }) + '\n');
    pool.close().then(() => {
      fs.rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
