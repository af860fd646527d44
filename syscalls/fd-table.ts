/** The fd table and per-description state: dup, dup2, dup3, fcntl (record locks, seals, pipe size), flock, ioctl. */
import * as E from '../src/abi/errno';
import type { Task } from '../src/kernel/task';
import type { FileDescription } from '../fs/vfs/file';
import { TmpfsFile, TmpfsInode, SEAL_SEAL, SEAL_SHRINK, SEAL_GROW, SEAL_WRITE } from '../fs/fsimpl/tmpfs/tmpfs';
import * as locks from '../fs/vfs/locks';
import { limitsOf, RLIMIT_NOFILE } from '../src/kernel/limits';
import { O_CLOEXEC, O_NONBLOCK, SETFL_MASK, SEEK_SET, SEEK_CUR, SEEK_END } from '../src/abi/fs';
import { EFAULT, fileOf, install } from './fs-common';
import * as fasync from '../src/kernel/fasync';
import { processClosing } from '../src/kernel/fd-close';

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
  if (old) processClosing(old, t.tg);
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
      fasync.asyncChanged(t, f, fd);
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
      return fasync.getOwn(f);
    case F_SETOWN: {
      const who = arg | 0;
      return fasync.setOwn(t, f, who < 0 ? fasync.F_OWNER_PGRP : fasync.F_OWNER_PID, Math.abs(who));
    }
    case F_SETSIG:
      return fasync.setSig(f, arg | 0);
    case F_NOTIFY:
      return 0;
    case F_GETSIG:
      return fasync.getSig(f);
    case F_GETOWN_EX: {
      const [type, id] = fasync.getOwnEx(f);
      const b = Buffer.alloc(8);
      b.writeInt32LE(type, 0);
      b.writeInt32LE(id, 4);
      return t.mem.write(arg, b) ? 0 : EFAULT;
    }
    case F_SETOWN_EX: {
      const b = t.mem.read(arg, 8);
      if (b === null) return EFAULT;
      return fasync.setOwn(t, f, b.readInt32LE(0), b.readInt32LE(4));
    }
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
    return t.block(t.kernel.nowNs() + 20e6);
  }
  return r;
}

export function flock(t: Task, fd: number, op: number): number {
  // Linux ≥ 5.19 ignores LOCK_MAND requests (they never worked) and checks the operation before the fd.
  if (op & locks.LOCK_MAND) return 0;
  const kind = op & ~locks.LOCK_NB;
  if (kind !== locks.LOCK_SH && kind !== locks.LOCK_EX && kind !== locks.LOCK_UN) return -E.EINVAL;
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
      fasync.asyncChanged(t, f, fd | 0);
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
