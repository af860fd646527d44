/** Memory-management syscalls: validate as Linux does, then delegate to src/mm. */
import { TASK_SIZE } from '../src/mm/guest-memory';
import { sizeArg } from './user-args';
import type { Task } from '../src/kernel/task';
import { EBADF, EINVAL, EACCES, ENODEV, EFAULT, ENOMEM, EOPNOTSUPP, EOVERFLOW, EPERM, ESRCH } from '../src/abi/errno';
import { readIovec } from './iovec';
import { PidFd } from '../src/kernel/pidfd';
import { mayAccess as ptraceMayAccess } from '../src/kernel/ptrace';
import { capable } from '../src/auth/capabilities';
import { limitsOf, RLIMIT_AS } from '../src/kernel/limits';
import {
  LEGACY_MAP_MASK, MAP_ANONYMOUS, MAP_FIXED, MAP_GROWSDOWN, MAP_FIXED_NOREPLACE, MAP_PRIVATE, MAP_SHARED, MAP_SHARED_VALIDATE, MAP_TYPE,
  PAGE_SIZE, PROT_WRITE, pageUp,
} from '../src/mm/vma';

const PROT_GROWSDOWN = 0x01000000;
const PROT_GROWSUP = 0x02000000;
const PROT_MASK = 0x7 | PROT_GROWSDOWN | PROT_GROWSUP;
const MAX_LFS_FILESIZE = 2 ** 63 - 1;
const O_ACCMODE = 3;
const O_WRONLY = 1;
const O_RDONLY = 0;

/** RLIMIT_AS: would growing the address space by `grow` bytes pass the limit? */
function overAsLimit(t: Task, grow: number): boolean {
  const lim = limitsOf(t.tg).soft(RLIMIT_AS);
  return lim !== Infinity && t.mm.totalBytes() + grow > lim;
}

export function mmap(t: Task, addr: number, len: number, prot: number, flags: number, fd: number, off: number): number {
  prot |= 0;
  flags |= 0;
  fd |= 0;
  // do_mmap: len is a size_t; 0 is EINVAL, past TASK_SIZE (or wrapping when page-aligned) ENOMEM.
  if (len === 0) return -EINVAL;
  if (len < 0 || len > TASK_SIZE) return -ENOMEM;
  if (overAsLimit(t, pageUp(len))) return -ENOMEM;
  if (off % PAGE_SIZE !== 0) return -EINVAL;
  const type = flags & MAP_TYPE;
  if (type !== MAP_SHARED && type !== MAP_PRIVATE && type !== MAP_SHARED_VALIDATE) return -EINVAL;
  // mmap ignores prot bits it does not know (mprotect refuses them).
  if ((flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) && addr % PAGE_SIZE) return -EINVAL;
  prot &= 7;
  if (flags & MAP_ANONYMOUS) {
    // Anonymous memory is MAP_SHARED or MAP_PRIVATE only: MAP_SHARED_VALIDATE is EINVAL.
    if (type === MAP_SHARED_VALIDATE) return -EINVAL;
    return mapped(t, t.mm.map(t.hostTid, addr, len, prot, flags, null, 0, ''), len);
  }
  const file = t.fdTable.get(fd);
  if (!file) return -EBADF;
  // file_mmap_ok: the mapped range must end within the largest file offset (2^63 - 1).
  if (off < 0 || off + pageUp(len) > MAX_LFS_FILESIZE) return -EOVERFLOW;
  const acc = file.flags & O_ACCMODE;
  if (acc === O_WRONLY) return -EACCES;
  if (type !== MAP_PRIVATE && (prot & PROT_WRITE) && acc === O_RDONLY) return -EACCES;
  const st = file.stat();
  if (typeof st === 'number') return st;
  const kind = st.mode & 0o170000;
  // Character devices that map (/dev/zero) give plain zeroed memory.
  if (kind === 0o020000) return mapped(t, t.mm.map(t.hostTid, addr, len, prot, flags | MAP_ANONYMOUS, null, 0, ''), len);
  // No file here supports MAP_SYNC (DAX) or takes a flag Linux added after the mask.
  if (type === MAP_SHARED_VALIDATE && (flags & ~LEGACY_MAP_MASK)) return -EOPNOTSUPP;
  if (kind !== 0o100000 || !file.mappable) return -ENODEV;
  const name = file.dentry ? t.kernel.vfs.pathOf(t.kernel.vfs.rootDentry, file.dentry) : '';
  const r = mapped(t, t.mm.map(t.hostTid, addr, len, prot, flags, file, off, name, st.dev, st.ino), len);
  // A shared mapping of a file not open for writing may never become writable (no VM_MAYWRITE).
  if (r >= 0 && type !== MAP_PRIVATE && acc === O_RDONLY) markNoWrite(t, r, len);
  // Writes through a shared mapping of a writable file are the file's (the audit hashes its content).
  if (r >= 0 && type !== MAP_PRIVATE && acc !== O_RDONLY && t.kernel.hooks !== null) t.kernel.hooks.mappedShared(t, file);
  return r;
}

