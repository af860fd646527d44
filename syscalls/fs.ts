/**
 * File, directory and fd syscalls. Each handler decodes the guest's arguments, calls the
 * VFS (fs/) and encodes the result; no filesystem logic lives here.
 * Conventions: `fd = a0 | 0`; bad guest pointers give -EFAULT; blocking handlers are
 * retry loops (see syscalls/types.ts) that keep progress in t.sysState.
 */
import * as E from '../src/abi/errno';
import type { Task } from '../src/kernel/task';
import { HostFsFile } from '../fs/fsimpl/hostfs/hostfs';
import { readIovec, totalLen, type Seg } from './iovec';
import { installFd, installPair } from './fd-install';
import { kernel } from '../src/kernel/kernel';
import { limitsOf, RLIMIT_NOFILE, RLIMIT_FSIZE } from '../src/kernel/limits';
import {
  AT_FDCWD, AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, AT_SYMLINK_FOLLOW, AT_REMOVEDIR, AT_EACCESS, AT_NO_AUTOMOUNT,
  AT_STATX_SYNC_TYPE, O_CLOEXEC, O_CREAT, O_EXCL, O_NOCTTY, O_TRUNC, O_NONBLOCK, O_LARGEFILE,
  O_WRONLY, O_RDWR, O_DIRECT, O_TMPFILE, SETFL_MASK, O_APPEND, O_RDONLY,
  POLLIN, POLLOUT, POLLERR, POLLHUP, POLLRDNORM, POLLWRNORM, POLLPRI,
  S_IFMT, S_IFREG, S_IFDIR, S_IFIFO, RESOLVE_NO_XDEV, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, RESOLVE_BENEATH,
  RESOLVE_IN_ROOT, RESOLVE_CACHED, SEEK_SET, SEEK_CUR, SEEK_END,
} from '../src/abi/fs';
import { SeekableFile, type FileDescription } from '../fs/vfs/file';
import type { Dentry } from '../fs/vfs/dentry';
import type { SetAttr, TimeSpec } from '../fs/vfs/inode';
import { PipeEnd, Pipe } from '../fs/fsimpl/pipefs/pipe';
import { encodeStat, encodeStatx, encodeStatfs, packDirents } from '../fs/vfs/stat-layout';
import { EventFd, EFD_SEMAPHORE } from '../fs/fsimpl/eventfd/eventfd';
import { EpollFile } from '../fs/fsimpl/epoll/epoll';
import { createMemfd, MFD_CLOEXEC, MFD_ALLOW_SEALING } from '../fs/fsimpl/tmpfs/memfd';
import { TmpfsFile, TmpfsInode, SEAL_SEAL, SEAL_SHRINK, SEAL_GROW, SEAL_WRITE } from '../fs/fsimpl/tmpfs/tmpfs';
import * as locks from '../fs/vfs/locks';
import * as ns from '../fs/vfs/namespace';
import * as inotify from '../fs/vfs/inotify';
import * as jobs from '../src/kernel/tty';
import { pollFds, waitOnFds, type PollEntry } from '../fs/vfs/poll';
import { BLOCK } from '../src/kernel/syscall-dispatch';

// ------------------------------------------------------------------ helpers

const vfs = () => kernel.vfs;
const EFAULT = -E.EFAULT;

/** Reusable staging buffer between guest memory and files (grown on demand, capped). */
const CHUNK = 1 << 20;
let scratch = Buffer.allocUnsafe(65536);
function stage(n: number): Buffer {
  if (scratch.length < n) scratch = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(n, scratch.length * 2)));
  return scratch;
}

function fileOf(t: Task, fd: number): FileDescription | undefined {
  return t.fdTable.get(fd | 0);
}

/** Installs a new description at the lowest free fd, honouring RLIMIT_NOFILE. */
const install = installFd;

/** A path argument; "" allowed when allowEmpty (AT_EMPTY_PATH). */
function readPath(t: Task, addr: number, allowEmpty = false): string | number {
  if (!allowEmpty) return t.mem.readPath(addr);
  const s = t.mem.readCString(addr, 4096);
  if (s === null) return EFAULT;
  if (s.length >= 4096) return -E.ENAMETOOLONG;
  return s;
}

function sigpipe(t: Task): void {
  t.sendSignalSelf(13);
}

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

/** Per-call scratch kept across blocking re-runs. */
interface Progress {
  done: number;
  deadline: number;
}
function progress(t: Task): Progress {
  const s = t.sysState as Progress | undefined;
  if (s && typeof s.done === 'number') return s;
  const p: Progress = { done: 0, deadline: -1 };
  t.sysState = p;
  return p;
}

/** Absolute deadline for a relative timeout (ns; Infinity = none), fixed at first entry. */
function deadlineOf(t: Task, relNs: number): number {
  const p = progress(t);
  if (p.deadline < 0) p.deadline = relNs === Infinity ? Infinity : kernel.nowNs() + relNs;
  return p.deadline;
}

/** Ends a call that may have kept state in t.sysState (the Sentry clears it too; this keeps handlers self-contained). */
function finish(t: Task, r: number): number {
  if (r !== BLOCK) t.sysState = undefined;
  return r;
}

function waitFor(t: Task, f: FileDescription, mask: number, deadline = Infinity): number {
  f.armWait(mask);
  t.waitOn(f.waitQueue, mask | POLLERR | POLLHUP);
  return t.block(deadline);
}

// ---- iovecs


/** Copies n bytes of b into the guest segments, starting `skip` bytes into them. */
function scatter(t: Task, segs: Seg[], skip: number, b: Uint8Array, n: number): boolean {
  let off = 0;
  for (const s of segs) {
    if (off >= n) break;
    if (skip >= s.len) {
      skip -= s.len;
      continue;
    }
    const k = Math.min(s.len - skip, n - off);
    if (!t.mem.write(s.base + skip, b.subarray(off, off + k))) return false;
    off += k;
    skip = 0;
  }
  return true;
}

/** Copies n bytes from the guest segments (starting `skip` in) into b. */
function gather(t: Task, segs: Seg[], skip: number, b: Uint8Array, n: number): boolean {
  let off = 0;
  for (const s of segs) {
    if (off >= n) break;
    if (skip >= s.len) {
      skip -= s.len;
      continue;
    }
    const k = Math.min(s.len - skip, n - off);
    if (!t.mem.readInto(s.base + skip, b, off, k)) return false;
    off += k;
    skip = 0;
  }
  return true;
}

/** read/readv/pread/preadv: pos < 0 means the file offset. */
function doRead(t: Task, f: FileDescription, segs: Seg[], pos: number): number {
  if (!f.readable) return -E.EBADF;
  // Host files: the bytes go from the host fd straight into guest memory, no JS copy.
  if (f instanceof HostFsFile && segs.length === 1) return readHostFile(t, f, segs[0], pos);
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
    if (n > 0 && !scatter(t, segs, done, b, n)) return done > 0 ? done : EFAULT;
    done += n;
    if (n < want || total === 0) break;
  }
  if (done > 0 && inotify.watching()) inotify.notifyDentry(f.dentry, f.dentry?.inode ?? f.inode, inotify.IN_ACCESS);
  return done;
}

function readHostFile(t: Task, f: HostFsFile, seg: Seg, pos: number): number {
  const n = t.mem.readFromHost(f.hostFd, pos < 0 ? f.pos : pos, seg.base, Math.min(seg.len, 0x7ffff000));
  if (n > 0) {
    if (pos < 0) f.pos += n;
    if (inotify.watching()) inotify.notifyDentry(f.dentry, f.dentry?.inode ?? f.inode, inotify.IN_ACCESS);
  }
  return n;
}

/** write/writev/pwrite/pwritev; blocking writes to pipes complete fully (progress in sysState). */
function doWrite(t: Task, f: FileDescription, segs: Seg[], pos: number): number {
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
    const b = stage(want).subarray(0, want);
    if (!gather(t, segs, p.done, b, want)) return p.done > 0 ? p.done : EFAULT;
    const n = pos < 0 ? f.write(b, t) : f.pwrite(b, pos + p.done);
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
    // A short write on a regular file means no space; streams (pipes, host fds) carry on
    // and park on EAGAIN until the reader makes room.
    if (total === 0 || (n < want && f instanceof SeekableFile)) break;
  }
  if (p.done > 0 && inotify.watching()) inotify.notifyDentry(f.dentry, f.dentry?.inode ?? f.inode, inotify.IN_MODIFY);
  return p.done;
}

