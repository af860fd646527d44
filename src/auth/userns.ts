/**
 * User namespaces (user_namespaces(7)). Credentials hold ids of the sandbox's initial
 * namespace (Linux's kuid/kgid); a task whose credentials name a child namespace sees
 * them through that namespace's uid_map/gid_map, and an id with no mapping reads as the
 * overflow id (65534). Capabilities held in a namespace count in it and in the
 * namespaces it owns, never in its parent (nsCapable).
 */
import type { Credentials } from './credentials';

export const OVERFLOW_ID = 65534;
/** Most lines a uid_map/gid_map may have (Linux 4.15+). */
export const MAX_MAP_LINES = 340;

/** One line of uid_map/gid_map: `first` ids of the namespace map to `lower` ids of the parent. */
export interface IdExtent {
  first: number;
  lower: number;
  count: number;
}

/** Namespace inode numbers as Linux numbers them (the initial ones are fixed constants). */
export const INIT_NS_INO = {
  cgroup: 4026531835, pid: 4026531836, user: 4026531837, uts: 4026531838, ipc: 4026531839, mnt: 4026531841, net: 4026531840,
} as const;
let nextNsIno = 4026532160;
/** A new namespace's inode number (/proc/PID/ns/* links, st_ino of an nsfs file). */
export function allocNsIno(): number {
  return nextNsIno++;
}

/** /proc/sys/user/max_user_namespaces of a new namespace (Linux: INT_MAX). */
export const USERNS_MAX_DEFAULT = 2147483647;

export class UserNamespace {
  /** /proc/sys/user/max_user_namespaces here: how many may be made in it and below. */
  maxUserNamespaces = USERNS_MAX_DEFAULT;
  /** User namespaces made in it and below (never given back: a lowered limit stays strict). */
  userNamespaces = 0;
  uidMap: IdExtent[] | null = null;
  gidMap: IdExtent[] | null = null;
  /** /proc/PID/setgroups: "deny" makes setgroups(2) EPERM in this namespace (and its children). */
  setgroupsAllowed = true;
  readonly ino = allocNsIno();
  readonly level: number;
  constructor(
    /** null: the initial namespace. */
    readonly parent: UserNamespace | null,
    /** The creator's euid and egid (initial-namespace ids). */
    readonly ownerUid: number,
    readonly ownerGid: number,
  ) {
    this.level = parent ? parent.level + 1 : 1;
    // Linux copies the parent's flags: under a "deny" parent a child starts at "deny".
    this.setgroupsAllowed = parent ? parent.setgroupsAllowed : true;
  }
}

/** Maps id down through one map (namespace id -> parent id); -1 when unmapped. */
function down(map: IdExtent[] | null, id: number): number {
  if (map === null) return -1;
  for (const e of map) if (id >= e.first && id - e.first < e.count) return e.lower + (id - e.first);
  return -1;
}

function up(map: IdExtent[] | null, id: number): number {
  if (map === null) return -1;
  for (const e of map) if (id >= e.lower && id - e.lower < e.count) return e.first + (id - e.lower);
  return -1;
}

/** An id of ns as an initial-namespace id (make_kuid); -1 if unmapped. */
export function toKid(ns: UserNamespace | null, id: number, gid = false): number {
  for (let n = ns; n !== null && id >= 0; n = n.parent) id = down(gid ? n.gidMap : n.uidMap, id);
  return id;
}

/** An initial-namespace id as ns sees it (from_kuid); -1 if unmapped. */
export function fromKid(ns: UserNamespace | null, kid: number, gid = false): number {
  if (ns === null) return kid;
  const chain: UserNamespace[] = [];
  for (let n: UserNamespace | null = ns; n !== null; n = n.parent) chain.unshift(n);
  let id = kid;
  for (const n of chain) {
    id = up(gid ? n.gidMap : n.uidMap, id);
    if (id < 0) return -1;
  }
  return id;
}

