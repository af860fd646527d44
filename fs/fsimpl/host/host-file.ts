/**
 * A host fd the Sentry was handed (the guest's stdin/stdout/stderr, the controlling tty).
 * Reads never block the Sentry: poll(0) first, and when nothing is ready the handler
 * arms a one-shot watch on the kernel's host poller and parks the task. Writes are
 * synchronous (a full host pipe yields EAGAIN and the task waits for POLLOUT).
 * Terminal ioctls pass through when the fd is a tty; otherwise ENOTTY.
 */
import * as nfs from 'fs';
import * as tty from 'tty';
import * as E from '../../../src/abi/errno';
import type { Task } from '../../../src/kernel/task';
import { hostPoller } from '../../../src/waiter/host-poller';
import { native } from '../../../src/platform/native';
import { POLLIN, POLLOUT, S_IFCHR, S_IFMT, S_IFIFO, S_IFSOCK, PIPE_BUF } from '../../../src/abi/fs';
import { FileDescription } from '../../vfs/file';
import { FileSystem, Inode, type Stat } from '../../vfs/inode';
import { hostErr, statFromHost } from '../hostfs/hostfs';

class HostFdFs extends FileSystem {
  readonly magic = 0x01021994;
  readonly type = 'hostfd';
  root(): Inode {
    throw new Error('no root');
  }
}
const hostFdFs = new HostFdFs();

/**
 * A host socket handed to the sandbox as stdio (Node and many supervisors give
 * children socketpairs, not pipes) is shown as a FIFO: it is one to the guest, a byte
 * stream it reads and writes, while socket calls on it would reach a socket the
 * sandbox does not own (programs such as Node probe S_IFSOCK fds with getsockname).
 */
function asStreamMode(mode: number): number {
  return (mode & 0o170000) === 0o140000 ? (mode & ~0o170000) | 0o010000 : mode;
}

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
      mode = asStreamMode(s.mode);
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
      st.mode = asStreamMode(st.mode);
      return st;
    } catch (e) {
      return hostErr(e);
    }
  }
}

import {
  TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCSCTTY, TIOCGPGRP, TIOCSPGRP, TIOCGWINSZ, TIOCSWINSZ, FIONREAD, TIOCNOTTY, TIOCGSID,
  TCGETA, TCSETA, TCSETAW, TCSETAF, TERMIO_SIZE, termioFrom, mergeTermio, termiosSetFor,
} from '../devpts/tty-ioctls';
export {
  TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCSCTTY, TIOCGPGRP, TIOCSPGRP, TIOCGWINSZ, TIOCSWINSZ, FIONREAD, TIOCNOTTY, TIOCGSID,
} from '../devpts/tty-ioctls';
import * as jobs from '../../../src/kernel/tty';
import { jobIoctl } from '../devpts/pty';

/** The /dev/pts/0 node; host tty fds report its attributes so ttyname() finds it. */
let ptsNode: Inode | null = null;
export function setPtsNode(i: Inode): void {
  ptsNode = i;
}
export function getPtsNode(): Inode | null {
  return ptsNode;
}

/**
 * The host terminal's job-control state: one object however many HostFiles wrap the
 * terminal (fds 0/1/2, /dev/tty), as the session's controlling tty must be one object.
 * The CLI attaches it to the first process's session (src/kernel/tty.ts attach()).
 */
export const consoleTty: jobs.Ctty = { sid: 0, fgPgid: 0, isConsole: true };

const pollFd = new Int32Array(1);
const pollEv = new Int32Array(1);
const pollRev = new Int32Array(1);

export class HostFile extends FileDescription {
  readonly isTty: boolean;
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

  override read(buf: Uint8Array, t?: Task): number {
    if (!this.readable) return -E.EBADF;
    if (this.isTty && t !== undefined) {
      const c = jobs.checkRead(t, consoleTty);
      if (c !== 0) return c;
    }
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
      // Write PIPE_BUF pieces while the host keeps saying so.
      const n = native();
      let done = 0;
      while (done < buf.length) {
        if ((this.poll(POLLOUT) & (POLLOUT | 0x18)) === 0) break;
        const r = n.hostWrite(this.hostFd, buf, done, Math.min(buf.length - done, PIPE_BUF));
        if (r < 0) return done > 0 ? done : r;
        done += r;
      }
      return done > 0 ? done : -E.EAGAIN;
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
    hostPoller.watch(this.hostFd, mask & (POLLIN | POLLOUT), this.waitQueue);
  }
  override available(): number {
    return 0;
  }
  override ctty(): jobs.Ctty | null {
    return this.isTty ? consoleTty : null;
  }

  override ioctl(t: Task, cmd: number, arg: number): number {
    if (!this.isTty) return -E.ENOTTY;
    const mem = t.mem;
    const n = native();
    const j = jobIoctl(t, consoleTty, cmd, arg, false);
    if (j !== undefined) return j;
    switch (cmd) {
      case TCGETS: {
        const r = n.hostTcgets(this.hostFd, this.termios);
        if (r < 0) return r;
        return mem.write(arg, this.termios.subarray(0, 36)) ? 0 : -E.EFAULT;
      }
      case TCGETA: {
        const r = n.hostTcgets(this.hostFd, this.termios);
        if (r < 0) return r;
        return mem.write(arg, termioFrom(this.termios)) ? 0 : -E.EFAULT;
      }
      case TCSETA:
      case TCSETAW:
      case TCSETAF: {
        const c = jobs.checkChange(t, consoleTty);
        if (c !== 0) return c;
        const b = mem.read(arg, TERMIO_SIZE);
        if (b === null) return -E.EFAULT;
        const r = n.hostTcgets(this.hostFd, this.termios);
        if (r < 0) return r;
        mergeTermio(this.termios, b);
        return n.hostTcsets(this.hostFd, termiosSetFor(cmd), this.termios);
      }
      case TCSETS:
      case TCSETSW:
      case TCSETSF: {
        const c = jobs.checkChange(t, consoleTty);
        if (c !== 0) return c;
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
      case FIONREAD:
        return mem.writeI32(arg, 0) ? 0 : -E.EFAULT;
      default:
        return -E.ENOTTY;
    }
  }

  /** What /proc/pid/fd shows: host pipe/socket names pass, host paths do not leak. */
  override anonName(): string | null {
    if (this.isTty) return '/dev/pts/0';
    // From fstat, as the host's /proc/self/fd link reads (the Sentry names no host path).
    try {
      const st = nfs.fstatSync(this.hostFd);
      if (st.isFIFO()) return `pipe:[${st.ino}]`;
      if (st.isSocket()) return `socket:[${st.ino}]`;
      return '/dev/null';
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