// ------------------------------------------------------------------ read / write

export function read(t: Task, fd: number, buf: number, count: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (count < 0) return -E.EINVAL;
  return doRead(t, f, [{ base: buf, len: Math.min(count, 0x7ffff000) }], -1);
}

export function write(t: Task, fd: number, buf: number, count: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (count < 0) return -E.EINVAL;
  return doWrite(t, f, [{ base: buf, len: Math.min(count, 0x7ffff000) }], -1);
}

export function pread64(t: Task, fd: number, buf: number, count: number, pos: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (pos < 0) return -E.EINVAL;
  if (!f.readable) return -E.EBADF;
  return doRead(t, f, [{ base: buf, len: Math.min(count, 0x7ffff000) }], pos);
}

export function pwrite64(t: Task, fd: number, buf: number, count: number, pos: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (pos < 0) return -E.EINVAL;
  if (!f.writable) return -E.EBADF;
  // Linux quirk: pwrite on an O_APPEND file appends.
  if (f.flags & O_APPEND) return doWrite(t, f, [{ base: buf, len: count }], -1);
  return doWrite(t, f, [{ base: buf, len: Math.min(count, 0x7ffff000) }], pos);
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

// ------------------------------------------------------------------ open / close

const OPEN_KEEP = ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC);

function openCommon(t: Task, dirfd: number, pathAddr: number, flags: number, mode: number, rflags: number): number {
  // A blocking FIFO open parks the task with the end already open; the re-run picks it up.
  const pending = t.sysState as { fifo?: PipeEnd; cloexec: boolean } | undefined;
  if (pending?.fifo) {
    const end = pending.fifo;
    if (!end.peerReady()) {
      // A signal's re-run that would block again ends the call (EINTR/restart): the
      // parked end must not stay open, or writers would never see EPIPE.
      if (t.interrupting) {
        end.decRef();
        t.sysState = undefined;
      }
      return waitFor(t, end, POLLIN | POLLOUT);
    }
    t.sysState = undefined;
    return install(t, end, pending.cloexec);
  }
  const path = t.mem.readPath(pathAddr);
  if (typeof path === 'number') return path;
  const f = vfs().open(t, dirfd, path, flags, mode, rflags);
  if (typeof f === 'number') return f;
  f.flags = (flags & OPEN_KEEP) | O_LARGEFILE;
  const cloexec = (flags & O_CLOEXEC) !== 0;
  const tty = f.ctty();
  if (tty !== null) jobs.acquireOnOpen(t, tty, (flags & O_NOCTTY) !== 0);
  if (f instanceof PipeEnd && !(flags & O_NONBLOCK) && !f.peerReady()) {
    t.sysState = { fifo: f, cloexec };
    return waitFor(t, f, POLLIN | POLLOUT);
  }
  return install(t, f, cloexec);
}

export function open(t: Task, path: number, flags: number, mode: number): number {
  return openCommon(t, AT_FDCWD, path, flags | 0, mode & 0o7777, 0);
}

export function openat(t: Task, dirfd: number, path: number, flags: number, mode: number): number {
  return openCommon(t, dirfd | 0, path, flags | 0, mode & 0o7777, 0);
}

export function creat(t: Task, path: number, mode: number): number {
  return openCommon(t, AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode & 0o7777, 0);
}

const VALID_OPEN = 0o37777777 & ~0o40000000;
const RESOLVE_ALL = RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_IN_ROOT | RESOLVE_CACHED;

export function openat2(t: Task, dirfd: number, path: number, howAddr: number, size: number): number {
  if (size < 24) return -E.EINVAL;
  if (size > 4096) return -E.E2BIG;
  const how = t.mem.read(howAddr, size);
  if (how === null) return EFAULT;
  for (let i = 24; i < size; i++) if (how[i] !== 0) return -E.E2BIG;
  const flags = how.readBigUInt64LE(0);
  const mode = how.readBigUInt64LE(8);
  const resolve = how.readBigUInt64LE(16);
  if (flags > 0xffffffffn || (Number(flags) & ~VALID_OPEN) !== 0) return -E.EINVAL;
  if (resolve & ~BigInt(RESOLVE_ALL)) return -E.EINVAL;
  const fl = Number(flags);
  if (mode & ~0o7777n) return -E.EINVAL;
  if (mode !== 0n && !(fl & O_CREAT) && (fl & O_TMPFILE) !== O_TMPFILE) return -E.EINVAL;
  const rf = Number(resolve);
  if (rf & RESOLVE_BENEATH && rf & RESOLVE_IN_ROOT) return -E.EINVAL;
  if (rf & RESOLVE_CACHED && fl & (O_CREAT | O_TRUNC | O_TMPFILE)) return -E.EAGAIN;
  return openCommon(t, dirfd | 0, path, fl, Number(mode), rf);
}

export function close(t: Task, fd: number): number {
  const f = t.fdTable.take(fd | 0);
  if (!f) return -E.EBADF;
  locks.releaseProcessLocks(f, t.tg);
  f.decRef();
  return 0;
}

const CLOSE_RANGE_UNSHARE = 2;
const CLOSE_RANGE_CLOEXEC = 4;

export function close_range(t: Task, first: number, last: number, flags: number): number {
  first >>>= 0;
  last >>>= 0;
  if (flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)) return -E.EINVAL;
  if (first > last) return -E.EINVAL;
  const hi = Math.min(last, t.fdTable.highest - 1);
  for (let fd = first; fd <= hi; fd++) {
    if (!t.fdTable.get(fd)) continue;
    if (flags & CLOSE_RANGE_CLOEXEC) t.fdTable.setCloexec(fd, true);
    else close(t, fd);
  }
  return 0;
}

export function lseek(t: Task, fd: number, off: number, whence: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (f.isPath) return -E.EBADF;
  return f.seek(off, whence | 0);
}

// ------------------------------------------------------------------ stat

function writeStat(t: Task, addr: number, st: ReturnType<FileDescription['stat']>): number {
  if (typeof st === 'number') return st;
  return t.mem.write(addr, encodeStat(st)) ? 0 : EFAULT;
}

export function stat(t: Task, path: number, buf: number): number {
  const p = t.mem.readPath(path);
  if (typeof p === 'number') return p;
  return writeStat(t, buf, vfs().stat(t, AT_FDCWD, p, true));
}

export function lstat(t: Task, path: number, buf: number): number {
  const p = t.mem.readPath(path);
  if (typeof p === 'number') return p;
  return writeStat(t, buf, vfs().stat(t, AT_FDCWD, p, false));
}

export function fstat(t: Task, fd: number, buf: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  return writeStat(t, buf, f.stat());
}

export function newfstatat(t: Task, dirfd: number, path: number, buf: number, flags: number): number {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT)) return -E.EINVAL;
  const p = readPath(t, path, (flags & AT_EMPTY_PATH) !== 0);
  if (typeof p === 'number') return p;
  if (p.length === 0) {
    if ((dirfd | 0) === AT_FDCWD) return writeStat(t, buf, t.fsCtx.cwd.inode.stat());
    const f = fileOf(t, dirfd);
    return f ? writeStat(t, buf, f.stat()) : -E.EBADF;
  }
  return writeStat(t, buf, vfs().stat(t, dirfd | 0, p, (flags & AT_SYMLINK_NOFOLLOW) === 0));
}

