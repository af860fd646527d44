/**
 * read, write, pread64, pwrite64, readv, writev, preadv, pwritev, preadv2, pwritev2 and
 * lseek. Data goes through the shared staging buffer (host files: straight from the host
 * fd into guest memory); blocking writes to pipes complete fully, their progress kept in
 * t.sysState.
 */
import * as E from '../src/abi/errno';
import type { Task } from '../src/kernel/task';
import { HostFsFile } from '../fs/fsimpl/hostfs/hostfs';
import { SeekableFile, type FileDescription } from '../fs/vfs/file';
import * as inotify from '../fs/vfs/inotify';
import { limitsOf, RLIMIT_FSIZE } from '../src/kernel/limits';
import { O_APPEND, O_NONBLOCK, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM } from '../src/abi/fs';
import { readIovec, totalLen, copySegs, type Seg } from './iovec';
import { EFAULT, CHUNK, stage, fileOf, sigpipe, progress, finish, waitFor } from './fs-common';
import { BLOCK } from '../src/kernel/syscall-dispatch';
import { MAX_FILE_OFFSET } from '../fs/vfs/file';
import { accessOk, verifyPos, MAX_RW_COUNT } from './user-args';
import { SocketFile } from '../src/net/socket-file';
import { takeChunk, giveChunk } from '../src/net/packet';
import { appends, checkRwFlags, withRwFlags, type RwFlags } from './rw-flags';

/** RWF_NOSIGNAL of the write in progress (the Sentry runs one call at a time). */
let noSigpipe = false;

/** RLIMIT_FSIZE: how much of a write at pos may happen (SIGXFSZ + EFBIG when none). */
function fsizeAllowance(t: Task, f: FileDescription, pos: number, want: number): number {
  if (!(f instanceof SeekableFile)) return want;
  const lim = limitsOf(t.tg).soft(RLIMIT_FSIZE);
  if (lim === Infinity) return want;
  const start = pos < 0 ? (f.flags & O_APPEND ? f.size() : f.pos) : pos;
  if (start >= lim) {
    t.sendSignalSelf(25);
    return -E.EFBIG;
  }
  return Math.min(want, lim - start);
}

/** The Sentry's s_maxbytes (generic_write_check_limits): EFBIG at or past it, no signal. */
function maxBytesAllowance(pos: number, want: number): number {
  if (pos >= MAX_FILE_OFFSET) return -E.EFBIG;
  return Math.min(want, MAX_FILE_OFFSET - pos);
}

/** read/readv/pread/preadv: pos < 0 means the file offset. */
function doRead(t: Task, f: FileDescription, segs: Seg[], pos: number): number {
  const r = readSegs(t, f, segs, pos);
  if (r > 0 && t.kernel.hooks !== null) t.kernel.hooks.read(t, f, r);
  return countIo(t, r, false);
}

function readSegs(t: Task, f: FileDescription, segs: Seg[], pos: number): number {
  if (!f.readable) return -E.EBADF;
  // Host files: the bytes go from the host fd straight into guest memory, no JS copy.
  if (f instanceof HostFsFile && segs.length === 1) return readHostFile(t, f, segs[0], pos);
  if (f instanceof SocketFile && pos < 0) {
    if (totalLen(segs) === 0) return 0; // sock_read_iter: "Match SYS5 behaviour"
    // Unix and loopback stream sockets: from the queued packets straight into guest memory.
    if (f.directStream) return readSocket(t, f, segs);
    // Host-mode streams: from the host socket straight into guest memory.
    if (segs.length === 1) {
      const n = f.readGuest(t, segs[0].base, segs[0].len);
      if (n !== null) return n === -E.EAGAIN && !(f.flags & O_NONBLOCK) ? waitFor(t, f, POLLIN | POLLRDNORM) : n;
    }
  }
  const total = totalLen(segs);
  let done = 0;
  while (done < total || total === 0) {
    const want = Math.min(total - done, CHUNK);
    const b = stage(want).subarray(0, want);
    const n = pos < 0 ? f.read(b, t) : f.pread(b, pos + done);
    if (n < 0) {
      if (done > 0) return done;
      if (n === -E.EAGAIN && !(f.flags & O_NONBLOCK)) return waitFor(t, f, POLLIN | POLLRDNORM);
      return n;
    }
    if (n > 0 && !copySegs(t, segs, done, b, n, true)) return done > 0 ? done : EFAULT;
    done += n;
    if (n < want || total === 0) break;
  }
  if (done > 0 && inotify.watching()) inotify.notifyDentry(f.dentry, f.dentry?.inode ?? f.inode, inotify.IN_ACCESS, t, f);
  return done;
}

