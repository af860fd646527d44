/**
 * The root overlay's upper layer (every file the guest wrote, made, changed or deleted
 * over the host tree) in and out of an image: a walk of its tmpfs tree (directories,
 * files with their bytes, symlinks, device nodes, FIFOs, whiteouts and opaque markers,
 * owners, modes, times, xattrs; hard links kept as one inode). Restored into a fresh
 * Tmpfs that the new overlay is built on, before anything looks a path up in it.
 */
import * as nfs from 'node:fs';
import { OverlayFs } from '../../fs/fsimpl/overlay/overlay';
import { Tmpfs, TmpfsInode } from '../../fs/fsimpl/tmpfs/tmpfs';
import type { Vfs } from '../../fs/vfs/vfs';
import { S_IFDIR, S_IFMT, S_IFREG } from '../abi/fs';
import type { PayloadWriter } from './format';
import { SnapshotError } from './format';
import type { Span } from './image';

export interface UpperNode {
  /** The inode's index: a hard link names an earlier one and has nothing else. */
  id: number;
  name: string;
  parent: number;
  link?: true;
  mode?: number;
  uid?: number;
  gid?: number;
  rdev?: number;
  nlink?: number;
  overlayIno?: number;
  times?: number[];
  size?: number;
  data?: Span;
  target?: string;
  whiteouts?: string[];
  opaque?: boolean;
  xattrs?: Array<[string, Span]>;
  seals?: number;
}

const TIMES = ['atimeSec', 'atimeNsec', 'mtimeSec', 'mtimeNsec', 'ctimeSec', 'ctimeNsec', 'btimeSec', 'btimeNsec'] as const;

function fileBytes(n: TmpfsInode): Buffer {
  if (n.hostFd >= 0) {
    const b = Buffer.alloc(n.size);
    for (let off = 0; off < n.size; ) {
      const r = nfs.readSync(n.hostFd, b, off, n.size - off, off);
      if (r <= 0) break;
      off += r;
    }
    return b;
  }
  const d = n.data ?? Buffer.alloc(0);
  const out = Buffer.alloc(n.size);
  d.copy(out, 0, 0, Math.min(d.length, n.size));
  return out;
}

export function saveUpper(vfs: Vfs, payload: PayloadWriter): UpperNode[] {
  const fs = vfs.rootDentry.inode.fs;
  if (!(fs instanceof OverlayFs)) return [];
  return saveTree(fs.upperFs.root(), payload);
}

/**
 * The sandbox's own tmpfs mounts (/dev/shm, each --tmpfs): their trees, by mount path.
 * Mounts the guest made itself are not recreated at restore (not saved).
 */
export function saveTmpfsMounts(vfs: Vfs, paths: string[], payload: PayloadWriter): Array<{ path: string; nodes: UpperNode[] }> {
  const out: Array<{ path: string; nodes: UpperNode[] }> = [];
  for (const m of vfs.mounts) {
    if (!(m.fs instanceof Tmpfs) || !paths.includes(m.path) || m.root.inode !== m.fs.root()) continue;
    if (out.some((x) => x.path === m.path)) continue; // the first mounted there: what createVfs makes again
    out.push({ path: m.path, nodes: saveTree(m.fs.root() as TmpfsInode, payload) });
  }
  return out;
}

/** Fills the restoring sandbox's tmpfs mounts (made afresh by its VFS) with their saved trees. */
export function restoreTmpfsMounts(vfs: Vfs, saved: Array<{ path: string; nodes: UpperNode[] }>, payload: Buffer): void {
  for (const x of saved) {
    const m = vfs.mounts.find((mm) => mm.path === x.path && mm.fs instanceof Tmpfs);
    if (!m) throw new SnapshotError(`image corrupted (a tmpfs mount at ${x.path} the sandbox does not have)`);
    restoreTree(x.nodes, payload, m.fs as Tmpfs);
  }
}

function saveTree(root: TmpfsInode, payload: PayloadWriter): UpperNode[] {
  const ids = new Map<TmpfsInode, number>();
  const out: UpperNode[] = [];
  const visit = (n: TmpfsInode, name: string, parent: number) => {
    const seen = ids.get(n);
    if (seen !== undefined) {
      out.push({ id: seen, name, parent, link: true });
      return;
    }
    const id = out.length;
    ids.set(n, id);
    const node: UpperNode = {
      id, name, parent, mode: n.mode, uid: n.uid, gid: n.gid, rdev: n.rdev, nlink: n.nlink, overlayIno: n.overlayIno,
      times: TIMES.map((k) => n[k]), seals: n.seals,
    };
    if ((n.mode & S_IFMT) === S_IFREG) {
      const b = fileBytes(n);
      node.size = n.size;
      node.data = { off: payload.add(b), len: b.length };
    }
    if (n.target) node.target = n.target;
    if (n.whiteouts?.size) node.whiteouts = [...n.whiteouts];
    if (n.opaque) node.opaque = true;
    if (n.xattrs?.size) node.xattrs = [...n.xattrs].map(([k, v]) => [k, { off: payload.add(v), len: v.length }]);
    out.push(node);
    if (n.children) for (const [child, c] of n.children) visit(c, child, id);
  };
  visit(root, '', -1);
  return out;
}

/** A Tmpfs holding the saved upper layer, for the restoring sandbox's overlay. */
export function restoreUpper(nodes: UpperNode[], payload: Buffer): Tmpfs {
  return restoreTree(nodes, payload, new Tmpfs({ mode: 0o755 }));
}

/** A saved tree into upper (its root takes the saved root's attributes). */
function restoreTree(nodes: UpperNode[], payload: Buffer, upper: Tmpfs): Tmpfs {
  const made: TmpfsInode[] = [];
  const bytes = (s: Span) => {
    if (s.off + s.len > payload.length) throw new SnapshotError('image corrupted (file data past the payload)');
    return payload.subarray(s.off, s.off + s.len);
  };
  for (const n of nodes) {
    if (n.link) {
      const target = made[n.id], parent = made[n.parent];
      if (!target || !parent?.children) throw new SnapshotError('image corrupted (a hard link without its file)');
      parent.children.set(n.name, target);
      continue;
    }
    const inode = n.parent < 0 ? upper.root() : new TmpfsInode(upper, n.mode!, n.uid!, n.gid!);
    inode.mode = n.mode!;
    inode.uid = n.uid!;
    inode.gid = n.gid!;
    if ((inode.mode & S_IFMT) === S_IFDIR) inode.children ??= new Map();
    if (n.data) {
      const r = inode.writeData(bytes(n.data), 0);
      if (r < 0) throw new SnapshotError(`cannot restore the file data of the overlay (errno ${-r})`);
      inode.size = n.size!;
    }
    if (n.target !== undefined) inode.target = n.target;
    if (n.whiteouts) inode.whiteouts = new Set(n.whiteouts);
    inode.opaque = n.opaque === true;
    if (n.xattrs) inode.xattrs = new Map(n.xattrs.map(([k, s]) => [k, Buffer.from(bytes(s))]));
    inode.rdev = n.rdev ?? 0;
    inode.nlink = n.nlink ?? 1;
    inode.overlayIno = n.overlayIno ?? 0;
    inode.seals = n.seals ?? 0;
    TIMES.forEach((k, i) => { inode[k] = n.times?.[i] ?? 0; });
    if (n.parent >= 0) {
      const parent = made[n.parent];
      if (!parent?.children) throw new SnapshotError('image corrupted (a file without its directory)');
      parent.children.set(n.name, inode);
    }
    made[n.id] = inode;
  }
  return upper;
}
