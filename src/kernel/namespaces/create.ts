/**
 * Making and joining namespaces: clone(CLONE_NEW*), unshare(2), setns(2), with Linux's
 * checks (kernel/nsproxy.c, kernel/fork.c ksys_unshare, user_namespace.c).
 */
import * as E from '../../abi/errno';
import { chargeUserNs, UserNamespace } from '../../auth/userns';
import { copyCaps, nsCapable, ownCapable, setCaps, CAP_FULL, CAP_SYS_ADMIN, CAP_SYS_CHROOT } from '../../auth/capabilities';
import type { Credentials } from '../../auth/credentials';
import { copyMountNs, nsRoot, type MntNs } from '../../../fs/vfs/mount-ns';
import type { Task } from '../task';
import { CgroupNamespace, IpcNamespace, NetNamespace, UtsNamespace, hasOwnNs, nsOf, ownerOf, setNsOf, type NsSet } from './types';
import { PidNamespace, pidNsMade, pidNsWithin, setGroupPidNs } from './pid-ns';
import { NsFile, nsRefs } from './nsfs';
import { PidFd } from '../pidfd';
import { mayAccess } from '../ptrace';

export const CLONE_VM = 0x100, CLONE_FS = 0x200, CLONE_FILES = 0x400, CLONE_SIGHAND = 0x800, CLONE_THREAD = 0x10000,
  CLONE_NEWNS = 0x20000, CLONE_SYSVSEM = 0x40000, CLONE_NEWCGROUP = 0x2000000, CLONE_NEWUTS = 0x4000000,
  CLONE_NEWIPC = 0x8000000, CLONE_NEWUSER = 0x10000000, CLONE_NEWPID = 0x20000000, CLONE_NEWNET = 0x40000000,
  CLONE_NEWTIME = 0x80;
const NS_FLAGS = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;
/** Linux's limit on nested user namespaces (and pid namespaces). */
const MAX_DEPTH = 32;

/** Makes creds the creator of a new user namespace: every capability there, none outside. */
function enterNewUserNs(c: Credentials): number {
  if ((c.userns?.level ?? 0) >= MAX_DEPTH) return -E.EUSERS;
  if (!chargeUserNs(c.userns)) return -E.ENOSPC;
  c.userns = new UserNamespace(c.userns, c.euid, c.egid);
  setCaps(c, { effective: CAP_FULL, permitted: CAP_FULL, inheritable: 0n, ambient: 0n, bounding: CAP_FULL });
  return 0;
}

/** The namespaces flags ask for, on a copy of base; userns owns the new ones. */
function newNsSet(t: Task, base: NsSet, flags: number, userns: UserNamespace | null): NsSet | number {
  const s: NsSet = { ...base };
  if (flags & CLONE_NEWUTS) s.uts = new UtsNamespace(base.uts.hostname, base.uts.domainname, userns);
  if (flags & CLONE_NEWIPC) s.ipc = new IpcNamespace(userns);
  if (flags & CLONE_NEWNET) s.net = new NetNamespace(userns);
  if (flags & CLONE_NEWCGROUP) s.cgroup = new CgroupNamespace(userns);
  if (flags & CLONE_NEWPID) {
    if ((base.pidForChildren?.level ?? 1) >= MAX_DEPTH) return -E.ENOSPC;
    s.pidForChildren = new PidNamespace(base.pidForChildren, userns);
    pidNsMade();
  }
  void t;
  return s;
}

/** clone's namespace flags, checked before anything is made: 0 or -errno. */
export function cloneNsCheck(t: Task, f: number): number {
  // A pid namespace whose init has died takes no new process (alloc_pid: ENOMEM).
  if ((f & NS_FLAGS) === 0) return hasOwnNs(t) && nsOf(t).pidForChildren?.dead ? -E.ENOMEM : 0;
  if (f & CLONE_NEWUSER && f & (CLONE_THREAD | CLONE_FS)) return -E.EINVAL;
  if (f & (CLONE_NEWPID | CLONE_NEWUSER) && f & CLONE_THREAD) return -E.EINVAL;
  if (f & CLONE_NEWUSER) return (t.creds.userns?.level ?? 0) >= MAX_DEPTH ? -E.EUSERS : 0;
  if (!ownCapable(t.creds, CAP_SYS_ADMIN)) return -E.EPERM;
  const pidNs = nsOf(t).pidForChildren;
  if (pidNs?.dead) return -E.ENOMEM;
  return 0;
}

