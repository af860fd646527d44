/**
 * The client of a warm pool: `run --via PATH …` on the command line, `runVia` for the
 * library API (src/api wires it into `Sandbox.run(argv, { via })`). It asks the server
 * for a ready Sentry, hands that Sentry its request and stdio fds directly (SCM_RIGHTS),
 * passes on the signals it receives, and gets the exit status back from the server.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { ACK, NAK, FORWARDED_SIGNALS, TOKEN_RE, encodeRequest, serverNative, type RunRequest } from './protocol';
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import { flushPhases, phase } from './phases';

export interface ViaOptions {
  /** The guest's environment source (default: this process's). */
  env?: Record<string, string>;
  /** The caller's working directory (default: this process's). */
  cwd?: string;
  /** Host fds to give the guest as stdin, stdout, stderr (default 0, 1, 2). */
  stdio?: [number, number, number];
  /** `restore`: argv are `restore`'s flags (`--image-path DIR`): a checkpoint resumed in a pool member. */
  cmd?: 'run' | 'restore';
  /** Profiling (phases.ts): false when the caller writes the notes itself, later. */
  flushPhases?: boolean;
  /** `restore`: the image file's identity now (protocol.ts RunRequest.imageStamp). */
  imageStamp?: string;
  /** Host fds for flags that take one (protocol.ts FD_FLAGS: `--api-fd`, `--report`, `--summary`), handed over with stdio. */
  fds?: Record<string, number>;
  /**
   * Called once a worker has taken the request and its fds (they are its own copies then:
   * the caller may close its, so that the guest's output ends as soon as the worker's do).
   */
  onAcked?: () => void;
}

export class ViaError extends Error {}

/** A request under way: its exit status, and a way to signal it. */
export interface ViaRun {
  /** The guest's exit status as a cold `run` returns it (128+N for a signal). */
  readonly exited: Promise<number>;
  /** Sends a host signal to the sandbox, as if sent to a cold `run`. */
  kill(signal: NodeJS.Signals | number): void;
  /** Leaves: the server ends the sandbox (SIGKILL to its Sentry), `exited` rejects. */
  abort(): void;
}

function signum(s: NodeJS.Signals | number): number {
  return typeof s === 'number' ? s : os.constants.signals[s];
}

/**
 * Hands the request and stdio to the worker at path (its own socket, or the pool's shared
 * one, where the first ready worker takes it); returns the connection. Its first byte
 * says whether the worker took them (ACK) or refused (NAK: the server then names another).
 */
