/**
 * The mount table: which filesystem covers which dentry, with its options, for the path
 * walk (through Dentry.mounted) and for /proc/mounts and /proc/pid/mountinfo.
 */
import type { Dentry } from './dentry';
import type { FileSystem } from './inode';
import { devMajor, devMinor } from '../../src/abi/fs';

let nextMountId = 20;

/** Per-mount flags (MNT_*): a bind may be read-only over a writable filesystem. */
export interface MountFlags {
  readonly: boolean;
  nosuid: boolean;
  nodev: boolean;
  noexec: boolean;
}

export class Mount implements MountFlags {
  readonly id = nextMountId++;
  /**
   * Set up with the sandbox (its /proc, /sys, /dev, binds): like mounts a container
   * inherits from a more privileged namespace (Linux MNT_LOCKED), it cannot be
   * unmounted, moved or left out of a bind, so nothing it covers is ever uncovered.
   * A recursive bind or pivot_root copies it locked.
   */
  locked = false;
  readonly = false;
  nosuid = false;
  nodev = false;
  noexec = false;
  /** Filesystem-specific options ("mode=755"); the flags above are parsed out of them. */
  readonly options: string;
  /** Path of root inside its filesystem (a bind of a subdirectory: "/sub"). */
  rootPath = '/';
  constructor(
    readonly fs: FileSystem,
    /** Root dentry of the mounted filesystem. */
    readonly root: Dentry,
    /** The dentry it covers (null for a namespace root). */
    public mountpoint: Dentry | null,
    /** Guest path where it was mounted (the sandbox's own set-up; /proc shows the live path). */
    readonly path: string,
    /** The parent's id when no mount point says it (a namespace root). */
    private readonly parentIdAtStart: number,
    options: string,
  ) {
    // A mount's root stays what it is while the mount lives (never released: Inode.holds).
    root.inode.holds++;
    const rest: string[] = [];
    for (const o of options.split(',')) {
      if (o === 'nosuid') this.nosuid = true;
      else if (o === 'nodev') this.nodev = true;
      else if (o === 'noexec') this.noexec = true;
      else if (o === 'ro') this.readonly = true;
      else if (o.length > 0) rest.push(o);
    }
    this.options = rest.join(',');
  }

  get parentId(): number {
    return this.mountpoint?.mnt?.id ?? this.parentIdAtStart;
  }

  /** Takes the flags of another mount (a bind copies its source's). */
  copyFlags(f: MountFlags): void {
    this.readonly = f.readonly;
    this.nosuid = f.nosuid;
    this.nodev = f.nodev;
    this.noexec = f.noexec;
  }

  private flagText(): string {
    return (this.nosuid ? ',nosuid' : '') + (this.nodev ? ',nodev' : '') + (this.noexec ? ',noexec' : '');
  }

  /** One line of /proc/mounts, path as the reader sees it. */
  mountsLine(path: string): string {
    const ro = this.fs.readonly || this.readonly ? 'ro' : 'rw';
    const opts = this.fsOptions();
    return `${this.fs.source} ${escapeMountPath(path)} ${this.fs.type} ${ro}${this.flagText()}${opts ? ',' + opts : ''} 0 0\n`;
  }

  /** One line of /proc/pid/mountinfo, path as the reader sees it; optional: " shared:N" and the like. */
  mountinfoLine(path: string, optional = ''): string {
    const dev = `${devMajor(this.fs.dev)}:${devMinor(this.fs.dev)}`;
    const mro = this.fs.readonly || this.readonly ? 'ro' : 'rw';
    const sro = this.fs.readonly ? 'ro' : 'rw';
    const opts = this.fsOptions();
    return `${this.id} ${this.parentId} ${dev} ${escapeMountPath(this.rootPath)} ${escapeMountPath(path)} ${mro}${this.flagText()},relatime${optional} - ${this.fs.type} ${this.fs.source} ${sro}${opts ? ',' + opts : ''}\n`;
  }

  private fsOptions(): string {
    return this.fs.superOptions() ?? this.options;
  }
}

function escapeMountPath(p: string): string {
  return p.replace(/[ \t\n\\]/g, (c) => '\\' + c.charCodeAt(0).toString(8).padStart(3, '0'));
}
