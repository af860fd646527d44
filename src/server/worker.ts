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
 */
import * as fs from 'node:fs';
import { POLLIN } from '../abi/fs';
import { ACK, MAX_REQUEST, serverNative, type RunRequest } from './protocol';

/** Runs `tssandbox CMD ARGV…` (run or restore) in this process; returns the exit status. */
export type RunFn = (argv: string[], cmd: 'run' | 'restore') => number;

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

/** Blocks until the server's line is readable or hung up (true) or fd is readable (false). */
function waitFor(fd: number): boolean {
  const n = serverNative();
  const fds = new Int32Array([fd, CONTROL_FD]);
  const ev = new Int32Array([POLLIN, POLLIN]);
  const rev = new Int32Array(2);
  for (;;) {
    const r = n.hostPoll(fds, ev, rev, 2, -1);
    if (r === -EINTR) continue;
    if (r < 0) die(`poll: errno ${-r}`);
    if (rev[1] & (POLLIN | POLLHUP | POLLERR)) return true;
    if (rev[0]) return false;
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
  if (fds.length !== 3) die(`the request carried ${fds.length} fds, not 3`);
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

export function poolWorkerMain(socketPath: string, warm: () => void, run: RunFn): void {
  warm();
  const n = serverNative();
  const lfd = n.ociListen(socketPath);
  if (lfd < 0) die(`cannot listen on ${socketPath} (errno ${-lfd})`);
  fs.writeSync(CONTROL_FD, 'ready\n');
  let cfd = -1;
  while (cfd < 0) {
    if (waitFor(lfd)) process.exit(0); // the server is gone or told us to go
    cfd = n.ociAccept(lfd);
    if (cfd < 0 && cfd !== -EAGAIN && cfd !== -EINTR) die(`accept: errno ${-cfd}`);
  }
  fs.closeSync(lfd);
  try {
    fs.unlinkSync(socketPath);
  } catch {
    // the server removes its directory anyway
  }
  const { req, fds } = readRequest(cfd);
  n.ociSend(cfd, new Uint8Array([ACK]), 1, null, 0);
  // cfd stays: the status goes straight back to the client when the sandbox ends (the
  // server's word comes later, after this process is gone).
  fs.writeSync(CONTROL_FD, 'accepted\n');
  fs.closeSync(CONTROL_FD); // the Sentry keeps no line to the server
  takeStdio(fds);
  // The client's environment and directory, as its own cold `run` would have them.
  for (const k of Object.keys(process.env)) delete process.env[k];
  Object.assign(process.env, req.env);
  try {
    process.chdir(req.cwd);
  } catch {
    process.chdir('/'); // as a cold run whose cwd the sandbox cannot see: the guest starts at /
  }
  const code = run(req.argv, req.cmd ?? 'run');
  try {
    fs.writeSync(cfd, `{"exit":${code}}\n`);
  } catch {
    // the client is gone
  }
  process.exit(code);
}
