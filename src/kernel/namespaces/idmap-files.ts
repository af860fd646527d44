/**
 * /proc/PID/uid_map, gid_map and setgroups: how a new user namespace gets its ids
 * (user_namespaces(7)), with Linux's rules (map_write, new_idmap_permitted): written
 * once, by a process in the namespace or its parent; an unprivileged writer may map only
 * its own euid (and its egid once setgroups is "deny"); anything else needs CAP_SETUID
 * or CAP_SETGID over the parent namespace; every range must be mapped in the parent.
 */
import * as E from '../../abi/errno';
import { fromKid, idMapText, parseIdMap, toKid, type IdExtent, type UserNamespace } from '../../auth/userns';
import { nsCapable, CAP_SETGID, CAP_SETUID } from '../../auth/capabilities';
import type { Credentials } from '../../auth/credentials';

const FULL: IdExtent[] = [{ first: 0, lower: 0, count: 4294967295 }];

/**
 * ns's map as a reader in user namespace `reader` sees it (uid_m_show): the lower ids
 * in the reader's own terms, or in ns's parent's when the reader is in ns itself;
 * 4294967295 for an id the reader cannot name.
 */
export function idMapRead(ns: UserNamespace | null, gid: boolean, reader: UserNamespace | null = null): string {
  const map = ns === null ? FULL : gid ? ns.gidMap : ns.uidMap;
  if (map === null) return '';
  const parent = ns === null ? null : ns.parent;
  const lowerNs = reader === ns && ns !== null ? parent : reader;
  const shown = map.map((e) => {
    const k = toKid(parent, e.lower, gid);
    const lower = k < 0 ? -1 : fromKid(lowerNs, k, gid);
    return { first: e.first, lower: lower < 0 ? 4294967295 : lower, count: e.count };
  });
  return idMapText(shown);
}

/** A range of parent ids must lie in one extent of the parent's map (map_id_range_down). */
function mappedInParent(parent: UserNamespace | null, e: IdExtent, gid: boolean): boolean {
  if (parent === null) return true;
  const first = toKid(parent, e.lower, gid);
  const last = toKid(parent, e.lower + e.count - 1, gid);
  return first >= 0 && last >= 0 && last - first === e.count - 1;
}

export function idMapWrite(opener: Credentials | undefined, ns: UserNamespace | null, gid: boolean, data: Buffer): number {
  if (opener === undefined || ns === null) return -E.EPERM;
  if ((gid ? ns.gidMap : ns.uidMap) !== null) return -E.EPERM;
  if (opener.userns !== ns && opener.userns !== ns.parent) return -E.EPERM;
  const map = parseIdMap(data.toString('latin1'));
  if (typeof map === 'number') return map;
  for (const e of map) if (!mappedInParent(ns.parent, e, gid)) return -E.EPERM;
  if (!permitted(opener, ns, gid, map)) return -E.EPERM;
  if (gid) ns.gidMap = map;
  else ns.uidMap = map;
  return data.length;
}

function permitted(c: Credentials, ns: UserNamespace, gid: boolean, map: IdExtent[]): boolean {
  if (map.length === 1 && map[0].count === 1 && ns.ownerUid === c.euid) {
    const k = toKid(ns.parent, map[0].lower, gid);
    if (!gid && k === c.euid) return true;
    if (gid && !ns.setgroupsAllowed && k === c.egid) return true;
  }
  return nsCapable(c, ns.parent, gid ? CAP_SETGID : CAP_SETUID);
}

export function setgroupsRead(ns: UserNamespace | null): string {
  return ns === null || ns.setgroupsAllowed ? 'allow\n' : 'deny\n';
}

/** "allow" or "deny"; deny only before gid_map is written, and never undone. */
export function setgroupsWrite(opener: Credentials | undefined, ns: UserNamespace | null, data: Buffer): number {
  const v = data.toString('latin1').trim();
  if (v !== 'allow' && v !== 'deny') return -E.EINVAL;
  if (opener === undefined || ns === null) return -E.EPERM;
  if (opener.userns !== ns && opener.userns !== ns.parent) return -E.EPERM;
  if (v === 'allow') {
    if (!ns.setgroupsAllowed) return -E.EPERM;
    return data.length;
  }
  if (ns.gidMap !== null) return -E.EPERM;
  ns.setgroupsAllowed = false;
  return data.length;
}
