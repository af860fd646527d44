import type { Task } from '../task';
import { EFAULT, EINVAL, EPERM } from '../../abi/errno';
import { realtimeNs } from './clocks';
import { timevalBytes } from './timespec';

/**
 * adjtimex / clock_adjtime(CLOCK_REALTIME): the guest may read the kernel's NTP
 * state but never change it (the sandbox does not steer the host clock). The state
 * reported is that of a kernel no NTP daemon has synchronised: STA_UNSYNC, maximum
 * error 16 s, and the result TIME_ERROR, which is what this host reports too.
 */

const TIMEX_SIZE = 208;
/** ADJ_OFFSET_SINGLESHOT | ADJ_OFFSET_READONLY: the one read-only "mode". */
const ADJ_ADJTIME = 0x8000;
const ADJ_OFFSET_SINGLESHOT = 0x0001;
const ADJ_OFFSET_READONLY = 0x2000;
const STA_UNSYNC = 0x40;
const TIME_ERROR = 5;

export function adjtimexRead(t: Task, buf: number): number {
  const b = t.mem.read(buf, TIMEX_SIZE);
  if (!b) return -EFAULT;
  const modes = b.readUInt32LE(0);
  // timekeeping_validate_timex: ADJ_ADJTIME needs the single-shot bit (EINVAL), and only its
  // read-only form is allowed; any other change is EPERM (the clock is the host's).
  if (modes & ADJ_ADJTIME) {
    if (!(modes & ADJ_OFFSET_SINGLESHOT)) return -EINVAL;
    if (!(modes & ADJ_OFFSET_READONLY)) return -EPERM;
  } else if (modes !== 0) return -EPERM;
  b.writeBigInt64LE(0n, 8); // offset
  b.writeBigInt64LE(0n, 16); // freq
  b.writeBigInt64LE(16_000_000n, 24); // maxerror (us)
  b.writeBigInt64LE(16_000_000n, 32); // esterror (us)
  b.writeInt32LE(STA_UNSYNC, 40); // status
  b.writeBigInt64LE(2n, 48); // constant
  b.writeBigInt64LE(1n, 56); // precision (us)
  b.writeBigInt64LE(32_768_000n, 64); // tolerance (500 ppm << 16)
  timevalBytes(realtimeNs(), b, 72); // time
  b.writeBigInt64LE(10_000n, 88); // tick (us per USER_HZ tick)
  for (let off = 96; off < 160; off += 8) b.writeBigInt64LE(0n, off); // pps fields, shift
  b.writeInt32LE(0, 160); // tai
  return t.mem.write(buf, b) ? TIME_ERROR : -EFAULT;
}
