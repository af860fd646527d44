/** Memory-management syscalls: validate as Linux does, then delegate to src/mm. */
import { TASK_SIZE } from '../src/mm/guest-memory';
import type { Task } from '../src/kernel/task';
import { EBADF, EINVAL, EACCES, ENODEV, EFAULT, ENOMEM } from '../src/abi/errno';
import { limitsOf, RLIMIT_AS } from '../src/kernel/limits';
import {
  MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_PRIVATE, MAP_SHARED, MAP_SHARED_VALIDATE, MAP_TYPE,
  PAGE_SIZE, PROT_WRITE, pageUp,
} from '../src/mm/vma';

const PROT_MASK = 0x7 | 0x01000000 | 0x02000000; // RWX, GROWSDOWN, GROWSUP
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
  if (len <= 0) return -EINVAL;
  if (overAsLimit(t, pageUp(len))) return -ENOMEM;
  if (off % PAGE_SIZE !== 0 || off < 0) return -EINVAL;
  const type = flags & MAP_TYPE;
  if (type !== MAP_SHARED && type !== MAP_PRIVATE && type !== MAP_SHARED_VALIDATE) return -EINVAL;
  if (prot & ~PROT_MASK) return -EINVAL;
  if ((flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) && addr % PAGE_SIZE) return -EINVAL;
  prot &= 7;
  if (flags & MAP_ANONYMOUS) {
    return t.mm.map(t.hostTid, addr, len, prot, flags, null, 0, '');
  }
  const file = t.fdTable.get(fd);
  if (!file) return -EBADF;
  const acc = file.flags & O_ACCMODE;
  if (acc === O_WRONLY) return -EACCES;
  if (type !== MAP_PRIVATE && (prot & PROT_WRITE) && acc === O_RDONLY) return -EACCES;
  const st = file.stat();
  if (typeof st === 'number') return st;
  const kind = st.mode & 0o170000;
  // Character devices that map (/dev/zero) give plain zeroed memory.
  if (kind === 0o020000) return t.mm.map(t.hostTid, addr, len, prot, flags | MAP_ANONYMOUS, null, 0, '');
  if (kind !== 0o100000) return -ENODEV;
  const name = file.dentry ? t.kernel.vfs.pathOf(t.kernel.vfs.rootDentry, file.dentry) : '';
  return t.mm.map(t.hostTid, addr, len, prot, flags, file, off, name, st.dev, st.ino);
}

export function munmap(t: Task, addr: number, len: number): number {
  return t.mm.unmap(t.hostTid, addr, len);
}

export function mprotect(t: Task, addr: number, len: number, prot: number): number {
  if ((prot | 0) & ~PROT_MASK) return -EINVAL;
  return t.mm.protect(t.hostTid, addr, len, prot & 7);
}

export function mremap(t: Task, oldAddr: number, oldLen: number, newLen: number, flags: number, newAddr: number): number {
  if (newLen > oldLen && overAsLimit(t, pageUp(newLen) - pageUp(oldLen))) return -ENOMEM;
  return t.mm.remap(t.hostTid, oldAddr, oldLen, newLen, flags | 0, newAddr);
}

export function madvise(t: Task, addr: number, len: number, advice: number): number {
  return t.mm.advise(t.hostTid, addr, len, advice | 0);
}

export function brk(t: Task, addr: number): number {
  if (addr > t.mm.brk && overAsLimit(t, pageUp(addr) - pageUp(t.mm.brk))) return t.mm.brk;
  return t.mm.setBrk(t.hostTid, addr);
}

/** msync: file mappings are private copies, so there is nothing to write back. */
export function msync(t: Task, addr: number, len: number, flags: number): number {
  if (addr % PAGE_SIZE || (flags & ~7) || ((flags & 1) && (flags & 4))) return -EINVAL;
  return t.mm.find(addr) ? 0 : -12;
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
