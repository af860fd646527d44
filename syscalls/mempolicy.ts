/**
 * Memory locking and NUMA policy, answered as Linux does on a machine with one node and
 * no swap: mlockall/munlockall/mlock2 check their flags, RLIMIT_MEMLOCK and the range (locking
 * itself changes nothing, memory is never paged out); mbind, set_mempolicy and get_mempolicy
 * check modes, flags and node masks against node 0, and the task's policy is kept.
 */
import * as E from '../src/abi/errno';
import type { Task } from '../src/kernel/task';
import { capable, CAP_SYS_NICE } from '../src/auth/capabilities';
import { limitsOf, RLIMIT_MEMLOCK } from '../src/kernel/limits';

const PAGE = 4096;

/** ENOMEM unless [addr, addr+len) is wholly mapped (mlock's rule). */
function mapped(t: Task, addr: number, len: number): number {
  if (len === 0) return 0;
  let a = addr - (addr % PAGE);
  const end = addr + len;
  if (end < addr) return -E.ENOMEM;
  while (a < end) {
    const v = t.mm.find(a);
    if (!v) return -E.ENOMEM;
    a = v.end;
  }
  return 0;
}

const CAP_IPC_LOCK = 14;

/**
 * can_do_mlock and the RLIMIT_MEMLOCK bound: EPERM with a zero limit and no CAP_IPC_LOCK,
 * ENOMEM for more than the limit (nothing is counted as locked before: locking changes nothing).
 */
function lockAllowed(t: Task, bytes: number): number {
  // The limit first, the capability only where it refuses (Linux's order: acct's ASU).
  const lim = limitsOf(t.tg).soft(RLIMIT_MEMLOCK);
  if (lim !== 0 && bytes <= lim) return 0;
  if (capable(t.creds, CAP_IPC_LOCK)) return 0;
  return lim === 0 ? -E.EPERM : -E.ENOMEM;
}

function lockRange(t: Task, addr: number, len: number): number {
  const span = Math.ceil((addr % PAGE + len) / PAGE) * PAGE;
  return lockAllowed(t, span) || mapped(t, addr, len);
}

export function mlock(t: Task, addr: number, len: number): number {
  return lockRange(t, addr, len);
}

const MLOCK_ONFAULT = 1;
export function mlock2(t: Task, addr: number, len: number, flags: number): number {
  if ((flags | 0) & ~MLOCK_ONFAULT) return -E.EINVAL;
  return lockRange(t, addr, len);
}

const MCL_CURRENT = 1, MCL_FUTURE = 2, MCL_ONFAULT = 4;
export function mlockall(t: Task, flags: number): number {
  flags |= 0;
  if (flags === 0 || flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) || flags === MCL_ONFAULT) return -E.EINVAL;
  // Without MCL_CURRENT only future mappings are locked: the size of the current ones does not count.
  return lockAllowed(t, flags & MCL_CURRENT ? t.mm.totalBytes() : 0);
}

export function munlockall(_t: Task): number {
  return 0;
}

const MPOL_DEFAULT = 0, MPOL_PREFERRED = 1, MPOL_LOCAL = 4, MPOL_MAX = 7;
const MPOL_F_STATIC_NODES = 1 << 15, MPOL_F_RELATIVE_NODES = 1 << 14, MPOL_F_NUMA_BALANCING = 1 << 13;
const MODE_FLAGS = MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES | MPOL_F_NUMA_BALANCING;

/** The node mask argument (get_nodes): bits of node numbers < maxnode - 1; -EINVAL/-EFAULT. */
function readNodes(t: Task, mask: number, maxnode: number): number {
  maxnode = maxnode - 1;
  if (mask === 0 || maxnode <= 0) return 0;
  if (maxnode > PAGE * 8) return -E.EINVAL;
  const bytes = Math.ceil(maxnode / 64) * 8;
  const b = t.mem.read(mask, bytes);
  if (b === null) return -E.EFAULT;
  // Bits past maxnode are ignored; any node but 0 does not exist.
  let nodes = 0;
  for (let i = 0; i < maxnode; i++) {
    if (b[i >> 3] & (1 << (i & 7))) {
      if (i > 0) return -E.EINVAL;
      nodes = 1;
    }
  }
  return nodes;
}