/**
 * The new task's namespaces (child.creds and child.fsCtx are its own copies already):
 * the parent's, or new ones for CLONE_NEW* flags; its pid numbered in its pid namespaces.
 */
export function cloneNsApply(parent: Task, child: Task, f: number): number {
  if ((f & NS_FLAGS) === 0 && !hasOwnNs(parent)) return 0;
  const base = nsOf(parent);
  if (f & CLONE_NEWUSER) {
    const r = enterNewUserNs(child.creds);
    if (r < 0) return r;
  }
  const s = newNsSet(child, base, f, child.creds.userns);
  if (typeof s === 'number') return s;
  if (f & CLONE_THREAD) s.pidForChildren = base.pidForChildren;
  else s.pid = s.pidForChildren;
  if (f & CLONE_NEWNS) child.fsCtx.mntNs = copyMountNs(parent.fsCtx.mntNs, child.creds.userns);
  if (s.pid?.dead) return -E.ENOMEM;
  if (s.pid !== null) {
    s.pid.enter(child.tid);
    if (!(f & CLONE_THREAD)) setGroupPidNs(child.tg, s.pid);
  }
  setNsOf(child, s);
  return 0;
}

const UNSHARE_OK = CLONE_FILES | CLONE_FS | NS_FLAGS | CLONE_SYSVSEM | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM | CLONE_NEWTIME;

/** What unshare needs of the process layer: a private fd table. */
export interface UnshareOps {
  unshareFiles(t: Task): void;
}

export function unshare(t: Task, flags: number, ops: UnshareOps): number {
  if (flags & ~UNSHARE_OK) return -E.EINVAL;
  if (flags & CLONE_NEWTIME) return -E.EINVAL; // time namespaces are not offered
  if (flags & CLONE_NEWUSER) flags |= CLONE_THREAD | CLONE_FS;
  if (flags & CLONE_VM) flags |= CLONE_SIGHAND;
  if (flags & CLONE_SIGHAND) flags |= CLONE_THREAD;
  if (flags & CLONE_NEWNS) flags |= CLONE_FS;
  if (flags & (CLONE_THREAD | CLONE_SIGHAND | CLONE_VM) && t.tg.tasks.size > 1) return -E.EINVAL;
  if (flags & CLONE_VM && t.mm.users > 1) return -E.EINVAL;
  let creds = t.creds;
  if (flags & CLONE_NEWUSER) {
    creds = t.creds.clone();
    copyCaps(t.creds, creds);
    const r = enterNewUserNs(creds);
    if (r < 0) return r;
  }
  if (flags & NS_FLAGS & ~CLONE_NEWUSER && !ownCapable(creds, CAP_SYS_ADMIN)) return -E.EPERM;
  const s = flags & NS_FLAGS ? newNsSet(t, nsOf(t), flags, creds.userns) : null;
  if (typeof s === 'number') return s;
  // Past every check: commit.
  t.creds = creds;
  if (flags & CLONE_FS) t.fsCtx = t.fsCtx.fork();
  if (flags & CLONE_FILES) ops.unshareFiles(t);
  if (flags & CLONE_NEWNS) t.fsCtx.mntNs = copyMountNs(t.fsCtx.mntNs, creds.userns);
  if (s !== null) setNsOf(t, s);
  return 0;
}

const KIND_FLAG: Record<string, number> = {
  user: CLONE_NEWUSER, mnt: CLONE_NEWNS, uts: CLONE_NEWUTS, ipc: CLONE_NEWIPC, pid: CLONE_NEWPID, net: CLONE_NEWNET,
  cgroup: CLONE_NEWCGROUP, time: CLONE_NEWTIME,
};

/** setns(fd, nstype) with a /proc/PID/ns file, or a pidfd and the CLONE_NEW* flags of the namespaces to enter. */
export function setns(t: Task, fd: number, nstype: number): number {
  const f = t.fdTable.get(fd | 0);
  if (!f) return -E.EBADF;
  if (f instanceof PidFd) return setnsPidfd(t, f, nstype);
  if (!(f instanceof NsFile)) return -E.EINVAL;
  const { kind, ns } = f.ref;
  if (nstype !== 0 && nstype !== KIND_FLAG[kind]) return -E.EINVAL;
  return join(t, kind, ns);
}

