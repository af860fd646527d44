/**
 * The Sentry's side of the gofer: spawns the gofer process and makes synchronous calls
 * (one N-API round trip each: send, then block for the reply). If the gofer dies, every
 * call from then on fails with EIO; the Sentry itself keeps running.
 */
import * as nfs from 'fs';
import { EIO, EPROTO } from '../abi/errno';
import { goferNative, type GoferNative } from './native';
import { HEADER, MAGIC, VERSION, Op, type ProcFileKind } from './protocol';

/** SOCK_SEQPACKET messages must fit the socket buffer: replies are paginated below this. */
export const REPLY_MAX = 128 * 1024;

/**
 * Round trips made by every client of this process (a debug counter: fs/fsimpl/hostfs/cache.ts),
 * and, while `timed` (TSSANDBOX_SYSCALL_PROFILE), the ms they took (src/kernel/syscall-profile.ts).
 */
export const goferCalls = { n: 0, timed: false, ms: 0, deferred: 0 };

/** Deferred requests a batch carries at most (native/gofer_server.cc kMaxBatch). */
export const BATCH_MAX = 256;
/** Bytes of deferred requests a batch carries at most (one request is ~8 KiB at most). */
const BATCH_BYTES = 60 * 1024;

/** A request deferred (write-behind) until the next round trip: its bytes, and whom to tell if it failed. */
interface Deferred {
  bytes: Buffer;
  failed: ((res: number) => void) | null;
}

/** Clients with deferred requests: sent before the Sentry exits (the host must see them). */
const live = new Set<GoferClient>();
process.on('exit', flushDeferred);

/** Sends every client's deferred requests now (at exit, and when a pool worker retires a sandbox). */
export function flushDeferred(): void {
  for (const c of live) {
    try {
      c.flush();
    } catch {
      /* gofer gone */
    }
  }
}

export class GoferClient {
  private readonly req = Buffer.alloc(HEADER + 2 * 4096 + 16);
  private readonly resp = Buffer.alloc(REPLY_MAX + 64 + 4 * BATCH_MAX + 4);
  /** The batch being sent: header, then [u32 length][request] each. */
  private batchBuf: Buffer | null = null;
  /** Deferred requests, in order: sent ahead of the next request, in one message (Op.Batch). */
  private readonly queue: Deferred[] = [];
  private queued = 0;
  /** Called when the first request is deferred (the Sentry arms its flush bound: fs/rootfs). */
  onDeferred: (() => void) | null = null;
  private readonly fdOut = new Int32Array(1);
  dead = false;
  /** Payload of the last reply (a view into a reused buffer: copy before the next call). */
  payload: Buffer = Buffer.alloc(0);
  /** fd received with the last reply, or -1. */
  fd = -1;

  /** Host pid of the gofer (reported by its Hello reply). */
  pid = 0;
  /** What the gofer's confinement achieved (Confined bits, from its Hello reply). */
  confined = 0;

  constructor(
    private readonly n: GoferNative,
    private readonly sock: number,
  ) {}

  /** Requests deferred and not yet sent. */
  get pending(): number {
    return this.queue.length;
  }
  /** Batches sent so far: a request deferred when this was g has reached the Gofer once it is past g. */
  gen = 0;

  /** Encodes a request into this.req: its length. */
  private encode(op: Op, mount: number, p1: string, p2: string, flags: number, mode: number, aux: number, a: number, b: number, c: number, d: number): number {
    const q = this.req;
    q.writeUInt32LE(MAGIC, 0);
    q.writeUInt32LE(op, 4);
    q.writeUInt32LE(mount, 8);
    q.writeUInt32LE(flags >>> 0, 12);
    q.writeUInt32LE(mode >>> 0, 16);
    q.writeUInt32LE(aux >>> 0, 20);
    q.writeDoubleLE(a, 24);
    q.writeDoubleLE(b, 32);
    q.writeDoubleLE(c, 40);
    q.writeDoubleLE(d, 48);
    let off = HEADER;
    off += q.write(p1, off, 'latin1'); // paths are latin1 strings: their bytes
    q[off++] = 0;
    off += q.write(p2, off, 'latin1');
    q[off++] = 0;
    return off;
  }

