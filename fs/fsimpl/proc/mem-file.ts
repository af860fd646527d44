/**
 * /proc/PID/mem: the process's memory at file offsets equal to addresses. Opened by the
 * process itself or one that may ptrace it; reads and writes go to its address space
 * (writes to read-only pages of a stopped tracee are forced, as Linux's FOLL_FORCE, so
 * debuggers set breakpoints through it). Unmapped addresses read and write as EIO.
 *
 * Each open file keeps the address space it was opened on (Linux's proc_mem_open holds the
 * mm, not the task): after the process execs or exits, reads and writes of mem, maps and
 * environ give 0 (mmget_not_zero fails) unless another task (a vfork parent) still uses that
 * address space; they never see the new program's memory.
 */
import * as E from '../../../src/abi/errno';
import { O_ACCMODE, O_RDONLY, S_IFREG } from '../../../src/abi/fs';
import type { Task } from '../../../src/kernel/task';
import { forceWrite, mayAccess } from '../../../src/kernel/ptrace';
import { SynthInode, type SynthFs } from '../kernfs/synth';
import { type FileDescription, SeekableFile } from '../../vfs/file';
import type { Inode } from '../../vfs/inode';
import type { AddressSpace } from '../../../src/mm/address-space';

export class MemInode extends SynthInode {
  constructor(fs: SynthFs, key: string, private readonly target: Task, private readonly opener: () => Task | null | undefined) {
    super(fs, key, S_IFREG | 0o600, target.creds.euid, target.creds.egid);
  }
  override open(flags: number): FileDescription | number {
    const caller = this.opener();
    if (!caller || !mayAccess(caller, this.target)) return -E.EACCES;
    return new MemFile(this, flags, this.target, this.target.mm ?? null);
  }
}

/** The address space is still some task's (its users count, as Linux's mm_users). */
const alive = (mm: AddressSpace | null): mm is AddressSpace => mm !== null && mm.users > 0;

class MemFile extends SeekableFile {
  constructor(inode: Inode, flags: number, private readonly target: Task, private readonly mm: AddressSpace | null) {
    super(inode, flags);
  }
  size(): number {
    return 0;
  }
  override get mappable(): boolean {
    return false;
  }
  override pread(buf: Uint8Array, pos: number): number {
    if (!alive(this.mm)) return 0;
    const b = this.mm.mem.read(pos, buf.length);
    if (!b) return -E.EIO;
    buf.set(b);
    return b.length;
  }
  override pwrite(buf: Uint8Array, pos: number): number {
    const t = this.target;
    if (!alive(this.mm)) return 0;
    const b = Buffer.from(buf);
    // Forced through the stopped tracee only while it still runs on this address space.
    const ok = t.inSentry && t.mm === this.mm ? forceWrite(t.kernel.sentry.platform, t, pos, b) : this.mm.mem.write(pos, b);
    return ok ? b.length : -E.EIO;
  }
}

/**
 * A text file of the address space (maps, smaps, environ): its text is taken at open, and
 * read as 0 bytes once that address space has no user (the process exec'd or exited).
 */
export class MmTextInode extends SynthInode {
  constructor(
    fs: SynthFs, key: string, private readonly target: Task, private readonly text: () => string | Buffer,
    /** A seq_file of lines (maps, smaps): the line a read stopped in stays readable. */
    private readonly lines: boolean, mode: number, uid: number, gid: number,
  ) {
    super(fs, key, S_IFREG | mode, uid, gid);
  }
  override open(flags: number): FileDescription | number {
    if ((flags & O_ACCMODE) !== O_RDONLY) return -E.EACCES;
    const c = this.text();
    return new MmTextFile(this, flags, typeof c === 'string' ? Buffer.from(c, 'latin1') : c, this.target.mm ?? null, this.lines);
  }
}

class MmTextFile extends SeekableFile {
  /** How far reads went while the address space was alive. */
  private reached = 0;
  constructor(inode: Inode, flags: number, private readonly data: Buffer, private readonly mm: AddressSpace | null, private readonly lines: boolean) {
    super(inode, flags);
  }
  /** Where reads end: the whole text while the mm lives; after, the rest of a seq_file's buffered line (Linux generated it before). */
  private limit(): number {
    if (alive(this.mm)) return this.data.length;
    if (!this.lines || this.reached === 0) return 0;
    const nl = this.data.indexOf(10, this.reached - 1);
    return nl < 0 ? this.data.length : nl + 1;
  }
  override pread(buf: Uint8Array, pos: number): number {
    if (pos < 0) return -E.EINVAL;
    const end = this.limit();
    const part = this.data.subarray(Math.min(pos, end), end).subarray(0, buf.length);
    buf.set(part);
    if (alive(this.mm)) this.reached = Math.max(this.reached, pos + part.length);
    return part.length;
  }
  size(): number {
    return this.data.length;
  }
  override get mappable(): boolean {
    return false;
  }
}
