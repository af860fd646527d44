/**
 * The root filesystem: a read-only lower layer (the host tree) under a tmpfs upper layer.
 * Every change lands in the upper layer: a lower file is copied up before its first
 * write or attribute change, a deleted lower name leaves a whiteout (kept as a set on
 * the upper directory), a directory re-created over a whiteout is opaque. Nothing ever
 * reaches the host.
 *
 * Overlay inodes are cached per directory (kids) so one name always maps to one
 * OverlayInode: copy-up then updates the very object dentries and open files hold.
 * Like Linux overlayfs without redirect_dir, renaming a directory that exists in the
 * lower layer fails with EXDEV (mv then copies).
 */
import * as E from '../../../src/abi/errno';
import type { Credentials } from '../../../src/auth/credentials';
import {
  S_IFMT, S_IFDIR, S_IFREG, S_IFLNK, O_ACCMODE, O_RDONLY, O_TRUNC, RENAME_EXCHANGE, RENAME_NOREPLACE,
} from '../../../src/abi/fs';
import { FileSystem, Inode, type Stat, type DirEntry, type SetAttr } from '../../vfs/inode';
import { DirFile, type FileDescription } from '../../vfs/file';
import { Tmpfs, TmpfsInode } from '../tmpfs/tmpfs';

export class OverlayFs extends FileSystem {
  readonly magic = 0x794c7630; // OVERLAYFS_SUPER_MAGIC
  readonly type = 'overlay';
  readonly upperFs: Tmpfs;
  private readonly rootInode: OverlayInode;

  constructor(lowerRoot: Inode, upper = new Tmpfs({ mode: lowerRoot.mode & 0o7777 })) {
    super();
    this.source = 'overlay';
    this.upperFs = upper;
    const u = upper.root();
    u.mode = (u.mode & S_IFMT) | (lowerRoot.mode & 0o7777);
    u.uid = lowerRoot.uid;
    u.gid = lowerRoot.gid;
    const ls = lowerRoot.stat();
    if (typeof ls !== 'number') {
      u.atimeSec = ls.atimeSec; u.atimeNsec = ls.atimeNsec;
      u.mtimeSec = ls.mtimeSec; u.mtimeNsec = ls.mtimeNsec;
      u.ctimeSec = ls.ctimeSec; u.ctimeNsec = ls.ctimeNsec;
    }
    this.rootInode = new OverlayInode(this, u, lowerRoot, null, '');
  }
  root(): OverlayInode {
    return this.rootInode;
  }
  override statfsNumbers(): number[] {
    const l = this.rootInode.lower;
    return l ? l.fs.statfsNumbers() : this.upperFs.statfsNumbers();
  }
}

/** Minimal credentials to create upper copies with the lower owner. */
function ownerCreds(uid: number, gid: number): Credentials {
  return { fsuid: uid, fsgid: gid } as Credentials;
}

const COPY_CHUNK = 1 << 20;

export class OverlayInode extends Inode {
  readonly ino: number;
  private kids: Map<string, OverlayInode> | null = null;

  constructor(
    readonly fs: OverlayFs,
    public upper: TmpfsInode | null,
    public lower: Inode | null,
    public parent: OverlayInode | null,
    public name: string,
  ) {
    super();
    // The lower inode number stays across copy-up, as overlayfs with xino does.
    this.ino = lower ? lower.ino : upper!.overlayIno || upper!.ino;
  }

  private get real(): Inode {
    return this.upper ?? this.lower!;
  }
  get mode(): number {
    return this.real.mode;
  }
  get uid(): number {
    return this.real.uid;
  }
  get gid(): number {
    return this.real.gid;
  }

