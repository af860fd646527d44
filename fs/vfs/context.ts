/**
 * Per-process filesystem context (struct fs_struct): root (chroot), cwd and umask.
 * fork() copies it; CLONE_FS shares the same object (the caller's decision).
 */
import type { Dentry } from './dentry';
import type { MntNs } from './mount-ns';

export class FsContext {
  /** The mount namespace its paths resolve in (fs/vfs/mount-ns.ts); null: the initial one. */
  mntNs: MntNs = null;

  constructor(
    public root: Dentry,
    public cwd: Dentry,
    public umask = 0o022,
  ) {}

  fork(): FsContext {
    const f = new FsContext(this.root, this.cwd, this.umask);
    f.mntNs = this.mntNs;
    return f;
  }
}
