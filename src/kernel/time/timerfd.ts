import type { Task } from '../task';
import { EAGAIN, EBADF, EFAULT, EINVAL, EPERM } from '../../abi/errno';
import { FileDescription } from '../../../fs/vfs/file';
import { anonInode } from '../../../fs/vfs/anon';
import { O_CLOEXEC, O_NONBLOCK, O_RDWR, POLLIN, POLLRDNORM } from '../../abi/fs';
import { limitsOf, RLIMIT_NOFILE } from '../limits';
import { capable } from '../../auth/capabilities';
import { ClockTimer } from './clock-timer';
import { Clock, CLOCK_BOOTTIME, CLOCK_BOOTTIME_ALARM, CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_REALTIME_ALARM } from './clocks';
import type { TimerSpec } from './timespec';

/**
 * timerfd: an interval timer read as a file. Each expiry adds to a tick count; read
 * returns the count (u64) and clears it, blocking while it is 0 (the fs layer's
 * doRead turns -EAGAIN into a wait on waitQueue unless O_NONBLOCK). Expiries come
 * from the sandbox timer queue, like every other guest timer. Alarm clocks behave as
 * REALTIME/BOOTTIME (the sandbox never suspends), after Linux's CAP_WAKE_ALARM check.
 */

const TFD_TIMER_ABSTIME = 1;
const TFD_TIMER_CANCEL_ON_SET = 2;
const CAP_WAKE_ALARM = 35;
const TFD_IOC_SET_TICKS = 0x40085400; // _IOW('T', 0, u64)

export class TimerFd extends FileDescription {
  private ticks = 0n;
  readonly timer: ClockTimer;
  private readonly out = Buffer.alloc(8);

  constructor(clock: Clock, flags: number) {
    super(anonInode, flags);
    this.timer = new ClockTimer(clock, (n) => {
      this.ticks += BigInt(n);
      this.waitQueue.notify(POLLIN | POLLRDNORM);
    });
  }

  override read(buf: Uint8Array): number {
    if (buf.length < 8) return -EINVAL;
    if (this.ticks === 0n) return -EAGAIN; // the fs layer waits unless O_NONBLOCK
    this.out.writeBigUInt64LE(this.ticks, 0);
    this.ticks = 0n;
    buf.set(this.out, 0);
    return 8;
  }

  override readiness(): number {
    return this.ticks > 0n ? POLLIN | POLLRDNORM : 0;
  }

  /** Checkpoint support (src/snapshot): expiries not yet read. */
  get pendingTicks(): bigint {
    return this.ticks;
  }

  /** Checkpoint support: a timerfd as it was, disarmed (the restorer arms it), with its unread expiries. */
  static restored(clock: Clock, flags: number, ticks: bigint): TimerFd {
    const f = new TimerFd(clock, flags);
    f.ticks = ticks;
    return f;
  }

  /** Re-arming drops expiries not yet read (Linux resets the tick count). */
  set(spec: TimerSpec, absolute: boolean): TimerSpec {
    this.ticks = 0n;
    return this.timer.set(spec, absolute);
  }

  /** TFD_IOC_SET_TICKS (checkpoint/restore tools): the unread expiry count, never 0. */
  override ioctl(t: Task, cmd: number, arg: number): number {
    if (cmd >>> 0 !== TFD_IOC_SET_TICKS) return super.ioctl(t, cmd, arg);
    const b = t.mem.read(arg, 8);
    if (b === null) return -EFAULT;
    const n = b.readBigUInt64LE(0);
    if (n === 0n) return -EINVAL;
    this.ticks = n;
    this.waitQueue.notify(POLLIN | POLLRDNORM);
    return 0;
  }

  protected override release(): void {
    this.timer.disarm();
  }

  override anonName(): string {
    return 'anon_inode:[timerfd]';
  }
}

/** timerfd_create: returns the new fd or -errno. */
export function createTimerFd(t: Task, clockId: number, flags: number): number {
  if (flags & ~(O_CLOEXEC | O_NONBLOCK)) return -EINVAL;
  let clock: Clock;
  switch (clockId) {
    case CLOCK_REALTIME:
      clock = { kind: 'real', id: clockId };
      break;
    case CLOCK_MONOTONIC:
      clock = { kind: 'mono', id: clockId };
      break;
    case CLOCK_BOOTTIME:
      clock = { kind: 'boot', id: clockId };
      break;
    case CLOCK_REALTIME_ALARM:
    case CLOCK_BOOTTIME_ALARM:
      if (!capable(t.creds, CAP_WAKE_ALARM)) return -EPERM;
      clock = { kind: clockId === CLOCK_REALTIME_ALARM ? 'real' : 'boot', id: clockId };
      break;
    default:
      return -EINVAL;
  }
  const f = new TimerFd(clock, O_RDWR | (flags & O_NONBLOCK));
  t.fdTable.limit = Math.min(limitsOf(t.tg).soft(RLIMIT_NOFILE), 1 << 20);
  return t.fdTable.install(f, (flags & O_CLOEXEC) !== 0);
}

/** The TimerFd behind fd, or -EBADF (no such fd) / -EINVAL (not a timerfd). */
export function timerFdOf(t: Task, fd: number): TimerFd | number {
  const f = t.fdTable.get(fd | 0);
  if (!f) return -EBADF;
  return f instanceof TimerFd ? f : -EINVAL;
}

export function validSettimeFlags(flags: number): boolean {
  return (flags & ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET)) === 0;
}

export function isAbsolute(flags: number): boolean {
  return (flags & TFD_TIMER_ABSTIME) !== 0;
}