  stat(): Stat | number {
    const st = this.real.stat();
    if (typeof st === 'number') return st;
    if (this.upper !== null && this.lower !== null && this.upper.isDir) {
      // A merged directory: attributes from the upper copy, link count and size from the host's.
      const ls = this.lower.stat();
      if (typeof ls !== 'number') {
        st.nlink = ls.nlink + Math.max(0, this.upper.nlink - 2);
        st.size = ls.size;
        st.blocks = ls.blocks;
      }
    }
    st.dev = this.fs.dev;
    st.ino = this.ino;
    return st;
  }

  override lookup(name: string): Inode | number {
    if (!this.isDir) return -E.ENOTDIR;
    const cached = this.kids?.get(name);
    if (cached) return cached;
    const up = this.upper;
    let u: TmpfsInode | null = null;
    if (up !== null) {
      u = up.children!.get(name) ?? null;
      if (u === null && up.whiteouts?.has(name)) return -E.ENOENT;
    }
    let l: Inode | null = null;
    const lowerVisible = this.lower !== null && !(up !== null && up.opaque);
    if (lowerVisible && (u === null || (u.isDir && !u.opaque))) {
      const r = this.lower!.lookup(name);
      if (typeof r === 'number') {
        if (u === null) return r;
      } else if (u === null || r.isDir) {
        l = r;
      }
    }
    if (u === null && l === null) return -E.ENOENT;
    const o = new OverlayInode(this.fs, u, l, this, name);
    (this.kids ??= new Map()).set(name, o);
    return o;
  }

  override readdir(): DirEntry[] | number {
    if (!this.isDir) return -E.ENOTDIR;
    const up = this.upper;
    const out: DirEntry[] = [];
    let lowerIno: Map<string, number> | null = null;
    if (this.lower !== null && !(up !== null && up.opaque)) {
      const ll = this.lower.readdir();
      if (typeof ll === 'number') return ll;
      if (up === null) return ll; // (a lower directory alone: its listing as it is; find /usr reads 15 000)
      lowerIno = new Map();
      for (const e of ll) {
        if (up !== null && (up.whiteouts?.has(e.name) || up.children!.has(e.name))) {
          lowerIno.set(e.name, e.ino);
          continue;
        }
        out.push(e);
      }
    }
    if (up !== null) {
      for (const [name, c] of up.children!) {
        out.push({ name, ino: lowerIno?.get(name) ?? (c.overlayIno || c.ino), type: c.dtype });
      }
    }
    return out;
  }

  /** Makes sure this inode exists in the upper layer (copying parents first). */
  copyUp(truncate = false): number {
    if (this.upper !== null) return 0;
    const p = this.parent!;
    const r = p.copyUp();
    if (r < 0) return r;
    const low = this.lower!;
    const st = low.stat();
    if (typeof st === 'number') return st;
    const pu = p.upper!;
    const creds = ownerCreds(st.uid, st.gid);
    let made: Inode | number;
    switch (st.mode & S_IFMT) {
      case S_IFDIR:
        made = pu.mkdir(this.name, st.mode & 0o7777, creds);
        break;
      case S_IFLNK: {
        const target = low.readlink();
        if (typeof target === 'number') return target;
        made = pu.symlink(this.name, target, creds);
        break;
      }
      default:
        made = pu.mknod(this.name, st.mode, creds, st.rdev);
    }
    if (typeof made === 'number') return made;
    const u = made as TmpfsInode;
    if ((st.mode & S_IFMT) === S_IFREG && !truncate && st.size > 0) {
      const f = low.open(O_RDONLY);
      if (typeof f === 'number') {
        pu.unlink(this.name);
        return f;
      }
      try {
        const chunk = Buffer.allocUnsafe(Math.min(COPY_CHUNK, st.size));
        for (let pos = 0; ; ) {
          const n = f.pread(chunk, pos);
          if (n < 0) {
            pu.unlink(this.name);
            return n;
          }
          if (n === 0) break;
          u.writeData(n === chunk.length ? chunk : chunk.subarray(0, n), pos);
          pos += n;
        }
      } finally {
        f.decRef();
      }
    }
    u.overlayIno = this.ino;
    u.mode = st.mode;
    u.uid = st.uid;
    u.gid = st.gid;
    u.atimeSec = st.atimeSec; u.atimeNsec = st.atimeNsec;
    u.mtimeSec = st.mtimeSec; u.mtimeNsec = st.mtimeNsec;
    this.upper = u;
    return 0;
  }

