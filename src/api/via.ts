/**
 * `Sandbox.run/spawn(argv, { via: SOCKET })`: the sandbox runs in a ready Sentry of a
 * warm pool (src/server) instead of a `run` process of its own. This process makes four
 * stream pairs (stdin, stdout, stderr, the channel: unix sockets, as Node's child pipes
 * are) and a memfd for the report; their other ends go to the pool's Sentry with the
 * request, named in its flags (`--api-fd N`, `--report /dev/fd/N`): a confined Sentry
 * opens no path. The next request's fds are made once this one ends (off its path). No
 * directory per sandbox: the pairs are made in one directory of this
 * process's (creating and removing one per request cost ~1-10 ms in a crowded /tmp).
 */
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import type { Readable } from 'stream';
import type { AuditReport } from '../audit/report';
import { startVia, streamPairs, type ViaRun } from '../server/index';
import { flushPhases, phase } from '../server/phases';
import { native } from '../platform/native';

let dir: string | null = null;
let seq = 0;

const DIR_PREFIX = 'tssandbox-api-';

/**
 * The directories of processes that are gone: a process killed by a signal (a test
 * runner's worker, say) removes none at its exit. Named by their pid (`PREFIX PID-`); one
 * whose pid lives, or is another user's, is left.
 */
function removeStaleDirs(tmp: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(tmp);
  } catch {
    return;
  }
  for (const n of names) {
    const m = n.startsWith(DIR_PREFIX) ? /^(\d+)-/.exec(n.slice(DIR_PREFIX.length)) : null;
    if (m === null || Number(m[1]) === process.pid) continue;
    try {
      process.kill(Number(m[1]), 0);
      continue; // alive (or another user's: EPERM)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') continue;
    }
    try {
      fs.rmSync(path.join(tmp, n), { recursive: true, force: true });
    } catch {
      // not ours to remove
    }
  }
}

/** This process's directory for stream pairs and policy files (removed at its exit; left ones of dead processes at the next one's start). */
export function viaDir(): string {
  if (dir === null) {
    removeStaleDirs(os.tmpdir());
    const d = fs.mkdtempSync(path.join(os.tmpdir(), `${DIR_PREFIX}${process.pid}-`));
    dir = d;
    process.once('exit', () => fs.rmSync(d, { recursive: true, force: true }));
  }
  return dir;
}

/** A policy document as a file the pool's Sentry reads (by path: a policy gets a fresh, unconfined one). */
export function viaPolicyFile(doc: unknown): string {
  const p = path.join(viaDir(), `policy-${++seq}.json`);
  fs.writeFileSync(p, JSON.stringify(doc));
  return p;
}

export interface ViaSandbox {
  stdin: net.Socket;
  stdout: net.Socket;
  stderr: net.Socket;
  /** Events and hook questions; null when the request asked for none. */
  channel: net.Socket | null;
  run: ViaRun;
  /** Status (or null with a signal), once stdout and stderr have ended; the report if one was written. */
  done: Promise<{ code: number | null; sig: NodeJS.Signals | null; report: AuditReport | null }>;
}

function readReport(fd: number): AuditReport | null {
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0) return null;
    const b = Buffer.alloc(size);
    fs.readSync(fd, b, 0, size, 0);
    return JSON.parse(b.toString('utf8')) as AuditReport;
  } catch {
    return null; // it did not start, or was killed before writing it
  }
}

/** The fds of one request: three stream pairs for stdio (this side's ends as sockets already) and the report's memfd. */
interface FdSet {
  pairs: Array<[number, number]>;
  mfd: number;
  stdin: net.Socket;
  stdout: net.Socket;
  stderr: net.Socket;
}

/** The channel's pair (events and hook questions): only a request that listens gets one. */
interface Channel {
  pair: [number, number];
  socket: net.Socket;
}

