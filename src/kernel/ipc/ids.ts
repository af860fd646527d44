/**
 * What SysV shared memory, semaphores and message queues share: an id table per kind
 * (ids as Linux hands them out: a cyclic index plus a sequence number times 32768),
 * keys, the permission check (ipcperms) and the owner check of IPC_SET/IPC_RMID, and the
 * `struct ipc64_perm` they all report. One namespace per sandbox (`ipcNamespace(kernel)`).
 */
import { EACCES, EEXIST, EINVAL, ENOENT, ENOSPC, EPERM } from '../../abi/errno';
import type { Credentials } from '../../auth/credentials';
import { capable, CAP_SYS_ADMIN } from '../../auth/capabilities';
import type { Kernel } from '../kernel';

export const IPC_PRIVATE = 0;
export const IPC_CREAT = 0o1000, IPC_EXCL = 0o2000, IPC_NOWAIT = 0o4000;
export const IPC_RMID = 0, IPC_SET = 1, IPC_STAT = 2, IPC_INFO = 3;
const CAP_IPC_OWNER = 15;
const SEQ_MULTIPLIER = 32768; // 1 << IPCMNI_SHIFT
const IPC_MIN_CYCLE = 64; // RADIX_TREE_MAP_SIZE
const SEQ_MAX = Math.floor(0x7fffffff / SEQ_MULTIPLIER);

/** kern_ipc_perm: key, owner, creator, mode (low 9 bits: rwx for user/group/other). */
export interface IpcObject {
  key: number;
  uid: number;
  gid: number;
  readonly cuid: number;
  readonly cgid: number;
  mode: number;
  seq: number;
  idx: number;
  /** Removed (IPC_RMID): the id no longer resolves. */
  deleted: boolean;
}

export function idOf(o: IpcObject): number {
  return o.seq * SEQ_MULTIPLIER + o.idx;
}

export function nowSec(): number {
  return Math.floor(Date.now() / 1000);
}

/** One kind's table (ipc_ids). */
export class IpcIds<T extends IpcObject> {
  private readonly byIdx = new Map<number, T>();
  private seq = 0;
  private lastIdx = -1;
  private nextIdx = 0;

  constructor(readonly mni: number) {}

  get inUse(): number {
    return this.byIdx.size;
  }

  /** ipc_idr_alloc: the next free index after the last one given (cyclic below max(in_use*3/2, 64)). */
  add(o: T): number {
    if (this.byIdx.size >= this.mni) return -ENOSPC;
    const max = Math.min(Math.max(Math.floor((this.byIdx.size * 3) / 2), IPC_MIN_CYCLE), this.mni);
    let idx = -1;
    for (let i = 0; i < max; i++) {
      const c = (this.nextIdx + i) % max;
      if (!this.byIdx.has(c)) {
        idx = c;
        break;
      }
    }
    if (idx < 0) return -ENOSPC;
    if (idx <= this.lastIdx) {
      this.seq++;
      if (this.seq >= SEQ_MAX) this.seq = 0;
    }
    this.lastIdx = idx;
    this.nextIdx = idx + 1;
    o.idx = idx;
    o.seq = this.seq;
    this.byIdx.set(idx, o);
    return idOf(o);
  }

  remove(o: T): void {
    o.deleted = true;
    if (this.byIdx.get(o.idx) === o) this.byIdx.delete(o.idx);
  }

  /** By id: the index must be in use and its sequence number match (else EINVAL). */
  get(id: number): T | undefined {
    if (id < 0) return undefined;
    const o = this.byIdx.get(id % SEQ_MULTIPLIER);
    return o && o.seq === Math.floor(id / SEQ_MULTIPLIER) ? o : undefined;
  }

  /** By index (SHM_STAT and friends). */
  at(idx: number): T | undefined {
    return this.byIdx.get(idx);
  }

  byKey(key: number): T | undefined {
    for (const o of this.byIdx.values()) if (o.key === key) return o;
    return undefined;
  }

  /** ipc_get_maxidx: the highest index in use, 0 when none. */
  maxIdx(): number {
    let m = 0;
    for (const i of this.byIdx.keys()) if (i > m) m = i;
    return m;
  }

