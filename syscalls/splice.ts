/** Data moved between two fds inside the Sentry: sendfile, splice, tee, copy_file_range; vmsplice. */
import { HostFsFile } from '../fs/fsimpl/hostfs/hostfs';
import * as E from '../src/abi/errno';
import type { Task } from '../src/kernel/task';
import { SeekableFile, type FileDescription } from '../fs/vfs/file';
import { PipeEnd } from '../fs/fsimpl/pipefs/pipe';
import { O_APPEND, O_NONBLOCK, POLLIN, POLLOUT, S_IFMT, S_IFREG, S_IFDIR, SEEK_CUR, SEEK_SET } from '../src/abi/fs';
import { EFAULT, CHUNK, stage, fileOf, sigpipe, waitFor } from './fs-common';
import { sizeArg, MAX_RW_COUNT } from './user-args';
import { argToNumber } from '../src/platform/event-buffer';
import { copySegs, readIovec, totalLen } from './iovec';

/**
 * Takes up to b.length bytes from `from` (at `fromOff`, or -1 = its file position) without
 * losing any the destination then refuses: the bytes are only consumed, and the position
 * only advanced, by `commit(w)` once w of them were written. Pipes are peeked; a file with a
 * position is read with pread at it; a stream (socket, tty) is read outright.
 */
function take(t: Task, from: FileDescription, fromOff: number, b: Buffer): { n: number; commit: (w: number) => void } {
  const none = (_w: number) => {};
  if (fromOff >= 0) return { n: from.pread(b, fromOff), commit: none };
  if (from instanceof PipeEnd) {
    if (!from.readable) return { n: -E.EBADF, commit: none };
    const p = from.pipe;
    if (p.len === 0) return { n: p.writers === 0 ? 0 : -E.EAGAIN, commit: none };
    return { n: p.peek(b), commit: (w) => { if (w > 0) p.consume(w); } };
  }
  const pos = from.seek(0, SEEK_CUR);
  if (pos >= 0) {
    const n = from.pread(b, pos);
    if (n !== -E.ESPIPE) return { n, commit: (w) => { if (w > 0) from.seek(pos + w, SEEK_SET); } };
  }
  return { n: from.read(b, t), commit: none };
}

/**
 * Moves up to len bytes from `from` to `to` (offsets: -1 = file position). Shared by
 * sendfile/splice. `waitIn`/`waitOut` tell which side made it return -EAGAIN.
 */
function transfer(t: Task, from: FileDescription, fromOff: number, to: FileDescription, toOff: number, len: number, nonblock: boolean):
  { n: number; waitIn: boolean } {
  // Never take more from a pipe than the destination pipe can take now, so nothing is lost.
  let want = Math.min(len, CHUNK);
  if (to instanceof PipeEnd) want = Math.min(want, to.pipe.capacity - to.pipe.len);
  if (want === 0) return { n: to instanceof PipeEnd && to.pipe.readers === 0 ? -E.EPIPE : -E.EAGAIN, waitIn: false };
  const b = stage(want).subarray(0, want);
  const { n, commit } = take(t, from, fromOff, b);
  if (n <= 0) return { n, waitIn: n === -E.EAGAIN };
  let w = 0;
  while (w < n) {
    const r = toOff < 0 ? to.write(b.subarray(w, n), t) : to.pwrite(b.subarray(w, n), toOff + w);
    if (r < 0) {
      if (r === -E.EPIPE) sigpipe(t);
      if (w === 0) return { n: r, waitIn: false };
      break;
    }
    w += r;
    if (nonblock) break;
  }
  commit(w);
  if (w > 0 && t.kernel.hooks !== null) t.kernel.hooks.wrote(t, to, w);
  return { n: w, waitIn: false };
}

export function sendfile(t: Task, outFd: number, inFd: number, offPtr: number, count: number): number {
  const out = fileOf(t, outFd);
  const inp = fileOf(t, inFd);
  if (!out || !inp) return -E.EBADF;
  if (!inp.readable || !out.writable) return -E.EBADF;
  if (offPtr !== 0 && !(inp.seek(0, SEEK_CUR) >= 0)) return -E.ESPIPE;
  if (out.flags & O_APPEND) return -E.EINVAL;
  if (count < 0) return -E.EINVAL;
  let off = -1;
  if (offPtr !== 0) {
    const v = t.mem.readI64(offPtr);
    if (v === null) return EFAULT;
    if (v < 0) return -E.EINVAL;
    off = v;
  }
  // A pipe (or anything else without splice_read in Linux) is no sendfile source: EINVAL,
  // which makes callers fall back to read/write.
  if (inp instanceof PipeEnd || !(inp.seek(0, SEEK_CUR) >= 0)) return -E.EINVAL;
  let done = 0;
  while (done < count) {
    const { n, waitIn } = transfer(t, inp, off < 0 ? -1 : off + done, out, -1, count - done, (out.flags & O_NONBLOCK) !== 0);
    if (n < 0) {
      if (done > 0) break;
      if (n === -E.EAGAIN) {
        const side = waitIn ? inp : out;
        if (!(side.flags & O_NONBLOCK)) return waitFor(t, side, waitIn ? POLLIN : POLLOUT);
      }
      return n;
    }
    if (n === 0) break;
    done += n;
  }
  if (offPtr !== 0 && !t.mem.writeU64(offPtr, off + done)) return EFAULT;
  return done;
}

