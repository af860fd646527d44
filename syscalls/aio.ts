/** Linux AIO: io_setup, io_destroy, io_submit, io_cancel, io_getevents, io_pgetevents (src/kernel/aio.ts). */
import * as E from '../src/abi/errno';
import type { Task } from '../src/kernel/task';
import { AioContext, aioTable, AIO_MAX_NR } from '../src/kernel/aio';
import { EventFd } from '../fs/fsimpl/eventfd/eventfd';
import type { FileDescription } from '../fs/vfs/file';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, pageUp } from '../src/mm/vma';
import { POLLERR, POLLHUP } from '../src/abi/fs';
import { applySigmask, readTimespecNs, restoreSigmask } from './fs-common';
import { readIovec, type Seg } from './iovec';
import { appends, checkRwFlags } from './rw-flags';
import { ioprioCheck } from './sched';
import { SeekableFile } from '../fs/vfs/file';
import { PipeEnd } from '../fs/fsimpl/pipefs/pipe';
import { SocketFile } from '../src/net/socket-file';

const CMD_PREAD = 0, CMD_PWRITE = 1, CMD_FSYNC = 2, CMD_FDSYNC = 3, CMD_POLL = 5, CMD_PREADV = 7, CMD_PWRITEV = 8;
const IOCB_FLAG_RESFD = 1, IOCB_FLAG_IOPRIO = 2;
const IO_EVENT_SIZE = 32;
const EINPROGRESS = 115;

function ctxOf(t: Task, id: number): AioContext | undefined {
  const c = aioTable(t.mm).get(id);
  return c && !c.dead ? c : undefined;
}

export function io_setup(t: Task, nr: number, ctxp: number): number {
  nr = nr >>> 0;
  const cur = t.mem.readU64(ctxp);
  if (cur === null) return -E.EFAULT;
  if (cur !== 0 || nr === 0) return -E.EINVAL;
  // ioctx_alloc: the doubled ring (at least 4 per CPU) past 0x10000000 bytes of events is EINVAL.
  if (Math.max(nr, 4 * t.kernel.cpus) * 2 > 0x10000000 / 32) return -E.EINVAL;
  let total = 0;
  for (const c of aioTable(t.mm).values()) total += c.maxEvents;
  if (nr > AIO_MAX_NR || total + nr > AIO_MAX_NR) return -E.EAGAIN;
  // The ring's place: struct aio_ring (32 bytes) then the events, as Linux sizes it.
  const len = pageUp(32 + (nr + 2) * IO_EVENT_SIZE);
  const addr = t.mm.map(t.hostTid, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, null, 0, '/[aio] (deleted)');
  if (addr < 0) return -E.EAGAIN;
  aioTable(t.mm).set(addr, new AioContext(addr, len, nr));
  if (!t.mem.writeU64(ctxp, addr)) {
    aioTable(t.mm).delete(addr);
    t.mm.unmap(t.hostTid, addr, len);
    return -E.EFAULT;
  }
  return 0;
}

export function io_destroy(t: Task, id: number): number {
  const c = ctxOf(t, id);
  if (!c) return -E.EINVAL;
  for (const p of c.pending.values()) p.entry.queue.remove(p.entry);
  c.pending.clear();
  c.dead = true;
  aioTable(t.mm).delete(id);
  t.mm.unmap(t.hostTid, id, c.ringLen);
  c.queue.notify(1); // waiters in io_getevents find it gone
  return 0;
}

interface Iocb { data: bigint; obj: bigint; op: number; reqprio: number; fd: number; buf: number; nbytes: number; offset: number; flags: number; resfd: number; rwFlags: number; reserved: bigint }

function readIocb(t: Task, addr: number): Iocb | null {
  const b = t.mem.read(addr, 64);
  if (!b) return null;
  return {
    data: b.readBigUInt64LE(0), obj: BigInt(addr), rwFlags: b.readUInt32LE(12), op: b.readUInt16LE(16), reqprio: b.readInt16LE(18),
    fd: b.readUInt32LE(20), buf: Number(b.readBigUInt64LE(24)), nbytes: Number(b.readBigInt64LE(32)),
    offset: Number(b.readBigInt64LE(40)), reserved: b.readBigUInt64LE(48), flags: b.readUInt32LE(56), resfd: b.readUInt32LE(60),
  };
}