export function statx(t: Task, dirfd: number, path: number, flags: number, mask: number, buf: number): number {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE)) return -E.EINVAL;
  if ((flags & AT_STATX_SYNC_TYPE) === AT_STATX_SYNC_TYPE) return -E.EINVAL;
  if (mask & 0x80000000) return -E.EINVAL; // STATX__RESERVED
  const p = readPath(t, path, (flags & AT_EMPTY_PATH) !== 0);
  if (typeof p === 'number') return p;
  let st;
  if (p.length === 0) {
    if ((dirfd | 0) === AT_FDCWD) st = t.fsCtx.cwd.inode.stat();
    else {
      const f = fileOf(t, dirfd);
      if (!f) return -E.EBADF;
      st = f.stat();
    }
  } else {
    st = vfs().stat(t, dirfd | 0, p, (flags & AT_SYMLINK_NOFOLLOW) === 0);
  }
  if (typeof st === 'number') return st;
  return t.mem.write(buf, encodeStatx(st, 20)) ? 0 : EFAULT;
}

function accessCommon(t: Task, dirfd: number, path: number, mode: number, flags: number): number {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EACCESS | AT_EMPTY_PATH)) return -E.EINVAL;
  const p = readPath(t, path, (flags & AT_EMPTY_PATH) !== 0);
  if (typeof p === 'number') return p;
  return vfs().access(t, dirfd, p, mode, flags);
}
export function access(t: Task, path: number, mode: number): number {
  return accessCommon(t, AT_FDCWD, path, mode | 0, 0);
}
export function faccessat(t: Task, dirfd: number, path: number, mode: number): number {
  return accessCommon(t, dirfd | 0, path, mode | 0, 0);
}
export function faccessat2(t: Task, dirfd: number, path: number, mode: number, flags: number): number {
  return accessCommon(t, dirfd | 0, path, mode | 0, flags | 0);
}

// ------------------------------------------------------------------ directories

function getdentsCommon(t: Task, fd: number, dirp: number, count: number, old: boolean): number {
  const f = fileOf(t, fd);
  if (!f || f.isPath) return -E.EBADF;
  const ents = f.readdirEntries();
  if (ents === null) return -E.ENOTDIR;
  count = Math.min(count >>> 0, CHUNK);
  const b = stage(count).subarray(0, count);
  const [n, next] = packDirents(ents, f.pos, b, old);
  if (n < 0) return -E.EINVAL;
  if (n > 0 && !t.mem.write(dirp, b.subarray(0, n))) return EFAULT;
  f.pos = next;
  return n;
}
export function getdents64(t: Task, fd: number, dirp: number, count: number): number {
  return getdentsCommon(t, fd, dirp, count, false);
}
export function getdents(t: Task, fd: number, dirp: number, count: number): number {
  return getdentsCommon(t, fd, dirp, count, true);
}

export function getcwd(t: Task, buf: number, size: number): number {
  const p = vfs().getcwd(t);
  if (typeof p === 'number') return p;
  const b = Buffer.from(p + '\0');
  if ((size >>> 0) < b.length) return -E.ERANGE;
  return t.mem.write(buf, b) ? b.length : EFAULT;
}

export function chdir(t: Task, path: number): number {
  const p = t.mem.readPath(path);
  if (typeof p === 'number') return p;
  const d = vfs().lookup(t, AT_FDCWD, p, true);
  return typeof d === 'number' ? d : vfs().chdir(t, d);
}

export function fchdir(t: Task, fd: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (!f.dentry) return -E.ENOTDIR;
  return vfs().chdir(t, f.dentry);
}

export function chroot(t: Task, path: number): number {
  const p = t.mem.readPath(path);
  if (typeof p === 'number') return p;
  const d = vfs().lookup(t, AT_FDCWD, p, true);
  if (typeof d === 'number') return d;
  if (!d.inode.isDir) return -E.ENOTDIR;
  if (t.creds.euid !== 0) return -E.EPERM;
  t.fsCtx.root = d;
  return 0;
}

export function mkdir(t: Task, path: number, mode: number): number {
  return mkdirat(t, AT_FDCWD, path, mode);
}
export function mkdirat(t: Task, dirfd: number, path: number, mode: number): number {
  const p = t.mem.readPath(path);
  if (typeof p === 'number') return p;
  return vfs().mkdir(t, dirfd | 0, p, mode & 0o7777);
}

export function mknod(t: Task, path: number, mode: number, dev: number): number {
  return mknodat(t, AT_FDCWD, path, mode, dev);
}
export function mknodat(t: Task, dirfd: number, path: number, mode: number, dev: number): number {
  const p = t.mem.readPath(path);
  if (typeof p === 'number') return p;
  return vfs().mknod(t, dirfd | 0, p, mode >>> 0, dev >>> 0);
}

export function rmdir(t: Task, path: number): number {
  const p = t.mem.readPath(path);
  if (typeof p === 'number') return p;
  return vfs().rmdir(t, AT_FDCWD, p);
}

export function unlink(t: Task, path: number): number {
  const p = t.mem.readPath(path);
  if (typeof p === 'number') return p;
  return vfs().unlink(t, AT_FDCWD, p);
}

export function unlinkat(t: Task, dirfd: number, path: number, flags: number): number {
  if (flags & ~AT_REMOVEDIR) return -E.EINVAL;
  const p = t.mem.readPath(path);
  if (typeof p === 'number') return p;
  return flags & AT_REMOVEDIR ? vfs().rmdir(t, dirfd | 0, p) : vfs().unlink(t, dirfd | 0, p);
}

function renameCommon(t: Task, od: number, op: number, nd: number, np: number, flags: number): number {
  const a = t.mem.readPath(op);
  if (typeof a === 'number') return a;
  const b = t.mem.readPath(np);
  if (typeof b === 'number') return b;
  return vfs().rename(t, od, a, nd, b, flags);
}
export function rename(t: Task, oldp: number, newp: number): number {
  return renameCommon(t, AT_FDCWD, oldp, AT_FDCWD, newp, 0);
}
export function renameat(t: Task, od: number, oldp: number, nd: number, newp: number): number {
  return renameCommon(t, od | 0, oldp, nd | 0, newp, 0);
}
export function renameat2(t: Task, od: number, oldp: number, nd: number, newp: number, flags: number): number {
  return renameCommon(t, od | 0, oldp, nd | 0, newp, flags >>> 0);
}

export function link(t: Task, oldp: number, newp: number): number {
  return linkat(t, AT_FDCWD, oldp, AT_FDCWD, newp, 0);
}
export function linkat(t: Task, od: number, oldp: number, nd: number, newp: number, flags: number): number {
  if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) return -E.EINVAL;
  const a = readPath(t, oldp, (flags & AT_EMPTY_PATH) !== 0);
  if (typeof a === 'number') return a;
  const b = t.mem.readPath(newp);
  if (typeof b === 'number') return b;
  return vfs().link(t, od | 0, a, nd | 0, b, flags);
}

export function symlink(t: Task, target: number, linkpath: number): number {
  return symlinkat(t, target, AT_FDCWD, linkpath);
}
export function symlinkat(t: Task, target: number, dirfd: number, linkpath: number): number {
  const tg = t.mem.readPath(target);
  if (typeof tg === 'number') return tg;
  const p = t.mem.readPath(linkpath);
  if (typeof p === 'number') return p;
  return vfs().symlink(t, tg, dirfd | 0, p);
}

export function readlink(t: Task, path: number, buf: number, size: number): number {
  return readlinkat(t, AT_FDCWD, path, buf, size);
}
export function readlinkat(t: Task, dirfd: number, path: number, buf: number, size: number): number {
  if ((size | 0) <= 0) return -E.EINVAL;
  const p = readPath(t, path, true);
  if (typeof p === 'number') return p;
  const r = vfs().readlink(t, dirfd | 0, p, true);
  if (typeof r === 'number') return r;
  const b = Buffer.from(r);
  const n = Math.min(b.length, size | 0);
  return t.mem.write(buf, b.subarray(0, n)) ? n : EFAULT;
}

// ------------------------------------------------------------------ attributes

/** The dentry an fd names (fchmod, fchown, futimens...). */
function fdTarget(t: Task, fd: number): Dentry | FileDescription | number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  return f.dentry ?? f;
}
function setattrOn(t: Task, target: Dentry | FileDescription, a: SetAttr, viaFile = false): number {
  if ('inode' in target && 'flags' in target) return vfs().setattr(t, target.inode, a, viaFile);
  return vfs().setattr(t, target as Dentry, a, viaFile);
}
function pathTarget(t: Task, dirfd: number, path: number, follow: boolean, emptyOk: boolean): Dentry | FileDescription | number {
  const p = readPath(t, path, emptyOk);
  if (typeof p === 'number') return p;
  if (p.length === 0) return (dirfd | 0) === AT_FDCWD ? t.fsCtx.cwd : fdTarget(t, dirfd);
  return vfs().lookup(t, dirfd | 0, p, follow);
}

