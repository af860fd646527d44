/**
 * The per-call RWF_* flags of preadv2/pwritev2 and of an AIO iocb (aio_rw_flags), checked
 * and applied as Linux's kiocb_set_rw_flags: unknown bits EOPNOTSUPP, APPEND with NOAPPEND
 * EINVAL, ATOMIC EOPNOTSUPP (no file here takes atomic writes: FMODE_CAN_ATOMIC_WRITE is
 * O_DIRECT on a device that has them), NOWAIT makes the one call on a pipe or socket
 * non-blocking (EAGAIN), APPEND writes at the end, NOAPPEND at the offset even on an
 * O_APPEND file, NOSIGNAL gives EPIPE without SIGPIPE. HIPRI, DSYNC, SYNC, DONTCACHE change
 * nothing here (the Sentry's files have no device queue to poll, no write-back to wait for).
 */
import * as E from '../src/abi/errno';
import type { FileDescription } from '../fs/vfs/file';
import { O_APPEND, O_NONBLOCK } from '../src/abi/fs';
import { PipeEnd } from '../fs/fsimpl/pipefs/pipe';
import { SocketFile } from '../src/net/socket-file';

const RWF_NOWAIT = 0x8, RWF_APPEND = 0x10, RWF_NOAPPEND = 0x20, RWF_ATOMIC = 0x40, RWF_NOSIGNAL = 0x100;
/** Linux 6.18's RWF_SUPPORTED: HIPRI, DSYNC, SYNC, NOWAIT, APPEND, NOAPPEND, ATOMIC, DONTCACHE, NOSIGNAL. */
const RWF_SUPPORTED = 0x1ff;

export interface RwFlags {
  /** true: write at the end; false: at the offset even if O_APPEND; null: as the file's flags say. */
  append: boolean | null;
  /** O_NONBLOCK for this call. */
  nowait: boolean;
  /** EPIPE without SIGPIPE. */
  noSignal: boolean;
}

export const NO_RW_FLAGS: RwFlags = { append: null, nowait: false, noSignal: false };

export function checkRwFlags(f: FileDescription, flags: number, write: boolean): RwFlags | number {
  flags >>>= 0;
  if (flags === 0) return NO_RW_FLAGS;
  if (flags & ~RWF_SUPPORTED) return -E.EOPNOTSUPP;
  if (flags & RWF_APPEND && flags & RWF_NOAPPEND) return -E.EINVAL;
  if (flags & RWF_ATOMIC) return -E.EOPNOTSUPP;
  return {
    append: !write ? null : flags & RWF_APPEND ? true : flags & RWF_NOAPPEND ? false : null,
    nowait: (flags & RWF_NOWAIT) !== 0 && (f instanceof PipeEnd || f instanceof SocketFile),
    noSignal: (flags & RWF_NOSIGNAL) !== 0,
  };
}

/** Whether a write with these flags goes to the end of the file. */
export function appends(f: FileDescription, r: RwFlags): boolean {
  return r.append ?? (f.flags & O_APPEND) !== 0;
}

/** Runs fn with the file's O_NONBLOCK/O_APPEND as the flags say for this one call (the Sentry is single-threaded: no one sees them between). */
export function withRwFlags(f: FileDescription, r: RwFlags, fn: () => number): number {
  if (r === NO_RW_FLAGS || (!r.nowait && r.append === null)) return fn();
  const mask = (r.nowait ? O_NONBLOCK : 0) | (r.append !== null ? O_APPEND : 0);
  const saved = f.flags & mask;
  if (r.nowait) f.flags |= O_NONBLOCK;
  if (r.append === true) f.flags |= O_APPEND;
  if (r.append === false) f.flags &= ~O_APPEND;
  try {
    return fn();
  } finally {
    f.flags = (f.flags & ~mask) | saved;
  }
}
