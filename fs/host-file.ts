/**
 * A host fd the Sentry was handed (the guest's stdin/stdout/stderr, the controlling tty).
 * Reads never block the Sentry: poll(0) first, and when nothing is ready the handler
 * arms a one-shot watch on the kernel's host poller and parks the task. Writes are
 * synchronous (a full host pipe yields EAGAIN and the task waits for POLLOUT).
 * Terminal ioctls pass through when the fd is a tty; otherwise ENOTTY.
 */
import * as nfs from 'fs';
import * as tty from 'tty';
import * as E from '../src/kernel/errno';
import type { Task } from '../src/kernel/task';
import { kernel } from '../src/kernel/kernel';
import { native } from '../src/platform/native';
import { POLLIN, POLLOUT, S_IFCHR, S_IFMT, S_IFIFO, S_IFSOCK, PIPE_BUF } from './constants';
import { FileDescription } from './file';
import { FileSystem, Inode, type Stat } from './inode';
import { hostErr, statFromHost } from './hostfs';
import { getPtsNode } from './devices';

class HostFdFs extends FileSystem {
  readonly magic = 0x01021994;
  readonly type = 'hostfd';
  root(): Inode {
    throw new Error('no root');
  }
}
const hostFdFs = new HostFdFs();

export class HostFdInode extends Inode {
  readonly fs = hostFdFs;
  readonly ino: number;
  mode: number;
  uid = 0;
  gid = 0;
  constructor(readonly hostFd: number) {
    super();
    let ino = 0;
    let mode = S_IFCHR | 0o620;
    try {
      const s = nfs.fstatSync(hostFd);
      ino = s.ino;
      mode = s.mode;
    } catch {
      /* closed fd: keep defaults */
    }
    this.ino = ino;
    this.mode = mode;
  }
  /** Reopening through /proc/self/fd/N (/dev/stdout...) shares the same host fd, as Linux reopens the same object. */
  override open(flags: number): FileDescription | number {
    return new HostFile(this.hostFd, flags, false);
  }
  stat(): Stat | number {
    const pts = getPtsNode();
    if (pts !== null && tty.isatty(this.hostFd)) return pts.stat();
    try {
      const st = statFromHost(nfs.fstatSync(this.hostFd, { bigint: true }), hostFdFs.dev);
      // The guest is root in its own user namespace; show its own terminal as its own.
      st.uid = 0;
      st.gid = 0;
      return st;
    } catch (e) {
      return hostErr(e);
    }
  }
}

// ioctl numbers (asm-generic/ioctls.h)
export const TCGETS = 0x5401;
export const TCSETS = 0x5402;
export const TCSETSW = 0x5403;
export const TCSETSF = 0x5404;
export const TIOCSCTTY = 0x540e;
export const TIOCGPGRP = 0x540f;
export const TIOCSPGRP = 0x5410;
export const TIOCGWINSZ = 0x5413;
export const TIOCSWINSZ = 0x5414;
export const FIONREAD = 0x541b;
export const TIOCNOTTY = 0x5422;
export const TIOCGSID = 0x5429;

const pollFd = new Int32Array(1);
const pollEv = new Int32Array(1);
const pollRev = new Int32Array(1);

export class HostFile extends FileDescription {
  readonly isTty: boolean;
  /** Foreground process group the guest set (TIOCSPGRP); 0 = the asking task's own group. */
  private fgPgid = 0;
  private termios = new Uint8Array(60);
  private winsz = new Int32Array(4);
  private winszOut = Buffer.alloc(8);

  /** A host pipe or socket: writes are cut to PIPE_BUF after a POLLOUT check so they never block the Sentry. */
  private readonly stream: boolean;

  constructor(
    readonly hostFd: number,
    flags: number,
    /** Close the host fd on the last guest close (false for the Sentry's own 0/1/2). */
    private readonly owned = false,
  ) {
    super(new HostFdInode(hostFd), flags);
    this.isTty = tty.isatty(hostFd);
    const t = this.inode.mode & S_IFMT;
    this.stream = t === S_IFIFO || t === S_IFSOCK;
  }

  private poll(events: number): number {
    pollFd[0] = this.hostFd;
    pollEv[0] = events;
    pollRev[0] = 0;
    const r = native().hostPoll(pollFd, pollEv, pollRev, 1, 0);
    return r > 0 ? pollRev[0] : 0;
  }