export function chmod(t: Task, path: number, mode: number): number {
  return fchmodat(t, AT_FDCWD, path, mode);
}
export function fchmod(t: Task, fd: number, mode: number): number {
  const d = fdTarget(t, fd);
  if (typeof d === 'number') return d;
  if ('flags' in d && (d as FileDescription).isPath) return -E.EBADF;
  return setattrOn(t, d, { mode: mode & 0o7777 });
}
export function fchmodat(t: Task, dirfd: number, path: number, mode: number): number {
  const d = pathTarget(t, dirfd, path, true, false);
  if (typeof d === 'number') return d;
  return setattrOn(t, d, { mode: mode & 0o7777 });
}

export function chown(t: Task, path: number, uid: number, gid: number): number {
  return fchownat(t, AT_FDCWD, path, uid, gid, 0);
}
export function lchown(t: Task, path: number, uid: number, gid: number): number {
  return fchownat(t, AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW);
}
export function fchown(t: Task, fd: number, uid: number, gid: number): number {
  const d = fdTarget(t, fd);
  if (typeof d === 'number') return d;
  return setattrOn(t, d, { uid: uid | 0, gid: gid | 0 });
}
export function fchownat(t: Task, dirfd: number, path: number, uid: number, gid: number, flags: number): number {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -E.EINVAL;
  const d = pathTarget(t, dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) === 0, (flags & AT_EMPTY_PATH) !== 0);
  if (typeof d === 'number') return d;
  return setattrOn(t, d, { uid: uid | 0, gid: gid | 0 });
}

export function umask(t: Task, mask: number): number {
  const old = t.fsCtx.umask;
  t.fsCtx.umask = mask & 0o777;
  return old;
}

/** RLIMIT_FSIZE for size changes: SIGXFSZ and EFBIG past the limit, as Linux's inode_newsize_ok. */
function fsizeOk(t: Task, len: number): number {
  if (len > limitsOf(t.tg).soft(RLIMIT_FSIZE)) {
    t.sendSignalSelf(25);
    return -E.EFBIG;
  }
  return 0;
}

export function truncate(t: Task, path: number, len: number): number {
  if (len < 0) return -E.EINVAL;
  const lim = fsizeOk(t, len);
  if (lim < 0) return lim;
  const d = pathTarget(t, AT_FDCWD, path, true, false);
  if (typeof d === 'number') return d;
  return setattrOn(t, d, { size: len });
}

export function ftruncate(t: Task, fd: number, len: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (len < 0) return -E.EINVAL;
  if (!f.writable) return -E.EINVAL;
  const ino = f.dentry?.inode ?? f.inode;
  if ((ino.mode & S_IFMT) !== S_IFREG) return -E.EINVAL;
  const lim = fsizeOk(t, len);
  if (lim < 0) return lim;
  return f.truncate(len);
}

const FALLOC_FL_KEEP_SIZE = 1;
export function fallocate(t: Task, fd: number, mode: number, off: number, len: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (off < 0 || len <= 0) return -E.EINVAL;
  if (!f.writable) return -E.EBADF;
  const ino = f.dentry?.inode ?? f.inode;
  const type = ino.mode & S_IFMT;
  if (type === S_IFIFO) return -E.ESPIPE;
  if (type === S_IFDIR) return -E.EISDIR;
  if (type !== S_IFREG) return -E.ENODEV;
  if (mode & ~FALLOC_FL_KEEP_SIZE) return -E.EOPNOTSUPP;
  if (mode & FALLOC_FL_KEEP_SIZE) return 0;
  const lim = fsizeOk(t, off + len);
  if (lim < 0) return lim;
  return f.allocate(off, len);
}

const UTIME_NOW = 0x3fffffff;
const UTIME_OMIT = 0x3ffffffe;

/** Reads two struct timespec (or timeval when usec) into setattr times; null ptr = now. */
function readTimes(t: Task, addr: number, usec: boolean): SetAttr | number {
  if (addr === 0) return { atime: 'now', mtime: 'now' };
  const b = t.mem.read(addr, 32);
  if (b === null) return EFAULT;
  const one = (off: number): TimeSpec | undefined | number => {
    const sec = Number(b.readBigInt64LE(off));
    const sub = Number(b.readBigInt64LE(off + 8));
    if (usec) {
      if (sub < 0 || sub >= 1000000) return -E.EINVAL;
      return [sec, sub * 1000];
    }
    if (sub === UTIME_NOW) return 'now';
    if (sub === UTIME_OMIT) return undefined;
    if (sub < 0 || sub >= 1e9) return -E.EINVAL;
    return [sec, sub];
  };
  const a = one(0);
  const m = one(16);
  if (typeof a === 'number') return a;
  if (typeof m === 'number') return m;
  return { atime: a, mtime: m };
}

export function utimensat(t: Task, dirfd: number, path: number, times: number, flags: number): number {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -E.EINVAL;
  const a = readTimes(t, times, false);
  if (typeof a === 'number') return a;
  if (a.atime === undefined && a.mtime === undefined) return 0;
  let d: Dentry | FileDescription | number;
  if (path === 0) d = (dirfd | 0) === AT_FDCWD ? -E.EFAULT : fdTarget(t, dirfd);
  else d = pathTarget(t, dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) === 0, (flags & AT_EMPTY_PATH) !== 0);
  if (typeof d === 'number') return d;
  return setattrOn(t, d, a);
}

export function futimesat(t: Task, dirfd: number, path: number, times: number): number {
  const a = readTimes(t, times, true);
  if (typeof a === 'number') return a;
  const d = path === 0 ? fdTarget(t, dirfd) : pathTarget(t, dirfd, path, true, false);
  if (typeof d === 'number') return d;
  return setattrOn(t, d, a);
}
export function utimes(t: Task, path: number, times: number): number {
  return futimesat(t, AT_FDCWD, path, times);
}
export function utime(t: Task, path: number, buf: number): number {
  let a: SetAttr = { atime: 'now', mtime: 'now' };
  if (buf !== 0) {
    const b = t.mem.read(buf, 16);
    if (b === null) return EFAULT;
    a = { atime: [Number(b.readBigInt64LE(0)), 0], mtime: [Number(b.readBigInt64LE(8)), 0] };
  }
  const d = pathTarget(t, AT_FDCWD, path, true, false);
  if (typeof d === 'number') return d;
  return setattrOn(t, d, a);
}

// ------------------------------------------------------------------ fd table

export function dup(t: Task, fd: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  return install(t, f.incRef(), false);
}

export function dup2(t: Task, oldfd: number, newfd: number): number {
  const f = fileOf(t, oldfd);
  if (!f) return -E.EBADF;
  if ((oldfd | 0) === (newfd | 0)) return newfd | 0;
  return dup3(t, oldfd, newfd, 0);
}

export function dup3(t: Task, oldfd: number, newfd: number, flags: number): number {
  if (flags & ~O_CLOEXEC) return -E.EINVAL;
  if ((oldfd | 0) === (newfd | 0)) return -E.EINVAL;
  const f = fileOf(t, oldfd);
  if (!f) return -E.EBADF;
  if ((newfd | 0) < 0 || (newfd | 0) >= limitsOf(t.tg).soft(RLIMIT_NOFILE)) return -E.EBADF;
  const old = t.fdTable.get(newfd | 0);
  if (old) locks.releaseProcessLocks(old, t.tg);
  t.fdTable.limit = Math.min(limitsOf(t.tg).soft(RLIMIT_NOFILE), 1 << 20);
  return t.fdTable.installAt(newfd | 0, f.incRef(), (flags & O_CLOEXEC) !== 0);
}

