/**
 * kcmp(2): whether two processes share a kernel object (an open file, address space, fd
 * table, fs context, signal handlers, I/O context, SysV undo list, an epoll target), as
 * kernel/kcmp.c: 0 when the same, else 1 or 2 by an order of obfuscated identities (stable
 * for the sandbox's life, meaningless across objects of different types, as Linux's
 * kptr_obfuscate). ESRCH for a missing pid, EPERM unless the caller may ptrace-read both.
 */
import * as E from '../src/abi/errno';
import type { Task } from '../src/kernel/task';
import { kernelPid } from '../src/kernel/namespaces/pid-view';
import { mayAccess } from '../src/kernel/ptrace';
import { semUndoList } from '../src/kernel/ipc/sem';
import { EpollFile } from '../fs/fsimpl/epoll/epoll';
import { fillRandom } from '../src/determinism/entropy';
import type { FileDescription } from '../fs/vfs/file';

const KCMP_FILE = 0, KCMP_VM = 1, KCMP_FILES = 2, KCMP_FS = 3, KCMP_SIGHAND = 4, KCMP_IO = 5, KCMP_SYSVSEM = 6, KCMP_EPOLL_TFD = 7;

/** Per-type random cookies (kptr_obfuscate's), drawn once. */
let cookies: Uint32Array | null = null;
const ids = new WeakMap<object, number>();
let nextId = 1;

function obfuscated(v: object | null, type: number): number {
  if (v === null) return 0;
  if (cookies === null) {
    const b = new Uint8Array(64);
    fillRandom(b);
    cookies = new Uint32Array(b.buffer);
    for (let i = 1; i < cookies.length; i += 2) cookies[i] |= 1; // odd multipliers: a bijection
  }
  let id = ids.get(v);
  if (id === undefined) ids.set(v, (id = nextId++));
  return Math.imul((id ^ cookies[2 * type]) >>> 0, cookies[2 * type + 1]) >>> 0;
}

/** kcmp_ptr: 0 the same object, 1 or 2 their order. */
function order(a: object | null, b: object | null, type: number): number {
  const x = obfuscated(a, type), y = obfuscated(b, type);
  return x < y ? 1 : x > y ? 2 : 0;
}

function fileOfTask(t: Task, fd: number): FileDescription | null {
  return fd >= 0 && fd <= 0x7fffffff ? t.fdTable.get(fd) ?? null : null;
}

/** The I/O context: a task has its own once it set an I/O priority (none before: Linux makes it on ioprio_set). */
const ioContext = (t: Task): object | null => ((t.ioprio >> 13) & 7 ? t : null);

export function kcmp(t: Task, pid1: number, pid2: number, type: number, idx1: number, idx2: number): number {
  const find = (pid: number) => (pid | 0) > 0 ? t.kernel.tasks.get(kernelPid(t, pid | 0)) : undefined;
  const t1 = find(pid1), t2 = find(pid2);
  if (t1 === undefined || t2 === undefined) return -E.ESRCH;
  if (!mayAccess(t, t1) || !mayAccess(t, t2)) return -E.EPERM;
  switch (type | 0) {
    case KCMP_FILE: {
      const a = fileOfTask(t1, idx1), b = fileOfTask(t2, idx2);
      return a && b ? order(a, b, KCMP_FILE) : -E.EBADF;
    }
    case KCMP_VM: return order(t1.mm, t2.mm, KCMP_VM);
    case KCMP_FILES: return order(t1.fdTable, t2.fdTable, KCMP_FILES);
    case KCMP_FS: return order(t1.fsCtx, t2.fsCtx, KCMP_FS);
    case KCMP_SIGHAND: return order(t1.tg.handlers, t2.tg.handlers, KCMP_SIGHAND);
    case KCMP_IO: return order(ioContext(t1), ioContext(t2), KCMP_IO);
    case KCMP_SYSVSEM: return order(semUndoList(t1), semUndoList(t2), KCMP_SYSVSEM);
    case KCMP_EPOLL_TFD: {
      // struct kcmp_epoll_slot { __u32 efd, tfd, toff; } at idx2 in the caller's memory.
      const slot = t.mem.read(idx2, 12);
      if (!slot) return -E.EFAULT;
      const a = fileOfTask(t1, idx1);
      if (!a) return -E.EBADF;
      const ep = fileOfTask(t2, slot.readUInt32LE(0));
      if (!ep) return -E.EBADF;
      if (!(ep instanceof EpollFile)) return -E.EINVAL;
      const target = ep.target(slot.readUInt32LE(4), slot.readUInt32LE(8));
      return target ? order(a, target, KCMP_FILE) : -E.ENOENT;
    }
    default:
      return -E.EINVAL;
  }
}
