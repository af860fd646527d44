/**
 * SysV shared memory: a segment is an unlinked tmpfs file (a host memory file once
 * mapped, so every attach in every process sees the same pages); shmat maps it
 * MAP_SHARED. The attach count is what Linux counts, the segment's mappings in every
 * address space, so fork, exit, exec and munmap need no hooks; a segment removed with
 * IPC_RMID goes once that count is zero (checked whenever segments are looked at).
 */
import { EACCES, EFAULT, EINVAL, ENOMEM } from '../../abi/errno';
import type { Task } from '../task';
import { hostMemTotal } from '../host-stats';
import type { Kernel } from '../kernel';
import { ipcKey } from '../namespaces/types';
import type { AddressSpace } from '../../mm/address-space';
import { MAP_FIXED, MAP_SHARED, PAGE_SIZE, PROT_EXEC, PROT_READ, PROT_WRITE, pageUp } from '../../mm/vma';
import { createMemfd } from '../../../fs/fsimpl/tmpfs/memfd';
import type { TmpfsFile } from '../../../fs/fsimpl/tmpfs/tmpfs';
import {
  IPC_INFO, IPC_RMID, IPC_SET, IPC_STAT, IpcIds, type IpcObject, idOf, ipcGet, ipcOwner, ipcPerms, ipcTable, nowSec,
  setPerm, writePerm,
} from './ids';

export const SHM_RDONLY = 0o10000, SHM_RND = 0o20000, SHM_REMAP = 0o40000, SHM_EXEC = 0o100000;
const SHM_LOCK = 11, SHM_UNLOCK = 12, SHM_STAT = 13, SHM_INFO = 14, SHM_STAT_ANY = 15;
const SHM_DEST = 0o1000, SHM_LOCKED = 0o2000;
const SHMMIN = 1, SHMMNI = 4096;
const SHM_HUGETLB = 0o4000, SHM_NORESERVE = 0o10000, SHM_HUGE_SHIFT = 26;
/** SHMMAX and SHMALL: ULONG_MAX - 2^24 (bytes; pages). */
const SHMMAX_BIG = 0xfffffffffeffffffn;
const SHMMAX = Number(SHMMAX_BIG);

export interface ShmSegment extends IpcObject {
  size: number;
  file: TmpfsFile;
  ino: number;
  dev: number;
  cpid: number;
  lpid: number;
  atime: number;
  dtime: number;
  ctime: number;
  locked: boolean;
  /** IPC_RMID came: it goes when nothing maps it. */
  dest: boolean;
}

function table(k: object): IpcIds<ShmSegment> {
  return ipcTable(k, 'shm', () => new IpcIds<ShmSegment>(SHMMNI));
}

function addressSpaces(k: Kernel): Set<AddressSpace> {
  const out = new Set<AddressSpace>();
  for (const t of k.tasks.values()) if (t.mm) out.add(t.mm);
  return out;
}

/** shm_nattch: mappings of the segment in every address space (Linux counts vmas too). */
export function attachCount(k: Kernel, seg: ShmSegment, spaces = addressSpaces(k)): number {
  let n = 0;
  for (const mm of spaces) for (const v of mm.vmas) if (v.ino === seg.ino && v.dev === seg.dev) n++;
  return n;
}

/** Segments removed with IPC_RMID that nothing maps any more are destroyed. */
export function sweepShm(k: Kernel, ipcNs: object = k): void {
  const ids = table(ipcNs);
  let spaces: Set<AddressSpace> | null = null;
  for (const seg of ids.all()) {
    if (!seg.dest) continue;
    spaces ??= addressSpaces(k);
    if (attachCount(k, seg, spaces) === 0) ids.remove(seg);
  }
}