function readSocket(t: Task, f: SocketFile, segs: Seg[]): number {
  let done = 0;
  const n = f.readTo(totalLen(segs), (b) => {
    if (!copySegs(t, segs, done, b, b.length, true)) return false;
    done += b.length;
    return true;
  });
  if (n === -E.EAGAIN && !(f.flags & O_NONBLOCK)) return waitFor(t, f, POLLIN | POLLRDNORM);
  return n;
}

function readHostFile(t: Task, f: HostFsFile, seg: Seg, pos: number): number {
  const n = t.mem.readFromHost(f.hostFd, pos < 0 ? f.pos : pos, seg.base, seg.len);
  if (n > 0) {
    if (pos < 0) f.pos += n;
    if (inotify.watching()) inotify.notifyDentry(f.dentry, f.dentry?.inode ?? f.inode, inotify.IN_ACCESS, t, f);
  }
  return n;
}

/** write/writev/pwrite/pwritev; blocking writes to pipes complete fully (progress in sysState). */
function doWrite(t: Task, f: FileDescription, segs: Seg[], pos: number): number {
  return countIo(t, writeSegs(t, f, segs, pos), true);
}

function writeSegs(t: Task, f: FileDescription, segs: Seg[], pos: number): number {
  return finish(t, doWriteLoop(t, f, segs, pos));
}
function doWriteLoop(t: Task, f: FileDescription, segs: Seg[], pos: number): number {
  if (!f.writable) return -E.EBADF;
  const total = totalLen(segs);
  // /dev/null takes everything without looking at it (nor faulting on it), as in Linux.
  if (f.discardsWrites) return total;
  const p = progress(t);
  for (;;) {
    let want = Math.min(total - p.done, CHUNK);
    if (want <= 0 && total > 0) break;
    if (want > 0) {
      want = fsizeAllowance(t, f, pos < 0 ? -1 : pos + p.done, want);
      if (want > 0 && pos >= 0) want = maxBytesAllowance(pos + p.done, want);
      if (want < 0) return p.done > 0 ? p.done : want;
    }
    // Host-mode streams take the bytes straight from guest memory (null: not such a socket).
    let n = f instanceof SocketFile && pos < 0 && segs.length === 1 ? f.writeGuest(t, segs[0].base + p.done, want) : null;
    if (n === null) {
      // Unix and loopback stream sockets queue the bytes in the buffer they were copied to.
      const direct = f instanceof SocketFile && f.directStream && pos < 0;
      const b = direct ? takeChunk(want) : stage(want).subarray(0, want);
      if (!copySegs(t, segs, p.done, b, want, false)) {
        if (direct) giveChunk(b);
        return p.done > 0 ? p.done : EFAULT;
      }
      n = direct ? (f as SocketFile).writeChunk(b, t) : pos < 0 ? f.write(b, t) : f.pwrite(b, pos + p.done);
    }
    if (n < 0) {
      if (n === -E.EAGAIN && !(f.flags & O_NONBLOCK)) {
        // Interrupted by a signal after some bytes went out: the count, as Linux returns.
        if (t.interrupting && p.done > 0) return p.done;
        return waitFor(t, f, POLLOUT | POLLWRNORM);
      }
      if (n === -E.EPIPE && !noSigpipe) sigpipe(t);
      return p.done > 0 ? p.done : n;
    }
    p.done += n;
    if (t.kernel.hooks !== null && n > 0) t.kernel.hooks.wrote(t, f, n);
    // A short write on a regular file means no space; streams (pipes, host fds) carry on
    // and park on EAGAIN until the reader makes room.
    if (total === 0 || (n < want && f instanceof SeekableFile)) break;
  }
  if (p.done > 0 && inotify.watching()) inotify.notifyDentry(f.dentry, f.dentry?.inode ?? f.inode, inotify.IN_MODIFY, t, f);
  return p.done;
}

/** /proc/PID/io: a completed read or write call, and the bytes it moved. */
function countIo(t: Task, r: number, write: boolean): number {
  if (r === BLOCK) return r;
  const io = t.tg.io;
  if (write) {
    io.syscw++;
    if (r > 0) io.wchar += r;
  } else {
    io.syscr++;
    if (r > 0) io.rchar += r;
  }
  return r;
}

/**
 * vfs_read/vfs_write's checks of one buffer, in Linux's order: EBADF for the wrong mode,
 * EFAULT unless access_ok(buf, count) (count is a size_t: a register at or above 2^63
 * arrives negative and is huge), EINVAL from rw_verify_area for an explicit offset
 * (argument posArg) that is negative or overflows with the count. Then the count is
 * clamped to MAX_RW_COUNT. Returns the segment, or -errno.
 */