/** One iocb: 0 when queued or done, or -errno (then io_submit stops there). */
function submitOne(t: Task, c: AioContext, addr: number): number {
  const cb = readIocb(t, addr);
  if (!cb) return -E.EFAULT;
  if (cb.reserved !== 0n || cb.nbytes < 0) return -E.EINVAL;
  if (c.inFlight >= c.maxEvents) return -E.EAGAIN;
  // __io_submit_one's order: the file, then the eventfd.
  const f = t.fdTable.get(cb.fd | 0);
  if (!f) return -E.EBADF;
  let resfd: FileDescription | null = null;
  if (cb.flags & IOCB_FLAG_RESFD) {
    resfd = t.fdTable.get(cb.resfd | 0) ?? null;
    if (!resfd || !(resfd instanceof EventFd)) return -E.EINVAL;
  }
  const done = (res: number) => c.complete({ data: cb.data, obj: cb.obj, res, res2: 0 }, resfd);
  switch (cb.op) {
    case CMD_PREAD:
    case CMD_PREADV:
    case CMD_PWRITE:
    case CMD_PWRITEV: {
      const write = cb.op === CMD_PWRITE || cb.op === CMD_PWRITEV;
      // aio_prep_rw: the iocb's own I/O priority (ioprio_check_cap), its RWF_* flags; then the file's mode.
      if (cb.flags & IOCB_FLAG_IOPRIO) {
        const e = ioprioCheck(t, cb.reqprio);
        if (e < 0) return e;
      }
      const rw = checkRwFlags(f, cb.rwFlags, write);
      if (typeof rw === 'number') return rw;
      if (write ? !f.writable : !f.readable) return -E.EBADF;
      let segs: Seg[];
      if (cb.op === CMD_PREADV || cb.op === CMD_PWRITEV) {
        const r = readIovec(t, cb.buf, cb.nbytes);
        if (typeof r === 'number') return r;
        segs = r;
      } else segs = [{ base: cb.buf, len: cb.nbytes }];
      // An appending write (O_APPEND, RWF_APPEND) goes to the end of the file.
      const at = write && appends(f, rw) && f instanceof SeekableFile ? f.size() : cb.offset;
      done(transfer(t, f, segs, at, write));
      return 0;
    }
    case CMD_FSYNC:
    case CMD_FDSYNC:
      done(f.fsync());
      return 0;
    case CMD_POLL: {
      // The events to wait for are in aio_buf.
      if (cb.offset || cb.nbytes || cb.buf > 0xffff || cb.rwFlags) return -E.EINVAL;
      return poll(c, cb, f, cb.buf | POLLERR | POLLHUP, resfd);
    }
    default:
      return -E.EINVAL;
  }
}

function poll(c: AioContext, cb: Iocb, f: FileDescription, want: number, resfd: FileDescription | null): number {
  const ready = f.readiness() & want;
  if (ready) {
    c.complete({ data: cb.data, obj: cb.obj, res: ready, res2: 0 }, resfd);
    return 0;
  }
  f.armWait(want);
  const entry = f.waitQueue.add(want, () => {
    const r = f.readiness();
    if (!(r & want) || !c.pending.has(cb.obj)) return;
    f.waitQueue.remove(entry);
    c.pending.delete(cb.obj);
    // aio_poll_wake reports the whole wake-up mask, not only the events asked for.
    c.complete({ data: cb.data, obj: cb.obj, res: r, res2: 0 }, resfd);
  });
  c.pending.set(cb.obj, { obj: cb.obj, data: cb.data, file: f, entry, resfd });
  return 0;
}

/**
 * Reads or writes the segments at offset (-1 is not allowed by Linux: offsets are positions).
 * A pipe or socket has no position: its read or write takes what is there now (the iocb's
 * offset is ignored, as their read_iter/write_iter do); one that would block completes
 * with EAGAIN (Linux would block io_submit).
 */
