/**
 * The mount table: which filesystem covers which dentry, with its options, for the path
 * walk (through Dentry.mounted) and for /proc/mounts and /proc/pid/mountinfo.
 */
import type { Dentry } from './dentry';
import type { FileSystem } from './inode';
import { devMajor, devMinor } from '../../src/abi/fs';

let nextMountId = 20;

export class Mount {
  readonly id = nextMountId++;
  /**
   * Set up with the sandbox (its /proc, /sys, /dev, binds): like mounts a container
   * inherits from a more privileged namespace (Linux MNT_LOCKED), it cannot be
   * unmounted, moved or left out of a bind, so nothing it covers is ever uncovered.
   */
  locked = false;
  constructor(
    readonly fs: FileSystem,
    /** Root dentry of the mounted filesystem. */
    readonly root: Dentry,
    /** The dentry it covers (null for the namespace root). */
    readonly mountpoint: Dentry | null,
    /** Guest path where it is mounted. */
    readonly path: string,
    readonly parentId: number,
    readonly options: string,
  ) {}

  /** One line of /proc/mounts. */
  mountsLine(): string {
    return `${this.fs.source} ${escapeMountPath(this.path)} ${this.fs.type} ${this.fs.readonly ? 'ro' : 'rw'}${this.options ? ',' + this.options : ''} 0 0\n`;
  }

  /** One line of /proc/pid/mountinfo. */
  mountinfoLine(): string {
    const dev = `${devMajor(this.fs.dev)}:${devMinor(this.fs.dev)}`;
    const ro = this.fs.readonly ? 'ro' : 'rw';
    return `${this.id} ${this.parentId} ${dev} / ${escapeMountPath(this.path)} ${ro},relatime - ${this.fs.type} ${this.fs.source} ${ro}${this.options ? ',' + this.options : ''}\n`;
  }
}

function escapeMountPath(p: string): string {
  return p.replace(/[ \t\n\\]/g, (c) => '\\' + c.charCodeAt(0).toString(8).padStart(3, '0'));
}
