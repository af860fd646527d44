/**
 * Identity and accounting: uname, sethostname/setdomainname, sysinfo, getrandom,
 * personality, getrlimit/setrlimit/prlimit64, getrusage.
 */
import { fillRandom } from '../src/determinism/entropy';
import type { Task } from '../src/kernel/task';
import type { ThreadGroup } from '../src/kernel/thread-group';
import { EFAULT, EINVAL, EPERM, ESRCH } from '../src/abi/errno';
import { utsnameBytes, setHostname, setDomainname, sysinfoBytes, UTS_MAX_NAME } from '../src/kernel/identity';
import { capable, nsCapable, CAP_SYS_ADMIN, CAP_SYS_RESOURCE } from '../src/auth/capabilities';
import { nsOf, ownerOf, type UtsNs } from '../src/kernel/namespaces/types';
import { limitsOf, Rlimit, RLIM_NLIMITS, RLIMIT_CPU } from '../src/kernel/limits';
import { cpuLimitChanged } from '../src/kernel/time/cpu-limit';
import { taskUsage, processUsage, zeroUsage, rusageBytes, type Usage } from '../src/kernel/time/cputime';
import { timevalBytes } from '../src/kernel/time/timespec';
import type { Kernel } from '../src/kernel/kernel';
import { FILESYSTEM_TYPES } from '../fs/fsimpl/proc/filesystems';

export function uname(t: Task, buf: number): number {
  return t.mem.write(buf, utsnameBytes(t.kernel, nsOf(t).uts)) ? 0 : -EFAULT;
}

function setUtsName(t: Task, name: number, len: number, set: (uts: UtsNs, b: Buffer) => void): number {
  const uts = nsOf(t).uts;
  if (!nsCapable(t.creds, ownerOf(uts), CAP_SYS_ADMIN)) return -EPERM;
  len |= 0;
  if (len < 0 || len > UTS_MAX_NAME) return -EINVAL;
  const b = len === 0 ? Buffer.alloc(0) : t.mem.read(name, len);
  if (!b) return -EFAULT;
  set(uts, b);
  return 0;
}

export function sethostname(t: Task, name: number, len: number): number {
  return setUtsName(t, name, len, setHostname);
}

export function setdomainname(t: Task, name: number, len: number): number {
  return setUtsName(t, name, len, setDomainname);
}

export function sysinfo(t: Task, info: number): number {
  return t.mem.write(info, sysinfoBytes(t.kernel)) ? 0 : -EFAULT;
}

const GRND_NONBLOCK = 1;
const GRND_RANDOM = 2;
const GRND_INSECURE = 4;
/** MAX_RW_COUNT: the most one read-like call transfers. */
const MAX_RW_COUNT = 0x7ffff000;
const RANDOM_CHUNK = 65536;

/**
 * getrandom: the host CSPRNG is always initialised, so no flag ever blocks
 * (Linux >= 5.6 treats GRND_RANDOM like the default pool too).
 */
export function getrandom(t: Task, buf: number, count: number, flags: number): number {
  flags >>>= 0;
  if (flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE)) return -EINVAL;
  if ((flags & (GRND_INSECURE | GRND_RANDOM)) === (GRND_INSECURE | GRND_RANDOM)) return -EINVAL;
  // size_t count: a "negative" number is a huge one.
  const total = count < 0 || count > MAX_RW_COUNT ? MAX_RW_COUNT : count;
  const chunk = Buffer.alloc(Math.min(total, RANDOM_CHUNK));
  let done = 0;
  while (done < total) {
    const n = Math.min(chunk.length, total - done);
    const part = n === chunk.length ? chunk : chunk.subarray(0, n);
    fillRandom(part);
    if (!t.mem.write(buf + done, part)) {
      // Linux copies up to the first bad page and returns the count so far.
      done += writePagewise(t, buf + done, part);
      return done > 0 ? done : -EFAULT;
    }
    done += n;
  }
  return done;
}

/** Writes data page by page until a page faults; returns the bytes written. */
function writePagewise(t: Task, addr: number, data: Buffer): number {
  let off = 0;
  while (off < data.length) {
    const n = Math.min(data.length - off, 4096 - ((addr + off) % 4096));
    if (!t.mem.write(addr + off, data.subarray(off, off + n))) break;
    off += n;
  }
  return off;
}

// ---- personality ----

/** personality(2): kept on the process, inherited at fork and kept across exec. */
export function personality(t: Task, persona: number): number {
  const old = t.tg.personality;
  persona >>>= 0;
  if (persona !== 0xffffffff) t.tg.personality = persona;
  return old;
}

