/**
 * `tssandbox run -t`: the guest gets a Sentry pty as its terminal, the host terminal is
 * put in raw mode and becomes a dumb pipe to the pty master (like `ssh -t` or
 * `docker run -t`): line editing, echo and ^C/^Z handling all happen in the guest's
 * line discipline, so job control works as on a real terminal.
 *
 * Copying never blocks the Sentry. There is no pseudo-task: both directions are
 * wait-queue callbacks run synchronously by the run loop.
 *  - host → master: a one-shot watch on the host poller (host stdin POLLIN) notifies
 *    `hostIn`; its callback reads what is there (poll(0) first), feeds the master and
 *    re-arms the watch. Input the line discipline cannot take yet waits for the master's
 *    POLLOUT.
 *  - master → host: a permanent POLLIN entry on the master's queue drains the output to
 *    host stdout as soon as the guest writes (the callback runs inside the guest's
 *    write(2), so output order is kept).
 */
import { O_NOCTTY, O_RDWR, POLLIN, POLLOUT } from '../abi/fs';
import type { FdTable } from '../../fs/vfs/fdtable';
import { PtyMaster, PtySlave, type Pty } from '../../fs/fsimpl/devpts/pty';
import { ICANON, ECHO, ISIG, IEXTEN, OPOST, ICRNL, IXON, VMIN, VTIME } from '../../fs/fsimpl/devpts/tty-ldisc';
import { WaitQueue } from '../waiter/waitqueue';
import * as jc from '../kernel/tty';
import { hostPoller } from '../waiter/host-poller';
import type { Task } from '../kernel/task';
import { native } from '../platform/native';

const TCSETSW = 0x5403;
const BRKINT = 0o2, INPCK = 0o20, ISTRIP = 0o40, INLCR = 0o100, IGNCR = 0o200, PARMRK = 0o10;
const CSIZE = 0o60, PARENB = 0o400, CS8 = 0o60, ECHONL = 0o100;

export class Console {
  private saved: Uint8Array | null = null;
  private readonly hostIn = new WaitQueue();
  private pending: Uint8Array | null = null;
  private readonly buf = new Uint8Array(16384);
  private readonly pollFd = new Int32Array(1);
  private readonly pollEv = new Int32Array(1);
  private readonly pollRev = new Int32Array(1);
  private stdinOpen = true;
  /** A host-poller watch on stdin is registered (it is one-shot: dropped when it fires). */
  private armed = false;

  private constructor(
    readonly master: PtyMaster,
    readonly slave: PtySlave,
    private readonly inFd: number,
    private readonly outFd: number,
  ) {}

  get pty(): Pty {
    return this.master.pty;
  }

  /**
   * Opens a pty pair through the guest's /dev/ptmx (so /dev/pts/N exists and ttyname()
   * works) as `init`, and installs the slave as fds 0, 1 and 2.
   */
  static create(init: Task, fdTable: FdTable, inFd = 0, outFd = 1): Console | string {
    const vfs = init.kernel.vfs;
    const m = vfs.open(init, -100, '/dev/ptmx', O_RDWR | O_NOCTTY, 0);
    if (typeof m === 'number' || !(m instanceof PtyMaster)) return `cannot open /dev/ptmx (${String(m)})`;
    m.pty.locked = false;
    m.pty.isConsole = true;
    const s = vfs.open(init, -100, `/dev/pts/${m.pty.index}`, O_RDWR | O_NOCTTY, 0);
    if (typeof s === 'number' || !(s instanceof PtySlave)) return `cannot open the pty slave (${String(s)})`;
    s.flags = O_RDWR;
    fdTable.installAt(0, s, false);
    fdTable.installAt(1, s.incRef(), false);
    fdTable.installAt(2, s.incRef(), false);
    return new Console(m, s, inFd, outFd);
  }

  /** pid 1 is a session leader: the pty becomes its controlling terminal. */
  attachSession(init: Task): void {
    jc.attach(this.pty, init.tg);
  }

  /** Raw mode on the host terminal (restored by restore(), also at process exit). */
  enterRaw(): void {
    const n = native();
    const t = new Uint8Array(60);
    if (n.hostTcgets(this.inFd, t) < 0) return;
    this.saved = t.slice();
    const v = new DataView(t.buffer);
    v.setUint32(0, v.getUint32(0, true) & ~(BRKINT | ICRNL | INPCK | ISTRIP | IXON | INLCR | IGNCR | PARMRK), true);
    v.setUint32(4, v.getUint32(4, true) & ~OPOST, true);
    v.setUint32(8, (v.getUint32(8, true) & ~(CSIZE | PARENB)) | CS8, true);
    v.setUint32(12, v.getUint32(12, true) & ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN), true);
    t[17 + VMIN] = 1;
    t[17 + VTIME] = 0;
    n.hostTcsets(this.inFd, TCSETSW, t);
    process.once('exit', () => this.restore());
  }

  restore(): void {
    if (this.saved === null) return;
    native().hostTcsets(this.inFd, TCSETSW, this.saved);
    this.saved = null;
  }

  /** Copies the host window size to the pty (SIGWINCH to the foreground job if it changed). */
  syncWinsize(): void {
    const ws = new Int32Array(4);
    if (native().hostIoctlWinsize(this.inFd, ws) === 0) this.pty.setWinsize(ws);
  }

  /** Starts both copy directions. */
  start(): void {
    this.pty.masterQ.add(POLLIN, () => this.drainOutput());
    this.pty.masterQ.add(POLLOUT, () => this.feedInput());
    this.hostIn.add(0xffffffff, () => {
      this.armed = false;
      this.readHost();
    });
    this.arm();
    this.drainOutput();
  }

  private drainOutput(): void {
    const n = native();
    for (;;) {
      const k = this.master.read(this.buf);
      if (k <= 0) return;
      let off = 0;
      while (off < k) {
        const w = n.hostWrite(this.outFd, this.buf, off, k - off);
        if (w <= 0) {
          if (w === -11) continue; // EAGAIN on a non-blocking host tty: retry
          return; // host terminal gone: drop the output
        }
        off += w;
      }
    }
  }

  private readHost(): void {
    if (!this.stdinOpen) return;
    if (this.pending === null) {
      this.pollFd[0] = this.inFd;
      this.pollEv[0] = POLLIN;
      this.pollRev[0] = 0;
      const n = native();
      if (n.hostPoll(this.pollFd, this.pollEv, this.pollRev, 1, 0) > 0) {
        const k = n.hostRead(this.inFd, this.buf, 0, this.buf.length);
        if (k <= 0 && k !== -11 && k !== -4) {
          // Host stdin closed: like a terminal whose keyboard went away, stop reading.
          this.stdinOpen = false;
          return;
        }
        if (k > 0) this.pending = this.buf.slice(0, k);
      }
    }
    this.feedInput();
  }

  /** Pushes pending host input into the master; re-arms the host watch once all of it went in. */
  private feedInput(): void {
    if (this.pending !== null) {
      const r = this.master.write(this.pending);
      if (r > 0) this.pending = r >= this.pending.length ? null : this.pending.subarray(r);
      if (this.pending !== null) return; // wait for the master's POLLOUT
    }
    this.arm();
  }

  private arm(): void {
    if (!this.stdinOpen || this.armed) return;
    this.armed = true;
    hostPoller.watch(this.inFd, POLLIN, this.hostIn);
  }
}
