/**
 * One pool member (`tssandbox __pool-worker SOCKET`, started by `serve`): a Node process
 * with the bundle, its code cache, the `run` code and the addon already loaded, waiting
 * for one request on its private socket. It then takes the client's stdio as its own
 * fds 0-2, its environment and working directory, and runs the request exactly as a cold
 * `run` in the client would (same code, same confinement: src/cli/run.ts), exiting with
 * its status, which the server relays. One request per process: nothing of one sandbox
 * can leak into the next.
 *
 * fd 3 is the line to the server: "ready" when waiting, "accepted" once the request is
 * owned; the worker exits if the server goes away before a request comes. The client's
 * connection gets the ACK, then `{"exit":N}` when the sandbox ends.
 *
 * With `serve --reuse N` (README.md: the choice and its trade-off) one worker serves up
 * to N requests in turn, each in a sandbox built anew (src/cli/run.ts keeps only the
 * template stub and the Gofer; src/server/retire.ts clears the rest): after each it says
 * "exit CODE", builds the next sandbox, and says "ready" again. A request it cannot serve
 * any more (flags that shape the sandbox otherwise, once the Sentry is confined) is
 * answered NAK and "refused": the server hands the client a fresh worker.
 */
import * as fs from 'node:fs';
import { POLLIN } from '../abi/fs';
import { ACK, ANY_FD_ENV, FD_FLAGS, NAK, MAX_REQUEST, POOL_CPU_ENV, TOKEN_RE, serverNative, type RunRequest } from './protocol';
import { flushPhases, phase } from './phases';
import { preferPinCpu } from '../platform/ptrace';

/**
 * Runs `tssandbox CMD ARGV…` (run or restore) in this process; returns the exit status.
 * handed: the fds the request handed over (FD_FLAGS): the only ones its flags may name.
 */
export type RunFn = (argv: string[], cmd: 'run' | 'restore', cwd: string, handed: number[]) => number;

/** What src/cli gives a worker: its warm-up, the run, and (reuse) whether a request can still be served here. */
export interface WorkerHooks {
  /** Loads the code and builds the first sandbox ahead. */
  warm(): void;
  run: RunFn;
  /** Reuse: true if this process can still run this request (it is called before every request but the first). */
  canServe(argv: string[], cmd: 'run' | 'restore'): boolean;
  /**
   * True if this request needs what a worker in its own user namespace lacks (the host's
   * privileges, or host paths of the invoking user): it is refused before anything is
   * built, and the server hands it a worker on the old path. Called before every request.
   */
  needsHost?(argv: string[], cmd: 'run' | 'restore', imageStamp?: string): boolean;
  /** After a request refused as needing the host: true if this worker is stale (its template's file was replaced) and ends. */
  stale?(): boolean;
  /** Reuse: builds the next sandbox ahead, after one ended; false if it cannot (the worker then ends). */
  rewarm(): boolean;
  /** Reuse: false once this process cannot build another sandbox (it ran one of another shape). */
  canContinue(): boolean;
}

const CONTROL_FD = 3;
const POLLHUP = 0x10, POLLERR = 0x8;
const EAGAIN = 11, EINTR = 4;

function die(msg: string): never {
  try {
    fs.writeSync(2, `tssandbox: pool worker: ${msg}\n`);
  } catch {
    // no stderr: nothing to tell
  }
  process.exit(125);
}

/**
 * Blocks until the server's line is readable or hung up (-1), or one of the listening
 * sockets is readable (that fd).
 */
function waitFor(lfds: number[]): number {
  const n = serverNative();
  const fds = new Int32Array([CONTROL_FD, ...lfds]);
  const ev = new Int32Array(fds.length).fill(POLLIN);
  const rev = new Int32Array(fds.length);
  for (;;) {
    const r = n.hostPoll(fds, ev, rev, fds.length, -1);
    if (r === -EINTR) continue;
    if (r < 0) die(`poll: errno ${-r}`);
    if (rev[0] & (POLLIN | POLLHUP | POLLERR)) return -1;
    for (let i = 1; i < fds.length; i++) if (rev[i]) return fds[i];
  }
}