const F_DUPFD = 0, F_GETFD = 1, F_SETFD = 2, F_GETFL = 3, F_SETFL = 4, F_GETLK = 5, F_SETLK = 6, F_SETLKW = 7;
const F_SETOWN = 8, F_GETOWN = 9, F_SETSIG = 10, F_GETSIG = 11, F_SETOWN_EX = 15, F_GETOWN_EX = 16;
const F_OFD_GETLK = 36, F_OFD_SETLK = 37, F_OFD_SETLKW = 38;
const F_SETLEASE = 1024, F_GETLEASE = 1025, F_NOTIFY = 1026, F_DUPFD_CLOEXEC = 1030;
const F_SETPIPE_SZ = 1031, F_GETPIPE_SZ = 1032, F_ADD_SEALS = 1033, F_GET_SEALS = 1034;
const FD_CLOEXEC = 1;

export function fcntl(t: Task, fd: number, cmd: number, arg: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  fd |= 0;
  switch (cmd | 0) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      const min = arg | 0;
      if (min < 0 || min >= limitsOf(t.tg).soft(RLIMIT_NOFILE)) return -E.EINVAL;
      return install(t, f.incRef(), (cmd | 0) === F_DUPFD_CLOEXEC, min);
    }
    case F_GETFD:
      return t.fdTable.isCloexec(fd) ? FD_CLOEXEC : 0;
    case F_SETFD:
      t.fdTable.setCloexec(fd, (arg & FD_CLOEXEC) !== 0);
      return 0;
    case F_GETFL:
      return f.flags;
    case F_SETFL: {
      if (f.isPath) return -E.EBADF;
      // O_APPEND cannot be cleared on an append-only file; not modelled. O_DIRECT accepted.
      f.flags = (f.flags & ~SETFL_MASK) | (arg & SETFL_MASK);
      return 0;
    }
    case F_GETLK:
    case F_SETLK:
    case F_SETLKW:
    case F_OFD_GETLK:
    case F_OFD_SETLK:
    case F_OFD_SETLKW:
      return recordLock(t, f, cmd | 0, arg);
    case F_GETOWN:
      return 0;
    case F_SETOWN:
    case F_SETSIG:
    case F_NOTIFY:
      return 0;
    case F_GETSIG:
      return 0;
    case F_GETOWN_EX:
      return t.mem.write(arg, Buffer.alloc(8)) ? 0 : EFAULT;
    case F_SETOWN_EX:
      return 0;
    case F_GETLEASE:
      return 2; // F_UNLCK
    case F_SETLEASE:
      return (arg | 0) === 2 ? 0 : -E.EAGAIN;
    case F_GETPIPE_SZ:
      return f.pipeSize();
    case F_SETPIPE_SZ: {
      if ((arg | 0) < 0) return -E.EINVAL;
      return f.pipeSize(arg | 0);
    }
    case F_ADD_SEALS:
    case F_GET_SEALS: {
      const ino = f instanceof TmpfsFile ? (f.inode as TmpfsInode) : null;
      if (ino === null) return -E.EINVAL;
      if ((cmd | 0) === F_GET_SEALS) return ino.seals;
      if (!f.writable) return -E.EPERM;
      if (ino.seals & SEAL_SEAL) return -E.EPERM;
      if (arg & ~(SEAL_SEAL | SEAL_SHRINK | SEAL_GROW | SEAL_WRITE | 0x10 | 0x20)) return -E.EINVAL;
      ino.seals |= arg;
      return 0;
    }
    default:
      return -E.EINVAL;
  }
}

/** F_GETLK/F_SETLK(W) and the OFD variants; struct flock is 32 bytes. */
function recordLock(t: Task, f: FileDescription, cmd: number, arg: number): number {
  const b = t.mem.read(arg, 32);
  if (b === null) return EFAULT;
  const type = b.readInt16LE(0);
  const whence = b.readInt16LE(2);
  const lstart = Number(b.readBigInt64LE(8));
  const llen = Number(b.readBigInt64LE(16));
  const ofd = cmd >= F_OFD_GETLK;
  if (ofd && b.readInt32LE(24) !== 0) return -E.EINVAL;
  if (type !== locks.F_RDLCK && type !== locks.F_WRLCK && type !== locks.F_UNLCK) return -E.EINVAL;
  let base: number;
  if (whence === SEEK_SET) base = 0;
  else if (whence === SEEK_CUR) base = f.pos;
  else if (whence === SEEK_END) {
    const st = f.stat();
    if (typeof st === 'number') return st;
    base = st.size;
  } else return -E.EINVAL;
  let start = base + lstart;
  let end: number;
  if (llen > 0) end = start + llen - 1;
  else if (llen === 0) end = Infinity;
  else {
    end = start - 1;
    start += llen;
  }
  if (start < 0) return -E.EINVAL;
  const owner: object = ofd ? f : t.tg;
  const req = { type, start, end };
  if (cmd === F_GETLK || cmd === F_OFD_GETLK) {
    if (type === locks.F_UNLCK) return -E.EINVAL;
    const c = locks.getlk(f, owner, req);
    if (c === null) b.writeInt16LE(locks.F_UNLCK, 0);
    else {
      b.writeInt16LE(c.type, 0);
      b.writeInt16LE(SEEK_SET, 2);
      b.writeBigInt64LE(BigInt(c.start), 8);
      b.writeBigInt64LE(c.end === Infinity ? 0n : BigInt(c.end - c.start + 1), 16);
      b.writeInt32LE(c.pid, 24);
    }
    return t.mem.write(arg, b) ? 0 : EFAULT;
  }
  if (type === locks.F_RDLCK && !f.readable) return -E.EBADF;
  if (type === locks.F_WRLCK && !f.writable) return -E.EBADF;
  const r = locks.setlk(f, owner, ofd ? -1 : t.tg.pid, req);
  if (r === -E.EAGAIN && (cmd === F_SETLKW || cmd === F_OFD_SETLKW)) {
    // Woken by any unlock; also re-checked every 20 ms, because a process that exits
    // without its fds being closed through close(2) releases its locks silently.
    t.waitOn(locks.lockQueue(f), 0xffffffff);
    return t.block(kernel.nowNs() + 20e6);
  }
  return r;
}

export function flock(t: Task, fd: number, op: number): number {
  const f = fileOf(t, fd);
  if (!f || f.isPath) return -E.EBADF;
  const r = locks.flock(f, op | 0);
  if (typeof r === 'number') return r;
  return t.blockOn(r, 0xffffffff);
}

const FIONBIO = 0x5421, FIONCLEX = 0x5450, FIOCLEX = 0x5451, FIOASYNC = 0x5452, FIONREAD = 0x541b;

export function ioctl(t: Task, fd: number, cmd: number, arg: number): number {
  const f = fileOf(t, fd);
  if (!f || f.isPath) return -E.EBADF;
  cmd >>>= 0;
  switch (cmd) {
    case FIONBIO: {
      const v = t.mem.readI32(arg);
      if (v === null) return EFAULT;
      f.flags = v ? f.flags | O_NONBLOCK : f.flags & ~O_NONBLOCK;
      return 0;
    }
    case FIOASYNC: {
      const v = t.mem.readI32(arg);
      if (v === null) return EFAULT;
      f.flags = v ? f.flags | 0o20000 : f.flags & ~0o20000;
      return 0;
    }
    case FIOCLEX:
      t.fdTable.setCloexec(fd | 0, true);
      return 0;
    case FIONCLEX:
      t.fdTable.setCloexec(fd | 0, false);
      return 0;
    case FIONREAD: {
      const ino = f.dentry?.inode ?? f.inode;
      if (ino.isDir) return -E.ENOTTY;
      const n = f.available();
      if (n === -E.ENOTTY) return f.ioctl(t, cmd, arg);
      if (n < 0) return n;
      return t.mem.writeI32(arg, n) ? 0 : EFAULT;
    }
    default:
      return f.ioctl(t, cmd, arg);
  }
}

// ------------------------------------------------------------------ pipes and anonymous files

export function pipe(t: Task, fds: number): number {
  return pipe2(t, fds, 0);
}

