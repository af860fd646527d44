/**
 * Per-process filesystem context (struct fs_struct): root (chroot), cwd and umask.
 * fork() copies it; CLONE_FS shares the same object (the caller's decision).
 */
import type { Dentry } from './dentry';

export class FsContext {
  constructor(
    public root: Dentry,
    public cwd: Dentry,
    public umask = 0o022,
  ) {}

  fork(): FsContext {
    return new FsContext(this.root, this.cwd, this.umask);
  }
}