/** Reads the framed request and the three stdio fds from a connected client. */
function readRequest(cfd: number): { req: RunRequest; fds: number[] } {
  const n = serverNative();
  const chunks: Buffer[] = [];
  let have = 0;
  let want = -1;
  const fds: number[] = [];
  const buf = new Uint8Array(65536);
  const fdsOut = new Int32Array(65);
  const pfd = new Int32Array([cfd]), pev = new Int32Array([POLLIN]), prev = new Int32Array(1);
  while (want < 0 || have < want + 4) {
    const r = n.ociRecv(cfd, buf, fdsOut, true);
    for (let i = 0; i < fdsOut[0]; i++) fds.push(fdsOut[1 + i]);
    if (r === -EAGAIN || r === -EINTR) {
      // A client that stalls for 10 s mid-request is gone: the server replaces this worker.
      if (n.hostPoll(pfd, pev, prev, 1, 10_000) === 0) die('the client sent no request');
      continue;
    }
    if (r <= 0) die(r === 0 ? 'the client left before its request' : `recv: errno ${-r}`);
    chunks.push(Buffer.from(buf.subarray(0, r)));
    have += r;
    if (want < 0 && have >= 4) {
      want = Buffer.concat(chunks).readUInt32LE(0);
      if (want > MAX_REQUEST) die('request too large');
    }
  }
  const all = Buffer.concat(chunks);
  let req: RunRequest;
  try {
    req = JSON.parse(all.subarray(4, 4 + want).toString('utf8')) as RunRequest;
  } catch {
    die('malformed request');
  }
  if (req.cmd !== undefined && req.cmd !== 'run' && req.cmd !== 'restore') die('malformed request');
  if (!Array.isArray(req.argv) || typeof req.cwd !== 'string' || typeof req.env !== 'object' || req.env === null) die('malformed request');
  const extra = req.fdFlags ?? [];
  if (!Array.isArray(extra) || extra.some((f) => !Object.hasOwn(FD_FLAGS, f)) || new Set(extra).size !== extra.length) die('malformed request');
  if (req.token !== undefined && (typeof req.token !== 'string' || !TOKEN_RE.test(req.token))) die('malformed request');
  if (req.imageStamp !== undefined && (typeof req.imageStamp !== 'string' || req.imageStamp.length > 100)) die('malformed request');
  if (fds.length !== 3 + extra.length) die(`the request carried ${fds.length} fds, not ${3 + extra.length}`);
  return { req, fds };
}

/** Makes fds[i] this process's fd i (0-2), as the client's stdio are in a cold run. */
function takeStdio(fds: number[]): void {
  const n = serverNative();
  for (let i = 0; i < 3; i++) {
    try {
      fs.closeSync(i);
    } catch {
      // not open
    }
    const r = n.ociDup(fds[i], i);
    if (r !== i) die(`cannot install stdio fd ${i} (${r})`);
    n.ociSetCloexec(i, false);
    fs.closeSync(fds[i]);
  }
}

/** Puts the worker's own stdio (saved at start) back in place of a finished request's. */
function giveBackStdio(saved: number[]): void {
  const n = serverNative();
  for (let i = 0; i < 3; i++) {
    try {
      fs.closeSync(i);
    } catch {
      // not open
    }
    if (n.ociDup(saved[i], i) !== i) die(`cannot restore stdio fd ${i}`);
  }
}

/**
 * Waits for the next client on one of lfds (its own socket, and the pool's shared one:
 * whichever ready worker accepts first has it; another's EAGAIN goes back to waiting);
 * exits if the server goes away first.
 */
function acceptOne(lfds: number[]): number {
  const n = serverNative();
  for (;;) {
    const lfd = waitFor(lfds);
    if (lfd < 0) process.exit(0); // the server is gone or told us to go
    const cfd = n.ociAccept(lfd);
    if (cfd >= 0) return cfd;
    if (cfd !== -EAGAIN && cfd !== -EINTR) die(`accept: errno ${-cfd}`);
  }
}