/** --memory: the Sentry samples the guest's memory as its address space grows (src/kernel/memory-account.ts). */
function mapped(t: Task, r: number, grow: number): number {
  if (r >= 0 && grow > 0) t.kernel.memAcct?.mapped(grow);
  return r;
}

export function munmap(t: Task, addr: number, len: number): number {
  return t.mm.unmap(t.hostTid, addr, len);
}

function markNoWrite(t: Task, addr: number, len: number): void {
  for (let a = addr, v = t.mm.find(a); v && a < addr + len; a = v.end, v = t.mm.find(a)) v.noWrite = true;
}

export function mprotect(t: Task, addr: number, len: number, prot: number): number {
  prot |= 0;
  if (prot & ~PROT_MASK) return -EINVAL;
  const grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
  if (grows === (PROT_GROWSDOWN | PROT_GROWSUP)) return -EINVAL;
  if (addr % PAGE_SIZE !== 0) return -EINVAL;
  if (grows !== 0) {
    // From the start of a grows-down mapping; x86-64 has no grows-up ones.
    const v = t.mm.find(addr);
    if (!v) return -ENOMEM;
    if (grows === PROT_GROWSUP || !(v.flags & MAP_GROWSDOWN)) return -EINVAL;
    len += addr - v.start;
    addr = v.start;
  }
  if (prot & PROT_WRITE) {
    // The walk meets a hole (ENOMEM) or a mapping that may not be written (EACCES) first.
    const end = addr + pageUp(len);
    for (let a = addr; a < end;) {
      const v = t.mm.find(a);
      if (!v) break;
      if (v.noWrite) return -EACCES;
      a = v.end;
    }
  }
  return t.mm.protect(t.hostTid, addr, len, prot & 7);
}

export function mremap(t: Task, oldAddr: number, oldLen: number, newLen: number, flags: number, newAddr: number): number {
  // check_mremap_params: a new length that is 0 when page-aligned or past TASK_SIZE is EINVAL.
  if (newLen < 0 || newLen > TASK_SIZE) return -EINVAL;
  if (newLen > oldLen && overAsLimit(t, pageUp(newLen) - pageUp(oldLen))) return -ENOMEM;
  return mapped(t, t.mm.remap(t.hostTid, oldAddr, oldLen, newLen, flags | 0, newAddr), newLen - oldLen);
}

/** The advice values Linux 6.x accepts (madvise_behavior_valid); anything else is EINVAL first. */
const MADV_VALID = new Set([0, 1, 2, 3, 4, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 100, 101, 102, 103]);
const MADV_HWPOISON = 100;
const MADV_SOFT_OFFLINE = 101;

export function madvise(t: Task, addr: number, len: number, advice: number): number {
  advice |= 0;
  if (!MADV_VALID.has(advice)) return -EINVAL;
  if (addr % PAGE_SIZE !== 0) return -EINVAL;
  // Page poisoning acts on the host's memory: never, whoever asks (Linux wants CAP_SYS_ADMIN).
  if (advice === MADV_HWPOISON || advice === MADV_SOFT_OFFLINE) return -EPERM;
  // A size_t len that wraps the end is EINVAL; an end past TASK_SIZE covers a hole: the
  // mapped part is advised, then ENOMEM (madvise_walk_vmas).
  if (addr >= 0 && (len < 0 || addr + len > TASK_SIZE)) {
    const n = sizeArg(t, 1, len);
    const aligned = BigInt.asUintN(64, n + 4095n) & ~4095n;
    if ((n !== 0n && aligned === 0n) || BigInt(addr) + aligned >= 1n << 64n) return -EINVAL;
    const r = addr < TASK_SIZE ? t.mm.advise(t.hostTid, addr, TASK_SIZE - addr, advice) : 0;
    return r < 0 ? r : -ENOMEM;
  }
  return t.mm.advise(t.hostTid, addr, len, advice);
}