function transfer(t: Task, f: FileDescription, segs: Seg[], offset: number, write: boolean): number {
  const file: FileDescription = f;
  const stream = f instanceof PipeEnd || f instanceof SocketFile;
  const io = (b: Uint8Array, at: number): number =>
    stream ? (write ? file.write(b, t) : file.read(b, t)) : write ? file.pwrite(b, at) : file.pread(b, at);
  let done = 0;
  for (const s of segs) {
    if (s.len === 0) continue;
    const b = Buffer.alloc(s.len);
    if (write && !t.mem.readInto(s.base, b, 0, s.len)) return done || -E.EFAULT;
    const n = io(b, offset + done);
    if (n < 0) return done || n;
    if (!write && n > 0 && !t.mem.write(s.base, b, 0, n)) return done || -E.EFAULT;
    if (write && n > 0 && t.kernel.hooks !== null) t.kernel.hooks.wrote(t, file, n);
    done += n;
    if (n < s.len) break;
  }
  return done;
}

export function io_submit(t: Task, id: number, nr: number, iocbpp: number): number {
  if (nr < 0) return -E.EINVAL;
  const c = ctxOf(t, id);
  if (!c) return -E.EINVAL;
  let i = 0;
  for (; i < nr; i++) {
    const p = t.mem.readU64(iocbpp + i * 8);
    if (p === null) return i || -E.EFAULT;
    const r = submitOne(t, c, p);
    if (r < 0) return i || r;
  }
  return i;
}

export function io_cancel(t: Task, id: number, iocb: number): number {
  const c = ctxOf(t, id);
  if (!c) return -E.EINVAL;
  const b = t.mem.read(iocb, 64);
  if (!b) return -E.EFAULT;
  const p = c.pending.get(BigInt(iocb));
  if (!p) return -E.EINVAL;
  p.entry.queue.remove(p.entry);
  c.pending.delete(p.obj);
  // As Linux since 4.19: the cancelled request still completes (res 0) through the ring.
  c.complete({ data: p.data, obj: p.obj, res: 0, res2: 0 }, p.resfd);
  return -EINPROGRESS;
}

interface GetState { deadline: number }

export function io_getevents(t: Task, id: number, minNr: number, nr: number, events: number, timeout: number): number {
  minNr |= 0;
  nr |= 0;
  const c = ctxOf(t, id);
  if (!c || minNr < 0 || nr < 0 || minNr > nr) return -E.EINVAL;
  let st = t.sysState as GetState | undefined;
  if (!st) {
    let ns = Infinity;
    if (timeout) {
      ns = readTimespecNs(t, timeout);
      if (ns < 0) return ns;
    }
    st = { deadline: ns === Infinity ? Infinity : t.kernel.nowNs() + ns };
    t.sysState = st;
  }
  // read_events: wait for min_nr completions (none asked: return at once) or the timeout.
  if (c.done.length < minNr && !t.timedOut && t.kernel.nowNs() < st.deadline) {
    t.intrResult = -E.EINTR;
    return t.blockOn(c.queue, 1, st.deadline);
  }
  const n = Math.min(nr, c.done.length);
  const out = Buffer.alloc(n * IO_EVENT_SIZE);
  for (let i = 0; i < n; i++) {
    const e = c.done[i];
    out.writeBigUInt64LE(e.data, i * 32);
    out.writeBigUInt64LE(e.obj, i * 32 + 8);
    out.writeBigInt64LE(BigInt(e.res), i * 32 + 16);
    out.writeBigInt64LE(BigInt(e.res2), i * 32 + 24);
  }
  if (n && !t.mem.write(events, out)) return -E.EFAULT;
  c.done.splice(0, n);
  return n;
}

/** io_pgetevents: io_getevents with a signal mask in force while it waits (struct __aio_sigset). */
export function io_pgetevents(t: Task, id: number, minNr: number, nr: number, events: number, timeout: number, usig: number): number {
  if (usig && t.sysState === undefined) {
    const b = t.mem.read(usig, 16);
    if (!b) return -E.EFAULT;
    const e = applySigmask(t, Number(b.readBigUInt64LE(0)), Number(b.readBigUInt64LE(8)));
    if (e) return e;
  }
  return restoreSigmask(t, io_getevents(t, id, minNr, nr, events, timeout));
}
