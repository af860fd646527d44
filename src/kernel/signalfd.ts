/**
 * signalfd: reading takes pending signals in the fd's mask (the reader's own thread
 * queue first, then its process's) as struct signalfd_siginfo, instead of delivering
 * them. Readable while such a signal is pending. Every queued signal notifies
 * `signalEvents`, where readers and pollers of any signalfd wait.
 */
import { FileDescription } from '../../fs/vfs/file';
import { anonInode } from '../../fs/vfs/anon';
import { WaitQueue } from '../waiter/waitqueue';
import type { Task } from './task';
import type { ThreadGroup } from './thread-group';
import { type SigInfo, encodeSigInfo, nextDeliverable, SIGCHLD, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SI_TIMER } from './signals';

const POLLIN = 0x1, POLLRDNORM = 0x40;
const EAGAIN = 11, EINVAL = 22;
const ALL = 0xffffffffffffffffn;

/** Notified (POLLIN) whenever a signal is queued anywhere in the sandbox. */
export const signalEvents = new WaitQueue();

export class SignalFd extends FileDescription {
  constructor(
    /** Readiness is judged for this process (Linux: whoever polls; here: the creator's). */
    private readonly tg: ThreadGroup,
    public mask: bigint,
    flags: number,
  ) {
    super(anonInode, flags);
    this.waitQueue = signalEvents;
  }

  override read(buf: Uint8Array, t?: Task): number {
    if (buf.length < 128) return -EINVAL;
    let n = 0;
    while (n + 128 <= buf.length) {
      const si = t ? this.take(t.sig.pending) ?? this.take(t.tg.sharedPending) : this.take(this.tg.sharedPending);
      if (!si) break;
      Buffer.from(buf.buffer, buf.byteOffset + n, 128).set(encodeSignalfdInfo(si));
      n += 128;
    }
    return n > 0 ? n : -EAGAIN;
  }

  private take(q: SigInfo[]): SigInfo | null {
    const i = nextDeliverable(q, ~this.mask & ALL);
    return i >= 0 ? q.splice(i, 1)[0] : null;
  }

  override readiness(): number {
    const hit = (q: SigInfo[]) => nextDeliverable(q, ~this.mask & ALL) >= 0;
    if (hit(this.tg.sharedPending)) return POLLIN | POLLRDNORM;
    for (const t of this.tg.tasks) if (hit(t.sig.pending)) return POLLIN | POLLRDNORM;
    return 0;
  }

  override anonName(): string {
    return 'anon_inode:[signalfd]';
  }
}

/** struct signalfd_siginfo (128 bytes) from a queued signal. */
function encodeSignalfdInfo(si: SigInfo): Buffer {
  const k = encodeSigInfo(si); // the kernel siginfo_t layout, to read the union from
  const o = Buffer.alloc(128);
  const signo = k.readInt32LE(0);
  const code = k.readInt32LE(8);
  o.writeUInt32LE(signo, 0);
  o.writeInt32LE(k.readInt32LE(4), 4);
  o.writeInt32LE(code, 8);
  if (code === SI_TIMER) {
    o.writeUInt32LE(k.readUInt32LE(16), 24); // ssi_tid: the timer id
    o.writeUInt32LE(k.readUInt32LE(20), 32); // ssi_overrun
    o.writeInt32LE(k.readInt32LE(24), 44); // ssi_int
    o.writeBigUInt64LE(k.readBigUInt64LE(24), 48); // ssi_ptr
  } else if (code > 0 && [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP].includes(signo)) {
    o.writeBigUInt64LE(k.readBigUInt64LE(16), 72); // ssi_addr
  } else {
    o.writeUInt32LE(k.readUInt32LE(16), 12); // ssi_pid
    o.writeUInt32LE(k.readUInt32LE(20), 16); // ssi_uid
    if (signo === SIGCHLD) {
      o.writeInt32LE(k.readInt32LE(24), 40); // ssi_status
      o.writeBigUInt64LE(k.readBigUInt64LE(32), 56); // ssi_utime
      o.writeBigUInt64LE(k.readBigUInt64LE(40), 64); // ssi_stime
    } else {
      o.writeInt32LE(k.readInt32LE(24), 44); // ssi_int
      o.writeBigUInt64LE(k.readBigUInt64LE(24), 48); // ssi_ptr
    }
  }
  return o;
}
