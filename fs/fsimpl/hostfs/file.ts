/** An open host regular file (HostFsFile): reads and writes on its slot's host fd. */
import * as nfs from 'fs';
import * as E from '../../../src/abi/errno';
import { SeekableFile } from '../../vfs/file';
import { goferNative } from '../../../src/gofer/native';
import { hostErr } from './host-backend';
import type { HostFdSlot } from './fd-cache';
import type { HostInode } from './hostfs';

/**
 * An open host regular file: pread/pwrite on the host fd of its HostFdSlot (shared with
 * the file's other descriptions of the same access mode; re-opened if evicted).
 */
export class HostFsFile extends SeekableFile {
  constructor(
    private readonly host: HostInode,
    flags: number,
    readonly slot: HostFdSlot,
  ) {
    super(host, flags);
  }
  /** The host fd (for direct reads and mmap), or -errno if it cannot be re-opened. */
  get hostFd(): number {
    return this.slot.get();
  }
  size(): number {
    const fd = this.slot.get();
    if (fd < 0) return 0;
    try {
      return nfs.fstatSync(fd).size;
    } catch {
      return 0;
    }
  }
  override pread(buf: Uint8Array, pos: number): number {
    if (pos < 0) return -E.EINVAL;
    const fd = this.slot.get();
    if (fd < 0) return fd;
    try {
      return nfs.readSync(fd, buf, 0, buf.length, pos);
    } catch (e) {
      return hostErr(e);
    }
  }
  override pwrite(buf: Uint8Array, pos: number): number {
    if (pos < 0) return -E.EINVAL;
    const fd = this.slot.get();
    if (fd < 0) return fd;
    this.host.changed(); // size and times
    try {
      return this.host.fs.own(() => nfs.writeSync(fd, buf, 0, buf.length, pos));
    } catch (e) {
      return hostErr(e);
    }
  }
  /**
   * copy_file_range to another host file in the host kernel (no bytes through the
   * Sentry): bytes copied, -errno, or null when the host cannot (another filesystem):
   * the caller then copies itself.
   */
  copyRangeTo(out: HostFsFile, inOff: number, outOff: number, len: number): number | null {
    const n = goferNative();
    if (n === null || typeof n.hostCopyRange !== 'function') return null;
    const fi = this.slot.get();
    if (fi < 0) return fi;
    const fo = out.slot.get();
    if (fo < 0) return fo;
    out.host.changed();
    const r = out.host.fs.own(() => n.hostCopyRange!(fi, inOff, fo, outOff, Math.min(len, 0x7ffff000)));
    return r === -E.EXDEV || r === -E.EINVAL || r === -E.EOPNOTSUPP || r === -E.ENOSYS ? null : r;
  }
  override truncate(len: number): number {
    const fd = this.slot.get();
    if (fd < 0) return fd;
    this.host.changed();
    try {
      this.host.fs.own(() => nfs.ftruncateSync(fd, len));
      this.host.dropWindows();
      return 0;
    } catch (e) {
      return hostErr(e);
    }
  }
  override fsync(): number {
    const fd = this.slot.get();
    if (fd < 0) return fd;
    try {
      nfs.fsyncSync(fd);
      return 0;
    } catch (e) {
      return hostErr(e);
    }
  }
  protected override release(): void {
    this.slot.put();
  }
}
