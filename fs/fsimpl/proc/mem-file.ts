/**
 * /proc/PID/mem: the process's memory at file offsets equal to addresses. Opened by the
 * process itself or one that may ptrace it; reads and writes go to its address space
 * (writes to read-only pages of a stopped tracee are forced, as Linux's FOLL_FORCE, so
 * debuggers set breakpoints through it). Unmapped addresses read and write as EIO.
 */
import * as E from '../../../src/abi/errno';
import { S_IFREG } from '../../../src/abi/fs';
import type { Task } from '../../../src/kernel/task';
import { forceWrite, mayAccess } from '../../../src/kernel/ptrace';
import { SynthInode, type SynthFs } from '../kernfs/synth';
import { type FileDescription, SeekableFile } from '../../vfs/file';
import type { Inode } from '../../vfs/inode';

export class MemInode extends SynthInode {
  constructor(fs: SynthFs, key: string, private readonly target: Task, private readonly opener: () => Task | null | undefined) {
    super(fs, key, S_IFREG | 0o600, target.creds.euid, target.creds.egid);
  }
  override open(flags: number): FileDescription | number {
    const caller = this.opener();
    if (!caller || !mayAccess(caller, this.target)) return -E.EACCES;
    return new MemFile(this, flags, this.target);
  }
}

class MemFile extends SeekableFile {
  constructor(inode: Inode, flags: number, private readonly target: Task) {
    super(inode, flags);
  }
  size(): number {
    return 0;
  }
  override get mappable(): boolean {
    return false;
  }
  override pread(buf: Uint8Array, pos: number): number {
    const b = this.target.mm ? this.target.mem.read(pos, buf.length) : null;
    if (!b) return -E.EIO;
    buf.set(b);
    return b.length;
  }
  override pwrite(buf: Uint8Array, pos: number): number {
    const t = this.target;
    if (!t.mm) return -E.EIO;
    const b = Buffer.from(buf);
    const ok = t.inSentry ? forceWrite(t.kernel.sentry.platform, t, pos, b) : t.mem.write(pos, b);
    return ok ? b.length : -E.EIO;
  }
}
