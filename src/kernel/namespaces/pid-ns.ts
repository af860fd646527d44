/**
 * PID namespaces (CLONE_NEWPID). Guest pids stay the Kernel's own numbers (the initial
 * namespace's); a child namespace numbers the processes created in it from 1 and knows
 * nothing above it. Calls that take or give pids translate at the boundary (pidIn,
 * pidFrom); a namespace's first process is its init: orphans of the namespace go to
 * it, and its death kills every process left in the namespace.
 */
import { allocNsIno, type UserNamespace } from '../../auth/userns';

export class PidNamespace {
  readonly ino = allocNsIno();
  readonly level: number;
  /** Kernel pid -> pid in this namespace, and back. */
  readonly local = new Map<number, number>();
  readonly global = new Map<number, number>();
  private next = 1;
  /** Kernel pid of its init (0 until its first process exists). */
  initPid = 0;
  /** Init has died: no process may enter (fork gives ENOMEM, as Linux). */
  dead = false;
  constructor(
    readonly parent: PidNamespace | null,
    readonly userns: UserNamespace | null,
  ) {
    this.level = parent ? parent.level + 1 : 1;
  }

  /** Numbers kernel pid kpid in this namespace and its ancestors. */
  enter(kpid: number): void {
    for (let n: PidNamespace | null = this; n !== null; n = n.parent) {
      if (n.local.has(kpid)) continue;
      let id = n.next;
      while (n.global.has(id)) id++;
      n.next = id + 1;
      n.local.set(kpid, id);
      n.global.set(id, kpid);
      if (id === 1) n.initPid = kpid;
    }
  }

  /** Forgets kpid (reaped) in this namespace and its ancestors. */
  leave(kpid: number): void {
    for (let n: PidNamespace | null = this; n !== null; n = n.parent) {
      const id = n.local.get(kpid);
      if (id === undefined) continue;
      n.local.delete(kpid);
      n.global.delete(id);
    }
  }
}

/** kpid as ns sees it; 0 when it is not in ns (as Linux reports such a pid). */
export function pidIn(ns: PidNamespace | null, kpid: number): number {
  if (ns === null || kpid <= 0) return kpid;
  return ns.local.get(kpid) ?? 0;
}

/** A pid given in ns as a kernel pid; -1 when ns has no such process. */
export function pidFrom(ns: PidNamespace | null, pid: number): number {
  if (ns === null || pid <= 0) return pid;
  return ns.global.get(pid) ?? -1;
}

/** Whether ns is anc or one of its descendants. */
export function pidNsWithin(ns: PidNamespace | null, anc: PidNamespace | null): boolean {
  if (anc === null) return true;
  for (let n = ns; n !== null; n = n.parent) if (n === anc) return true;
  return false;
}

/** Pid namespaces made so far: 0 keeps every translation a counter test. */
let made = 0;
export function pidNsMade(): void {
  made++;
}
export function anyPidNs(): boolean {
  return made > 0;
}

/** The pid namespace each process was born in (none: the initial one). */
const ofGroup = new WeakMap<object, PidNamespace>();
export function setGroupPidNs(tg: object, ns: PidNamespace): void {
  ofGroup.set(tg, ns);
}
export function groupPidNs(tg: object): PidNamespace | null {
  return made === 0 ? null : ofGroup.get(tg) ?? null;
}
