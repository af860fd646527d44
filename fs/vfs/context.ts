/**
 * Per-process filesystem context (struct fs_struct): root (chroot), cwd and umask.
 * fork() copies it; CLONE_FS shares the same object (the caller's decision).
 * Its root and cwd hold their inodes (Inode.holds): a host tree keeps the very object
 * of a directory a process stands in. A context that goes (its process exits) does not
 * say so: what it held stays held, the safe side.
 */
import type { Dentry } from './dentry';
import type { MntNs } from './mount-ns';

export class FsContext {
  /** The mount namespace its paths resolve in (fs/vfs/mount-ns.ts); null: the initial one. */
  mntNs: MntNs = null;
  private r: Dentry;
  private c: Dentry;

  constructor(
    root: Dentry,
    cwd: Dentry,
    public umask = 0o022,
  ) {
    root.inode.holds++;
    cwd.inode.holds++;
    this.r = root;
    this.c = cwd;
  }

  get root(): Dentry {
    return this.r;
  }
  set root(d: Dentry) {
    this.r = moveHold(this.r, d);
  }
  get cwd(): Dentry {
    return this.c;
  }
  set cwd(d: Dentry) {
    this.c = moveHold(this.c, d);
  }

  fork(): FsContext {
    const f = new FsContext(this.r, this.c, this.umask);
    f.mntNs = this.mntNs;
    return f;
  }
}

/** d now holds its inode in place of old: d. */
function moveHold(old: Dentry, d: Dentry): Dentry {
  d.inode.holds++;
  old.inode.holds--;
  return d;
}