/** Serves one request (reuse: up to `reuse`, one after another); see the header. */
export function poolWorkerMain(socketPath: string, hooks: WorkerHooks, reuse = 1, listenFd = -1): void {
  // The CPU the pool chose for this Sentry (pool.ts spreadCpu), before the warm-up pins it.
  const cpu = process.env[POOL_CPU_ENV];
  delete process.env[POOL_CPU_ENV];
  if (cpu !== undefined && /^[0-9]+$/.test(cpu)) preferPinCpu(Number(cpu));
  // The pool's shared socket (reuse: clients that come straight to any ready worker).
  const any = process.env[ANY_FD_ENV];
  delete process.env[ANY_FD_ENV];
  let anyFd = any !== undefined && /^[0-9]+$/.test(any) && reuse > 1 ? Number(any) : -1;
  hooks.warm();
  const n = serverNative();
  // Made by the server (a worker in its own user namespace may not make it there).
  const lfd = Number.isInteger(listenFd) && listenFd >= 0 ? listenFd : n.ociListen(socketPath);
  if (lfd < 0) die(`cannot listen on ${socketPath} (errno ${-lfd})`);
  // Reuse: the worker's own stdio comes back after each request (the client's must not stay open here).
  const saved = reuse > 1 ? [0, 1, 2].map((i) => n.ociDup(i, 10)) : [];
  const baseEnv = { ...process.env };
  // What process.env holds, read when nothing can change it before the next request
  // (each process.env access is a host getenv/setenv: a full swap of ~40 variables is
  // ~0.15 ms, writing only the differences from this copy ~0.01 ms).
  let envNow: Record<string, string | undefined> = { ...process.env };
  let served = 0;
  // One request per turn of the event loop: returning to it between two lets V8 drop
  // what the last sandbox's WeakRefs kept alive (they are held until the job ends).
  const step = (): void => {
    fs.writeSync(CONTROL_FD, 'ready\n');
    const cfd = acceptOne(anyFd >= 0 ? [lfd, anyFd] : [lfd]);
    phase('worker.accepted');
    const { req, fds } = readRequest(cfd);
    phase('worker.request-read');
    const cmd = req.cmd ?? 'run';
    // The request's token names it to the server (serve.ts): its client's connection there.
    const tok = req.token !== undefined ? ` ${req.token}` : '';
    if (hooks.needsHost?.(req.argv, cmd, req.imageStamp)) {
      // Nothing of it was built or taken: this worker stays ready for another request,
      // unless what it holds is stale (the pool then starts one that reads the file anew).
      for (const fd of fds) fs.closeSync(fd);
      n.ociSend(cfd, new Uint8Array([NAK]), 1, null, 0);
      fs.closeSync(cfd);
      fs.writeSync(CONTROL_FD, `refused host${tok}\n`);
      if (hooks.stale?.()) process.exit(0);
      return next();
    }
    const last = served + 1 >= reuse;
    if (last) {
      if (anyFd >= 0) fs.closeSync(anyFd);
      anyFd = -1;
      fs.closeSync(lfd);
      try {
        fs.unlinkSync(socketPath);
      } catch {
        // the server removes its directory anyway
      }
    }
    if (served > 0 && !hooks.canServe(req.argv, cmd)) {
      // Not for this (confined, reused) process: the client gets a fresh worker from the server.
      for (const fd of fds) fs.closeSync(fd);
      n.ociSend(cfd, new Uint8Array([NAK]), 1, null, 0);
      fs.closeSync(cfd);
      fs.writeSync(CONTROL_FD, `refused${tok}\n`);
      if (last) process.exit(0);
      return next();
    }
    served++;
    n.ociSend(cfd, new Uint8Array([ACK]), 1, null, 0);
    // cfd stays: the status goes straight back to the client when the sandbox ends (the
    // server's word comes later).
    fs.writeSync(CONTROL_FD, `accepted${tok}\n`);
    if (reuse === 1) fs.closeSync(CONTROL_FD); // the one-shot Sentry keeps no line to the server
    takeStdio(fds);
    // The library's channel, report and summary: at numbers of their own (fd 3 is the line to the server), named to the run.
    const extra = fds.slice(3);
    const named = cmd === 'run' ? (req.fdFlags ?? []).flatMap((f, i) => [f, FD_FLAGS[f](extra[i])]) : [];
    const argv = [...named, ...req.argv];
    // The client's environment and directory, as its own cold `run` would have them.
    for (const k in envNow) if (!Object.prototype.hasOwnProperty.call(req.env, k)) delete process.env[k];
    for (const k in req.env) if (envNow[k] !== req.env[k]) process.env[k] = req.env[k];
    if (served === 1) {
      try {
        process.chdir(req.cwd);
      } catch {
        process.chdir('/'); // as a cold run whose cwd the sandbox cannot see: the guest starts at /
      }
    }
    phase('worker.run');
    const code = hooks.run(argv, cmd, req.cwd, extra);
    for (const fd of extra) fs.closeSync(fd);
    phase('worker.ran');
    // The client's stdio first (its streams end when no copy is left here), then its
    // status: it waits on both, and a server woken before it would take the CPU it needs
    // to go on (2 cores: ~0.3 ms of a request). The server gives a client that leaves
    // before our "exit" line reaches it a grace time (serve.ts).
    if (reuse > 1) giveBackStdio(saved);
    try {
      fs.writeSync(cfd, `{"exit":${code}}\n`);
    } catch {
      // the client is gone
    }
    fs.closeSync(cfd);
    if (!hooks.canContinue()) served = reuse; // the last: its process exit tells the server
    if (served < reuse) fs.writeSync(CONTROL_FD, `exit ${code}\n`);
    phase('worker.replied');
    if (served >= reuse) {
      flushPhases();
      process.exit(code);
    }
    for (const k of Object.keys(process.env)) delete process.env[k];
    Object.assign(process.env, baseEnv);
    if (!hooks.rewarm()) process.exit(0);
    envNow = { ...process.env };
    phase('worker.rewarmed');
    flushPhases();
    next();
  };
  const next = (): void => {
    if (served >= reuse) process.exit(0);
    setImmediate(step);
  };
  step();
}