  /**
   * Write-behind: the request goes with the next round trip (ahead of it, in order, in
   * one message), and its result is not waited for. Only for a request whose success
   * the caller knows (fs/fsimpl/hostfs: the owner, mode or times of a file the sandbox
   * made); `failed` hears of it if the Gofer said otherwise. A full queue is sent now.
   */
  defer(op: Op, mount: number, p1: string, p2: string, flags: number, mode: number, aux: number, a: number, b: number, c: number, d: number, failed: ((res: number) => void) | null = null): number {
    if (this.dead) return this.gen;
    if (this.queue.length >= BATCH_MAX || this.queued + this.req.length + 4 > BATCH_BYTES) this.flush();
    const len = this.encode(op, mount, p1, p2, flags, mode, aux, a, b, c, d);
    this.queue.push({ bytes: Buffer.from(this.req.subarray(0, len)), failed });
    this.queued += len + 4;
    goferCalls.deferred++;
    if (this.queue.length === 1) {
      live.add(this);
      if (this.onDeferred !== null) this.onDeferred();
    }
    return this.gen;
  }

  /** Sends what was deferred now (a round trip, when anything was). */
  flush(): void {
    const last = this.queue.pop();
    if (last === undefined) return;
    this.queued -= last.bytes.length + 4;
    if (this.queue.length === 0) this.gen++; // (else the batch counts)
    last.bytes.copy(this.req);
    const r = this.roundTrip(last.bytes.length);
    if (r < 0 && last.failed !== null) last.failed(r);
    if (this.fd >= 0) this.closeFd();
  }

  /** One request/reply (what was deferred goes first, in the same message). Returns the reply's result (>= 0 or -errno). */
  call(op: Op, mount: number, p1: string, p2 = '', flags = 0, mode = 0, aux = 0, a = 0, b = 0, c = 0, d = 0): number {
    this.fd = -1;
    if (this.dead) return -EIO;
    return this.roundTrip(this.encode(op, mount, p1, p2, flags, mode, aux, a, b, c, d));
  }

  private closeFd(): void {
    try { nfs.closeSync(this.fd); } catch { /* not ours after all */ }
    this.fd = -1;
  }

  /** Sends the request in this.req[0, len), behind the deferred ones if any. */
  private roundTrip(len: number): number {
    this.fd = -1;
    if (this.dead) return -EIO;
    goferCalls.n++;
    let msg = this.req;
    const sent = this.queue.length > 0 ? this.queue.splice(0) : null;
    if (sent !== null) {
      this.queued = 0;
      this.gen++;
      const need = HEADER + sent.reduce((n, e) => n + 4 + e.bytes.length, 0) + 4 + len;
      if (this.batchBuf === null || this.batchBuf.length < need) this.batchBuf = Buffer.alloc(Math.max(need, 64 * 1024));
      const q = this.batchBuf;
      q.fill(0, 0, HEADER);
      q.writeUInt32LE(MAGIC, 0);
      q.writeUInt32LE(Op.Batch, 4);
      let off = HEADER;
      for (const e of sent) {
        q.writeUInt32LE(e.bytes.length, off);
        off += 4 + e.bytes.copy(q, off + 4);
      }
      q.writeUInt32LE(len, off);
      off += 4 + this.req.copy(q, off + 4, 0, len);
      msg = q;
      len = off;
    }
    // goferCall sets fdOut only when it got as far as a reply: a failed send must not
    // leave the last call's fd there (closing it below would close an fd now in use).
    this.fdOut[0] = -1;
    const t0 = goferCalls.timed ? performance.now() : 0;
    const r = this.n.goferCall(this.sock, msg, len, -1, this.resp, this.fdOut);
    if (t0 !== 0) goferCalls.ms += performance.now() - t0;
    if (r < 8) {
      // Transport failure (gofer gone, or a malformed reply): fail closed from now on.
      this.dead = true;
      if (this.fdOut[0] >= 0) {
        try { nfs.closeSync(this.fdOut[0]); } catch { /* not ours after all */ }
      }
      return -EIO;
    }
    const res = this.resp.readInt32LE(0);
    let plen = this.resp.readUInt32LE(4);
    if (8 + plen > r) {
      this.dead = true;
      return -EPROTO;
    }
    if (sent !== null) {
      // The batch's trailer: the deferred requests' results, and their count.
      const k = plen >= 4 ? this.resp.readUInt32LE(8 + plen - 4) : -1;
      if (k !== sent.length || plen < 4 + 4 * k) {
        this.dead = true;
        return -EPROTO;
      }
      plen -= 4 + 4 * k;
      for (let i = 0; i < k; i++) {
        const dr = this.resp.readInt32LE(8 + plen + 4 * i);
        if (dr < 0 && sent[i].failed !== null) sent[i].failed!(dr);
      }
    }
    this.payload = this.resp.subarray(8, 8 + plen);
    this.fd = this.fdOut[0];
    return res;
  }
}

