/**
 * eventfd: a 64-bit counter. read takes it (or 1 in semaphore mode) and waits while it is
 * zero; write adds and waits while the sum would pass 2^64-2.
 */
import * as E from '../../../src/abi/errno';
import { POLLIN, POLLOUT, POLLERR, POLLRDNORM, POLLWRNORM } from '../../../src/abi/fs';
import { FileDescription } from '../../vfs/file';
import { anonInode } from '../../vfs/anon';

export const EFD_SEMAPHORE = 1;
const MAX = 0xfffffffffffffffen;


export class EventFd extends FileDescription {
  private count: bigint;
  private readonly buf8 = Buffer.alloc(8);
  constructor(
    init: number,
    flags: number,
    private readonly semaphore: boolean,
  ) {
    super(anonInode, flags);
    this.count = BigInt(init >>> 0);
  }
  override read(buf: Uint8Array): number {
    if (buf.length < 8) return -E.EINVAL;
    if (this.count === 0n) return -E.EAGAIN;
    const v = this.semaphore ? 1n : this.count;
    this.count -= v;
    this.buf8.writeBigUInt64LE(v, 0);
    buf.set(this.buf8, 0);
    this.waitQueue.notify(POLLOUT | POLLWRNORM);
    return 8;
  }
  override write(buf: Uint8Array): number {
    if (buf.length < 8) return -E.EINVAL;
    const v = Buffer.from(buf.buffer, buf.byteOffset, 8).readBigUInt64LE(0);
    if (v === 0xffffffffffffffffn) return -E.EINVAL;
    if (MAX - this.count < v) return -E.EAGAIN;
    this.count += v;
    if (v > 0n) this.waitQueue.notify(POLLIN | POLLRDNORM);
    return 8;
  }
  override readiness(): number {
    let r = 0;
    if (this.count > 0n) r |= POLLIN | POLLRDNORM;
    if (this.count < MAX) r |= POLLOUT | POLLWRNORM;
    if (this.count === MAX + 1n) r |= POLLERR;
    return r;
  }
  override anonName(): string {
    return 'anon_inode:[eventfd]';
  }
  /** For /proc/pid/fdinfo. */
  get counter(): bigint {
    return this.count;
  }
  /** Checkpoint support (src/snapshot): EFD_SEMAPHORE, and an eventfd as it was saved. */
  get isSemaphore(): boolean {
    return this.semaphore;
  }
  static restored(count: bigint, flags: number, semaphore: boolean): EventFd {
    const e = new EventFd(0, flags, semaphore);
    e.count = count;
    return e;
  }
}