export function pipe2(t: Task, fds: number, flags: number): number {
  if (flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT)) return -E.EINVAL;
  const [r, w] = Pipe.pair(t.creds.euid, t.creds.egid, flags);
  return installPair(t, r, w, (flags & O_CLOEXEC) !== 0, fds);
}

export function eventfd(t: Task, initval: number): number {
  return eventfd2(t, initval, 0);
}
export function eventfd2(t: Task, initval: number, flags: number): number {
  if (flags & ~(O_CLOEXEC | O_NONBLOCK | EFD_SEMAPHORE)) return -E.EINVAL;
  const f = new EventFd(initval >>> 0, O_RDWR | (flags & O_NONBLOCK), (flags & EFD_SEMAPHORE) !== 0);
  return install(t, f, (flags & O_CLOEXEC) !== 0);
}

export function memfd_create(t: Task, nameAddr: number, flags: number): number {
  if (flags & ~(MFD_CLOEXEC | MFD_ALLOW_SEALING | 0x8 | 0x10)) return -E.EINVAL;
  const name = t.mem.readCString(nameAddr, 4096);
  if (name === null) return EFAULT;
  if (Buffer.byteLength(name) > 249) return -E.EINVAL;
  const f = createMemfd(name, (flags & MFD_ALLOW_SEALING) !== 0, t.creds);
  return install(t, f, (flags & MFD_CLOEXEC) !== 0);
}

// ------------------------------------------------------------------ data movement between fds

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
  const n = fromOff < 0 ? from.read(b, t) : from.pread(b, fromOff);
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
  return { n: w, waitIn: false };
}