/**
 * /proc/<tid>/{stat,schedstat,status} of a stub thread, opened by the gofer (the Sentry
 * opens no host path once guests run). Returns the fd, or -errno (EPERM: not a thread
 * the Sentry traces; EINVAL/EPROTO from an older gofer).
 */
export function goferProcFile(c: GoferClient, tid: number, kind: ProcFileKind): number {
  const r = c.call(Op.ProcFile, 0, '', '', kind, 0, tid);
  if (r < 0) return r;
  return c.fd >= 0 ? c.fd : -EPROTO;
}

/** Bits of the gofer's Hello reply saying how it is confined (native/gofer_server.cc). */
export const enum Confined {
  MountNs = 1,
  Pivot = 2,
  Seccomp = 4,
  Caps = 8,
  MountAttrs = 16,
  /** It holds CAP_CHOWN, CAP_FOWNER and CAP_FSETID: owners, modes and times of the files it serves rw are its to set. */
  FileCaps = 32,
}

const LAUNCHED = Symbol.for('tssandbox.launchedGoferFd');

/**
 * The launcher's gofer socket (native/sentry_launch.cc, passed on by bin/tssandbox): a
 * gofer-to-be waiting outside the Sentry's user namespace. Used once; -1 when none.
 */
function takeLaunchedGofer(): number {
  const g = globalThis as Record<symbol, unknown>;
  const fd = g[LAUNCHED];
  delete g[LAUNCHED];
  return typeof fd === 'number' && Number.isInteger(fd) && fd >= 0 ? fd : -1;
}

/**
 * Closes the launcher's gofer socket if set-up never used it: once guests run, no one
 * may ask the gofer-to-be (outside, as the invoking user) for roots of their choosing.
 */
export function dropLaunchedGofer(): void {
  const fd = takeLaunchedGofer();
  if (fd < 0) return;
  try {
    nfs.closeSync(fd);
  } catch {
    // already gone
  }
}

/** A root the gofer serves; a bare string is a read-write root. */
export type GoferRoot = string | { path: string; readonly: boolean };

/**
 * Starts a gofer serving the given host roots (mount index = position): a child forked
 * by the native addon that runs native/gofer_server.cc (no exec, no second Node start).
 * Read-only roots are enforced by the gofer itself (EROFS). Returns null when the native
 * support is missing.
 */
export function spawnGofer(roots: GoferRoot[]): GoferClient | null {
  const n = goferNative();
  if (n === null) return null;
  const paths = roots.map((r) => (typeof r === 'string' ? r : r.path));
  const ro = roots.map((r) => typeof r !== 'string' && r.readonly);
  const sock = n.goferFork(paths, ro, takeLaunchedGofer());
  if (sock < 0) return null;
  const c = new GoferClient(n, sock);
  const v = c.call(Op.Hello, 0, '');
  if (v !== VERSION || c.payload.length < 4) {
    c.dead = true;
    return null;
  }
  c.pid = c.payload.readUInt32LE(0);
  c.confined = c.payload.length >= 8 ? c.payload.readUInt32LE(4) : 0;
  return c;
}
