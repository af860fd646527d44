/**
 * The client of a warm pool: `run --via PATH …` on the command line, `runVia` for the
 * library API (src/api wires it into `Sandbox.run(argv, { via })`). It asks the server
 * for a ready Sentry, hands that Sentry its request and stdio fds directly (SCM_RIGHTS),
 * passes on the signals it receives, and gets the exit status back from the server.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { ACK, FORWARDED_SIGNALS, encodeRequest, serverNative, type RunRequest } from './protocol';
import { POLLIN } from '../abi/fs';
import * as os from 'node:os';

export interface ViaOptions {
  /** The guest's environment source (default: this process's). */
  env?: Record<string, string>;
  /** The caller's working directory (default: this process's). */
  cwd?: string;
  /** Host fds to give the guest as stdin, stdout, stderr (default 0, 1, 2). */
  stdio?: [number, number, number];
  /** `restore`: argv are `restore`'s flags (`--image-path DIR`): a checkpoint resumed in a pool member. */
  cmd?: 'run' | 'restore';
}

export class ViaError extends Error {}

/** A request under way: its exit status, and a way to signal it. */
export interface ViaRun {
  /** The guest's exit status as a cold `run` returns it (128+N for a signal). */
  readonly exited: Promise<number>;
  /** Sends a host signal to the sandbox, as if sent to a cold `run`. */
  kill(signal: NodeJS.Signals | number): void;
}

function signum(s: NodeJS.Signals | number): number {
  return typeof s === 'number' ? s : os.constants.signals[s];
}

/** Hands the request and stdio to the worker at path; returns the connection once it owns them. */
function handOver(path: string, req: RunRequest, stdio: [number, number, number]): number {
  const n = serverNative();
  const fd = n.ociConnect(path);
  if (fd < 0) throw new ViaError(`cannot reach the pool's sandbox (errno ${-fd})`);
  try {
    const msg = encodeRequest(req);
    let off = 0;
    while (off < msg.length) {
      const part = msg.subarray(off);
      const r = n.ociSend(fd, part, part.length, off === 0 ? new Int32Array(stdio) : null, off === 0 ? 3 : 0);
      if (r < 0) throw new ViaError(`cannot hand the request over (errno ${-r})`);
      off += r;
    }
    const b = new Uint8Array(1);
    const fdsOut = new Int32Array(2);
    const pfd = new Int32Array([fd]), pev = new Int32Array([POLLIN]), prev = new Int32Array(1);
    n.hostPoll(pfd, pev, prev, 1, 30_000);
    const r = n.ociRecv(fd, b, fdsOut, true);
    if (r !== 1 || b[0] !== ACK) throw new ViaError('the pool\'s sandbox did not take the request');
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
  return fd;
}

/** Starts `run argv` (the arguments after `run`) in a sandbox of the pool at socketPath. */
export function startVia(socketPath: string, argv: string[], opts: ViaOptions = {}): ViaRun {
  const req: RunRequest = {
    cmd: opts.cmd ?? 'run',
    argv,
    env: opts.env ?? (Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined)) as Record<string, string>),
    cwd: opts.cwd ?? process.cwd(),
  };
  const stdio = opts.stdio ?? [0, 1, 2];
  const pending: number[] = [];
  let sock: net.Socket | null = null;
  let handedOver = false;
  const exited = new Promise<number>((resolve, reject) => {
    const conn = net.createConnection(socketPath);
    let worker: net.Socket | null = null;
    let buf = '';
    let done = false;
    const finish = (e: Error | null, code = 0) => {
      if (done) return;
      done = true;
      conn.destroy();
      worker?.destroy();
      if (e) reject(e);
      else resolve(code);
    };
    conn.on('error', (e: NodeJS.ErrnoException) => finish(new ViaError(`cannot reach the pool at ${socketPath}: ${e.code ?? e.message}`)));
    conn.on('connect', () => conn.write('{"op":"run"}\n'));
    conn.on('close', () => finish(new ViaError('the pool closed the connection without a status')));
    conn.on('data', (d) => {
      buf += d.toString('utf8');
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let m: { worker?: string; exit?: number; error?: string };
        try {
          m = JSON.parse(line);
        } catch {
          return finish(new ViaError('the pool sent a malformed reply'));
        }
        if (typeof m.error === 'string') return finish(new ViaError(m.error));
        if (typeof m.exit === 'number') return finish(null, m.exit);
        if (typeof m.worker === 'string') {
          let wfd: number;
          try {
            wfd = handOver(m.worker, req, stdio);
          } catch (e) {
            return finish(e as Error);
          }
          // The worker's own word on the status comes first; the server's is the fallback.
          let wbuf = '';
          worker = new net.Socket({ fd: wfd, readable: true, writable: false });
          worker.on('error', () => { /* the server still tells */ });
          worker.on('data', (x: Buffer) => {
            wbuf += x.toString('utf8');
            const e = /^\{"exit":(\d+)\}\n/.exec(wbuf);
            if (e) finish(null, Number(e[1]));
          });
          handedOver = true;
          sock = conn;
          for (const s of pending.splice(0)) conn.write(`{"sig":${s}}\n`);
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
  };
}

/** `runVia(path, ['/bin/true'])`: resolves to the exit status. */
export function runVia(socketPath: string, argv: string[], opts: ViaOptions = {}): Promise<number> {
  return startVia(socketPath, argv, opts).exited;
}

/** `tssandbox run --via PATH …`: exits with the guest's status; signals go to the guest. */
export function viaMain(socketPath: string, argv: string[], cmd: 'run' | 'restore' = 'run'): void {
  const r = startVia(socketPath, argv, { cmd });
  for (const s of FORWARDED_SIGNALS) process.on(s, () => r.kill(s));
  r.exited.then((code) => process.exit(code), (e: Error) => {
    process.stderr.write(`tssandbox: ${e.message}\n`);
    process.exit(125);
  });
}