/** from_kuid_munged: the overflow id when unmapped. */
export function seenUid(ns: UserNamespace | null, kid: number): number {
  if (ns === null) return kid;
  const id = fromKid(ns, kid);
  return id < 0 ? OVERFLOW_ID : id;
}
export function seenGid(ns: UserNamespace | null, kid: number): number {
  if (ns === null) return kid;
  const id = fromKid(ns, kid, true);
  return id < 0 ? OVERFLOW_ID : id;
}

/** True when a is ns or one of its ancestors (null, the initial namespace, is everyone's). */
export function isAncestorOrSelf(a: UserNamespace | null, ns: UserNamespace | null): boolean {
  for (let n = ns; ; n = n.parent) {
    if (n === a) return true;
    if (n === null) return false;
  }
}

/**
 * ns_capable as Linux decides it (cap_capable): the caller's effective set counts in its
 * own namespace; the owner of a child namespace (created by its euid, from its
 * namespace) has every capability there; nothing counts in an ancestor.
 */
export function nsCapableWith(c: Credentials, ns: UserNamespace | null, hasCap: boolean): boolean {
  for (let n = ns; ; n = n.parent) {
    if (n === c.userns) return hasCap;
    if (n === null) return false;
    if (n.parent === c.userns && n.ownerUid === c.euid) return true;
  }
}

/**
 * Parses and checks what a write to uid_map/gid_map holds (map_write): up to 340 lines
 * "first lower count", no overlap on either side, no wrap. Returns the extents or -EINVAL.
 */
export function parseIdMap(text: string): IdExtent[] | number {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0 || lines.length > MAX_MAP_LINES) return -22;
  const out: IdExtent[] = [];
  for (const l of lines) {
    const f = l.trim().split(/\s+/);
    if (f.length !== 3 || !f.every((x) => /^\d+$/.test(x))) return -22;
    const [first, lower, count] = f.map(Number);
    if (count === 0 || first + count > 2 ** 32 - 1 || lower + count > 2 ** 32 - 1) return -22;
    for (const e of out) {
      if (first < e.first + e.count && e.first < first + count) return -22;
      if (lower < e.lower + e.count && e.lower < lower + count) return -22;
    }
    out.push({ first, lower, count });
  }
  return out;
}

/** /proc/PID/uid_map as Linux prints it: as seen from the reader's namespace. */
export function idMapText(map: IdExtent[] | null): string {
  if (map === null) return '';
  return map.map((e) => `${String(e.first).padStart(10)} ${String(e.lower).padStart(10)} ${String(e.count).padStart(10)}\n`).join('');
}

/** setgroups(2) is refused once "deny" was written in the namespace or an ancestor. */
export function setgroupsAllowed(ns: UserNamespace | null): boolean {
  for (let n = ns; n !== null; n = n.parent) if (!n.setgroupsAllowed) return false;
  return true;
}

/**
 * Counts a new user namespace against every ancestor's max_user_namespaces (Linux's
 * inc_ucount walks them all); false when one is full (the creator gets ENOSPC).
 */
export function chargeUserNs(parent: UserNamespace | null): boolean {
  for (let a = parent; a !== null; a = a.parent) if (a.userNamespaces + 1 > a.maxUserNamespaces) return false;
  if (initialUserNs.userNamespaces + 1 > initialUserNs.maxUserNamespaces) return false;
  for (let a = parent; a !== null; a = a.parent) a.userNamespaces++;
  initialUserNs.userNamespaces++;
  return true;
}

/** The initial namespace's count and limit (it has no object: null stands for it). */
export const initialUserNs = { maxUserNamespaces: USERNS_MAX_DEFAULT, userNamespaces: 0 };

/** Where ns's max_user_namespaces lives. */
export function userNsLimits(ns: UserNamespace | null): { maxUserNamespaces: number; userNamespaces: number } {
  return ns ?? initialUserNs;
}