function makeSet(): FdSet {
  const pairs = streamPairs(viaDir(), 3);
  const mfd = (native() as { hostMemfd?(name: string): number }).hostMemfd?.('tssandbox-report') ?? -1;
  if (mfd < 0) {
    for (const p of pairs) for (const fd of p) fs.closeSync(fd);
    throw new Error(`tssandbox: cannot make the report's memfd (errno ${-mfd})`);
  }
  // Wrapped now, off the path of a request when this set is a spare (~0.2 ms for four);
  // unref'd until used, so a spare keeps no process alive.
  const set = {
    pairs, mfd,
    stdin: new net.Socket({ fd: pairs[0][1], readable: false, writable: true }),
    stdout: new net.Socket({ fd: pairs[1][1], readable: true, writable: false }),
    stderr: new net.Socket({ fd: pairs[2][1], readable: true, writable: false }),
  };
  for (const s of [set.stdin, set.stdout, set.stderr]) s.unref();
  return set;
}

function makeChannel(): Channel {
  const [pair] = streamPairs(viaDir(), 1);
  const socket = new net.Socket({ fd: pair[1], readable: true, writable: true });
  socket.unref();
  return { pair, socket };
}

/** Made ahead, after the last request that used one (off the next one's path); never shared. */
let spare: FdSet | null = null;
let spareChannel: Channel | null = null;
function refill(): void {
  setImmediate(() => {
    try {
      if (spare === null) spare = makeSet();
    } catch {
      spare = null; // the next request makes its own, and says why if it cannot
    }
  });
}
function refillChannel(): void {
  setImmediate(() => {
    try {
      if (spareChannel === null) spareChannel = makeChannel();
    } catch {
      spareChannel = null;
    }
  });
}

/**
 * Starts `run flags` in the pool at socket; aborted() says whether the caller left it (kill
 * SIGKILL). `events`: the channel (`--api-fd`) for events and hooks; without it (Sandbox.run
 * with no hook: no one hears them) the Sentry sends none, and `channel` is null.
 */
export function startSandboxVia(socket: string, flags: string[], aborted: () => boolean, events = true): ViaSandbox {
  phase('api.start');
  const set = spare ?? makeSet();
  spare = null;
  const chan = events ? spareChannel ?? makeChannel() : null;
  if (events) spareChannel = null;
  const { pairs, mfd, stdin, stdout, stderr } = set;
  for (const s of [stdin, stdout, stderr]) s.ref();
  chan?.socket.ref();
  const guestEnds = [...pairs.map((p) => p[0]), ...(chan ? [chan.pair[0]] : [])];
  const [gIn, gOut, gErr] = guestEnds;
  let closed = false;
  // The guest's ends close once the worker has its copies: its output then ends when the
  // Sentry's copies go (before it says exit), not a turn after the status.
  const closeEnds = () => {
    if (closed) return;
    closed = true;
    for (const fd of guestEnds) fs.closeSync(fd);
  };
  const run = startVia(socket, flags, {
    stdio: [gIn, gOut, gErr], fds: { ...(chan ? { '--api-fd': chan.pair[0] } : {}), '--report': mfd }, cmd: 'run', flushPhases: false, onAcked: closeEnds,
  });
  // 'end': every byte has been handed to the reader (the 'close' after it is a turn later).
  const ended = (st: Readable) => new Promise<void>((r) => {
    if (st.readableEnded || st.destroyed) return r();
    st.once('end', () => r());
    st.once('close', () => r());
  });
  const done = run.exited.then((code) => [code, null] as const, (e: Error) => {
    // As a cold run's start failure: one line on its stderr, status 125.
    if (!closed) try { fs.writeSync(gErr, `tssandbox: ${e.message}\n`); } catch { /* no reader */ }
    return aborted() ? [137, 'SIGKILL' as NodeJS.Signals] as const : [125, null] as const;
  }).then(async ([code, sig]) => {
    phase('api.exited');
    closeEnds();
    await Promise.all([ended(stdout), ended(stderr)]);
    const report = readReport(mfd);
    fs.closeSync(mfd);
    phase('api.done');
    flushPhases();
    refill();
    if (events) refillChannel();
    return { code, sig, report };
  });
  return { stdin, stdout, stderr, channel: chan?.socket ?? null, run, done };
}
