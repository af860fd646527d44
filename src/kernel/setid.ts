import type { Credentials } from '../auth/credentials';
import { EINVAL, EPERM } from '../abi/errno';
import { ownCapable as capable, CAP_SETGID, CAP_SETUID } from '../auth/capabilities';

/**
 * Linux's set*id rules (kernel/sys.c) on virtual credentials. Each function edits a
 * fresh copy `n` of the caller's credentials `o` and returns 0, or -errno with `n`
 * to be discarded. An id of -1 (0xffffffff) means "leave unchanged" where Linux says
 * so, and is otherwise invalid (EINVAL), the only invalid id in the sandbox's
 * identity-mapped user namespace.
 */

export const NO_ID = 0xffffffff;

type Ids = 'uid' | 'euid' | 'suid' | 'fsuid';
type Gids = 'gid' | 'egid' | 'sgid' | 'fsgid';

interface Kind {
  r: Ids | Gids;
  e: Ids | Gids;
  s: Ids | Gids;
  fs: Ids | Gids;
  cap: number;
}

const UID: Kind = { r: 'uid', e: 'euid', s: 'suid', fs: 'fsuid', cap: CAP_SETUID };
const GID: Kind = { r: 'gid', e: 'egid', s: 'sgid', fs: 'fsgid', cap: CAP_SETGID };

function setId(o: Credentials, n: Credentials, k: Kind, id: number): number {
  if (id === NO_ID) return -EINVAL;
  if (capable(o, k.cap)) {
    n[k.r] = id;
    n[k.s] = id;
  } else if (id !== o[k.r] && id !== o[k.s]) {
    return -EPERM;
  }
  n[k.e] = id;
  n[k.fs] = id;
  return 0;
}

function setReId(o: Credentials, n: Credentials, k: Kind, r: number, e: number): number {
  // The capability only for an id the ids alone do not allow (Linux's order: acct's ASU).
  const priv = () => capable(o, k.cap);
  if (r !== NO_ID) {
    if (r !== o[k.r] && r !== o[k.e] && !priv()) return -EPERM;
    n[k.r] = r;
  }
  if (e !== NO_ID) {
    if (e !== o[k.r] && e !== o[k.e] && e !== o[k.s] && !priv()) return -EPERM;
    n[k.e] = e;
  }
  if (r !== NO_ID || (e !== NO_ID && e !== o[k.r])) n[k.s] = n[k.e];
  n[k.fs] = n[k.e];
  return 0;
}

function setResId(o: Credentials, n: Credentials, k: Kind, r: number, e: number, s: number): number {
  const ok = (x: number) => x === NO_ID || x === o[k.r] || x === o[k.e] || x === o[k.s];
  if ((!ok(r) || !ok(e) || !ok(s)) && !capable(o, k.cap)) return -EPERM;
  if (r !== NO_ID) n[k.r] = r;
  if (e !== NO_ID) n[k.e] = e;
  if (s !== NO_ID) n[k.s] = s;
  n[k.fs] = n[k.e];
  return 0;
}

/** setfsuid/setfsgid never fail: they return the old fs id and change it if allowed. */
function setFsId(o: Credentials, n: Credentials, k: Kind, id: number): number {
  const old = o[k.fs];
  if (id === NO_ID) return old;
  if (id === o[k.r] || id === o[k.e] || id === o[k.s] || id === o[k.fs] || capable(o, k.cap)) n[k.fs] = id;
  return old;
}

export const setuid = (o: Credentials, n: Credentials, id: number) => setId(o, n, UID, id);
export const setgid = (o: Credentials, n: Credentials, id: number) => setId(o, n, GID, id);
export const setreuid = (o: Credentials, n: Credentials, r: number, e: number) => setReId(o, n, UID, r, e);
export const setregid = (o: Credentials, n: Credentials, r: number, e: number) => setReId(o, n, GID, r, e);
export const setresuid = (o: Credentials, n: Credentials, r: number, e: number, s: number) => setResId(o, n, UID, r, e, s);
export const setresgid = (o: Credentials, n: Credentials, r: number, e: number, s: number) => setResId(o, n, GID, r, e, s);
export const setfsuid = (o: Credentials, n: Credentials, id: number) => setFsId(o, n, UID, id);
export const setfsgid = (o: Credentials, n: Credentials, id: number) => setFsId(o, n, GID, id);

/** NGROUPS_MAX */
export const NGROUPS_MAX = 65536;
