/**
 * User and group ids, supplementary groups, capabilities. Credentials are virtual
 * (src/kernel/credentials.ts); the rules are Linux's (src/kernel/setid.ts). Changes
 * go to a fresh copy that replaces t.creds, so another thread sharing the old object
 * keeps its ids (Linux credentials are per thread; glibc broadcasts set*id itself).
 */
import type { Task } from '../src/kernel/task';
import type { Credentials } from '../src/auth/credentials';
import { EFAULT, EINVAL, EPERM, ESRCH } from '../src/abi/errno';
import * as setid from '../src/kernel/setid';
import { commitCreds } from '../src/kernel/dumpable';
import { capsOf, ownCapable, setCaps, transitionCaps, CAP_SETGID, CAP_SETPCAP, CAP_FULL } from '../src/auth/capabilities';
import { seenGid, seenUid, setgroupsAllowed, toKid } from '../src/auth/userns';

// Ids cross the boundary as the caller's user namespace sees them (src/auth/userns.ts).
export const getuid = (t: Task): number => seenUid(t.creds.userns, t.creds.uid);
export const geteuid = (t: Task): number => seenUid(t.creds.userns, t.creds.euid);
export const getgid = (t: Task): number => seenGid(t.creds.userns, t.creds.gid);
export const getegid = (t: Task): number => seenGid(t.creds.userns, t.creds.egid);

/** A guest uid/gid argument as an initial-namespace id: NO_ID stays, an unmapped id is null (EINVAL). */
function kid(t: Task, id: number, gid: boolean): number | null {
  id >>>= 0;
  const ns = t.creds.userns;
  if (ns === null || id === setid.NO_ID) return id;
  const k = toKid(ns, id, gid);
  return k < 0 ? null : k;
}
const kids = (t: Task, gid: boolean, ...ids: number[]): number[] | null => {
  const out: number[] = [];
  for (const i of ids) {
    const k = kid(t, i, gid);
    if (k === null) return null;
    out.push(k);
  }
  return out;
};

/** Applies fn to a copy of the caller's credentials; commits it when fn returns >= 0. */
function change(t: Task, fn: (o: Credentials, n: Credentials) => number): number {
  const o = t.creds;
  const n = o.clone();
  const r = fn(o, n);
  if (r < 0) return r;
  transitionCaps(o, n);
  commitCreds(t, n);
  return r;
}

/** Runs a set*id rule on the ids as initial-namespace ids; an unmapped one is EINVAL. */
function changeIds(t: Task, gid: boolean, ids: number[], fn: (o: Credentials, n: Credentials, ...k: number[]) => number): number {
  const k = kids(t, gid, ...ids);
  if (k === null) return -EINVAL;
  return change(t, (o, n) => fn(o, n, ...k));
}
export const setuid = (t: Task, id: number) => changeIds(t, false, [id], (o, n, a) => setid.setuid(o, n, a));
export const setgid = (t: Task, id: number) => changeIds(t, true, [id], (o, n, a) => setid.setgid(o, n, a));
export const setreuid = (t: Task, r: number, e: number) => changeIds(t, false, [r, e], (o, n, a, b) => setid.setreuid(o, n, a, b));
export const setregid = (t: Task, r: number, e: number) => changeIds(t, true, [r, e], (o, n, a, b) => setid.setregid(o, n, a, b));
export const setresuid = (t: Task, r: number, e: number, s: number) =>
  changeIds(t, false, [r, e, s], (o, n, a, b, c) => setid.setresuid(o, n, a, b, c));
export const setresgid = (t: Task, r: number, e: number, s: number) =>
  changeIds(t, true, [r, e, s], (o, n, a, b, c) => setid.setresgid(o, n, a, b, c));
/** setfsuid/setfsgid return the old fs id (as the namespace sees it); an unmapped new id changes nothing. */
function changeFs(t: Task, gid: boolean, id: number): number {
  const ns = t.creds.userns;
  const old = gid ? t.creds.fsgid : t.creds.fsuid;
  const seen = gid ? seenGid(ns, old) : seenUid(ns, old);
  const k = kid(t, id, gid);
  if (k === null) return seen;
  change(t, (o, n) => (gid ? setid.setfsgid(o, n, k) : setid.setfsuid(o, n, k)));
  return seen;
}
export const setfsuid = (t: Task, id: number) => changeFs(t, false, id);
export const setfsgid = (t: Task, id: number) => changeFs(t, true, id);

/** Writes three u32 ids; stops at the first fault, like Linux's put_user sequence. */
function put3(t: Task, addrs: number[], vals: number[]): number {
  for (let i = 0; i < 3; i++) if (!t.mem.writeU32(addrs[i], vals[i])) return -EFAULT;
  return 0;
}

export function getresuid(t: Task, r: number, e: number, s: number): number {
  const c = t.creds;
  return put3(t, [r, e, s], [c.uid, c.euid, c.suid].map((x) => seenUid(c.userns, x)));
}

export function getresgid(t: Task, r: number, e: number, s: number): number {
  const c = t.creds;
  return put3(t, [r, e, s], [c.gid, c.egid, c.sgid].map((x) => seenGid(c.userns, x)));
}

