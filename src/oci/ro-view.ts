/**
 * A read-only view of a filesystem that has no second instance of its own (a tmpfs:
 * its pages are in this Sentry only): the same inodes seen through wrappers whose
 * filesystem is read-only, so every write through the view is EROFS (the VFS checks the
 * inode's filesystem) while the files stay live: what is written elsewhere in the tmpfs
 * shows in the view. Serves `linux.readonlyPaths` inside a tmpfs (masks.ts), as runc's
 * read-only bind of the path on itself does.
 */
import { FileSystem, Inode, type DirEntry, type SetAttr, type Stat } from '../../fs/vfs/inode';
import type { FileDescription } from '../../fs/vfs/file';
import type { Credentials } from '../auth/credentials';
import { EROFS } from '../abi/errno';

export class ReadonlyView extends FileSystem {
  readonly magic: number;
  readonly type: string;
  private readonly wrapped = new WeakMap<Inode, ReadonlyInode>();

  constructor(readonly inner: FileSystem) {
    super();
    this.magic = inner.magic;
    this.type = inner.type;
    this.source = inner.source;
    this.cacheable = inner.cacheable;
    this.readonly = true;
  }

  root(): Inode {
    return this.wrap(this.inner.root());
  }

  /** One wrapper per inode (a dentry, a hard link: the same object each time). */
  wrap(i: Inode): ReadonlyInode {
    let w = this.wrapped.get(i);
    if (w === undefined) {
      w = new ReadonlyInode(this, i);
      this.wrapped.set(i, w);
    }
    return w;
  }

  override statfsNumbers(): number[] {
    return this.inner.statfsNumbers();
  }
}

class ReadonlyInode extends Inode {
  constructor(readonly fs: ReadonlyView, private readonly inner: Inode) {
    super();
  }
  get ino(): number {
    return this.inner.ino;
  }
  get mode(): number {
    return this.inner.mode;
  }
  get uid(): number {
    return this.inner.uid;
  }
  get gid(): number {
    return this.inner.gid;
  }
  stat(): Stat | number {
    return this.inner.stat();
  }
  override lookup(name: string): Inode | number {
    const r = this.inner.lookup(name);
    return typeof r === 'number' ? r : this.fs.wrap(r);
  }
  override readdir(): DirEntry[] | number {
    return this.inner.readdir();
  }
  override readlink(): string | number {
    return this.inner.readlink();
  }
  /** The VFS refused every open for writing already (the view is read-only). */
  override open(flags: number): FileDescription | number {
    return this.inner.open(flags);
  }
  override getxattr(name: string): Buffer | number {
    return this.inner.getxattr(name);
  }
  override listxattr(): string[] | number {
    return this.inner.listxattr();
  }
  override mknod(_n: string, _m: number, _c: Credentials, _r: number): Inode | number {
    return -EROFS;
  }
  override mkdir(_n: string, _m: number, _c: Credentials): Inode | number {
    return -EROFS;
  }
  override symlink(_n: string, _t: string, _c: Credentials): Inode | number {
    return -EROFS;
  }
  override link(_n: string, _t: Inode): number {
    return -EROFS;
  }
  override unlink(_n: string): number {
    return -EROFS;
  }
  override rmdir(_n: string): number {
    return -EROFS;
  }
  override rename(_o: string, _d: Inode, _n: string, _f: number): number {
    return -EROFS;
  }
  override setattr(_a: SetAttr): number {
    return -EROFS;
  }
  override setxattr(_n: string, _v: Buffer, _f: number): number {
    return -EROFS;
  }
  override removexattr(_n: string): number {
    return -EROFS;
  }
}
