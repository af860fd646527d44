/** add_key, request_key, keyctl over the sandbox's key service (src/kernel/keys.ts). */
import * as E from '../src/abi/errno';
import type { Task } from '../src/kernel/task';
import { capable, CAP_SYS_ADMIN } from '../src/auth/capabilities';
import {
  callerRings, joinSession, type Key, keysOf, KEY_POS_ALL, KEY_USR_VIEW, link, lookupKey, newKey, searchRing,
} from '../src/kernel/keys';

const GET_KEYRING_ID = 0, JOIN_SESSION_KEYRING = 1, UPDATE = 2, REVOKE = 3, CHOWN = 4, SETPERM = 5, DESCRIBE = 6,
  CLEAR = 7, LINK = 8, UNLINK = 9, SEARCH = 10, READ = 11, INVALIDATE = 21;
const USER_MAX = 32767;

function readStr(t: Task, addr: number, max = 4096): string | number {
  const s = t.mem.readCString(addr, max);
  if (s === null) return -E.EFAULT;
  if (s.length >= max) return -E.EINVAL;
  return s;
}

/** key_get_type_from_user: 1..31 bytes, not starting with '.' (EPERM). */
function readType(t: Task, addr: number): string | number {
  const s = readStr(t, addr, 32);
  if (typeof s === 'number') return s;
  if (s === '') return -E.EINVAL;
  return s.startsWith('.') ? -E.EPERM : s;
}

/** The caller owns the key (or is privileged): the sandbox's stand-in for possession. */
function mayUse(t: Task, k: Key): boolean {
  return k.uid === t.creds.euid || capable(t.creds, CAP_SYS_ADMIN);
}

/** A usable key by id: ENOKEY if missing, EKEYREVOKED if revoked, EACCES if not the caller's. */
function key(t: Task, id: number, create = false): Key | number {
  // lookup_user_key: ids below 1 are the KEY_SPEC_* ones (-1..-8; group keyrings, -6, unsupported) or EINVAL.
  if ((id | 0) < 1 && ((id | 0) < -8 || (id | 0) === -6)) return -E.EINVAL;
  const k = lookupKey(t, id | 0, create);
  if (!k) return -E.ENOKEY;
  if (k.revoked) return -E.EKEYREVOKED;
  if (!mayUse(t, k)) return -E.EACCES;
  return k;
}

function ring(t: Task, id: number, create = true): Key | number {
  const k = key(t, id, create);
  if (typeof k === 'number') return k;
  return k.type === 'keyring' ? k : -E.ENOTDIR;
}

/** user_preparse / logon_preparse: 1..32767 bytes; logon descriptions need "service:". */
function checkPayload(type: string, desc: string, payload: Buffer | null): number {
  if (type === 'keyring') return payload && payload.length ? -E.EINVAL : 0;
  if (!payload || payload.length === 0 || payload.length > USER_MAX) return -E.EINVAL;
  if (type === 'logon' && !/^[^:]+:/.test(desc)) return -E.EINVAL;
  return 0;
}

export function add_key(t: Task, typeAddr: number, descAddr: number, payloadAddr: number, plen: number, ringId: number): number {
  const type = readType(t, typeAddr);
  if (typeof type === 'number') return type;
  const desc = descAddr ? readStr(t, descAddr) : '';
  if (typeof desc === 'number') return desc;
  if (plen < 0 || plen > 1024 * 1024) return -E.EINVAL;
  let payload: Buffer | null = null;
  if (payloadAddr && plen) {
    payload = t.mem.read(payloadAddr, plen);
    if (!payload) return -E.EFAULT;
  }
  if (type !== 'user' && type !== 'logon' && type !== 'keyring') return -E.ENODEV;
  if (desc === '') return -E.EINVAL;
  const r = ring(t, ringId);
  if (typeof r === 'number') return r;
  const bad = checkPayload(type, desc, payload);
  if (bad) return bad;
  const existing = r.links.find((k) => k.type === type && k.description === desc && !k.revoked);
  if (existing && type !== 'keyring') {
    existing.payload = Buffer.from(payload!);
    return existing.serial;
  }
  const n = keysOf(t.kernel);
  const perm = KEY_POS_ALL | KEY_USR_VIEW;
  const k = newKey(n, type, desc, t.creds.fsuid, t.creds.fsgid, perm, payload ? Buffer.from(payload) : Buffer.alloc(0));
  link(r, k);
  return k.serial;
}

