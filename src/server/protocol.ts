/**
 * The warm pool's wire format and the host calls it needs (native/oci_console.cc's unix
 * socket helpers, typed here for this folder).
 *
 * Two connections per request:
 * - client ↔ server (the `serve` socket): JSON lines. The client asks `{"op":"run"}`,
 *   the server answers `{"worker":PATH,"pid":N}` (a ready Sentry's private socket) or
 *   `{"error":MSG}`; later the client sends `{"sig":N}` for each signal it gets and the
 *   server answers once `{"exit":CODE}` (or `{"error":MSG}`) and closes.
 * - client → worker (its private socket, in the server's 0700 directory): one request,
 *   a 4-byte little-endian length then that many bytes of JSON (`RunRequest`), the
 *   client's stdin/stdout/stderr (and the fds of `fdFlags`) attached to the first message (SCM_RIGHTS); the worker
 *   answers one byte, ACK, once it owns them, and `{"exit":CODE}` when the sandbox ends
 *   (before its process is gone: sooner than the server's word, which says the same).
 *
 * With `--reuse` the server names one socket for all: the pool's shared socket (its
 * answer is `{"worker":PATH,"token":T,"shared":true}`), where the first ready worker
 * accepts. A client that knows it goes straight there with a token of its own in the
 * request and tells the server `{"op":"watch","token":T}` (not waited for); the worker
 * says `accepted T` (or `refused T`) on its line, and the server ties that worker to the
 * connection with the token: signals, the fallback status, the kill when it closes; a
 * refused request is named a worker started for it.
 */
import { native } from '../platform/native';

export interface ServerNative {
  ociListen(path: string): number;
  ociConnect(path: string): number;
  ociAccept(fd: number): number;
  ociSend(sock: number, buf: Uint8Array, len: number, fds: Int32Array | null, nfds: number): number;
  ociRecv(sock: number, buf: Uint8Array, fdsOut: Int32Array, dontwait: boolean): number;
  ociSetCloexec(fd: number, on: boolean): number;
  ociDup(fd: number, min: number): number;
  hostPoll(fds: Int32Array, events: Int32Array, revents: Int32Array, count: number, timeoutMs: number): number;
}

export function serverNative(): ServerNative {
  return native() as unknown as ServerNative;
}

/** What the worker needs to run a request exactly as a cold `run` in the client would. */
export interface RunRequest {
  /** `run` (default) or `restore` (a checkpoint image, src/snapshot). */
  cmd?: 'run' | 'restore';
  /**
   * `restore`: the image file's identity as the client sees it now (`SIZE:MTIME:INO`), so
   * a template worker, which may not stat its path, knows a replaced image from the one it
   * holds (README.md: a template is served only while it is the file's image).
   */
  imageStamp?: string;
  /** The arguments after the command (for `run`: flags, program, its arguments). */
  argv: string[];
  /** The client's environment (the guest's, unless --clear-env). */
  env: Record<string, string>;
  /** The client's working directory (the guest's, when the sandbox can see it). */
  cwd: string;
  /**
   * Flags whose values are fds that follow stdio, in this order (FD_FLAGS): `--api-fd`
   * (the library's channel, src/policy/channel.ts) and `--report`/`--summary` (files the
   * client opened: a confined Sentry opens no path). The worker adds them to argv.
   */
  fdFlags?: string[];
  /**
   * Names the request to the server (reuse pools): the worker says `accepted TOKEN`, the
   * server ties it to the client's connection that said `{"op":"watch","token":TOKEN}`
   * (or that it answered with this token): signals, the fallback status, the kill on leave.
   */
  token?: string;
}

/** A request token: 128 random bits in hex (the client's own, or the server's). */
export const TOKEN_RE = /^[0-9a-f]{32}$/;

/** The flags a request may hand fds over for, and how the fd is named in the flag. */
export const FD_FLAGS: Readonly<Record<string, (fd: number) => string>> = {
  '--api-fd': (fd) => String(fd),
  '--report': (fd) => `/dev/fd/${fd}`,
  '--summary': (fd) => `/dev/fd/${fd}`,
};

/** A worker's CPU, chosen by the pool (pool.ts spreadCpu); the worker takes it out of its environment at once. */
export const POOL_CPU_ENV = 'TSSANDBOX_POOL_CPU';

/** The fd of the pool's shared socket in a worker (pool.ts), taken out of its environment at once. */
export const ANY_FD_ENV = 'TSSANDBOX_POOL_ANY_FD';

export const ACK = 0x06;
/** A reused worker's answer to a request it can no longer serve (the server then gives a fresh one). */
export const NAK = 0x15;
/** Requests larger than this are refused (a guard, not a limit anyone meets: env + argv). */
export const MAX_REQUEST = 16 << 20;

export function encodeRequest(r: RunRequest): Buffer {
  const body = Buffer.from(JSON.stringify(r), 'utf8');
  const head = Buffer.alloc(4);
  head.writeUInt32LE(body.length, 0);
  return Buffer.concat([head, body]);
}

/** Signals a client passes on to its sandbox, as a cold `run` would receive them itself. */
export const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGTSTP', 'SIGCONT'];