// ---- resource limits ----

function readRlimit(t: Task, addr: number): Rlimit | null {
  const b = t.mem.read(addr, 16);
  return b ? { cur: b.readBigUInt64LE(0), max: b.readBigUInt64LE(8) } : null;
}

function writeRlimit(t: Task, addr: number, l: Rlimit): number {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(l.cur, 0);
  b.writeBigUInt64LE(l.max, 8);
  return t.mem.write(addr, b) ? 0 : -EFAULT;
}

export function getrlimit(t: Task, resource: number, rlim: number): number {
  resource >>>= 0;
  if (resource >= RLIM_NLIMITS) return -EINVAL;
  return writeRlimit(t, rlim, limitsOf(t.tg).get(resource));
}

export function setrlimit(t: Task, resource: number, rlim: number): number {
  const nl = readRlimit(t, rlim);
  if (!nl) return -EFAULT;
  resource >>>= 0;
  if (resource >= RLIM_NLIMITS) return -EINVAL;
  const r = limitsOf(t.tg).set(resource, nl, () => capable(t.creds, CAP_SYS_RESOURCE));
  if (r === 0 && resource === RLIMIT_CPU) cpuLimitChanged(t.tg);
  return r;
}

/** Linux check_prlimit_permission: same real/effective/saved ids both ways, or CAP_SYS_RESOURCE. */
function mayPrlimit(t: Task, target: Task): boolean {
  if (target === t) return true;
  const c = t.creds;
  const o = target.creds;
  const idsMatch =
    c.uid === o.uid && c.uid === o.euid && c.uid === o.suid && c.gid === o.gid && c.gid === o.egid && c.gid === o.sgid;
  return idsMatch || capable(c, CAP_SYS_RESOURCE);
}

export function prlimit64(t: Task, pid: number, resource: number, nv: number, old: number): number {
  let nl: Rlimit | null = null;
  if (nv !== 0) {
    nl = readRlimit(t, nv);
    if (!nl) return -EFAULT;
  }
  pid |= 0;
  const target = pid === 0 ? t : t.kernel.tasks.get(pid) ?? (pid === t.tid ? t : undefined);
  if (!target) return -ESRCH;
  if (!mayPrlimit(t, target)) return -EPERM;
  resource >>>= 0;
  if (resource >= RLIM_NLIMITS) return -EINVAL;
  const lims = limitsOf(target.tg);
  const prev = lims.get(resource);
  if (nl) {
    const r = lims.set(resource, nl, () => capable(t.creds, CAP_SYS_RESOURCE));
    if (r < 0) return r;
    if (resource === RLIMIT_CPU) cpuLimitChanged(target.tg);
  }
  return old === 0 ? 0 : writeRlimit(t, old, prev);
}

// ---- getrusage ----

const RUSAGE_SELF = 0;
const RUSAGE_CHILDREN = -1;
const RUSAGE_THREAD = 1;

export function getrusage(t: Task, who: number, usage: number): number {
  who |= 0;
  let u: Usage;
  if (who === RUSAGE_THREAD) u = taskUsage(t);
  else if (who === RUSAGE_SELF) u = processUsage(t.tg);
  else if (who === RUSAGE_CHILDREN) u = t.tg.childrenUsage ?? zeroUsage();
  else return -EINVAL;
  return t.mem.write(usage, rusageBytes(u)) ? 0 : -EFAULT;
}

/**
 * sysfs(2), the old filesystem-type query: 1 (name → index), 2 (index → name, copied with
 * its NUL), 3 (how many types); anything else EINVAL. The types and their order are
 * /proc/filesystems' (fs/fsimpl/proc/filesystems.ts); the name is read as getname does
 * (EFAULT, ENOENT for "", ENAMETOOLONG).
 */
export function sysfs(t: Task, option: number, arg1: number, arg2: number): number {
  option |= 0;
  if (option === 1) {
    const name = t.mem.readPath(arg1);
    if (typeof name === 'number') return name;
    const i = FILESYSTEM_TYPES.findIndex((f) => f.name === name);
    return i < 0 ? -EINVAL : i;
  }
  if (option === 2) {
    const f = FILESYSTEM_TYPES[arg1 >>> 0];
    if (f === undefined) return -EINVAL;
    return t.mem.write(arg2, Buffer.from(`${f.name}\0`, 'latin1')) ? 0 : -EFAULT;
  }
  return option === 3 ? FILESYSTEM_TYPES.length : -EINVAL;
}