  all(): T[] {
    return [...this.byIdx.values()].sort((a, b) => a.idx - b.idx);
  }
}

/**
 * ipcget: find by key or create. `make` builds a new object (or -errno: a size or count
 * check); `fits` checks an existing one against the request (-errno or 0). Returns the id.
 */
export function ipcGet<T extends IpcObject>(
  ids: IpcIds<T>, key: number, flg: number, creds: Credentials,
  make: (perm: IpcObject) => T | number, fits: (o: T) => number,
): number {
  const create = (): number => {
    const perm: IpcObject = {
      key, uid: creds.euid, gid: creds.egid, cuid: creds.euid, cgid: creds.egid, mode: flg & 0o777, seq: 0, idx: 0,
      deleted: false,
    };
    const o = make(perm);
    if (typeof o === 'number') return o;
    return ids.add(o);
  };
  if (key === IPC_PRIVATE) return create();
  const o = ids.byKey(key);
  if (!o) return flg & IPC_CREAT ? create() : -ENOENT;
  if ((flg & IPC_CREAT) && (flg & IPC_EXCL)) return -EEXIST;
  // ipcget_public: the kind's own checks come before the permission check.
  const e = fits(o);
  if (e < 0) return e;
  return ipcPerms(o, creds, flg) ? idOf(o) : -EACCES;
}

/** ipcperms: the rwx bits asked (flag's low 9 bits, any class) against the caller's class. */
export function ipcPerms(o: IpcObject, c: Credentials, flag: number): boolean {
  const requested = ((flag >> 6) | (flag >> 3) | flag) & 7;
  let granted = o.mode;
  if (c.euid === o.cuid || c.euid === o.uid) granted >>= 6;
  else if (c.inGroup(o.cgid) || c.inGroup(o.gid)) granted >>= 3;
  return (requested & ~granted & 7) === 0 || capable(c, CAP_IPC_OWNER);
}

/** IPC_SET / IPC_RMID: the owner, the creator or CAP_SYS_ADMIN (else EPERM). */
export function ipcOwner(o: IpcObject, c: Credentials): number {
  return c.euid === o.cuid || c.euid === o.uid || capable(c, CAP_SYS_ADMIN) ? 0 : -EPERM;
}

/** struct ipc64_perm, 48 bytes, at off. `modeExtra`: kind-specific mode bits (SHM_DEST...). */
export function writePerm(b: Buffer, off: number, o: IpcObject, modeExtra = 0): void {
  b.writeInt32LE(o.key | 0, off);
  b.writeUInt32LE(o.uid >>> 0, off + 4);
  b.writeUInt32LE(o.gid >>> 0, off + 8);
  b.writeUInt32LE(o.cuid >>> 0, off + 12);
  b.writeUInt32LE(o.cgid >>> 0, off + 16);
  b.writeUInt32LE((o.mode | modeExtra) >>> 0, off + 20);
  b.writeUInt16LE(o.seq & 0xffff, off + 24);
}

/** IPC_SET: uid, gid and the low 9 mode bits from a struct ipc64_perm. */
export function setPerm(o: IpcObject, b: Buffer, off: number): number {
  const uid = b.readUInt32LE(off + 4), gid = b.readUInt32LE(off + 8);
  if (uid === 0xffffffff || gid === 0xffffffff) return -EINVAL;
  o.uid = uid;
  o.gid = gid;
  o.mode = (o.mode & ~0o777) | (b.readUInt32LE(off + 20) & 0o777);
  return 0;
}

/** An IPC namespace's tables, created on first use. */
const namespaces = new WeakMap<object, Map<string, unknown>>();
/** k: the IPC namespace (src/kernel/namespaces: the Kernel stands for the initial one). */
export function ipcTable<T>(k: object, kind: string, make: () => T): T {
  let m = namespaces.get(k);
  if (!m) namespaces.set(k, (m = new Map()));
  let v = m.get(kind) as T | undefined;
  if (v === undefined) m.set(kind, (v = make()));
  return v;
}
