/**
 * The control socket of a container's Sentry (`<state dir>/ctl.sock`): a unix stream
 * socket carrying one JSON object per line; the first line of a request may carry fds
 * (SCM_RIGHTS: an exec's stdio, a pty). Both halves here: the blocking client the CLI
 * commands use, and the non-blocking connection the Sentry serves from its run loop.
 */
import { ociNative, EAGAIN, EINTR } from './native';
import { fail } from './errors';

export interface Reply {
  ok: boolean;
  error?: string;
  [k: string]: unknown;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Sends one line (with fds) on a blocking socket. */
export function sendLine(sock: number, msg: unknown, fds: number[] = []): number {
  const n = ociNative();
  const data = enc.encode(JSON.stringify(msg) + '\n');
  let off = 0;
  let first = true;
  while (off < data.length) {
    const chunk = data.subarray(off);
    const r = n.ociSend(sock, chunk, chunk.length, first && fds.length ? Int32Array.from(fds) : null, first ? fds.length : 0);
    if (r === -EINTR) continue;
    if (r < 0) return r;
    first = false;
    off += r;
  }
  return 0;
}

/** A blocking line reader over a socket (the client side). */
export class LineReader {
  private buf = '';
  private readonly chunk = new Uint8Array(65536);
  private readonly fdsOut = new Int32Array(65);
  readonly fds: number[] = [];

  constructor(readonly sock: number) {}

  /** The next line parsed, or null when the peer closed. */
  next(): Record<string, unknown> | null {
    const n = ociNative();
    for (;;) {
      const nl = this.buf.indexOf('\n');
      if (nl >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        return JSON.parse(line) as Record<string, unknown>;
      }
      const r = n.ociRecv(this.sock, this.chunk, this.fdsOut, false);
      if (r === -EINTR) continue;
      if (r <= 0) return null;
      for (let i = 0; i < this.fdsOut[0]; i++) this.fds.push(this.fdsOut[1 + i]);
      this.buf += dec.decode(this.chunk.subarray(0, r), { stream: true });
    }
  }
}

/** Connects to a container's control socket (null when its Sentry is gone). */
export function connect(sockPath: string): number | null {
  const fd = ociNative().ociConnect(sockPath);
  return fd < 0 ? null : fd;
}

/**
 * Tells a running Sentry a request is waiting: SIGWINCH, the doorbell (its run loop does
 * not poll the listening socket; see src/oci/README.md).
 */
export function ring(pid: number): void {
  if (!(pid > 0)) return;
  try {
    process.kill(pid, 'SIGWINCH');
  } catch {
    // gone: the read below sees the connection closed
  }
}

/** One request, one reply; the connection is closed after. */
export function call(sockPath: string, pid: number, msg: Record<string, unknown>, fds: number[] = []): Reply {
  const fd = connect(sockPath);
  if (fd === null) fail('the container\'s sandbox is not answering (it has exited)');
  try {
    if (sendLine(fd, msg, fds) < 0) fail('cannot talk to the container\'s sandbox');
    ring(pid);
    const r = new LineReader(fd).next();
    if (r === null) fail('the container\'s sandbox closed the connection');
    return r as Reply;
  } finally {
    closeFd(fd);
  }
}

export function closeFd(fd: number): void {
  try {
    require('fs').closeSync(fd);
  } catch {
    // already closed
  }
}

/** The Sentry's side of one connection: non-blocking reads, lines out as they complete. */
export class ServerConn {
  private buf = '';
  private readonly chunk = new Uint8Array(65536);
  private readonly fdsOut = new Int32Array(65);
  /** Fds that came with the bytes not yet consumed by a line. */
  pendingFds: number[] = [];
  closed = false;
  /** Called when the peer closes (an exec client gone: its process is killed). */
  onClose: (() => void) | null = null;

  constructor(readonly fd: number) {}

  /** Reads what is there; returns the complete lines, each with the fds that came with it. */
  read(): Array<{ msg: Record<string, unknown>; fds: number[] }> {
    const n = ociNative();
    const out: Array<{ msg: Record<string, unknown>; fds: number[] }> = [];
    for (;;) {
      const r = n.ociRecv(this.fd, this.chunk, this.fdsOut, true);
      if (r === -EINTR) continue;
      if (r === -EAGAIN) break;
      if (r <= 0) {
        this.close();
        break;
      }
      for (let i = 0; i < this.fdsOut[0]; i++) this.pendingFds.push(this.fdsOut[1 + i]);
      this.buf += dec.decode(this.chunk.subarray(0, r), { stream: true });
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        const fds = this.pendingFds;
        this.pendingFds = [];
        try {
          out.push({ msg: JSON.parse(line) as Record<string, unknown>, fds });
        } catch {
          this.send({ ok: false, error: 'bad request' });
        }
      }
    }
    return out;
  }

  /** Replies are small: a non-blocking send that would block drops the connection. */
  send(msg: unknown, fds: number[] = []): void {
    if (this.closed) return;
    const n = ociNative();
    const data = enc.encode(JSON.stringify(msg) + '\n');
    let off = 0;
    while (off < data.length) {
      const c = data.subarray(off);
      const r = n.ociSend(this.fd, c, c.length, off === 0 && fds.length ? Int32Array.from(fds) : null, off === 0 ? fds.length : 0);
      if (r === -EINTR) continue;
      if (r < 0) {
        if (r === -EAGAIN) {
          const pf = new Int32Array([this.fd]), pe = new Int32Array([4]), pr = new Int32Array(1);
          n.hostPoll(pf, pe, pr, 1, 1000);
          continue;
        }
        this.close();
        return;
      }
      off += r;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const f of this.pendingFds) closeFd(f);
    this.pendingFds = [];
    closeFd(this.fd);
    this.onClose?.();
  }
}