const SPLICE_F_NONBLOCK = 2;
/** SPLICE_F_MOVE | NONBLOCK | MORE | GIFT: any other flag bit is EINVAL. */
const SPLICE_F_ALL = 0xf;

export function splice(t: Task, fdIn: number, offIn: number, fdOut: number, offOut: number, len: number, flags: number): number {
  if (len === 0) return 0;
  if ((flags >>> 0) & ~SPLICE_F_ALL) return -E.EINVAL;
  const inp = fileOf(t, fdIn);
  const out = fileOf(t, fdOut);
  if (!inp || !out) return -E.EBADF;
  if (!inp.readable || !out.writable) return -E.EBADF;
  const inPipe = inp instanceof PipeEnd;
  const outPipe = out instanceof PipeEnd;
  if (!inPipe && !outPipe) return -E.EINVAL;
  if (inPipe && outPipe && inp.pipe === out.pipe) return -E.EINVAL;
  if ((inPipe && offIn !== 0) || (outPipe && offOut !== 0)) return -E.ESPIPE;
  let ioff = -1;
  let ooff = -1;
  if (offIn !== 0) {
    const v = t.mem.readI64(offIn);
    if (v === null) return EFAULT;
    if (v < 0) return -E.EINVAL;
    ioff = v;
  }
  if (offOut !== 0) {
    const v = t.mem.readI64(offOut);
    if (v === null) return EFAULT;
    if (v < 0) return -E.EINVAL;
    ooff = v;
  }
  const nb = (flags & SPLICE_F_NONBLOCK) !== 0;
  const { n, waitIn } = transfer(t, inp, ioff, out, ooff, len, nb);
  if (n === -E.EAGAIN) {
    const side = waitIn ? inp : out;
    if (nb || side.flags & O_NONBLOCK) return -E.EAGAIN;
    return waitFor(t, side, waitIn ? POLLIN : POLLOUT);
  }
  if (n < 0) return n;
  if (offIn !== 0 && !t.mem.writeU64(offIn, ioff + n)) return EFAULT;
  if (offOut !== 0 && !t.mem.writeU64(offOut, ooff + n)) return EFAULT;
  return n;
}

export function tee(t: Task, fdIn: number, fdOut: number, len: number, flags: number): number {
  if ((flags >>> 0) & ~SPLICE_F_ALL) return -E.EINVAL;
  if (len === 0) return 0;
  const inp = fileOf(t, fdIn);
  const out = fileOf(t, fdOut);
  if (!inp || !out) return -E.EBADF;
  if (!(inp instanceof PipeEnd) || !(out instanceof PipeEnd) || inp.pipe === out.pipe) return -E.EINVAL;
  if (!inp.readable || !out.writable) return -E.EBADF;
  const room = out.pipe.capacity - out.pipe.len;
  const want = Math.min(len, inp.pipe.len, room);
  if (want === 0) {
    if (inp.pipe.len === 0 && inp.pipe.writers === 0) return 0;
    if (flags & SPLICE_F_NONBLOCK) return -E.EAGAIN;
    return inp.pipe.len === 0 ? waitFor(t, inp, POLLIN) : waitFor(t, out, POLLOUT);
  }
  const b = stage(want).subarray(0, want);
  inp.pipe.peek(b);
  return out.pipe.write(b);
}

