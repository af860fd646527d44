/**
 * The namespaces a task belongs to besides its user namespace (in its credentials,
 * src/auth/userns.ts) and its mount namespace (in its FsContext, fs/vfs/mount-ns.ts):
 * Linux's nsproxy. A task of the initial namespaces has no entry (nsOf returns the
 * kernel's set), so nothing is allocated or looked up for a sandbox that never unshares
 * beyond one WeakMap probe where a namespace matters (uname, IPC ids, sockets, pids).
 */
import { allocNsIno, INIT_NS_INO, type UserNamespace } from '../../auth/userns';
import type { Kernel } from '../kernel';
import type { Task } from '../task';
import type { PidNamespace } from './pid-ns';

/** uname's host and domain name: the Kernel itself is the initial one. */
export interface UtsNs {
  hostname: string;
  domainname: string;
}

export class UtsNamespace implements UtsNs {
  readonly ino = allocNsIno();
  constructor(
    public hostname: string,
    public domainname: string,
    readonly userns: UserNamespace | null,
  ) {}
}

/** SysV IPC ids and POSIX message queues are keyed by this object (the Kernel for the initial one). */
export class IpcNamespace {
  readonly ino = allocNsIno();
  constructor(readonly userns: UserNamespace | null) {}
}

/** A network namespace: its own loopback-only stack (src/net/netns-guest.ts makes it on first use). */
export class NetNamespace {
  readonly ino = allocNsIno();
  /** Set by the socket layer: the stack and interfaces of this namespace. */
  stack: unknown = null;
  constructor(readonly userns: UserNamespace | null) {}
}

export class CgroupNamespace {
  readonly ino = allocNsIno();
  constructor(readonly userns: UserNamespace | null) {}
}

export interface NsSet {
  uts: UtsNs;
  ipc: object;
  net: NetNamespace | null;
  cgroup: CgroupNamespace | null;
  /** The task's own pid namespace (null: the initial one). */
  pid: PidNamespace | null;
  /** Where its future children go (unshare(CLONE_NEWPID) changes only this). */
  pidForChildren: PidNamespace | null;
}

const byTask = new WeakMap<Task, NsSet>();
const initial = new WeakMap<Kernel, NsSet>();

export function initialNs(k: Kernel): NsSet {
  let s = initial.get(k);
  if (!s) initial.set(k, (s = { uts: k, ipc: k, net: null, cgroup: null, pid: null, pidForChildren: null }));
  return s;
}

export function nsOf(t: Task): NsSet {
  return byTask.get(t) ?? initialNs(t.kernel);
}

export function setNsOf(t: Task, s: NsSet): void {
  if (s === initialNs(t.kernel)) byTask.delete(t);
  else byTask.set(t, s);
}

export function hasOwnNs(t: Task): boolean {
  return byTask.has(t);
}

/** The owner of a namespace object (null: the initial user namespace). */
export function ownerOf(ns: object): UserNamespace | null {
  return (ns as { userns?: UserNamespace | null }).userns ?? null;
}

/** The inode number /proc/PID/ns/KIND shows for ns (the Kernel stands for the initial uts/ipc). */
export function inoOf(kind: keyof typeof INIT_NS_INO, ns: object | null): number {
  if (ns === null || !('ino' in ns)) return INIT_NS_INO[kind];
  return (ns as { ino: number }).ino;
}

/** The key of t's SysV IPC tables and message queues (src/kernel/ipc, fs/fsimpl/mqueue). */
export function ipcKey(t: Task): object {
  return nsOf(t).ipc;
}