  private lowerHas(name: string): boolean {
    if (this.lower === null || (this.upper !== null && this.upper.opaque)) return false;
    return typeof this.lower.lookup(name) !== 'number';
  }

  /** Common path of mknod/mkdir/symlink: copy up, create in upper, cache the new child. */
  private create(name: string, make: (u: TmpfsInode) => Inode | number, isDir: boolean): Inode | number {
    const ex = this.lookup(name);
    if (typeof ex !== 'number') return -E.EEXIST;
    if (ex !== -E.ENOENT) return ex;
    const r = this.copyUp();
    if (r < 0) return r;
    const up = this.upper!;
    const hidden = up.whiteouts?.has(name) === true || this.lowerHas(name);
    const made = make(up);
    if (typeof made === 'number') return made;
    if (isDir && hidden) (made as TmpfsInode).opaque = true;
    const o = new OverlayInode(this.fs, made as TmpfsInode, null, this, name);
    (this.kids ??= new Map()).set(name, o);
    return o;
  }

  override mknod(name: string, mode: number, creds: Credentials, rdev: number): Inode | number {
    return this.create(name, (u) => u.mknod(name, mode, creds, rdev), false);
  }
  override mkdir(name: string, mode: number, creds: Credentials): Inode | number {
    return this.create(name, (u) => u.mkdir(name, mode, creds), true);
  }
  override symlink(name: string, target: string, creds: Credentials): Inode | number {
    return this.create(name, (u) => u.symlink(name, target, creds), false);
  }

  override link(name: string, target: Inode): number {
    if (!(target instanceof OverlayInode) || target.fs !== this.fs) return -E.EXDEV;
    const ex = this.lookup(name);
    if (typeof ex !== 'number') return -E.EEXIST;
    if (ex !== -E.ENOENT) return ex;
    let r = target.copyUp();
    if (r < 0) return r;
    r = this.copyUp();
    if (r < 0) return r;
    r = this.upper!.link(name, target.upper!);
    if (r < 0) return r;
    this.kids?.delete(name);
    return 0;
  }

  /** Removes name from the upper layer and whites it out if the lower layer has it. */
  private remove(name: string, c: OverlayInode): number {
    const r = this.copyUp();
    if (r < 0) return r;
    const up = this.upper!;
    if (c.upper !== null) {
      if (c.isDir) {
        c.upper.whiteouts = null;
        const rr = up.rmdir(name);
        if (rr < 0) return rr;
      } else {
        const rr = up.unlink(name);
        if (rr < 0) return rr;
      }
    }
    if (c.lower !== null || this.lowerHas(name)) {
      (up.whiteouts ??= new Set()).add(name);
      up.touch(true, true);
    }
    this.kids?.delete(name);
    return 0;
  }

  /** Makes name not exist here, file or non-empty directory (a policy's `filesystem.hide`): a whiteout. */
  hide(name: string): number {
    const c = this.lookup(name);
    if (typeof c === 'number') return c;
    return this.remove(name, c as OverlayInode);
  }

  override unlink(name: string): number {
    const c = this.lookup(name);
    if (typeof c === 'number') return c;
    if (c.isDir) return -E.EISDIR;
    return this.remove(name, c as OverlayInode);
  }

  override rmdir(name: string): number {
    const c = this.lookup(name);
    if (typeof c === 'number') return c;
    if (!c.isDir) return -E.ENOTDIR;
    const ents = c.readdir();
    if (typeof ents === 'number') return ents;
    if (ents.length > 0) return -E.ENOTEMPTY;
    return this.remove(name, c as OverlayInode);
  }

