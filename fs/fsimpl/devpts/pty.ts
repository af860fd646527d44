/**
 * Pseudo-terminal pairs: the master (/dev/ptmx) and slave (/dev/pts/N) descriptions
 * around one line discipline. Typed bytes go master → ldisc input → slave reads;
 * slave writes and echo go → ldisc output → master reads. Each side has its own wait
 * queue so a reader of one side is not woken by traffic meant for the other.
 *
 * As in Linux, termios and window-size ioctls on the master act on the slave (one
 * shared state here). Closing the master hangs the terminal up: SIGHUP to the session,
 * slave reads give EOF and writes EIO; closing the last slave makes master reads EIO.
 */
import * as E from '../../../src/abi/errno';
import { WaitQueue } from '../../../src/waiter/waitqueue';
import { sinceBootNs } from '../../../src/kernel/time/clocks';
import { procCaller } from '../proc/procfs';
import type { Task } from '../../../src/kernel/task';
import * as jc from '../../../src/kernel/tty';
import { O_NONBLOCK, POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM } from '../../../src/abi/fs';
import { FileDescription } from '../../vfs/file';
import type { Inode } from '../../vfs/inode';
import { LineDiscipline, OUTPUT_MAX, TOSTOP, VMIN, VTIME } from './tty-ldisc';
import { ptyIoctl } from './tty-ioctl';

export { jobIoctl } from './tty-ioctl';

/** Live ptys by index (/dev/pts/N); an index is reused once its master is closed. */
export const ptys = new Map<number, Pty>();
let goneHook: ((index: number) => void) | null = null;
/** devpts removes /dev/pts/N through this when the master closes. */
export function setPtyGoneHook(fn: (index: number) => void): void {
  goneHook = fn;
}

/** A new pair (opening /dev/ptmx). Index 0 is the host terminal's alias, so numbering starts at 1. */
export function newPty(): Pty {
  let i = 1;
  while (ptys.has(i)) i++;
  const p = new Pty(i);
  ptys.set(i, p);
  return p;
}

const SIGWINCH = 28;

export class Pty implements jc.Ctty {
  sid = 0;
  fgPgid = 0;
  isConsole = false;
  readonly ldisc = new LineDiscipline();
  /** Woken for the master: POLLIN (output to read), POLLOUT (input room). */
  readonly masterQ = new WaitQueue();
  /** Woken for slaves: POLLIN (input to read), POLLOUT (output room), POLLHUP. */
  readonly slaveQ = new WaitQueue();
  /** TIOCSPTLCK: slaves cannot be opened until unlockpt. */
  locked = true;
  masterOpen = true;
  slaveOpens = 0;
  slaveEverOpened = false;
  /** struct winsize: rows, cols, xpixel, ypixel. */
  readonly winsize = new Uint16Array(4);

  constructor(readonly index: number) {
    this.ldisc.onSignal = (sig) => {
      jc.signalForeground(this, sig);
    };
  }

  get hungUp(): boolean {
    return !this.masterOpen;
  }

  // ---- data path ----

  /** Keys typed at the master. Returns bytes taken or -EAGAIN when the input is full. */
  masterWrite(src: Uint8Array): number {
    const before = this.ldisc.output.length;
    const n = this.ldisc.receive(src);
    if (this.ldisc.readReady()) this.slaveQ.notify(POLLIN | POLLRDNORM);
    if (this.ldisc.output.length !== before) this.masterQ.notify(POLLIN | POLLRDNORM);
    return n === 0 && src.length > 0 ? -E.EAGAIN : n;
  }

  masterRead(dst: Uint8Array): number {
    if (this.ldisc.output.length === 0) {
      if (this.slaveEverOpened && this.slaveOpens === 0) return -E.EIO;
      return -E.EAGAIN;
    }
    const n = this.ldisc.output.pull(dst);
    this.slaveQ.notify(POLLOUT | POLLWRNORM);
    return n;
  }

  masterReadiness(): number {
    let r = 0;
    if (this.ldisc.output.length > 0) r |= POLLIN | POLLRDNORM;
    if (this.ldisc.canonical || this.ldisc.room() > 0) r |= POLLOUT | POLLWRNORM;
    if (this.slaveEverOpened && this.slaveOpens === 0) r |= POLLHUP;
    return r;
  }

  slaveReadiness(): number {
    if (this.hungUp) return POLLIN | POLLOUT | POLLHUP | POLLERR;
    let r = 0;
    if (this.ldisc.readReady()) r |= POLLIN | POLLRDNORM;
    if (this.ldisc.output.length < OUTPUT_MAX) r |= POLLOUT | POLLWRNORM;
    return r;
  }

  /** TIOCSWINSZ: SIGWINCH to the foreground group when the size changed. */
  setWinsize(ws: ArrayLike<number>): void {
    let changed = false;
    for (let i = 0; i < 4; i++) {
      if (this.winsize[i] !== ws[i]) changed = true;
      this.winsize[i] = ws[i];
    }
    if (changed) jc.signalForeground(this, SIGWINCH);
  }

  flush(input: boolean, output: boolean): void {
    if (input) {
      this.ldisc.flushInput();
      this.masterQ.notify(POLLOUT | POLLWRNORM);
    }
    if (output) {
      this.ldisc.flushOutput();
      this.slaveQ.notify(POLLOUT | POLLWRNORM);
    }
  }

  // ---- lifetime ----