/** Checks a mode and its node mask as mpol_new does; the base mode, or -EINVAL. */
function checkPolicy(mode: number, nodes: number): number {
  const base = mode & ~MODE_FLAGS;
  if (base < 0 || base >= MPOL_MAX) return -E.EINVAL;
  if ((mode & MPOL_F_STATIC_NODES) && (mode & MPOL_F_RELATIVE_NODES)) return -E.EINVAL;
  if (base === MPOL_DEFAULT || base === MPOL_LOCAL) return nodes === 0 ? base : -E.EINVAL;
  if (base !== MPOL_PREFERRED && nodes === 0) return -E.EINVAL;
  return base;
}

export function set_mempolicy(t: Task, mode: number, mask: number, maxnode: number): number {
  const nodes = readNodes(t, mask, maxnode);
  if (nodes < 0) return nodes;
  const base = checkPolicy(mode | 0, nodes);
  if (base < 0) return base;
  t.mempolicy = { mode: base === MPOL_DEFAULT ? 0 : mode | 0, nodes };
  return 0;
}

const MPOL_MF_STRICT = 1, MPOL_MF_MOVE = 2, MPOL_MF_MOVE_ALL = 4;
export function mbind(t: Task, addr: number, len: number, mode: number, mask: number, maxnode: number, flags: number): number {
  if ((flags | 0) & ~(MPOL_MF_STRICT | MPOL_MF_MOVE | MPOL_MF_MOVE_ALL)) return -E.EINVAL;
  if ((flags | 0) & MPOL_MF_MOVE_ALL && !capable(t.creds, CAP_SYS_NICE)) return -E.EPERM;
  if (addr % PAGE) return -E.EINVAL;
  const nodes = readNodes(t, mask, maxnode);
  if (nodes < 0) return nodes;
  const base = checkPolicy(mode | 0, nodes);
  if (base < 0) return base;
  const m = mapped(t, addr, len);
  return m < 0 ? -E.EFAULT : 0;
}

const MPOL_F_NODE = 1, MPOL_F_ADDR = 2, MPOL_F_MEMS_ALLOWED = 4;
export function get_mempolicy(t: Task, policy: number, mask: number, maxnode: number, addr: number, flags: number): number {
  flags |= 0;
  if (flags & ~(MPOL_F_NODE | MPOL_F_ADDR | MPOL_F_MEMS_ALLOWED)) return -E.EINVAL;
  if (mask !== 0 && maxnode < 1) return -E.EINVAL;
  let mode = t.mempolicy.mode;
  let nodes = t.mempolicy.nodes;
  if (flags & MPOL_F_MEMS_ALLOWED) {
    if (flags & (MPOL_F_NODE | MPOL_F_ADDR)) return -E.EINVAL;
    mode = 0;
    nodes = 1;
  } else if (flags & MPOL_F_ADDR) {
    if (!t.mm.find(addr)) return -E.EFAULT;
    mode = flags & MPOL_F_NODE ? 0 : MPOL_DEFAULT; // node of the page: 0; no per-range policy kept
    nodes = 0;
  } else {
    if (addr !== 0) return -E.EINVAL;
    if (flags & MPOL_F_NODE) mode = 0; // the node of the next allocation
  }
  if (policy !== 0 && !t.mem.writeI32(policy, mode)) return -E.EFAULT;
  if (mask !== 0) {
    const b = Buffer.alloc(Math.ceil(maxnode / 64) * 8);
    if (nodes) b[0] = 1;
    if (!t.mem.write(mask, b)) return -E.EFAULT;
  }
  return 0;
}