  override read(buf: Uint8Array): number {
    if (!this.readable) return -E.EBADF;
    if (buf.length === 0) return 0;
    if (this.poll(POLLIN) === 0) return -E.EAGAIN;
    const n = native().hostRead(this.hostFd, buf, 0, buf.length);
    return n;
  }
  override write(buf: Uint8Array): number {
    if (!this.writable) return -E.EBADF;
    if (buf.length === 0) return 0;
    if (this.stream) {
      // POLLOUT on a pipe guarantees room for PIPE_BUF bytes: such a write cannot block.
      if ((this.poll(POLLOUT) & (POLLOUT | 0x18)) === 0) return -E.EAGAIN;
      return native().hostWrite(this.hostFd, buf, 0, Math.min(buf.length, PIPE_BUF));
    }
    return native().hostWrite(this.hostFd, buf, 0, buf.length);
  }
  /** Host files can seek when the native hostLseek is built (native/gofer.cc). */
  override seek(off: number, whence: number): number {
    const n = native();
    if (this.stream || this.isTty || typeof n.hostLseek !== 'function') return -E.ESPIPE;
    const r = n.hostLseek(this.hostFd, off, whence);
    if (r >= 0) this.pos = r;
    return r;
  }
  override pread(buf: Uint8Array, pos: number): number {
    if (!this.readable) return -E.EBADF;
    return native().hostPread(this.hostFd, buf, 0, buf.length, pos);
  }
  override pwrite(buf: Uint8Array, pos: number): number {
    if (!this.writable) return -E.EBADF;
    try {
      return nfs.writeSync(this.hostFd, buf, 0, buf.length, pos);
    } catch (e) {
      return hostErr(e);
    }
  }
  override readiness(): number {
    return this.poll(POLLIN | POLLOUT);
  }
  override armWait(mask: number): void {
    kernel.hostPoller.watch(this.hostFd, mask & (POLLIN | POLLOUT), this.waitQueue);
  }
  override available(): number {
    return 0;
  }

  override ioctl(t: Task, cmd: number, arg: number): number {
    if (!this.isTty) return -E.ENOTTY;
    const mem = t.mem;
    const n = native();
    switch (cmd) {
      case TCGETS: {
        const r = n.hostTcgets(this.hostFd, this.termios);
        if (r < 0) return r;
        return mem.write(arg, this.termios.subarray(0, 36)) ? 0 : -E.EFAULT;
      }
      case TCSETS:
      case TCSETSW:
      case TCSETSF: {
        const b = mem.read(arg, 36);
        if (b === null) return -E.EFAULT;
        this.termios.set(b, 0);
        return n.hostTcsets(this.hostFd, cmd, this.termios);
      }
      case TIOCGWINSZ: {
        // struct winsize: four unsigned shorts (rows, cols, xpixel, ypixel).
        const r = n.hostIoctlWinsize(this.hostFd, this.winsz);
        if (r < 0) return r;
        for (let i = 0; i < 4; i++) this.winszOut.writeUInt16LE(this.winsz[i] & 0xffff, i * 2);
        return mem.write(arg, this.winszOut) ? 0 : -E.EFAULT;
      }
      case TIOCSWINSZ:
        return 0;
      case TIOCGPGRP:
        return mem.writeI32(arg, this.fgPgid || t.tg.pgid) ? 0 : -E.EFAULT;
      case TIOCSPGRP: {
        const v = mem.readI32(arg);
        if (v === null) return -E.EFAULT;
        if (v < 0) return -E.EINVAL;
        this.fgPgid = v;
        return 0;
      }
      case TIOCGSID:
        return mem.writeI32(arg, t.tg.sid) ? 0 : -E.EFAULT;
      case TIOCSCTTY:
      case TIOCNOTTY:
        return 0;
      case FIONREAD:
        return mem.writeI32(arg, 0) ? 0 : -E.EFAULT;
      default:
        return -E.ENOTTY;
    }
  }

  /** What /proc/pid/fd shows: host pipe/socket names pass, host paths do not leak. */
  override anonName(): string | null {
    if (this.isTty) return '/dev/pts/0';
    try {
      const l = nfs.readlinkSync(`/proc/self/fd/${this.hostFd}`);
      return /^(pipe|socket):\[/.test(l) ? l : '/dev/null';
    } catch {
      return null;
    }
  }

  protected override release(): void {
    if (this.owned) {
      try {
        nfs.closeSync(this.hostFd);
      } catch {
        /* ignore */
      }
    }
  }
}
