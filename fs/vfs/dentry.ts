/**
 * Dentries: the name tree the path walk moves through. A dentry names an inode inside
 * its parent; mounts are links between a covered dentry (`mounted`) and the root dentry
 * of the mounted filesystem (`mountpoint` back-link), so ".." and getcwd cross mounts.
 * Filesystems whose content only changes through the VFS (tmpfs, overlay, dev) cache
 * children here, including negative entries (null), which makes repeated lookups
 * (the dynamic loader's probing) cheap. /proc is not cached.
 */
import type { Inode } from './inode';
import type { Mount } from './mount';

export class Dentry {
  /** Cached children: name -> dentry, or null for a known-absent name. */
  children: Map<string, Dentry | null> | null = null;
  /** Root dentry of the filesystem mounted on top of this one, if any. */
  mounted: Dentry | null = null;
  /** On the way to a mount point (kept by uncached filesystems like one: /sys/fs before /sys/fs/cgroup). */
  onMountPath = false;
  /** For the root dentry of a mounted filesystem: the dentry it covers. */
  mountpoint: Dentry | null = null;
  /** Set by unlink/rmdir: getcwd and /proc/pid/fd append " (deleted)". */
  deleted = false;
  /** The mount this dentry is seen through (its flags: read-only, nodev...); a child inherits it. */
  mnt: Mount | null;

  constructor(
    public name: string,
    public parent: Dentry | null,
    public inode: Inode,
  ) {
    this.mnt = parent === null ? null : parent.mnt;
  }

  /** inode.dirGen when children was last known right. */
  private gen = 0;

  /**
   * The directory changed through this dentry (the caller keeps children right): other
   * dentries of the same inode (binds of it) drop what they cached at their next lookup.
   */
  touched(): void {
    const fresh = this.gen === this.inode.dirGen;
    this.inode.dirGen++;
    if (fresh) this.gen = this.inode.dirGen;
  }

  /** Cached child lookup; a miss asks the inode (and caches when the fs allows). */
  child(name: string): Dentry | number {
    const c = this.children;
    const cache = this.inode.fs.cacheable;
    if (c !== null && this.gen !== this.inode.dirGen) {
      // Changed through another mount: keep only the pinned mount points.
      for (const [n, d] of c) if (d === null || (d.mounted === null && !d.onMountPath)) c.delete(n);
      this.gen = this.inode.dirGen;
    }
    if (c !== null) {
      const hit = c.get(name);
      // Uncached filesystems keep only mount points here (pinned by attach()).
      if (hit !== undefined && (cache || (hit !== null && (hit.mounted !== null || hit.onMountPath)))) {
        return hit === null ? -2 /* ENOENT */ : hit;
      }
    }
    const r = this.inode.lookup(name);
    if (typeof r === 'number') {
      if (r === -2 && cache) (this.children ??= new Map()).set(name, null);
      return r;
    }
    const d = new Dentry(name, this, r);
    if (cache) (this.children ??= new Map()).set(name, d);
    return d;
  }

  /** Records a child the VFS just created (replaces a negative entry). */
  added(name: string, inode: Inode): Dentry {
    this.touched();
    const d = new Dentry(name, this, inode);
    if (inode.fs.cacheable) (this.children ??= new Map()).set(name, d);
    return d;
  }

  /** Forgets a child after unlink/rmdir/rename; marks it deleted. */
  removed(name: string, markDeleted = true): void {
    this.touched();
    const c = this.children;
    if (c === null) return;
    const d = c.get(name);
    if (d && markDeleted) d.deleted = true;
    c.delete(name);
  }

  /** The dentry whose children ".." leads to, following mounts upwards. */
  up(root: Dentry): Dentry {
    let d: Dentry = this;
    for (;;) {
      if (d === root) return d;
      if (d.mountpoint !== null) {
        d = d.mountpoint;
        continue;
      }
      return d.parent ?? d;
    }
  }

  /** The top of the mount stack on this dentry. */
  top(): Dentry {
    let d: Dentry = this;
    while (d.mounted !== null) d = d.mounted;
    return d;
  }

  /**
   * Absolute path of this dentry as seen from root. Returns null when the dentry is
   * not under root (the caller then prints the path from the real root, as Linux does
   * for getcwd outside a chroot with "(unreachable)").
   */
  pathFrom(root: Dentry): string | null {
    const parts: string[] = [];
    let d: Dentry = this;
    for (;;) {
      if (d === root) break;
      if (d.mountpoint !== null) {
        d = d.mountpoint;
        continue;
      }
      if (d.parent === null) return parts.length === 0 && d === root ? '/' : null;
      parts.push(d.name);
      d = d.parent;
    }
    if (parts.length === 0) return '/';
    let s = '';
    for (let i = parts.length - 1; i >= 0; i--) s += '/' + parts[i];
    return s;
  }

  /** Path from the absolute root of the namespace (for /proc when root is unreachable). */
  absolutePath(): string {
    const parts: string[] = [];
    let d: Dentry = this;
    for (;;) {
      if (d.mountpoint !== null) {
        d = d.mountpoint;
        continue;
      }
      if (d.parent === null) break;
      parts.push(d.name);
      d = d.parent;
    }
    return parts.length === 0 ? '/' : '/' + parts.reverse().join('/');
  }
}