export function shmget(t: Task, key: number, size: number, flg: number): number {
  const k = t.kernel;
  sweepShm(k, ipcKey(t));
  return ipcGet(table(ipcKey(t)), key, flg, t.creds, (perm) => {
    if (size < SHMMIN || size > SHMMAX) return -EINVAL;
    // SHM_HUGETLB's page size (log2 in bits 26-31): 0 (the default), 2 MiB or 1 GiB on x86-64.
    if (flg & SHM_HUGETLB && ![0, 21, 30].includes((flg >>> SHM_HUGE_SHIFT) & 0x3f)) return -EINVAL;
    // Accounted as shmem is unless SHM_NORESERVE: more than the machine's memory is ENOMEM
    // (the heuristic overcommit's rule, no swap).
    if (!(flg & SHM_NORESERVE) && size > hostMemTotal()) return -ENOMEM;
    const file = createMemfd(`SYSV${(key >>> 0).toString(16).padStart(8, '0')}`, false, t.creds);
    if (file.inode.truncate(size) < 0) return -ENOMEM;
    const st = file.inode.stat();
    const seg: ShmSegment = {
      ...perm, size, file, ino: st.ino, dev: st.dev, cpid: t.tg.pid, lpid: 0, atime: 0, dtime: 0, ctime: nowSec(),
      locked: false, dest: false,
    };
    return seg;
  }, (o) => (size > o.size ? -EINVAL : 0));
}

export function shmat(t: Task, id: number, addr: number, flg: number): number {
  const k = t.kernel;
  if (addr % PAGE_SIZE) {
    if (!(flg & SHM_RND)) return -EINVAL;
    addr -= addr % PAGE_SIZE;
    if (addr === 0 && flg & SHM_REMAP) return -EINVAL;
  } else if (addr === 0 && flg & SHM_REMAP) return -EINVAL; // SHM_REMAP replaces what is at a given address
  const seg = table(ipcKey(t)).get(id);
  if (!seg) return -EINVAL;
  const rdonly = (flg & SHM_RDONLY) !== 0;
  if (!ipcPerms(seg, t.creds, rdonly ? 0o444 : 0o666)) return -EACCES;
  const prot = PROT_READ | (rdonly ? 0 : PROT_WRITE) | (flg & SHM_EXEC ? PROT_EXEC : 0);
  const len = pageUp(seg.size);
  if (addr && !(flg & SHM_REMAP)) {
    for (const v of t.mm.vmas) if (v.start < addr + len && v.end > addr) return -EINVAL;
  }
  const name = `/SYSV${(seg.key >>> 0).toString(16).padStart(8, '0')} (deleted)`;
  const r = t.mm.map(t.hostTid, addr, len, prot, MAP_SHARED | (addr ? MAP_FIXED : 0), seg.file, 0, name, seg.dev, seg.ino);
  if (r < 0) return r;
  seg.atime = nowSec();
  seg.lpid = t.tg.pid;
  return r;
}

export function shmdt(t: Task, addr: number): number {
  const k = t.kernel;
  if (addr % PAGE_SIZE) return -EINVAL;
  const segs = table(ipcKey(t)).all();
  const first = t.mm.vmas.find((v) => v.start === addr && v.offset === 0 && segs.some((s) => s.ino === v.ino && s.dev === v.dev));
  if (!first) return -EINVAL;
  const seg = segs.find((s) => s.ino === first.ino && s.dev === first.dev)!;
  // Every mapping of this segment from addr on, within the segment's size (do_shmdt).
  const end = addr + pageUp(seg.size);
  for (const v of [...t.mm.vmas]) {
    if (v.ino === seg.ino && v.dev === seg.dev && v.start >= addr && v.end <= end && v.start - v.offset === addr) {
      t.mm.unmap(t.hostTid, v.start, v.end - v.start);
    }
  }
  seg.dtime = nowSec();
  seg.lpid = t.tg.pid;
  sweepShm(k, ipcKey(t));
  return 0;
}

/** struct shmid64_ds (112 bytes). */
function shmidDs(k: Kernel, seg: ShmSegment): Buffer {
  const b = Buffer.alloc(112);
  writePerm(b, 0, seg, (seg.dest ? SHM_DEST : 0) | (seg.locked ? SHM_LOCKED : 0));
  b.writeBigUInt64LE(BigInt(seg.size), 48);
  b.writeBigInt64LE(BigInt(seg.atime), 56);
  b.writeBigInt64LE(BigInt(seg.dtime), 64);
  b.writeBigInt64LE(BigInt(seg.ctime), 72);
  b.writeInt32LE(seg.cpid, 80);
  b.writeInt32LE(seg.lpid, 84);
  b.writeBigUInt64LE(BigInt(attachCount(k, seg)), 88);
  return b;
}