  closeMaster(): void {
    this.masterOpen = false;
    // Like Linux, /dev/pts/N disappears with its master; open slaves stay, hung up.
    if (ptys.get(this.index) === this) {
      ptys.delete(this.index);
      goneHook?.(this.index);
    }
    jc.hangup(this);
    this.ldisc.flushInput(); // a hung-up terminal reads as EOF at once, as tty_vhangup does
    this.slaveQ.notify(POLLIN | POLLOUT | POLLHUP | POLLERR);
    this.checkGone();
  }

  openSlave(): void {
    this.slaveOpens++;
    this.slaveEverOpened = true;
    this.masterQ.notify(POLLIN | POLLOUT);
  }

  closeSlave(): void {
    this.slaveOpens--;
    if (this.slaveOpens === 0) this.masterQ.notify(POLLIN | POLLHUP);
    this.checkGone();
  }

  private checkGone(): void {
    // Both sides gone: no session keeps a dead terminal as its controlling tty.
    if (!this.masterOpen && this.slaveOpens === 0 && this.sid !== 0) jc.detach(this);
  }
}

export class PtyMaster extends FileDescription {
  constructor(
    inode: Inode,
    flags: number,
    readonly pty: Pty,
  ) {
    super(inode, flags);
    this.waitQueue = pty.masterQ;
  }
  override read(buf: Uint8Array): number {
    if (buf.length === 0) return 0;
    return this.pty.masterRead(buf);
  }
  override write(buf: Uint8Array): number {
    if (buf.length === 0) return 0;
    return this.pty.masterWrite(buf);
  }
  override readiness(): number {
    return this.pty.masterReadiness();
  }
  override available(): number {
    return this.pty.ldisc.output.length;
  }
  override ioctl(t: Task, cmd: number, arg: number): number {
    return ptyIoctl(t, this, this.pty, true, cmd, arg);
  }
  protected override release(): void {
    this.pty.closeMaster();
  }
}

export class PtySlave extends FileDescription {
  constructor(
    inode: Inode,
    flags: number,
    readonly pty: Pty,
  ) {
    super(inode, flags);
    this.waitQueue = pty.slaveQ;
    pty.openSlave();
  }

  override read(buf: Uint8Array, t?: Task): number {
    const p = this.pty;
    if (t !== undefined) {
      const jr = jc.checkRead(t, p);
      if (jr !== 0) return jr;
    }
    if (buf.length === 0) return 0;
    const ld = p.ldisc;
    if (ld.canonical) {
      const n = ld.read(buf);
      if (n >= 0) return this.took(n);
      return p.hungUp ? 0 : -E.EAGAIN;
    }
    // Non-canonical: VMIN bytes (capped by the request), or with VMIN 0 whatever is there.
    const vmin = ld.cc[VMIN];
    const vtime = ld.cc[VTIME];
    const have = ld.readable();
    const need = Math.min(Math.max(vmin, 1), buf.length);
    if (have >= need || (have > 0 && (vtime > 0 || (this.flags & O_NONBLOCK) !== 0))) return this.took(ld.read(buf));
    if (p.hungUp) return have > 0 ? this.took(ld.read(buf)) : 0;
    if (vmin === 0 && vtime === 0) return have > 0 ? this.took(ld.read(buf)) : 0;
    if (vmin === 0 && t !== undefined && (this.flags & O_NONBLOCK) === 0) {
      // VTIME-only read: wait up to VTIME tenths of a second, then return 0.
      if (t.timedOut) return 0;
      t.waitOn(p.slaveQ, POLLIN | POLLRDNORM);
      return t.block(kernelNow() + vtime * 100_000_000);
    }
    return -E.EAGAIN;
  }

  private took(n: number): number {
    if (n > 0) this.pty.masterQ.notify(POLLOUT | POLLWRNORM);
    return n;
  }

  override write(buf: Uint8Array, t?: Task): number {
    const p = this.pty;
    if (p.hungUp) return -E.EIO;
    if (t !== undefined && p.ldisc.lflag & TOSTOP) {
      const jr = jc.checkChange(t, p);
      if (jr !== 0) return jr;
    }
    if (buf.length === 0) return 0;
    const room = OUTPUT_MAX - p.ldisc.output.length;
    if (room <= 0) return -E.EAGAIN;
    const n = Math.min(room, buf.length);
    p.ldisc.write(n === buf.length ? buf : buf.subarray(0, n));
    p.masterQ.notify(POLLIN | POLLRDNORM);
    return n;
  }
  override readiness(): number {
    return this.pty.slaveReadiness();
  }
  override available(): number {
    return this.pty.ldisc.readable();
  }
  override ioctl(t: Task, cmd: number, arg: number): number {
    return ptyIoctl(t, this, this.pty, false, cmd, arg);
  }
  override anonName(): string {
    return `/dev/pts/${this.pty.index}`;
  }
  /** open(2) without O_NOCTTY by a session leader makes the slave its controlling tty. */
  override ctty(): jc.Ctty {
    return this.pty;
  }
  protected override release(): void {
    this.pty.closeSlave();
  }
}

/**
 * open("/dev/tty"): a new slave description of the caller's controlling terminal when it
 * is a Sentry pty; null otherwise (the host terminal, or ENXIO, is the caller's business).
 */
export function openCttyPty(inode: Inode, flags: number): PtySlave | number | null {
  const t = procCaller();
  if (t === undefined) return null;
  const c = jc.cttyOf(t.tg);
  if (!(c instanceof Pty)) return null;
  if (c.hungUp) return -E.EIO;
  return new PtySlave(inode, flags, c);
}

function kernelNow(): number {
  return sinceBootNs();
}
