/**
 * syslog(2), the kernel log ring (kernel/printk/printk.c do_syslog). The sandbox's kernel
 * logs nothing, so its ring is empty: READ_ALL copies nothing, SIZE_UNREAD is 0, READ
 * waits (interruptibly) for a message that never comes, as Linux's would on an empty ring;
 * SIZE_BUFFER is a 128 KiB ring (CONFIG_LOG_BUF_SHIFT 17). With kernel.dmesg_restrict
 * (1, /proc/sys/kernel/dmesg_restrict) every action needs CAP_SYSLOG, an unknown one
 * included (the check comes first); with 0, READ_ALL and SIZE_BUFFER are anyone's.
 */
import * as E from '../src/abi/errno';
import type { Task } from '../src/kernel/task';
import { capable, CAP_SYSLOG } from '../src/auth/capabilities';
import { accessOk } from './user-args';

const CLOSE = 0, OPEN = 1, READ = 2, READ_ALL = 3, READ_CLEAR = 4, CLEAR = 5, CONSOLE_OFF = 6, CONSOLE_ON = 7,
  CONSOLE_LEVEL = 8, SIZE_UNREAD = 9, SIZE_BUFFER = 10;
const LOG_BUF_LEN = 1 << 17;

export function syslog(t: Task, type: number, buf: number, len: number): number {
  type |= 0;
  len |= 0;
  const restricted = t.kernel.dmesgRestrict !== 0 || (type !== READ_ALL && type !== SIZE_BUFFER);
  if (restricted && !capable(t.creds, CAP_SYSLOG)) return -E.EPERM;
  switch (type) {
    case CLOSE:
    case OPEN:
    case CLEAR:
    case CONSOLE_OFF:
    case CONSOLE_ON:
      return 0;
    case READ:
      if (buf === 0 || len < 0) return -E.EINVAL;
      if (len === 0) return 0;
      if (!accessOk(buf, len)) return -E.EFAULT;
      return t.block(); // no message ever comes: until a signal
    case READ_CLEAR:
    case READ_ALL:
      if (buf === 0 || len < 0) return -E.EINVAL;
      if (len === 0) return 0;
      return accessOk(buf, len) ? 0 : -E.EFAULT;
    case CONSOLE_LEVEL:
      // There is no console the level would filter: only its range is checked.
      return len < 1 || len > 8 ? -E.EINVAL : 0;
    case SIZE_UNREAD:
      return 0;
    case SIZE_BUFFER:
      return LOG_BUF_LEN;
    default:
      return -E.EINVAL;
  }
}