  override rename(oldName: string, newDirI: Inode, newName: string, flags: number): number {
    if (!(newDirI instanceof OverlayInode) || newDirI.fs !== this.fs) return -E.EXDEV;
    const newDir = newDirI;
    const s = this.lookup(oldName);
    if (typeof s === 'number') return s;
    const src = s as OverlayInode;
    const d = newDir.lookup(newName);
    if (typeof d === 'number' && d !== -E.ENOENT) return d;
    const dst = typeof d === 'number' ? null : (d as OverlayInode);
    if (dst === src) return 0;
    if (src.isDir && src.lower !== null) return -E.EXDEV;
    if (flags & RENAME_EXCHANGE) {
      if (dst === null) return -E.ENOENT;
      if (dst.isDir && dst.lower !== null) return -E.EXDEV;
    } else if (dst !== null) {
      if (flags & RENAME_NOREPLACE) return -E.EEXIST;
      if (src.isDir && !dst.isDir) return -E.ENOTDIR;
      if (!src.isDir && dst.isDir) return -E.EISDIR;
      if (dst.isDir) {
        const ents = dst.readdir();
        if (typeof ents === 'number') return ents;
        if (ents.length > 0) return -E.ENOTEMPTY;
      }
    }
    let r = src.copyUp();
    if (r < 0) return r;
    if (dst !== null && flags & RENAME_EXCHANGE) {
      r = dst.copyUp();
      if (r < 0) return r;
    }
    r = this.copyUp();
    if (r < 0) return r;
    r = newDir.copyUp();
    if (r < 0) return r;
    const nup = newDir.upper!;
    const srcWasLower = src.lower !== null || this.lowerHas(oldName);
    const hidesLower = newDir.lowerHas(newName) || nup.whiteouts?.has(newName) === true;
    if (dst !== null && dst.isDir && dst.upper !== null) dst.upper.whiteouts = null;
    r = this.upper!.rename(oldName, nup, newName, flags & RENAME_EXCHANGE);
    if (r < 0) return r;
    if (flags & RENAME_EXCHANGE) {
      // Both names still exist; just swap the cached objects.
      this.kids!.set(oldName, dst!);
      newDir.kids!.set(newName, src);
      dst!.parent = this;
      dst!.name = oldName;
    } else {
      if (src.isDir && hidesLower) src.upper!.opaque = true;
      if (srcWasLower) (this.upper!.whiteouts ??= new Set()).add(oldName);
      this.kids?.delete(oldName);
      (newDir.kids ??= new Map()).set(newName, src);
      // The moved object now only exists in the upper layer.
      src.lower = src.isDir ? null : src.lower;
    }
    src.parent = newDir;
    src.name = newName;
    return 0;
  }

  override readlink(): string | number {
    return this.real.readlink();
  }
  override setattr(a: SetAttr): number {
    const r = this.copyUp(a.size === 0);
    if (r < 0) return r;
    return this.upper!.setattr(a);
  }
  override open(flags: number): FileDescription | number {
    if (this.isDir) return new DirFile(this, flags);
    if ((this.mode & S_IFMT) === S_IFREG && ((flags & O_ACCMODE) !== O_RDONLY || flags & O_TRUNC)) {
      const r = this.copyUp((flags & O_TRUNC) !== 0);
      if (r < 0) return r;
    }
    return this.real.open(flags);
  }
  override getxattr(name: string): Buffer | number {
    return this.real.getxattr(name);
  }
  override listxattr(): string[] | number {
    return this.real.listxattr();
  }
  override setxattr(name: string, value: Buffer, flags: number): number {
    const r = this.copyUp();
    return r < 0 ? r : this.upper!.setxattr(name, value, flags);
  }
  override removexattr(name: string): number {
    const r = this.copyUp();
    return r < 0 ? r : this.upper!.removexattr(name);
  }
}
