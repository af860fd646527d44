/**
 * A minimal kernel key retention service, one per sandbox: "user", "logon" and
 * "keyring" keys with serials, owners and permission masks; the user and user-session
 * keyrings of each uid; a session keyring per process (inherited over fork, the
 * user-session keyring until one is joined) and process/thread keyrings made on demand.
 * Enough for programs that keep secrets in keyrings (add_key, request_key by search,
 * keyctl's common operations); no upcalls, quotas, expiry or key types beyond these.
 */
import { randomInt } from 'node:crypto';
import type { Kernel } from './kernel';
import type { Task } from './task';
import type { ThreadGroup } from './thread-group';

export const KEY_SPEC_THREAD_KEYRING = -1, KEY_SPEC_PROCESS_KEYRING = -2, KEY_SPEC_SESSION_KEYRING = -3,
  KEY_SPEC_USER_KEYRING = -4, KEY_SPEC_USER_SESSION_KEYRING = -5;
/** Possessor bits (view, read, write, search, link, setattr) and the user view/read/link bits. */
export const KEY_POS_ALL = 0x3f000000, KEY_USR_VIEW = 0x10000, KEY_USR_READ = 0x20000, KEY_USR_LINK = 0x100000;
export const KEY_USR_ALL = 0x3f0000;

export interface Key {
  serial: number;
  type: 'user' | 'logon' | 'keyring';
  description: string;
  payload: Buffer;
  uid: number;
  gid: number;
  perm: number;
  revoked: boolean;
  /** Keyrings: the keys linked in it, in order. */
  links: Key[];
}

interface KeyNs {
  keys: Map<number, Key>;
  userRings: Map<number, { user: Key; session: Key }>;
  session: WeakMap<ThreadGroup, Key>;
  process: WeakMap<ThreadGroup, Key>;
  thread: WeakMap<Task, Key>;
}

const namespaces = new WeakMap<Kernel, KeyNs>();

export function keysOf(k: Kernel): KeyNs {
  let n = namespaces.get(k);
  if (!n) namespaces.set(k, (n = { keys: new Map(), userRings: new Map(), session: new WeakMap(), process: new WeakMap(), thread: new WeakMap() }));
  return n;
}

export function newKey(n: KeyNs, type: Key['type'], description: string, uid: number, gid: number, perm: number, payload = Buffer.alloc(0)): Key {
  let serial: number;
  do serial = randomInt(1, 0x7fffffff); while (n.keys.has(serial));
  const key: Key = { serial, type, description, payload, uid, gid, perm, revoked: false, links: [] };
  n.keys.set(serial, key);
  return key;
}

function userRings(n: KeyNs, uid: number, gid: number): { user: Key; session: Key } {
  let r = n.userRings.get(uid);
  if (!r) {
    const perm = KEY_POS_ALL | KEY_USR_ALL;
    r = { user: newKey(n, 'keyring', `_uid.${uid}`, uid, gid, perm), session: newKey(n, 'keyring', `_uid_ses.${uid}`, uid, gid, perm) };
    r.session.links.push(r.user);
    n.userRings.set(uid, r);
  }
  return r;
}

/**
 * A key by id (a serial or a KEY_SPEC_* keyring), creating a special keyring when
 * `create` and it has none. null: no such key.
 */
export function lookupKey(t: Task, id: number, create: boolean): Key | null {
  const n = keysOf(t.kernel);
  const c = t.creds;
  const rings = () => userRings(n, c.uid, c.gid);
  switch (id) {
    case KEY_SPEC_USER_KEYRING:
      return rings().user;
    case KEY_SPEC_USER_SESSION_KEYRING:
      return rings().session;
    case KEY_SPEC_SESSION_KEYRING: {
      let s = n.session.get(t.tg);
      if (!s) n.session.set(t.tg, (s = rings().session));
      return s;
    }
    case KEY_SPEC_PROCESS_KEYRING: {
      let p = n.process.get(t.tg) ?? null;
      if (!p && create) n.process.set(t.tg, (p = newKey(n, 'keyring', '_pid', c.uid, c.gid, KEY_POS_ALL | KEY_USR_VIEW)));
      return p;
    }
    case KEY_SPEC_THREAD_KEYRING: {
      let k = n.thread.get(t) ?? null;
      if (!k && create) n.thread.set(t, (k = newKey(n, 'keyring', '_tid', c.uid, c.gid, KEY_POS_ALL | KEY_USR_VIEW)));
      return k;
    }
    default:
      return id > 0 ? n.keys.get(id) ?? null : null;
  }
}

/** KEYCTL_JOIN_SESSION_KEYRING: a new anonymous one, or the named keyring (made if missing). */
export function joinSession(t: Task, name: string | null): Key {
  const n = keysOf(t.kernel);
  const c = t.creds;
  let ring: Key | undefined;
  if (name !== null) {
    for (const k of n.keys.values()) if (k.type === 'keyring' && k.description === name && k.uid === c.uid && !k.revoked) ring = k;
  }
  // A named keyring may be linked by others of the user; an anonymous one not.
  ring ??= newKey(n, 'keyring', name ?? '_ses', c.uid, c.gid, KEY_POS_ALL | KEY_USR_VIEW | KEY_USR_READ | (name !== null ? KEY_USR_LINK : 0));
  n.session.set(t.tg, ring);
  return ring;
}

/** Depth-first search of a keyring (and the keyrings in it) for type + description. */
export function searchRing(ring: Key, type: string, desc: string, seen = new Set<Key>()): Key | null {
  if (seen.has(ring)) return null;
  seen.add(ring);
  for (const k of ring.links) if (!k.revoked && k.type === type && k.description === desc) return k;
  for (const k of ring.links) {
    if (k.type !== 'keyring' || k.revoked) continue;
    const f = searchRing(k, type, desc, seen);
    if (f) return f;
  }
  return null;
}

/** The keyrings request_key searches: thread, process, session. */
export function callerRings(t: Task): Key[] {
  return [lookupKey(t, KEY_SPEC_THREAD_KEYRING, false), lookupKey(t, KEY_SPEC_PROCESS_KEYRING, false),
    lookupKey(t, KEY_SPEC_SESSION_KEYRING, false)].filter((k): k is Key => k !== null);
}

export function link(ring: Key, key: Key): void {
  const i = ring.links.findIndex((k) => k.type === key.type && k.description === key.description);
  if (i >= 0) ring.links[i] = key;
  else ring.links.push(key);
}

/** fork: the child shares its parent's session and process keyrings (a new thread keyring). */
export function inheritKeyrings(k: Kernel, parent: ThreadGroup, child: ThreadGroup): void {
  const n = namespaces.get(k);
  if (!n) return;
  const s = n.session.get(parent);
  if (s) n.session.set(child, s);
}
