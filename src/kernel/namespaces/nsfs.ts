/**
 * nsfs: the files behind /proc/PID/ns/* links. Each namespace has one inode whose
 * number is the namespace's (so `stat -L` and `readlink` agree with Linux's
 * "user:[4026531837]" form); opening it gives a description that setns(2) takes.
 */
import { FileSystem, Inode, emptyStat, type Stat } from '../../../fs/vfs/inode';
import { FileDescription } from '../../../fs/vfs/file';
import { Dentry } from '../../../fs/vfs/dentry';
import { INIT_NS_INO } from '../../auth/userns';
import type { Task } from '../task';
import { nsOf } from './types';

export const NSFS_MAGIC = 0x6e736673;

class NsFs extends FileSystem {
  readonly magic = NSFS_MAGIC;
  readonly type = 'nsfs';
  root(): Inode {
    throw new Error('nsfs has no root');
  }
}
const nsFs = new NsFs();
nsFs.source = 'nsfs';

export type NsKind = 'cgroup' | 'ipc' | 'mnt' | 'net' | 'pid' | 'time' | 'user' | 'uts';

/** The namespace object a link names: null stands for an initial namespace of a kind that has no object. */
export interface NsRef {
  kind: NsKind;
  ns: object | null;
  ino: number;
}

class NsInode extends Inode {
  readonly fs = nsFs;
  readonly mode = 0o100444;
  readonly uid = 0;
  readonly gid = 0;
  constructor(readonly ref: NsRef) {
    super();
  }
  get ino(): number {
    return this.ref.ino;
  }
  stat(): Stat {
    const st = emptyStat();
    st.dev = nsFs.dev;
    st.ino = this.ref.ino;
    st.mode = this.mode;
    st.nlink = 1;
    st.blksize = 4096;
    return st;
  }
  override open(flags: number): FileDescription | number {
    return new NsFile(this, flags);
  }
}

/** An open namespace file: what setns(fd, nstype) joins. */
export class NsFile extends FileDescription {
  constructor(readonly nsInode: NsInode, flags: number) {
    super(nsInode, flags);
  }
  get ref(): NsRef {
    return this.nsInode.ref;
  }
}

const inodes = new WeakMap<object, NsInode>();
const initialInodes = new Map<number, NsInode>();
function inodeOf(ref: NsRef): NsInode {
  if (ref.ns === null || !('ino' in ref.ns)) {
    let i = initialInodes.get(ref.ino);
    if (!i) initialInodes.set(ref.ino, (i = new NsInode({ ...ref, ns: null })));
    return i;
  }
  let i = inodes.get(ref.ns);
  if (!i) inodes.set(ref.ns, (i = new NsInode(ref)));
  return i;
}

function ref(kind: NsKind, ns: object | null, initIno: number): NsRef {
  const own = ns !== null && 'ino' in ns ? (ns as { ino: number }).ino : initIno;
  return { kind, ns: own === initIno ? null : ns, ino: own };
}

/** The namespaces of t, by the names /proc/PID/ns lists. */
export function nsRefs(t: Task): Array<[string, NsRef]> {
  const s = nsOf(t);
  return [
    ['cgroup', ref('cgroup', s.cgroup, INIT_NS_INO.cgroup)],
    ['ipc', ref('ipc', s.ipc, INIT_NS_INO.ipc)],
    ['mnt', ref('mnt', t.fsCtx.mntNs, INIT_NS_INO.mnt)],
    ['net', ref('net', s.net, INIT_NS_INO.net)],
    ['pid', ref('pid', s.pid, INIT_NS_INO.pid)],
    ['pid_for_children', ref('pid', s.pidForChildren, INIT_NS_INO.pid)],
    ['time', ref('time', null, 4026531834)],
    ['time_for_children', ref('time', null, 4026531834)],
    ['user', ref('user', t.creds.userns, INIT_NS_INO.user)],
    ['uts', ref('uts', s.uts, INIT_NS_INO.uts)],
  ];
}

/** What readlink shows: "user:[4026531837]". */
export function nsLinkText(r: NsRef): string {
  return `${r.kind}:[${r.ino}]`;
}

/** The dentry a /proc/PID/ns link jumps to (a magic link, like /proc/PID/fd/N). */
export function nsDentry(r: NsRef): Dentry {
  return new Dentry(nsLinkText(r), null, inodeOf(r));
}

/** The namespace an nsfs inode stands for (a bind mount of /proc/PID/ns/*), if it is one. */
export function nsRefOf(inode: Inode): NsRef | null {
  return inode instanceof NsInode ? inode.ref : null;
}