function handOver(path: string, req: RunRequest, stdio: number[], orNull = false): number | null {
  const n = serverNative();
  const fd = n.ociConnect(path);
  if (fd < 0 && orNull) return null;
  if (fd < 0) throw new ViaError(`cannot reach the pool's sandbox (errno ${-fd})`);
  try {
    const msg = encodeRequest(req);
    let off = 0;
    while (off < msg.length) {
      const part = msg.subarray(off);
      const r = n.ociSend(fd, part, part.length, off === 0 ? new Int32Array(stdio) : null, off === 0 ? stdio.length : 0);
      if (r < 0) throw new ViaError(`cannot hand the request over (errno ${-r})`);
      off += r;
    }
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
  return fd;
}

/** Each reusing pool's shared socket (Pool.anySocket), as its server named it: later requests go straight there. */
const shared = new Map<string, string>();

/** The shared socket this process's requests to the pool at socketPath go straight to, if one was named. */
export function sharedSocketOf(socketPath: string): string | null {
  return shared.get(socketPath) ?? null;
}

/**
 * A connection to each pool's server made after a request, off its path, for the next
 * one (the connect was a step of every request): idle, unref'd (it keeps no process
 * alive), dropped if the server says anything or closes it.
 */
const spares = new Map<string, net.Socket>();
/** False in `run --via`, which exits after its one request. */
let keepSpares = true;

function spareConnection(socketPath: string): void {
  if (spares.has(socketPath)) return;
  const c = net.createConnection(socketPath);
  c.unref();
  const drop = () => {
    if (spares.get(socketPath) === c) spares.delete(socketPath);
    c.destroy();
  };
  c.on('error', drop);
  c.on('close', drop);
  c.on('data', drop);
  spares.set(socketPath, c);
}

/** The spare connection to socketPath if it is up, else a new one; and whether it is connected already. */
function connection(socketPath: string): { conn: net.Socket; open: boolean } {
  const c = spares.get(socketPath);
  spares.delete(socketPath);
  if (c && !c.destroyed && c.readyState === 'open') {
    c.removeAllListeners('error');
    c.removeAllListeners('close');
    c.removeAllListeners('data');
    c.ref();
    return { conn: c, open: true };
  }
  c?.destroy();
  return { conn: net.createConnection(socketPath), open: false };
}

/** Starts `run argv` (the arguments after `run`) in a sandbox of the pool at socketPath. */
export function startVia(socketPath: string, argv: string[], opts: ViaOptions = {}): ViaRun {
  const req: RunRequest = {
    cmd: opts.cmd ?? 'run',
    argv,
    env: opts.env ?? (Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined)) as Record<string, string>),
    cwd: opts.cwd ?? process.cwd(),
    ...(opts.fds ? { fdFlags: Object.keys(opts.fds) } : {}),
    ...(opts.imageStamp !== undefined ? { imageStamp: opts.imageStamp } : {}),
  };
  const stdio: number[] = [...(opts.stdio ?? [0, 1, 2]), ...Object.values(opts.fds ?? {})];
  phase('client.start');
  const pending: number[] = [];
  let sock: net.Socket | null = null;
  let handedOver = false;
  let leave: (() => void) | null = null;
  const exited = new Promise<number>((resolve, reject) => {
    const { conn, open } = connection(socketPath);
    let worker: net.Socket | null = null;
    let buf = '';
    let done = false;
    let ackTimer: NodeJS.Timeout | null = null;
    const finish = (e: Error | null, code = 0) => {
      if (done) return;
      done = true;
      if (ackTimer) clearTimeout(ackTimer);
      conn.destroy();
      worker?.destroy();
      phase('client.status');
      if (opts.flushPhases !== false) flushPhases();
      if (e) reject(e);
      else resolve(code);
      if (!e && keepSpares) setImmediate(() => spareConnection(socketPath));
    };
    leave = () => finish(new ViaError('the sandbox was abandoned by its client'));
    conn.on('error', (e: NodeJS.ErrnoException) => finish(new ViaError(`cannot reach the pool at ${socketPath}: ${e.code ?? e.message}`)));
    /** The request to the worker at path; its ACK, then its word on the status (the server's is the fallback). */
    const hand = (path: string, orNull = false): boolean => {
      let wfd: number | null;
      try {
        wfd = handOver(path, req, stdio, orNull);
      } catch (e) {
        finish(e as Error);
        return true;
      }
      if (wfd === null) return false;
      let wbuf = '';
      let acked = false;
      const w = new net.Socket({ fd: wfd, readable: true, writable: false });
      worker = w;
      // A worker that never answers (none comes ready): as a cold run that cannot start.
      ackTimer = setTimeout(() => finish(new ViaError('the pool\'s sandbox did not take the request')), 30_000);
      w.on('error', () => { /* the server still tells */ });
      w.on('close', () => {
        if (!acked && worker === w) finish(new ViaError('the pool\'s sandbox did not take the request'));
      });
      w.on('data', (x: Buffer) => {
        if (!acked) {
          if (ackTimer) clearTimeout(ackTimer);
          ackTimer = null;
          if (x[0] === NAK) {
            // Refused: the server names another on conn; one started for this request
            // (serve.ts `again`) needs the request itself (not its env: the worker gets that).
            worker = null;
            w.destroy();
            conn.write(JSON.stringify({ op: 'again', cmd: req.cmd ?? 'run', argv: req.argv, cwd: req.cwd }) + '\n');
            return;
          }
          if (x[0] !== ACK) return finish(new ViaError('the pool\'s sandbox did not take the request'));
          acked = true;
          phase('client.acked');
          handedOver = true;
          opts.onAcked?.();
          sock = conn;
          for (const s of pending.splice(0)) conn.write(`{"sig":${s}}\n`);
          x = x.subarray(1);
        }
        wbuf += x.toString('utf8');
        const e = /^\{"exit":(\d+)\}\n/.exec(wbuf);
        if (e) finish(null, Number(e[1]));
      });
      return true;
    };
    const direct = shared.get(socketPath);
    if (direct !== undefined) req.token = randomBytes(16).toString('hex');
    // Straight to the shared socket; the server learns of it by the token (queued until
    // the connection is up). Gone (a server started anew at socketPath): asked as below.
    if (direct !== undefined && hand(direct, true)) conn.write(`{"op":"watch","token":"${req.token}"}\n`);
    else {
      if (direct !== undefined) shared.delete(socketPath);
      delete req.token;
      const ask = () => {
        phase('client.connected');
        conn.write('{"op":"run"}\n');
      };
      if (open) ask();
      else conn.on('connect', ask);
    }
    conn.on('close', () => finish(new ViaError('the pool closed the connection without a status')));
    conn.on('data', (d) => {
      buf += d.toString('utf8');
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let m: { worker?: string; exit?: number; error?: string; token?: string; shared?: boolean };
        try {
          m = JSON.parse(line);
        } catch {
          return finish(new ViaError('the pool sent a malformed reply'));
        }
        if (typeof m.error === 'string') return finish(new ViaError(m.error));
        if (typeof m.exit === 'number') return finish(null, m.exit);
        if (typeof m.worker === 'string') {
          phase('client.worker-named');
          if (typeof m.token === 'string' && TOKEN_RE.test(m.token)) req.token = m.token;
          if (m.shared === true) shared.set(socketPath, m.worker);
          hand(m.worker);
        }
      }
    });
  });
  return {
    exited,
    kill(signal) {
      const s = signum(signal);
      if (!s) return;
      if (handedOver && sock) sock.write(`{"sig":${s}}\n`);
      else pending.push(s);
    },
    abort() {
      leave?.();
    },
  };
}

