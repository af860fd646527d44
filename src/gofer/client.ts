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

/** Round trips made by every client of this process (a debug counter: fs/fsimpl/hostfs/cache.ts). */
export const goferCalls = { n: 0 };

export class GoferClient {
  private readonly req = Buffer.alloc(HEADER + 2 * 4096 + 16);
  private readonly resp = Buffer.alloc(REPLY_MAX + 64);
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

  /** One request/reply. Returns the reply's result (>= 0 or -errno). */
  call(op: Op, mount: number, p1: string, p2 = '', flags = 0, mode = 0, aux = 0, a = 0, b = 0): number {
    this.fd = -1;
    if (this.dead) return -EIO;
    goferCalls.n++;
    const q = this.req;
    q.writeUInt32LE(MAGIC, 0);
    q.writeUInt32LE(op, 4);
    q.writeUInt32LE(mount, 8);
    q.writeUInt32LE(flags >>> 0, 12);
    q.writeUInt32LE(mode >>> 0, 16);
    q.writeUInt32LE(aux >>> 0, 20);
    q.writeDoubleLE(a, 24);
    q.writeDoubleLE(b, 32);
    q.writeDoubleLE(0, 40);
    q.writeDoubleLE(0, 48);
    let off = HEADER;
    off += q.write(p1, off, 'latin1'); // paths are latin1 strings: their bytes
    q[off++] = 0;
    off += q.write(p2, off, 'latin1');
    q[off++] = 0;
    // goferCall sets fdOut only when it got as far as a reply: a failed send must not
    // leave the last call's fd there (closing it below would close an fd now in use).
    this.fdOut[0] = -1;
    const r = this.n.goferCall(this.sock, q, off, -1, this.resp, this.fdOut);
    if (r < 8) {
      // Transport failure (gofer gone, or a malformed reply): fail closed from now on.
      this.dead = true;
      if (this.fdOut[0] >= 0) {
        try { nfs.closeSync(this.fdOut[0]); } catch { /* not ours after all */ }
      }
      return -EIO;
    }
    const res = this.resp.readInt32LE(0);
    const len = this.resp.readUInt32LE(4);
    if (8 + len > r) {
      this.dead = true;
      return -EPROTO;
    }
    this.payload = this.resp.subarray(8, 8 + len);
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
  const sock = n.goferFork(paths, ro);
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