export function request_key(t: Task, typeAddr: number, descAddr: number, _callout: number, destId: number): number {
  const type = readType(t, typeAddr);
  if (typeof type === 'number') return type;
  const desc = readStr(t, descAddr);
  if (typeof desc === 'number') return desc;
  // key_type_lookup's answer: request_key says ENOKEY for an unknown type (add_key ENODEV).
  if (type !== 'user' && type !== 'logon' && type !== 'keyring') return -E.ENOKEY;
  for (const r of callerRings(t)) {
    const k = searchRing(r, type, desc);
    if (!k) continue;
    if (destId) {
      const d = ring(t, destId);
      if (typeof d === 'number') return d;
      link(d, k);
    }
    return k.serial;
  }
  return -E.ENOKEY; // no upcall (/sbin/request-key) in the sandbox
}

export function keyctl(t: Task, op: number, a2: number, a3: number, a4: number, a5: number): number {
  switch (op | 0) {
    case GET_KEYRING_ID: {
      const k = key(t, a2, a3 !== 0);
      return typeof k === 'number' ? k : k.serial;
    }
    case JOIN_SESSION_KEYRING: {
      const name = a2 ? readStr(t, a2) : null;
      if (typeof name === 'number') return name;
      return joinSession(t, name).serial;
    }
    case UPDATE: {
      const k = key(t, a2);
      if (typeof k === 'number') return k;
      if (k.type === 'keyring') return -E.EOPNOTSUPP;
      const p = a3 && a4 ? t.mem.read(a3, a4) : null;
      if (a3 && a4 && !p) return -E.EFAULT;
      const bad = checkPayload(k.type, k.description, p);
      if (bad) return bad;
      k.payload = Buffer.from(p!);
      return 0;
    }
    case REVOKE: {
      const k = key(t, a2);
      if (typeof k === 'number') return k;
      k.revoked = true;
      return 0;
    }
    case CHOWN: {
      const k = key(t, a2);
      if (typeof k === 'number') return k;
      if (!capable(t.creds, CAP_SYS_ADMIN) && ((a3 | 0) !== -1 && (a3 | 0) !== k.uid)) return -E.EACCES;
      if ((a3 | 0) !== -1) k.uid = a3 >>> 0;
      if ((a4 | 0) !== -1) k.gid = a4 >>> 0;
      return 0;
    }
    case SETPERM: {
      const k = key(t, a2);
      if (typeof k === 'number') return k;
      if ((a3 >>> 0) & ~0x3f3f3f3f) return -E.EINVAL;
      k.perm = a3 >>> 0;
      return 0;
    }
    case DESCRIBE: {
      const k = key(t, a2);
      if (typeof k === 'number') return k;
      const s = Buffer.from(`${k.type};${k.uid};${k.gid};${k.perm.toString(16).padStart(8, '0')};${k.description}\0`, 'latin1');
      if (a3 && a4 >= s.length && !t.mem.write(a3, s)) return -E.EFAULT;
      return s.length;
    }
    case CLEAR: {
      const r = ring(t, a2, false);
      if (typeof r === 'number') return r;
      r.links.length = 0;
      return 0;
    }
    case LINK: {
      const k = key(t, a2);
      if (typeof k === 'number') return k;
      const r = ring(t, a3);
      if (typeof r === 'number') return r;
      if (k === r || (k.type === 'keyring' && searchRing(k, r.type, r.description) === r)) return -E.EDEADLK;
      link(r, k);
      return 0;
    }
    case UNLINK: {
      const k = key(t, a2);
      if (typeof k === 'number') return k;
      const r = ring(t, a3, false);
      if (typeof r === 'number') return r;
      const i = r.links.indexOf(k);
      if (i < 0) return -E.ENOENT;
      r.links.splice(i, 1);
      return 0;
    }
    case SEARCH: {
      const r = ring(t, a2, false);
      if (typeof r === 'number') return r;
      const type = readStr(t, a3, 32);
      if (typeof type === 'number') return type;
      const desc = readStr(t, a4);
      if (typeof desc === 'number') return desc;
      const k = searchRing(r, type, desc);
      if (!k) return -E.ENOKEY;
      if (a5) {
        const d = ring(t, a5);
        if (typeof d === 'number') return d;
        link(d, k);
      }
      return k.serial;
    }
    case READ: {
      const k = key(t, a2);
      if (typeof k === 'number') return k;
      if (k.type === 'logon') return -E.EOPNOTSUPP;
      let data = k.payload;
      if (k.type === 'keyring') {
        data = Buffer.alloc(k.links.length * 4);
        k.links.forEach((l, i) => data.writeInt32LE(l.serial, i * 4));
      }
      if (a3 && a4 > 0 && !t.mem.write(a3, data.subarray(0, Math.min(a4, data.length)))) return -E.EFAULT;
      return data.length;
    }
    case INVALIDATE: {
      const k = key(t, a2);
      if (typeof k === 'number') return k;
      const n = keysOf(t.kernel);
      n.keys.delete(k.serial);
      k.revoked = true;
      for (const r of n.keys.values()) if (r.type === 'keyring') r.links = r.links.filter((l) => l !== k);
      return 0;
    }
    default:
      return -E.EOPNOTSUPP;
  }
}