function oneBuffer(t: Task, f: FileDescription, write: boolean, buf: number, count: number, posArg = -1, pos = -1): Seg[] | number {
  if (write ? !f.writable : !f.readable) return -E.EBADF;
  if (!accessOk(buf, count)) return EFAULT;
  if (posArg >= 0) {
    const v = verifyPos(t, posArg, pos, count);
    if (v < 0) return v;
  }
  return [{ base: buf, len: Math.min(count, MAX_RW_COUNT) }];
}

export function read(t: Task, fd: number, buf: number, count: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  const segs = oneBuffer(t, f, false, buf, count);
  return typeof segs === 'number' ? segs : doRead(t, f, segs, -1);
}

export function write(t: Task, fd: number, buf: number, count: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  const segs = oneBuffer(t, f, true, buf, count);
  return typeof segs === 'number' ? segs : doWrite(t, f, segs, -1);
}

export function pread64(t: Task, fd: number, buf: number, count: number, pos: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (pos < 0) return -E.EINVAL;
  const segs = oneBuffer(t, f, false, buf, count, 3, pos);
  return typeof segs === 'number' ? segs : doRead(t, f, segs, pos);
}

export function pwrite64(t: Task, fd: number, buf: number, count: number, pos: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (pos < 0) return -E.EINVAL;
  const segs = oneBuffer(t, f, true, buf, count, 3, pos);
  if (typeof segs === 'number') return segs;
  // Linux quirk: pwrite on an O_APPEND file appends (at the end; the file offset stays).
  return doWrite(t, f, segs, f.flags & O_APPEND && f instanceof SeekableFile ? f.size() : pos);
}

/** readv-family vectors: vlen reaches import_iovec as an unsigned int (its low 32 bits). */
function vector(t: Task, iov: number, cnt: number): Seg[] | number {
  return readIovec(t, iov, cnt >>> 0);
}

export function readv(t: Task, fd: number, iov: number, cnt: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  const segs = vector(t, iov, cnt);
  return typeof segs === 'number' ? segs : doRead(t, f, segs, -1);
}

export function writev(t: Task, fd: number, iov: number, cnt: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  const segs = vector(t, iov, cnt);
  return typeof segs === 'number' ? segs : doWrite(t, f, segs, -1);
}

export function preadv(t: Task, fd: number, iov: number, cnt: number, pos: number): number {
  return preadv2(t, fd, iov, cnt, pos < 0 ? -2 : pos, 0, 0);
}

export function pwritev(t: Task, fd: number, iov: number, cnt: number, pos: number): number {
  return pwritev2(t, fd, iov, cnt, pos < 0 ? -2 : pos, 0, 0);
}

/**
 * preadv2/pwritev2's checks: offset -1 means the file offset (other negative ones EINVAL);
 * the RWF_* flags are checked after the vector, as vfs_readv/vfs_writev reach them
 * (rw-flags.ts). The file, its segments and the flags, or -errno.
 */
function vectorCall(t: Task, fd: number, iov: number, cnt: number, pos: number, flags: number, write: boolean): { f: FileDescription; segs: Seg[]; r: RwFlags } | number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (pos < -1) return -E.EINVAL;
  const segs = vector(t, iov, cnt);
  if (typeof segs === 'number') return segs;
  if (pos >= 0) {
    const v = verifyPos(t, 3, pos, totalLen(segs));
    if (v < 0) return v;
  }
  const r = checkRwFlags(f, flags, write);
  return typeof r === 'number' ? r : { f, segs, r };
}

export function preadv2(t: Task, fd: number, iov: number, cnt: number, pos: number, _ph: number, flags = 0): number {
  const c = vectorCall(t, fd, iov, cnt, pos, flags, false);
  if (typeof c === 'number') return c;
  return withRwFlags(c.f, c.r, () => doRead(t, c.f, c.segs, pos));
}

export function pwritev2(t: Task, fd: number, iov: number, cnt: number, pos: number, _ph: number, flags = 0): number {
  const c = vectorCall(t, fd, iov, cnt, pos, flags, true);
  if (typeof c === 'number') return c;
  const { f, segs, r } = c;
  // An explicit offset of an appending write is the end of the file, and the file offset stays.
  const at = pos >= 0 && appends(f, r) && f instanceof SeekableFile ? f.size() : pos;
  noSigpipe = r.noSignal;
  try {
    return withRwFlags(f, r, () => doWrite(t, f, segs, at));
  } finally {
    noSigpipe = false;
  }
}

export function lseek(t: Task, fd: number, off: number, whence: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (f.isPath) return -E.EBADF;
  return f.seek(off, whence | 0);
}
