/**
 * Character devices: what opening a device node (in /dev or made by mknod anywhere in
 * tmpfs) gives, chosen by its device number as Linux's chrdev table does.
 */
import { fillRandom } from '../../../src/determinism/entropy';
import * as E from '../../../src/abi/errno';
import { makedev, devMajor, devMinor, S_IFCHR, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM } from '../../../src/abi/fs';
import { Credentials } from '../../../src/auth/credentials';
import { newPty, ptys, PtyMaster, PtySlave, setPtyGoneHook, openCttyPty } from '../devpts/pty';
import type { TmpfsInode } from '../tmpfs/tmpfs';
import { FileDescription } from '../../vfs/file';
import type { Inode } from '../../vfs/inode';
import { HostFile } from '../host/host-file';

export const DEV_NULL = makedev(1, 3);
export const DEV_ZERO = makedev(1, 5);
export const DEV_FULL = makedev(1, 7);
export const DEV_RANDOM = makedev(1, 8);
export const DEV_URANDOM = makedev(1, 9);
export const DEV_TTY = makedev(5, 0);
export const DEV_CONSOLE = makedev(5, 1);
/** The guest's view of the controlling terminal: /dev/pts/0 (devpts major 136). */
export const DEV_PTS0 = makedev(136, 0);
export const DEV_PTMX = makedev(5, 2);
const PTS_MAJOR = 136;

/** The devpts root: /dev/pts/N nodes come and go with their masters. */
let ptsRoot: TmpfsInode | null = null;
const ptsCreds = new Credentials();
export function setPtsRoot(r: TmpfsInode): void {
  ptsRoot = r;
  setPtyGoneHook((i) => ptsRoot?.unlink(String(i)));
}


/** Host fd of the controlling terminal (set by the CLI / createVfs), or -1 when there is none. */
let ttyHostFd = -1;
export function setControllingTty(fd: number): void {
  ttyHostFd = fd;
}

/** Devices whose reads/writes never depend on a position: lseek succeeds and returns 0. */
class SimpleDevice extends FileDescription {
  constructor(
    inode: Inode,
    flags: number,
    private readonly kind: number,
  ) {
    super(inode, flags);
  }
  override read(buf: Uint8Array): number {
    return this.pread(buf);
  }
  override pread(buf: Uint8Array): number {
    switch (this.kind) {
      case DEV_NULL:
        return 0;
      case DEV_ZERO:
      case DEV_FULL:
        buf.fill(0);
        return buf.length;
      default:
        fillRandom(buf);
        return buf.length;
    }
  }
  override write(buf: Uint8Array): number {
    return this.kind === DEV_FULL ? -E.ENOSPC : buf.length;
  }
  override get discardsWrites(): boolean {
    return this.kind === DEV_NULL || this.kind === DEV_ZERO;
  }
  override pwrite(buf: Uint8Array): number {
    return this.write(buf);
  }
  override seek(): number {
    return (this.pos = 0);
  }
  override readiness(): number {
    return POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM;
  }
  override get pollable(): boolean {
    return false;
  }
  override truncate(): number {
    return 0; // O_TRUNC / ftruncate on /dev/null are accepted by Linux
  }
}

export function openDevice(inode: Inode, rdev: number, flags: number): FileDescription | number {
  switch (rdev) {
    case DEV_NULL:
    case DEV_ZERO:
    case DEV_FULL:
    case DEV_RANDOM:
    case DEV_URANDOM:
      return new SimpleDevice(inode, flags, rdev);
    case DEV_PTMX: {
      const pty = newPty();
      ptsRoot?.mknod(String(pty.index), S_IFCHR | 0o620, ptsCreds, makedev(PTS_MAJOR, pty.index));
      return new PtyMaster(inode, flags, pty);
    }
    case DEV_TTY:
    case DEV_PTS0:
    case DEV_CONSOLE: {
      // /dev/tty is the caller's controlling terminal when that is a Sentry pty.
      const own = rdev === DEV_TTY ? openCttyPty(inode, flags) : null;
      if (own !== null) return own;
      if (ttyHostFd < 0) return -E.ENXIO;
      const f = new HostFile(ttyHostFd, flags, false);
      f.inode = inode;
      return f;
    }
    default: {
      if (devMajor(rdev) === PTS_MAJOR) {
        const pty = ptys.get(devMinor(rdev));
        if (pty === undefined || pty.locked) return -E.EIO;
        return new PtySlave(inode, flags, pty);
      }
      return -E.ENXIO;
    }
  }
}
