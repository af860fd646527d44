/** fanotify_init and fanotify_mark (groups, marks and events: fs/vfs/fanotify.ts). */
import * as E from '../src/abi/errno';
import type { Task } from '../src/kernel/task';
import { capable, CAP_SYS_ADMIN } from '../src/auth/capabilities';
import * as fan from '../fs/vfs/fanotify';
import { AT_FDCWD, O_ACCMODE, O_CLOEXEC, O_NONBLOCK, O_RDONLY } from '../src/abi/fs';
import { fileOf, install } from './fs-common';

const INIT_OK = fan.FAN_CLOEXEC | fan.FAN_NONBLOCK | fan.FAN_CLASS_CONTENT | fan.FAN_CLASS_PRE_CONTENT | fan.FAN_UNLIMITED_QUEUE |
  fan.FAN_UNLIMITED_MARKS | fan.FAN_ENABLE_AUDIT | fan.FAN_REPORT_TID;
const O_LARGEFILE = 0o100000, O_APPEND = 0o2000, O_DSYNC = 0o10000, O_NOATIME = 0o1000000, O_SYNC = 0o4010000;
const EVENT_F_OK = O_ACCMODE | O_LARGEFILE | O_APPEND | O_DSYNC | O_NOATIME | O_NONBLOCK | O_SYNC | O_CLOEXEC;
const MARK_OK = fan.FAN_MARK_ADD | fan.FAN_MARK_REMOVE | fan.FAN_MARK_DONT_FOLLOW | fan.FAN_MARK_ONLYDIR | fan.FAN_MARK_MOUNT |
  fan.FAN_MARK_IGNORED_MASK | fan.FAN_MARK_IGNORED_SURV_MODIFY | fan.FAN_MARK_FLUSH | fan.FAN_MARK_FILESYSTEM;

export function fanotify_init(t: Task, flags: number, eventFlags: number): number {
  flags >>>= 0;
  eventFlags >>>= 0;
  if (!capable(t.creds, CAP_SYS_ADMIN)) return -E.EPERM;
  // FID reporting (FAN_REPORT_FID and its kin) and unknown bits are not offered.
  if (flags & ~INIT_OK) return -E.EINVAL;
  if ((flags & (fan.FAN_CLASS_CONTENT | fan.FAN_CLASS_PRE_CONTENT)) === (fan.FAN_CLASS_CONTENT | fan.FAN_CLASS_PRE_CONTENT)) return -E.EINVAL;
  // Permission classes would hold the caller until the listener answers: not offered.
  if (flags & (fan.FAN_CLASS_CONTENT | fan.FAN_CLASS_PRE_CONTENT)) return -E.EINVAL;
  if (eventFlags & ~EVENT_F_OK || (eventFlags & O_ACCMODE) === O_ACCMODE) return -E.EINVAL;
  const f = new fan.FanotifyFile(O_RDONLY | (flags & fan.FAN_NONBLOCK ? O_NONBLOCK : 0), eventFlags, (flags & fan.FAN_REPORT_TID) !== 0,
    (flags & fan.FAN_UNLIMITED_QUEUE) !== 0);
  return install(t, f, (flags & fan.FAN_CLOEXEC) !== 0);
}

export function fanotify_mark(t: Task, fd: number, flags: number, mask: number, dirfd: number, path: number): number {
  flags >>>= 0;
  const m64 = t.rawArg(2);
  const g = fileOf(t, fd);
  if (!g) return -E.EBADF;
  if (!(g instanceof fan.FanotifyFile)) return -E.EINVAL;
  if (flags & ~MARK_OK) return -E.EINVAL;
  const kind: fan.MarkKind = flags & fan.FAN_MARK_FILESYSTEM ? 'fs' : flags & fan.FAN_MARK_MOUNT ? 'mount' : 'inode';
  if (flags & fan.FAN_MARK_MOUNT && flags & fan.FAN_MARK_FILESYSTEM) return -E.EINVAL;
  const op = flags & (fan.FAN_MARK_ADD | fan.FAN_MARK_REMOVE | fan.FAN_MARK_FLUSH);
  if (op === fan.FAN_MARK_FLUSH) {
    if (flags & ~(fan.FAN_MARK_FLUSH | fan.FAN_MARK_MOUNT | fan.FAN_MARK_FILESYSTEM)) return -E.EINVAL;
    g.flush(kind);
    return 0;
  }
  if (op !== fan.FAN_MARK_ADD && op !== fan.FAN_MARK_REMOVE) return -E.EINVAL;
  // Only the fd-reporting events of a notification group (no FID events, no permission events).
  const allowed = BigInt(fan.FAN_NOTIF_EVENTS | fan.FAN_ONDIR | fan.FAN_EVENT_ON_CHILD);
  if (m64 & ~allowed) return -E.EINVAL;
  mask = Number(m64);
  if (op === fan.FAN_MARK_ADD && mask === 0) return -E.EINVAL;
  // The object: pathname relative to dirfd, or dirfd itself when pathname is NULL.
  let d;
  if (path === 0) {
    const f = (dirfd | 0) === AT_FDCWD ? null : fileOf(t, dirfd);
    if ((dirfd | 0) !== AT_FDCWD && !f) return -E.EBADF;
    d = f ? f.dentry : t.fsCtx.cwd;
    if (!d) return -E.EINVAL;
  } else {
    const p = t.mem.readPath(path);
    if (typeof p === 'number') return p;
    const r = t.kernel.vfs.lookup(t, dirfd | 0, p, (flags & fan.FAN_MARK_DONT_FOLLOW) === 0);
    if (typeof r === 'number') return r;
    d = r;
  }
  if (flags & fan.FAN_MARK_ONLYDIR && !d.inode.isDir) return -E.ENOTDIR;
  const obj = kind === 'inode' ? d.inode : kind === 'fs' ? d.inode.fs : fan.mountRootOf(d);
  return g.mark(kind, obj, op === fan.FAN_MARK_ADD, mask, (flags & fan.FAN_MARK_IGNORED_MASK) !== 0);
}