export function sendfile(t: Task, outFd: number, inFd: number, offPtr: number, count: number): number {
  const out = fileOf(t, outFd);
  const inp = fileOf(t, inFd);
  if (!out || !inp) return -E.EBADF;
  if (!inp.readable || !out.writable) return -E.EBADF;
  if (out.flags & O_APPEND) return -E.EINVAL;
  if (count < 0) return -E.EINVAL;
  let off = -1;
  if (offPtr !== 0) {
    const v = t.mem.readI64(offPtr);
    if (v === null) return EFAULT;
    if (v < 0) return -E.EINVAL;
    off = v;
  }
  if (off < 0 && inp instanceof PipeEnd === false && !(inp.seek(0, SEEK_CUR) >= 0)) return -E.EINVAL;
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

export function splice(t: Task, fdIn: number, offIn: number, fdOut: number, offOut: number, len: number, flags: number): number {
  const inp = fileOf(t, fdIn);
  const out = fileOf(t, fdOut);
  if (!inp || !out) return -E.EBADF;
  if (!inp.readable || !out.writable) return -E.EBADF;
  const inPipe = inp instanceof PipeEnd;
  const outPipe = out instanceof PipeEnd;
  if (!inPipe && !outPipe) return -E.EINVAL;
  if (inPipe && outPipe && inp.pipe === out.pipe) return -E.EINVAL;
  if ((inPipe && offIn !== 0) || (outPipe && offOut !== 0)) return -E.ESPIPE;
  if (len === 0) return 0;
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

export function copy_file_range(t: Task, fdIn: number, offIn: number, fdOut: number, offOut: number, len: number, flags: number): number {
  if (flags !== 0) return -E.EINVAL;
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
  let ioff = inp.pos;
  let ooff = out.pos;
  if (offIn !== 0) {
    const v = t.mem.readI64(offIn);
    if (v === null) return EFAULT;
    ioff = v;
  }
  if (offOut !== 0) {
    const v = t.mem.readI64(offOut);
    if (v === null) return EFAULT;
    ooff = v;
  }
  if (ioff < 0 || ooff < 0) return -E.EINVAL;
  const sameInode = (inp.dentry?.inode ?? inp.inode) === (out.dentry?.inode ?? out.inode);
  if (sameInode && ioff < ooff + len && ooff < ioff + len) return -E.EINVAL;
  let done = 0;
  while (done < len) {
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
  if (offIn !== 0) {
    if (!t.mem.writeU64(offIn, ioff + done)) return EFAULT;
  } else inp.pos += done;
  if (offOut !== 0) {
    if (!t.mem.writeU64(offOut, ooff + done)) return EFAULT;
  } else out.pos += done;
  return done;
}

// ------------------------------------------------------------------ sync, statfs, hints

export function sync(): number {
  return 0;
}
export function syncfs(t: Task, fd: number): number {
  return fileOf(t, fd) ? 0 : -E.EBADF;
}
export function fsync(t: Task, fd: number): number {
  const f = fileOf(t, fd);
  if (!f || f.isPath) return -E.EBADF;
  if (f instanceof PipeEnd || f instanceof EventFd || f instanceof EpollFile) return -E.EINVAL;
  return f.fsync();
}
export function fdatasync(t: Task, fd: number): number {
  return fsync(t, fd);
}
export function sync_file_range(t: Task, fd: number, off: number, nbytes: number, flags: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (flags & ~7 || off < 0 || nbytes < 0) return -E.EINVAL;
  if (f instanceof PipeEnd) return -E.ESPIPE;
  return 0;
}

function writeStatfs(t: Task, d: Dentry, buf: number): number {
  const s = vfs().statfs(d);
  return t.mem.write(buf, encodeStatfs(s.magic, s.nums, s.dev, s.readonly)) ? 0 : EFAULT;
}
export function statfs(t: Task, path: number, buf: number): number {
  const p = t.mem.readPath(path);
  if (typeof p === 'number') return p;
  const d = vfs().lookup(t, AT_FDCWD, p, true);
  return typeof d === 'number' ? d : writeStatfs(t, d, buf);
}
export function fstatfs(t: Task, fd: number, buf: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (f.dentry) return writeStatfs(t, f.dentry, buf);
  const fs = f.inode.fs;
  return t.mem.write(buf, encodeStatfs(fs.magic, fs.statfsNumbers(), fs.dev, false)) ? 0 : EFAULT;
}

export function readahead(t: Task, fd: number): number {
  const f = fileOf(t, fd);
  if (!f || !f.readable) return -E.EBADF;
  const ino = f.dentry?.inode ?? f.inode;
  return (ino.mode & S_IFMT) === S_IFREG ? 0 : -E.EINVAL;
}
export function fadvise64(t: Task, fd: number, _off: number, len: number, advice: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (f instanceof PipeEnd) return -E.ESPIPE;
  if ((advice | 0) < 0 || (advice | 0) > 5 || len < 0) return -E.EINVAL;
  return 0;
}

// ------------------------------------------------------------------ xattrs

const XATTR_NAME_MAX = 255;
const XATTR_SIZE_MAX = 65536;

function xattrName(t: Task, addr: number): string | number {
  const n = t.mem.readCString(addr, XATTR_NAME_MAX + 1);
  if (n === null) return EFAULT;
  if (n.length === 0 || Buffer.byteLength(n) > XATTR_NAME_MAX) return -E.ERANGE;
  if (!/^(user|trusted|security|system)\./.test(n)) return -E.EOPNOTSUPP;
  return n;
}

type XTarget = { inode: import('../fs/vfs/inode').Inode };
function xPath(t: Task, path: number, follow: boolean): XTarget | number {
  const p = t.mem.readPath(path);
  if (typeof p === 'number') return p;
  const d = vfs().lookup(t, AT_FDCWD, p, follow);
  return typeof d === 'number' ? d : d;
}
function xFd(t: Task, fd: number): XTarget | number {
  const f = fileOf(t, fd);
  if (!f || f.isPath) return -E.EBADF;
  return { inode: f.dentry?.inode ?? f.inode };
}

function getx(t: Task, tg: XTarget | number, name: number, value: number, size: number): number {
  if (typeof tg === 'number') return tg;
  const n = xattrName(t, name);
  if (typeof n === 'number') return n;
  const v = tg.inode.getxattr(n);
  if (typeof v === 'number') return v;
  if ((size >>> 0) === 0) return v.length;
  if ((size >>> 0) < v.length) return -E.ERANGE;
  return t.mem.write(value, v) ? v.length : EFAULT;
}
function setx(t: Task, tg: XTarget | number, name: number, value: number, size: number, flags: number): number {
  if (typeof tg === 'number') return tg;
  if (flags & ~3) return -E.EINVAL;
  const n = xattrName(t, name);
  if (typeof n === 'number') return n;
  if ((size >>> 0) > XATTR_SIZE_MAX) return -E.E2BIG;
  const v = t.mem.read(value, size >>> 0);
  if (v === null) return EFAULT;
  if (tg.inode.fs.readonly) return -E.EROFS;
  if (t.creds.fsuid !== 0 && t.creds.fsuid !== tg.inode.uid) return -E.EPERM;
  return tg.inode.setxattr(n, v, flags);
}
function listx(t: Task, tg: XTarget | number, list: number, size: number): number {
  if (typeof tg === 'number') return tg;
  const names = tg.inode.listxattr();
  if (typeof names === 'number') return names;
  const b = Buffer.from(names.map((n) => n + '\0').join(''));
  if ((size >>> 0) === 0) return b.length;
  if ((size >>> 0) < b.length) return -E.ERANGE;
  return t.mem.write(list, b) ? b.length : EFAULT;
}
function removex(t: Task, tg: XTarget | number, name: number): number {
  if (typeof tg === 'number') return tg;
  const n = xattrName(t, name);
  if (typeof n === 'number') return n;
  if (tg.inode.fs.readonly) return -E.EROFS;
  return tg.inode.removexattr(n);
}

export const getxattr = (t: Task, p: number, n: number, v: number, s: number) => getx(t, xPath(t, p, true), n, v, s);
export const lgetxattr = (t: Task, p: number, n: number, v: number, s: number) => getx(t, xPath(t, p, false), n, v, s);
export const fgetxattr = (t: Task, fd: number, n: number, v: number, s: number) => getx(t, xFd(t, fd), n, v, s);
export const setxattr = (t: Task, p: number, n: number, v: number, s: number, f: number) => setx(t, xPath(t, p, true), n, v, s, f);
export const lsetxattr = (t: Task, p: number, n: number, v: number, s: number, f: number) => setx(t, xPath(t, p, false), n, v, s, f);
export const fsetxattr = (t: Task, fd: number, n: number, v: number, s: number, f: number) => setx(t, xFd(t, fd), n, v, s, f);
export const listxattr = (t: Task, p: number, l: number, s: number) => listx(t, xPath(t, p, true), l, s);
export const llistxattr = (t: Task, p: number, l: number, s: number) => listx(t, xPath(t, p, false), l, s);
export const flistxattr = (t: Task, fd: number, l: number, s: number) => listx(t, xFd(t, fd), l, s);
export const removexattr = (t: Task, p: number, n: number) => removex(t, xPath(t, p, true), n);
export const lremovexattr = (t: Task, p: number, n: number) => removex(t, xPath(t, p, false), n);
export const fremovexattr = (t: Task, fd: number, n: number) => removex(t, xFd(t, fd), n);

// ------------------------------------------------------------------ poll, select, epoll

/** Applies a temporary signal mask (ppoll/pselect6/epoll_pwait) on first entry. */
function applySigmask(t: Task, addr: number, size: number): number {
  if (addr === 0 || t.sysState !== undefined) return 0;
  if (size !== 8) return -E.EINVAL;
  const m = t.mem.read(addr, 8);
  if (m === null) return EFAULT;
  const sig = t.sig;
  sig.savedMask = sig.mask;
  sig.mask = m.readBigUInt64LE(0) & ~((1n << 8n) | (1n << 18n)); // never SIGKILL/SIGSTOP
  return 0;
}
/** Restores the mask when the call completes without a signal handler running. */
function restoreSigmask(t: Task, r: number): number {
  if (r !== -0x100000 /* BLOCK */ && t.sig && t.sig.savedMask !== null && r !== -E.EINTR) {
    t.sig.mask = t.sig.savedMask;
    t.sig.savedMask = null;
  }
  return r;
}

function readTimespecNs(t: Task, addr: number): number {
  if (addr === 0) return Infinity;
  const b = t.mem.read(addr, 16);
  if (b === null) return EFAULT;
  const sec = Number(b.readBigInt64LE(0));
  const nsec = Number(b.readBigInt64LE(8));
  if (sec < 0 || nsec < 0 || nsec >= 1e9) return -E.EINVAL;
  return sec * 1e9 + nsec;
}

function pollCommon(t: Task, fdsAddr: number, nfds: number, relNs: number): number {
  if (nfds < 0 || nfds > limitsOf(t.tg).soft(RLIMIT_NOFILE)) return -E.EINVAL;
  const raw = t.mem.read(fdsAddr, nfds * 8);
  if (raw === null) return EFAULT;
  const entries: PollEntry[] = [];
  for (let i = 0; i < nfds; i++) {
    entries.push({ fd: raw.readInt32LE(i * 8), events: raw.readUInt16LE(i * 8 + 4), revents: 0 });
  }
  const deadline = deadlineOf(t, relNs);
  const n = pollFds(t, entries);
  if (n === 0 && relNs !== 0 && !t.timedOut && kernel.nowNs() < deadline) {
    t.intrResult = -514; // ERESTARTNOHAND
    waitOnFds(t, entries);
    return t.block(deadline);
  }
  for (let i = 0; i < nfds; i++) raw.writeUInt16LE(entries[i].revents, i * 8 + 6);
  if (nfds > 0 && !t.mem.write(fdsAddr, raw)) return EFAULT;
  return n;
}

export function poll(t: Task, fds: number, nfds: number, timeout: number): number {
  const ms = timeout | 0;
  return finish(t, pollCommon(t, fds, nfds >>> 0, ms < 0 ? Infinity : ms * 1e6));
}

export function ppoll(t: Task, fds: number, nfds: number, tsp: number, sigmask: number, sigsetsize: number): number {
  const ns = readTimespecNs(t, tsp);
  if (ns < 0) return ns;
  const m = applySigmask(t, sigmask, sigsetsize);
  if (m < 0) return m;
  return finish(t, writeRemaining(t, tsp, false, restoreSigmask(t, pollCommon(t, fds, nfds >>> 0, ns))));
}

function selectCommon(t: Task, nfds: number, rAddr: number, wAddr: number, eAddr: number, relNs: number): number {
  if (nfds < 0 || nfds > 1 << 20) return -E.EINVAL;
  const bytes = ((nfds + 63) >> 6) * 8;
  const sets: Array<Buffer | null> = [];
  for (const a of [rAddr, wAddr, eAddr]) {
    if (a === 0 || bytes === 0) sets.push(null);
    else {
      const b = t.mem.read(a, bytes);
      if (b === null) return EFAULT;
      sets.push(b);
    }
  }
  const entries: PollEntry[] = [];
  const masks = [POLLIN | POLLRDNORM | POLLHUP | POLLERR, POLLOUT | POLLWRNORM | POLLERR, POLLPRI];
  for (let fd = 0; fd < nfds; fd++) {
    let ev = 0;
    for (let k = 0; k < 3; k++) {
      const s = sets[k];
      if (s && s[fd >> 3] & (1 << (fd & 7))) ev |= k === 0 ? POLLIN : k === 1 ? POLLOUT : POLLPRI;
    }
    if (ev === 0) continue;
    if (!t.fdTable.get(fd)) return -E.EBADF;
    entries.push({ fd, events: ev, revents: 0 });
  }
  const deadline = deadlineOf(t, relNs);
  pollFds(t, entries);
  let count = 0;
  const out = sets.map((s) => (s ? Buffer.alloc(s.length) : null));
  for (const e of entries) {
    for (let k = 0; k < 3; k++) {
      if (!(e.events & (k === 0 ? POLLIN : k === 1 ? POLLOUT : POLLPRI))) continue;
      if (e.revents & masks[k]) {
        out[k]![e.fd >> 3] |= 1 << (e.fd & 7);
        count++;
      }
    }
  }
  if (count === 0 && relNs !== 0 && !t.timedOut && kernel.nowNs() < deadline) {
    t.intrResult = -514;
    waitOnFds(t, entries);
    return t.block(deadline);
  }
  const addrs = [rAddr, wAddr, eAddr];
  for (let k = 0; k < 3; k++) if (out[k] && !t.mem.write(addrs[k], out[k]!)) return EFAULT;
  return count;
}

/** select(2) on Linux writes back the time not slept. */
function writeRemaining(t: Task, tv: number, usec: boolean, r: number): number {
  if (tv === 0 || r === BLOCK || r < 0) return r;
  const p = t.sysState as Progress | undefined;
  if (!p || p.deadline === Infinity || p.deadline < 0) return r;
  const left = Math.max(0, p.deadline - kernel.nowNs());
  const b = Buffer.alloc(16);
  b.writeBigInt64LE(BigInt(Math.floor(left / 1e9)), 0);
  b.writeBigInt64LE(BigInt(usec ? Math.floor((left % 1e9) / 1e3) : Math.floor(left % 1e9)), 8);
  t.mem.write(tv, b);
  return r;
}

export function select(t: Task, nfds: number, r: number, w: number, e: number, tv: number): number {
  let ns = Infinity;
  if (tv !== 0) {
    const b = t.mem.read(tv, 16);
    if (b === null) return EFAULT;
    const sec = Number(b.readBigInt64LE(0));
    const usec = Number(b.readBigInt64LE(8));
    if (sec < 0 || usec < 0 || usec >= 1e6) return -E.EINVAL;
    ns = sec * 1e9 + usec * 1e3;
  }
  return finish(t, writeRemaining(t, tv, true, selectCommon(t, nfds | 0, r, w, e, ns)));
}

export function pselect6(t: Task, nfds: number, r: number, w: number, e: number, tsp: number, sig: number): number {
  const ns = readTimespecNs(t, tsp);
  if (ns < 0) return ns;
  if (sig !== 0 && t.sysState === undefined) {
    // struct { const sigset_t *ss; size_t ss_len; }
    const b = t.mem.read(sig, 16);
    if (b === null) return EFAULT;
    const ss = Number(b.readBigUInt64LE(0));
    const len = Number(b.readBigUInt64LE(8));
    const m = applySigmask(t, ss, len);
    if (m < 0) return m;
  }
  return finish(t, writeRemaining(t, tsp, false, restoreSigmask(t, selectCommon(t, nfds | 0, r, w, e, ns))));
}

export function epoll_create(t: Task, size: number): number {
  if ((size | 0) <= 0) return -E.EINVAL;
  return install(t, new EpollFile(O_RDWR), false);
}
export function epoll_create1(t: Task, flags: number): number {
  if (flags & ~O_CLOEXEC) return -E.EINVAL;
  return install(t, new EpollFile(O_RDWR), (flags & O_CLOEXEC) !== 0);
}

export function epoll_ctl(t: Task, epfd: number, op: number, fd: number, event: number): number {
  const ep = fileOf(t, epfd);
  const f = fileOf(t, fd);
  if (!ep || !f) return -E.EBADF;
  if (!(ep instanceof EpollFile)) return -E.EINVAL;
  let events = 0;
  let data = Buffer.alloc(8);
  if ((op | 0) !== 2) {
    const b = t.mem.read(event, 12);
    if (b === null) return EFAULT;
    events = b.readUInt32LE(0);
    data = b.subarray(4, 12);
  }
  return ep.ctl(op | 0, fd | 0, f, events, data);
}

function epollWaitCommon(t: Task, epfd: number, events: number, max: number, relNs: number): number {
  const ep = fileOf(t, epfd);
  if (!ep) return -E.EBADF;
  if (!(ep instanceof EpollFile)) return -E.EINVAL;
  if (max <= 0 || max > 0x7fffffff / 12) return -E.EINVAL;
  const deadline = deadlineOf(t, relNs);
  const evs = ep.collect(max);
  if (evs.length === 0) {
    if (relNs === 0 || t.timedOut || kernel.nowNs() >= deadline) return 0;
    ep.armAll();
    t.intrResult = -E.EINTR;
    return t.blockOn(ep.waitQueue, POLLIN, deadline);
  }
  const b = stage(evs.length * 12).subarray(0, evs.length * 12);
  evs.forEach((e, i) => {
    b.writeUInt32LE(e.events, i * 12);
    e.data.copy(b, i * 12 + 4);
  });
  return t.mem.write(events, b) ? evs.length : EFAULT;
}

export function epoll_wait(t: Task, epfd: number, events: number, max: number, timeout: number): number {
  const ms = timeout | 0;
  return finish(t, epollWaitCommon(t, epfd | 0, events, max | 0, ms < 0 ? Infinity : ms * 1e6));
}
export function epoll_pwait(t: Task, epfd: number, events: number, max: number, timeout: number, sigmask: number, size: number): number {
  const m = applySigmask(t, sigmask, size);
  if (m < 0) return m;
  const ms = timeout | 0;
  return finish(t, restoreSigmask(t, epollWaitCommon(t, epfd | 0, events, max | 0, ms < 0 ? Infinity : ms * 1e6)));
}
export function epoll_pwait2(t: Task, epfd: number, events: number, max: number, tsp: number, sigmask: number, size: number): number {
  const ns = readTimespecNs(t, tsp);
  if (ns < 0) return ns;
  const m = applySigmask(t, sigmask, size);
  if (m < 0) return m;
  return finish(t, restoreSigmask(t, epollWaitCommon(t, epfd | 0, events, max | 0, ns)));
}


// ------------------------------------------------------------------ mount namespace

export function mount(t: Task, src: number, target: number, type: number, flags: number): number {
  const tp = t.mem.readPath(target);
  if (typeof tp === 'number') return tp;
  let sp: string | null = null;
  if (src !== 0) {
    const s = t.mem.readCString(src, 4096);
    if (s === null) return EFAULT;
    sp = s;
  }
  let ty: string | null = null;
  if (type !== 0) {
    const s = t.mem.readCString(type, 256);
    if (s === null) return EFAULT;
    ty = s;
  }
  return ns.mount(vfs(), t, sp, tp, ty, flags >>> 0);
}

export function umount2(t: Task, target: number, flags: number): number {
  const tp = t.mem.readPath(target);
  if (typeof tp === 'number') return tp;
  return ns.umount(vfs(), t, tp, flags | 0, t.creds);
}

// ------------------------------------------------------------------ inotify

export function inotify_init(t: Task): number {
  return inotify_init1(t, 0);
}
export function inotify_init1(t: Task, flags: number): number {
  if (flags & ~(O_CLOEXEC | O_NONBLOCK)) return -E.EINVAL;
  return install(t, new inotify.InotifyFile(O_RDONLY | (flags & O_NONBLOCK)), (flags & O_CLOEXEC) !== 0);
}
export function inotify_add_watch(t: Task, fd: number, path: number, mask: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (!(f instanceof inotify.InotifyFile)) return -E.EINVAL;
  mask >>>= 0;
  if ((mask & inotify.IN_ALL_EVENTS) === 0) return -E.EINVAL;
  if (mask & inotify.IN_MASK_ADD && mask & inotify.IN_MASK_CREATE) return -E.EINVAL;
  const p = t.mem.readPath(path);
  if (typeof p === 'number') return p;
  const d = vfs().lookup(t, AT_FDCWD, p, (mask & inotify.IN_DONT_FOLLOW) === 0);
  if (typeof d === 'number') return d;
  if (mask & inotify.IN_ONLYDIR && !d.inode.isDir) return -E.ENOTDIR;
  if (!mayRead(t, d)) return -E.EACCES;
  return f.addWatch(d.inode, mask);
}
export function inotify_rm_watch(t: Task, fd: number, wd: number): number {
  const f = fileOf(t, fd);
  if (!f) return -E.EBADF;
  if (!(f instanceof inotify.InotifyFile)) return -E.EINVAL;
  return f.rmWatch(wd | 0);
}
function mayRead(t: Task, d: Dentry): boolean {
  const i = d.inode;
  if (t.creds.fsuid === 0) return true;
  const bits = t.creds.fsuid === i.uid ? i.mode >> 6 : t.creds.inGroup(i.gid) ? i.mode >> 3 : i.mode;
  return (bits & 4) !== 0;
}