export function getgroups(t: Task, size: number, list: number): number {
  size |= 0;
  if (size < 0) return -EINVAL;
  const g = t.creds.groups.map((x) => seenGid(t.creds.userns, x));
  if (size === 0) return g.length;
  if (g.length > size) return -EINVAL;
  const b = Buffer.alloc(g.length * 4);
  g.forEach((v, i) => b.writeUInt32LE(v >>> 0, i * 4));
  return g.length === 0 || t.mem.write(list, b) ? g.length : -EFAULT;
}

export function setgroups(t: Task, size: number, list: number): number {
  if (!ownCapable(t.creds, CAP_SETGID) || !setgroupsAllowed(t.creds.userns)) return -EPERM;
  size |= 0;
  if (size < 0 || size > setid.NGROUPS_MAX) return -EINVAL;
  const groups: number[] = [];
  if (size > 0) {
    const b = t.mem.read(list, size * 4);
    if (!b) return -EFAULT;
    for (let i = 0; i < size; i++) {
      const g = kid(t, b.readUInt32LE(i * 4), true);
      if (g === null || g === setid.NO_ID) return -EINVAL;
      groups.push(g);
    }
  }
  // Linux keeps the list sorted (groups_sort), so getgroups returns it ascending.
  groups.sort((x, y) => x - y);
  return change(t, (_o, n) => {
    n.groups = groups;
    return 0;
  });
}

// ---- capget / capset ----

const CAP_V1 = 0x19980330;
const CAP_V2 = 0x20071026;
const CAP_V3 = 0x20080522;

/** Validates the header version; an unknown one is answered with V3 and EINVAL. Returns u32 count. */
function capWords(t: Task, hdr: number): number {
  const v = t.mem.readU32(hdr);
  if (v === null) return -EFAULT;
  if (v === CAP_V1) return 1;
  if (v === CAP_V2 || v === CAP_V3) return 2;
  if (!t.mem.writeU32(hdr, CAP_V3)) return -EFAULT;
  return -EINVAL;
}

export function capget(t: Task, hdr: number, data: number): number {
  const words = capWords(t, hdr);
  // A NULL data pointer probes the preferred version: 0 even for an unknown one.
  if (data === 0) return words === -EINVAL || words > 0 ? 0 : words;
  if (words < 0) return words;
  const pid = t.mem.readI32(hdr + 4);
  if (pid === null) return -EFAULT;
  if (pid < 0) return -EINVAL;
  let target = t;
  if (pid !== 0 && pid !== t.tid) {
    const p = t.kernel.tasks.get(pid);
    if (!p) return -ESRCH;
    target = p;
  }
  const s = capsOf(target.creds);
  const b = Buffer.alloc(12 * words);
  for (let i = 0; i < words; i++) {
    const sh = BigInt(32 * i);
    b.writeUInt32LE(Number((s.effective >> sh) & 0xffffffffn), 12 * i);
    b.writeUInt32LE(Number((s.permitted >> sh) & 0xffffffffn), 12 * i + 4);
    b.writeUInt32LE(Number((s.inheritable >> sh) & 0xffffffffn), 12 * i + 8);
  }
  return t.mem.write(data, b) ? 0 : -EFAULT;
}

export function capset(t: Task, hdr: number, data: number): number {
  const words = capWords(t, hdr);
  if (words < 0) return words;
  const pid = t.mem.readI32(hdr + 4);
  if (pid === null) return -EFAULT;
  // Only the caller's own capabilities may be set.
  if (pid !== 0 && pid !== t.tid) return -EPERM;
  const b = data === 0 ? null : t.mem.read(data, 12 * words);
  if (!b) return -EFAULT;
  let eff = 0n;
  let perm = 0n;
  let inh = 0n;
  for (let i = words - 1; i >= 0; i--) {
    eff = (eff << 32n) | BigInt(b.readUInt32LE(12 * i));
    perm = (perm << 32n) | BigInt(b.readUInt32LE(12 * i + 4));
    inh = (inh << 32n) | BigInt(b.readUInt32LE(12 * i + 8));
  }
  eff &= CAP_FULL;
  perm &= CAP_FULL;
  inh &= CAP_FULL;
  const old = capsOf(t.creds);
  // cap_capset(): no new inheritable bits beyond permitted (unless CAP_SETPCAP),
  // no new permitted bits, effective within permitted.
  if (!ownCapable(t.creds, CAP_SETPCAP) && (inh & ~(old.inheritable | old.permitted)) !== 0n) return -EPERM;
  if ((perm & ~old.permitted) !== 0n) return -EPERM;
  if ((eff & ~perm) !== 0n) return -EPERM;
  const n = t.creds.clone();
  // PR_SET_KEEPCAPS stays; the ambient set keeps only what is still permitted and inheritable.
  setCaps(n, { ...old, effective: eff, permitted: perm, inheritable: inh, ambient: (old.ambient ?? 0n) & perm & inh });
  t.creds = n;
  return 0;
}
