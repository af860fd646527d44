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
import { SocketFile } from '../src/net/socket-file';
import { takeChunk, giveChunk } from '../src/net/packet';

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
  // Unix and loopback stream sockets: from the queued packets straight into guest memory.
  if (f instanceof SocketFile && f.directStream && pos < 0) return readSocket(t, f, segs);
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
  if (done > 0 && inotify.watching()) inotify.notifyDentry(f.dentry, f.dentry?.inode ?? f.inode, inotify.IN_ACCESS);
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
  const n = t.mem.readFromHost(f.hostFd, pos < 0 ? f.pos : pos, seg.base, rwCount(seg.len));
  if (n > 0) {
    if (pos < 0) f.pos += n;
    if (inotify.watching()) inotify.notifyDentry(f.dentry, f.dentry?.inode ?? f.inode, inotify.IN_ACCESS);
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
      if (want < 0) return p.done > 0 ? p.done : want;
    }
    // Unix and loopback stream sockets queue the bytes in the buffer they were copied to.
    const direct = f instanceof SocketFile && f.directStream && pos < 0;
    const b = direct ? takeChunk(want) : stage(want).subarray(0, want);
    if (!copySegs(t, segs, p.done, b, want, false)) {
      if (direct) giveChunk(b);
      return p.done > 0 ? p.done : EFAULT;
    }
    const n = direct ? (f as SocketFile).writeChunk(b, t) : pos < 0 ? f.write(b, t) : f.pwrite(b, pos + p.done);
    if (n < 0) {
      if (n === -E.EAGAIN && !(f.flags & O_NONBLOCK)) {
        // Interrupted by a signal after some bytes went out: the count, as Linux returns.
        if (t.interrupting && p.done > 0) return p.done;
        return waitFor(t, f, POLLOUT | POLLWRNORM);
      }
      if (n === -E.EPIPE) sigpipe(t);
      return p.done > 0 ? p.done : n;
    }
    p.done += n;
    if (t.kernel.hooks !== null && n > 0) t.kernel.hooks.wrote(t, f, b.subarray(0, n));
    // A short write on a regular file means no space; streams (pipes, host fds) carry on
    // and park on EAGAIN until the reader makes room.
    if (total === 0 || (n < want && f instanceof SeekableFile)) break;
  }
  if (p.done > 0 && inotify.watching()) inotify.notifyDentry(f.dentry, f.dentry?.inode ?? f.inode, inotify.IN_MODIFY);
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
 * A size_t count as Linux clamps it (MAX_RW_COUNT): a register above 2^63 arrives here
 * negative and is huge, not negative (found by the syscall fuzzer: pwrite64 spun on it).
 */
function rwCount(count: number): number {
  return count < 0 ? 0x7ffff000 : Math.min(count, 0x7ffff000);
}

export function read(t: Task, fd: number, buf: number, count: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (count < 0) return -E.EINVAL;
  return doRead(t, f, [{ base: buf, len: rwCount(count) }], -1);
}

export function write(t: Task, fd: number, buf: number, count: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (count < 0) return -E.EINVAL;
  return doWrite(t, f, [{ base: buf, len: rwCount(count) }], -1);
}

export function pread64(t: Task, fd: number, buf: number, count: number, pos: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (pos < 0) return -E.EINVAL;
  if (!f.readable) return -E.EBADF;
  return doRead(t, f, [{ base: buf, len: rwCount(count) }], pos);
}

export function pwrite64(t: Task, fd: number, buf: number, count: number, pos: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (pos < 0) return -E.EINVAL;
  if (!f.writable) return -E.EBADF;
  // Linux quirk: pwrite on an O_APPEND file appends.
  if (f.flags & O_APPEND) return doWrite(t, f, [{ base: buf, len: rwCount(count) }], -1);
  return doWrite(t, f, [{ base: buf, len: rwCount(count) }], pos);
}

export function readv(t: Task, fd: number, iov: number, cnt: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  const segs = readIovec(t, iov, cnt);
  return typeof segs === 'number' ? segs : doRead(t, f, segs, -1);
}

export function writev(t: Task, fd: number, iov: number, cnt: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  const segs = readIovec(t, iov, cnt);
  return typeof segs === 'number' ? segs : doWrite(t, f, segs, -1);
}

export function preadv(t: Task, fd: number, iov: number, cnt: number, pos: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (pos < 0) return -E.EINVAL;
  const segs = readIovec(t, iov, cnt);
  return typeof segs === 'number' ? segs : doRead(t, f, segs, pos);
}

export function pwritev(t: Task, fd: number, iov: number, cnt: number, pos: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (pos < 0) return -E.EINVAL;
  const segs = readIovec(t, iov, cnt);
  return typeof segs === 'number' ? segs : doWrite(t, f, segs, f.flags & O_APPEND ? -1 : pos);
}

/** preadv2/pwritev2: offset -1 means the file offset; RWF_* flags other than HIPRI/DSYNC/SYNC are refused. */
export function preadv2(t: Task, fd: number, iov: number, cnt: number, pos: number, _ph: number, flags = 0): number {
  if (flags & ~0x1f) return -E.EOPNOTSUPP;
  if (pos === -1) return readv(t, fd, iov, cnt);
  return preadv(t, fd, iov, cnt, pos);
}
export function pwritev2(t: Task, fd: number, iov: number, cnt: number, pos: number, _ph: number, flags = 0): number {
  if (flags & ~0x1f) return -E.EOPNOTSUPP;
  if (pos === -1) return writev(t, fd, iov, cnt);
  return pwritev(t, fd, iov, cnt, pos);
}

export function lseek(t: Task, fd: number, off: number, whence: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (f.isPath) return -E.EBADF;
  return f.seek(off, whence | 0);
}