/** `runVia(path, ['/bin/true'])`: resolves to the exit status. */
export function runVia(socketPath: string, argv: string[], opts: ViaOptions = {}): Promise<number> {
  return startVia(socketPath, argv, opts).exited;
}

/** `tssandbox run --via PATH …`: exits with the guest's status; signals go to the guest. */
export function viaMain(socketPath: string, argv: string[], cmd: 'run' | 'restore' = 'run', imageStamp?: string): void {
  keepSpares = false;
  const r = startVia(socketPath, argv, { cmd, imageStamp });
  for (const s of FORWARDED_SIGNALS) process.on(s, () => r.kill(s));
  r.exited.then((code) => process.exit(code), (e: Error) => {
    process.stderr.write(`tssandbox: ${e.message}\n`);
    process.exit(125);
  });
}

/**
 * n pairs of connected stream sockets (as Node's own child stdio pipes are): in each the
 * first blocking, for the guest's side; the second non-blocking, for this process's
 * streams. Made through one listening socket at a path in dir (removed at once): Node has
 * no socketpair(); connections are accepted in the order they were made.
 */
export function streamPairs(dir: string, n: number): Array<[number, number]> {
  const nat = serverNative();
  const p = `${dir}/pairs.sock`;
  const l = nat.ociListen(p);
  if (l < 0) throw new ViaError(`cannot make stream pairs in ${dir} (errno ${-l})`);
  const made: number[] = [];
  try {
    const ends: number[] = [];
    for (let i = 0; i < n; i++) {
      const a = nat.ociConnect(p);
      if (a < 0) throw new ViaError(`cannot make stream pairs in ${dir} (errno ${-a})`);
      made.push(a);
      ends.push(a);
    }
    const out: Array<[number, number]> = [];
    for (let i = 0; i < n; i++) {
      const b = nat.ociAccept(l);
      if (b < 0) throw new ViaError(`cannot make stream pairs in ${dir} (errno ${-b})`);
      made.push(b);
      out.push([ends[i], b]);
    }
    made.length = 0;
    return out;
  } finally {
    for (const fd of made) fs.closeSync(fd);
    fs.closeSync(l);
    fs.rmSync(p, { force: true });
  }
}