export function shmctl(t: Task, id: number, cmd: number, buf: number): number {
  const k = t.kernel;
  sweepShm(k, ipcKey(t));
  const ids = table(ipcKey(t));
  switch (cmd) {
    case IPC_INFO: {
      // struct shminfo64: shmmax, shmmin, shmmni, shmseg, shmall (unsigned longs), 4 unused.
      const b = Buffer.alloc(72);
      [SHMMAX_BIG, SHMMIN, SHMMNI, SHMMNI, SHMMAX_BIG].forEach((v, i) => b.writeBigUInt64LE(BigInt(v), i * 8));
      return t.mem.write(buf, b) ? ids.maxIdx() : -EFAULT;
    }
    case SHM_INFO: {
      // struct shm_info: used_ids, shm_tot (pages), shm_rss, shm_swp, swap_attempts, swap_successes.
      const b = Buffer.alloc(48);
      let pages = 0;
      for (const s of ids.all()) pages += Math.ceil(s.size / PAGE_SIZE);
      b.writeInt32LE(ids.inUse, 0);
      b.writeBigUInt64LE(BigInt(pages), 8);
      b.writeBigUInt64LE(BigInt(pages), 16);
      return t.mem.write(buf, b) ? ids.maxIdx() : -EFAULT;
    }
    case SHM_STAT:
    case SHM_STAT_ANY:
    case IPC_STAT: {
      const seg = cmd === IPC_STAT ? ids.get(id) : ids.at(id);
      if (!seg) return -EINVAL;
      if (cmd !== SHM_STAT_ANY && !ipcPerms(seg, t.creds, 0o444)) return -EACCES;
      if (!t.mem.write(buf, shmidDs(k, seg))) return -EFAULT;
      return cmd === IPC_STAT ? 0 : idOf(seg);
    }
    case IPC_SET: {
      const seg = ids.get(id);
      if (!seg) return -EINVAL;
      const b = t.mem.read(buf, 112);
      if (!b) return -EFAULT;
      const e = ipcOwner(seg, t.creds) || setPerm(seg, b, 0);
      if (e) return e;
      seg.ctime = nowSec();
      return 0;
    }
    case IPC_RMID: {
      const seg = ids.get(id);
      if (!seg) return -EINVAL;
      const e = ipcOwner(seg, t.creds);
      if (e) return e;
      // The key is free again at once; the segment stays (key IPC_PRIVATE) while mapped.
      seg.dest = true;
      seg.key = 0;
      seg.ctime = nowSec();
      sweepShm(k, ipcKey(t));
      return 0;
    }
    case SHM_LOCK:
    case SHM_UNLOCK: {
      const seg = ids.get(id);
      if (!seg) return -EINVAL;
      const e = ipcOwner(seg, t.creds);
      if (e) return e;
      seg.locked = cmd === SHM_LOCK;
      return 0;
    }
    default:
      return -EINVAL;
  }
}

/** /proc/sysvipc/shm. */
export function procSysvipcShm(k: Kernel): string {
  sweepShm(k);
  const rows = ['       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap'];
  for (const s of table(k).all()) {
    const rss = Math.ceil(s.size / PAGE_SIZE) * PAGE_SIZE;
    rows.push(`${String(s.key | 0).padStart(10)} ${String(idOf(s)).padStart(10)}  ${(s.mode | (s.dest ? SHM_DEST : 0) | (s.locked ? SHM_LOCKED : 0)).toString(8).padStart(4)} ${String(s.size).padStart(21)} ${String(s.cpid).padStart(5)} ${String(s.lpid).padStart(5)}  ${String(attachCount(k, s)).padStart(5)} ${String(s.uid).padStart(5)} ${String(s.gid).padStart(5)} ${String(s.cuid).padStart(5)} ${String(s.cgid).padStart(5)} ${String(s.atime).padStart(10)} ${String(s.dtime).padStart(10)} ${String(s.ctime).padStart(10)} ${String(rss).padStart(21)} ${String(0).padStart(21)}`);
  }
  return rows.join('\n') + '\n';
}
