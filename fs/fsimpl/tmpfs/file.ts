/** An open tmpfs file (TmpfsFile) and memfd seals. */
import * as E from '../../../src/abi/errno';
import { SeekableFile } from '../../vfs/file';
import type { TmpfsInode } from './tmpfs';

/** An open regular tmpfs file (also memfd). */
export class TmpfsFile extends SeekableFile {
  declare inode: TmpfsInode;
  /** For mmap (MappableFile): the host memory file with this file's bytes. */
  get hostFd(): number {
    return this.inode.hostBacking();
  }
  size(): number {
    return this.inode.size;
  }
  override pread(buf: Uint8Array, pos: number): number {
    if (pos < 0) return -E.EINVAL;
    return this.inode.readData(buf, pos);
  }
  override pwrite(buf: Uint8Array, pos: number): number {
    if (pos < 0) return -E.EINVAL;
    if (this.inode.seals & SEAL_WRITE) return -E.EPERM;
    if (this.inode.seals & SEAL_GROW && pos + buf.length > this.inode.size) return -E.EPERM;
    return this.inode.writeData(buf, pos);
  }
  override truncate(len: number): number {
    const s = this.inode.seals;
    if (s & SEAL_SHRINK && len < this.inode.size) return -E.EPERM;
    if (s & SEAL_GROW && len > this.inode.size) return -E.EPERM;
    return this.inode.setattr({ size: len });
  }
}

export const SEAL_SEAL = 1;
export const SEAL_SHRINK = 2;
export const SEAL_GROW = 4;
export const SEAL_WRITE = 8;
