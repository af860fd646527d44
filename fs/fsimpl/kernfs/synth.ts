/**
 * Building blocks for synthesized filesystems (/proc, /sys): directories whose entries
 * are computed at lookup time, read-only files whose content is generated at open time
 * (a snapshot, as Linux's seq_file gives), and symlinks (plain or magic).
 * Inode numbers are a hash of the path so they are stable across lookups (find and ls -R
 * compare dev/ino to detect loops).
 */
import * as E from '../../../src/abi/errno';
import { S_IFDIR, S_IFREG, S_IFLNK, O_ACCMODE, O_RDONLY } from '../../../src/abi/fs';
import { virtualClock, virtualBootWallTs } from '../../../src/determinism/virtual-clock';
import { FileSystem, Inode, emptyStat, nowTs, type Stat, type DirEntry } from '../../vfs/inode';
import { DirFile, FileDescription, SeekableFile } from '../../vfs/file';
import type { Dentry } from '../../vfs/dentry';
import type { MagicLink } from '../../vfs/path-walk';

export class SynthFs extends FileSystem {
  override readonly cacheable = false;
  rootNode!: Inode;
  constructor(
    readonly magic: number,
    readonly type: string,
  ) {
    super();
    this.source = type;
  }
  root(): Inode {
    return this.rootNode;
  }
}

function hashPath(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) + 0x100000000; // above small numbers, distinct from tmpfs counters
}

const hostBootTs = nowTs();

export abstract class SynthInode extends Inode {
  readonly ino: number;
  constructor(
    readonly fs: SynthFs,
    readonly key: string,
    public mode: number,
    public uid = 0,
    public gid = 0,
  ) {
    super();
    this.ino = hashPath(key);
  }
  protected size(): number {
    return 0;
  }
  stat(): Stat {
    const st = emptyStat();
    st.dev = this.fs.dev;
    st.ino = this.ino;
    st.mode = this.mode;
    st.nlink = this.isDir ? 2 : 1;
    st.uid = this.uid;
    st.gid = this.gid;
    st.size = this.size();
    st.blksize = 1024;
    const bootTs = virtualClock.active ? virtualBootWallTs() : hostBootTs;
    st.atimeSec = st.mtimeSec = st.ctimeSec = bootTs[0];
    st.atimeNsec = st.mtimeNsec = st.ctimeNsec = bootTs[1];
    return st;
  }
}

/** name -> factory; the factory runs only for the entry looked up. */
export type SynthEntries = Map<string, () => Inode>;

export class SynthDir extends SynthInode {
  constructor(
    fs: SynthFs,
    key: string,
    private readonly entries: () => SynthEntries,
    mode = 0o555,
    uid = 0,
    gid = 0,
  ) {
    super(fs, key, S_IFDIR | mode, uid, gid);
  }
  /** Access past the mode bits (procfs: a process's own fd directories). */
  grant: (() => boolean) | null = null;
  override grantsAccess(): boolean {
    return this.grant !== null && this.grant();
  }
  override lookup(name: string): Inode | number {
    const f = this.entries().get(name);
    return f ? f() : -E.ENOENT;
  }
  override readdir(): DirEntry[] {
    const out: DirEntry[] = [];
    for (const [name, f] of this.entries()) {
      const i = f();
      out.push({ name, ino: i.ino, type: i.dtype });
    }
    return out;
  }
  override open(flags: number): FileDescription | number {
    return new DirFile(this, flags);
  }
}

export class SynthFile extends SynthInode {
  constructor(
    fs: SynthFs,
    key: string,
    private readonly content: () => string | Buffer,
    mode = 0o444,
    /** Accepts writes (e.g. /proc/self/oom_score_adj); null: read-only (EACCES for writers unless root, then EIO-free no-op). */
    readonly onWrite: ((data: Buffer) => number) | null = null,
    uid = 0,
    gid = 0,
  ) {
    super(fs, key, S_IFREG | mode, uid, gid);
  }
  override open(flags: number): FileDescription | number {
    if ((flags & O_ACCMODE) !== O_RDONLY && this.onWrite === null) return -E.EACCES;
    const c = this.content();
    return new SynthFileDescription(this, flags, typeof c === 'string' ? Buffer.from(c, 'latin1') : c, this.onWrite);
  }
}

class SynthFileDescription extends SeekableFile {
  constructor(
    inode: Inode,
    flags: number,
    private readonly data: Buffer,
    private readonly onWrite: ((data: Buffer) => number) | null,
  ) {
    super(inode, flags);
  }
  size(): number {
    return this.data.length;
  }
  override get mappable(): boolean {
    return false;
  }
  override pread(buf: Uint8Array, pos: number): number {
    if (pos < 0) return -E.EINVAL;
    if (pos >= this.data.length) return 0;
    const n = Math.min(buf.length, this.data.length - pos);
    buf.set(this.data.subarray(pos, pos + n));
    return n;
  }
  override pwrite(buf: Uint8Array): number {
    if (this.onWrite === null) return -E.EIO;
    return this.onWrite(Buffer.from(buf));
  }
  override truncate(): number {
    return 0;
  }
}

export class SynthLink extends SynthInode {
  constructor(
    fs: SynthFs,
    key: string,
    private readonly target: () => string | number,
    /** For magic links: the dentry the link stands for. */
    magic: (() => Dentry | number) | null = null,
  ) {
    super(fs, key, S_IFLNK | 0o777);
    if (magic !== null) (this as unknown as MagicLink).resolveMagic = magic;
  }
  override readlink(): string | number {
    return this.target();
  }
  protected override size(): number {
    const t = this.target();
    return typeof t === 'string' ? t.length : 0;
  }
}
