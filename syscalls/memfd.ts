/** memfd_create: an unlinked tmpfs file, sealable on request. */
import * as E from '../src/abi/errno';
import type { Task } from '../src/kernel/task';
import { createMemfd, MFD_CLOEXEC, MFD_ALLOW_SEALING } from '../fs/fsimpl/tmpfs/memfd';
import { EFAULT, install } from './fs-common';

export function memfd_create(t: Task, nameAddr: number, flags: number): number {
  if (flags & ~(MFD_CLOEXEC | MFD_ALLOW_SEALING | 0x8 | 0x10)) return -E.EINVAL;
  const name = t.mem.readCString(nameAddr, 4096);
  if (name === null) return EFAULT;
  if (Buffer.byteLength(name) > 249) return -E.EINVAL;
  const f = createMemfd(name, (flags & MFD_ALLOW_SEALING) !== 0, t.creds);
  return install(t, f, (flags & MFD_CLOEXEC) !== 0);
}