/** The kinds a pidfd's setns enters, in validate_nsset's order (the user namespace first: the rest are checked against it). */
const PIDFD_ORDER: ReadonlyArray<[string, number]> = [
  ['user', CLONE_NEWUSER], ['mnt', CLONE_NEWNS], ['uts', CLONE_NEWUTS], ['ipc', CLONE_NEWIPC], ['pid', CLONE_NEWPID],
  ['cgroup', CLONE_NEWCGROUP], ['net', CLONE_NEWNET], ['time', CLONE_NEWTIME],
];
const PIDFD_FLAGS = PIDFD_ORDER.reduce((a, [, f]) => a | f, 0);

/**
 * setns(pidfd, flags): the target process's namespaces of every kind named, all or none
 * (a refusal of any puts the caller back as it was). EINVAL without flags or with others,
 * ESRCH once the process has exited, EPERM unless the caller may ptrace-read it; each kind
 * as setns of its /proc/PID/ns file checks it (the caller's own user namespace: EINVAL).
 */
function setnsPidfd(t: Task, f: PidFd, flags: number): number {
  if (flags === 0 || flags & ~PIDFD_FLAGS) return -E.EINVAL;
  const target = f.tg.zombie ? undefined : [...f.tg.tasks][0];
  if (target === undefined) return -E.ESRCH;
  if (!mayAccess(t, target)) return -E.EPERM;
  const refs = new Map(nsRefs(target));
  const saved = { creds: t.creds, fsCtx: t.fsCtx, ns: nsOf(t) };
  for (const [kind, flag] of PIDFD_ORDER) {
    if (!(flags & flag)) continue;
    const e = join(t, kind, refs.get(kind)!.ns);
    if (e < 0) {
      t.creds = saved.creds;
      t.fsCtx = saved.fsCtx;
      setNsOf(t, saved.ns);
      return e;
    }
  }
  return 0;
}

/** Enters namespace ns of one kind, with setns's checks for it. */
function join(t: Task, kind: string, ns: object | null): number {
  const c = t.creds;
  const owner = kind === 'user' ? (ns as UserNamespace | null) : ns === null ? null : ownerOf(ns);
  if (kind === 'user') {
    const target = ns as UserNamespace | null;
    if (target === c.userns) return -E.EINVAL;
    if (t.tg.tasks.size > 1) return -E.EINVAL;
    if (!nsCapable(c, target, CAP_SYS_ADMIN)) return -E.EPERM;
    const n = c.clone();
    n.userns = target;
    setCaps(n, { effective: CAP_FULL, permitted: CAP_FULL, inheritable: 0n, ambient: 0n, bounding: CAP_FULL });
    t.creds = n;
    return 0;
  }
  if (!nsCapable(c, owner, CAP_SYS_ADMIN) || !ownCapable(c, CAP_SYS_ADMIN)) return -E.EPERM;
  if (kind === 'mnt') {
    if (!ownCapable(c, CAP_SYS_CHROOT)) return -E.EPERM;
    const root = nsRoot(ns as MntNs) ?? t.kernel.vfs.rootDentry;
    t.fsCtx = t.fsCtx.fork();
    t.fsCtx.mntNs = ns as typeof t.fsCtx.mntNs;
    t.fsCtx.root = root;
    t.fsCtx.cwd = root;
    return 0;
  }
  if (kind === 'time') return 0; // only the initial one exists
  const s: NsSet = { ...nsOf(t) };
  if (kind === 'uts') s.uts = (ns ?? t.kernel) as NsSet['uts'];
  else if (kind === 'ipc') s.ipc = ns ?? t.kernel;
  else if (kind === 'net') s.net = ns as NetNamespace | null;
  else if (kind === 'cgroup') s.cgroup = ns as CgroupNamespace | null;
  else if (kind === 'pid') {
    // Only the caller's own pid namespace or one below it.
    if (!pidNsWithin(ns as PidNamespace | null, s.pid)) return -E.EINVAL;
    s.pidForChildren = ns as PidNamespace | null;
  }
  setNsOf(t, s);
  return 0;
}