export function brk(t: Task, addr: number): number {
  if (addr > t.mm.brk && overAsLimit(t, pageUp(addr) - pageUp(t.mm.brk))) return t.mm.brk;
  const before = t.mm.brk;
  return mapped(t, t.mm.setBrk(t.hostTid, addr), addr - before);
}

/** msync: flags and alignment as Linux checks them; the walk and write-back are the address space's. */
export function msync(t: Task, addr: number, len: number, flags: number): number {
  if (addr % PAGE_SIZE || (flags & ~7) || ((flags & 1) && (flags & 4))) return -EINVAL;
  if (addr < 0 || len < 0 || addr + pageUp(len) > TASK_SIZE || pageUp(len) < len) return -ENOMEM;
  return t.mm.sync(t.hostTid, addr, len, flags | 0);
}

/**
 * mincore, in Linux's order: EINVAL (unaligned), ENOMEM (outside user space), EFAULT
 * (vec), then a page of entries at a time, walking the VMAs: ENOMEM at the first hole.
 * Bounded work whatever the length (found by the syscall fuzzer: -1 threw).
 */
export function mincore(t: Task, addr: number, len: number, vec: number): number {
  if (addr % PAGE_SIZE !== 0) return -EINVAL;
  if (addr < 0 || len < 0 || addr + len > TASK_SIZE) return -ENOMEM; // access_ok
  const pages = Math.ceil(len / PAGE_SIZE);
  if (vec < 0 || vec + pages > TASK_SIZE) return -EFAULT;
  const end = addr + pages * PAGE_SIZE;
  const ones = Buffer.alloc(PAGE_SIZE, 1);
  for (let a = addr, v = vec; a < end;) {
    const vma = t.mm.find(a);
    if (!vma) return -ENOMEM;
    const n = Math.min(PAGE_SIZE, (Math.min(vma.end, end) - a) / PAGE_SIZE);
    if (!t.mem.write(v, n === PAGE_SIZE ? ones : ones.subarray(0, n))) return -EFAULT;
    a += n * PAGE_SIZE;
    v += n;
  }
  return 0;
}

const PROCESS_MADVISE_REMOTE = new Set([3 /* WILLNEED */, 20 /* COLD */, 21 /* PAGEOUT */, 25 /* COLLAPSE */]);
const CAP_SYS_NICE = 23;

/**
 * process_madvise: advice over an iovec of ranges of the process a pidfd names. Another
 * process takes only the non-destructive hints, with ptrace read access and CAP_SYS_NICE;
 * those hints change nothing a program can see here (no swap, no huge pages), so for
 * another process the ranges are checked and counted. Returns the bytes advised, or the
 * first range's error.
 */
export function process_madvise(t: Task, pidfd: number, vec: number, vlen: number, advice: number, flags: number): number {
  if (flags !== 0) return -EINVAL;
  const segs = readIovec(t, vec, vlen);
  if (typeof segs === 'number') return segs;
  const f = t.fdTable.get(pidfd | 0);
  if (f === undefined || !(f instanceof PidFd)) return -EBADF;
  const target = f.tg.leader ?? [...f.tg.tasks][0];
  if (target === undefined || f.tg.zombie) return -ESRCH;
  const self = target.mm === t.mm;
  if (!self && !ptraceMayAccess(t, target)) return -EACCES;
  if (!self && !PROCESS_MADVISE_REMOTE.has(advice | 0)) return -EINVAL;
  if (!self && !capable(t.creds, CAP_SYS_NICE)) return -EPERM;
  let done = 0;
  let err = 0;
  for (const s of segs) {
    const r = self ? madvise(t, s.base, s.len, advice) : rangeMapped(target, s.base, s.len);
    if (r < 0) {
      err = r;
      break;
    }
    done += s.len;
  }
  return done > 0 ? done : err;
}

/** madvise's rules for a range of another address space: aligned, and mapped throughout (ENOMEM). */
function rangeMapped(target: Task, addr: number, len: number): number {
  if (addr % PAGE_SIZE !== 0) return -EINVAL;
  const end = addr + pageUp(len);
  for (let a = addr; a < end;) {
    const v = target.mm.find(a);
    if (!v) return -ENOMEM;
    a = v.end;
  }
  return 0;
}