export function copy_file_range(t: Task, fdIn: number, offIn: number, fdOut: number, offOut: number, lenArg: number, flags: number): number {
  if (flags >>> 0 !== 0) return -E.EINVAL;
  const inp = fileOf(t, fdIn);
  const out = fileOf(t, fdOut);
  if (!inp || !out) return -E.EBADF;
  if (!inp.readable || !out.writable) return -E.EBADF;
  if (out.flags & O_APPEND) return -E.EBADF;
  const ti = (inp.dentry?.inode ?? inp.inode).mode & S_IFMT;
  const to = (out.dentry?.inode ?? out.inode).mode & S_IFMT;
  if (ti === S_IFDIR || to === S_IFDIR) return -E.EISDIR;
  if (ti !== S_IFREG || to !== S_IFREG) return -E.EINVAL;
  // Files the Sentry cannot address by offset (a host fd it was handed): EXDEV, the
  // answer that makes callers (coreutils cat/cp) fall back to read/write.
  if (!(inp instanceof SeekableFile) || !(out instanceof SeekableFile)) return -E.EXDEV;
  // The offsets exactly (u64), for generic_copy_file_checks: offset + the size_t len must not wrap.
  const in64 = offIn !== 0 ? t.mem.readBigU64(offIn) : BigInt(inp.pos);
  const out64 = offOut !== 0 ? t.mem.readBigU64(offOut) : BigInt(out.pos);
  if (in64 === null || out64 === null) return EFAULT;
  const len64 = sizeArg(t, 4, lenArg);
  if (in64 + len64 >= 1n << 64n || out64 + len64 >= 1n << 64n) return -E.EOVERFLOW;
  const ioff = argToNumber(in64);
  const ooff = argToNumber(out64);
  if (ioff < 0 || ooff < 0) return -E.EINVAL;
  const len = Number(len64 < BigInt(MAX_RW_COUNT) ? len64 : BigInt(MAX_RW_COUNT));
  const sameInode = (inp.dentry?.inode ?? inp.inode) === (out.dentry?.inode ?? out.inode);
  if (sameInode && ioff < ooff + len && ooff < ioff + len) return -E.EINVAL;
  // Host file to host file: the host kernel copies (fs/fsimpl/hostfs/hostfs.ts).
  const direct = inp instanceof HostFsFile && out instanceof HostFsFile ? inp.copyRangeTo(out, ioff, ooff, len) : null;
  if (direct !== null && direct < 0) return direct;
  let done = direct ?? 0;
  while (direct === null && done < len) {
    const want = Math.min(len - done, CHUNK);
    const b = stage(want).subarray(0, want);
    const n = inp.pread(b, ioff + done);
    if (n < 0) return done > 0 ? done : n;
    if (n === 0) break;
    const w = out.pwrite(b.subarray(0, n), ooff + done);
    if (w < 0) return done > 0 ? done : w;
    done += w;
    if (w < n) break;
  }
  if (done > 0 && t.kernel.hooks !== null) t.kernel.hooks.wrote(t, out, done);
  if (offIn !== 0) {
    if (!t.mem.writeU64(offIn, ioff + done)) return EFAULT;
  } else inp.pos += done;
  if (offOut !== 0) {
    if (!t.mem.writeU64(offOut, ooff + done)) return EFAULT;
  } else out.pos += done;
  return done;
}

/**
 * vmsplice: guest memory into a pipe (its write end) or a pipe's bytes into guest memory
 * (its read end). Pages are copied, never shared (Linux may lend them; what the guest sees
 * is the same unless it changes them while they sit in the pipe, which SPLICE_F_GIFT says
 * it must not). SPLICE_F_NONBLOCK makes this call non-blocking whatever the fd's flags.
 */
export function vmsplice(t: Task, fd: number, iov: number, nr: number, flags: number): number {
  if ((flags >>> 0) & ~SPLICE_F_ALL) return -E.EINVAL;
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (!(f instanceof PipeEnd)) return -E.EBADF;
  const segs = readIovec(t, iov, nr);
  if (typeof segs === 'number') return segs;
  const total = totalLen(segs);
  if (total === 0) return 0;
  const nb = (flags & SPLICE_F_NONBLOCK) !== 0 || (f.flags & O_NONBLOCK) !== 0;
  const p = f.pipe;
  if (f.writable) {
    if (p.readers === 0) {
      sigpipe(t);
      return -E.EPIPE;
    }
    const room = p.capacity - p.len;
    if (room === 0) return nb ? -E.EAGAIN : waitFor(t, f, POLLOUT);
    const n = Math.min(total, room, CHUNK);
    const b = stage(n).subarray(0, n);
    if (!copySegs(t, segs, 0, b, n, false)) return EFAULT;
    return p.write(b);
  }
  if (!f.readable) return -E.EBADF;
  if (p.len === 0) {
    if (p.writers === 0) return 0;
    return nb ? -E.EAGAIN : waitFor(t, f, POLLIN);
  }
  const n = Math.min(total, p.len, CHUNK);
  const b = stage(n).subarray(0, n);
  p.peek(b);
  if (!copySegs(t, segs, 0, b, n, true)) return EFAULT;
  p.consume(n);
  return n;
}
