/**
 * seccomp(2) and prctl's PR_SET_SECCOMP/PR_GET_SECCOMP: argument checks in Linux's order,
 * then src/kernel/seccomp (the BPF check, the chain, the check at syscall entry).
 */
import type { Task } from '../src/kernel/task';
import * as E from '../src/abi/errno';
import { capable, CAP_SYS_ADMIN } from '../src/auth/capabilities';
import { BPF_MAXINSNS, checkSeccompBpf, decodeBpf } from '../src/kernel/seccomp/bpf';
import { SECCOMP_ACTIONS, SECCOMP_MODE_DISABLED, SECCOMP_MODE_FILTER, SECCOMP_MODE_STRICT } from '../src/kernel/seccomp/filter';
import { enterStrictMode, installFilter } from '../src/kernel/seccomp/install';
import { SeccompListener } from '../src/kernel/seccomp/notify';
import { installFd } from './fd-install';

const SECCOMP_SET_MODE_STRICT = 0, SECCOMP_SET_MODE_FILTER = 1, SECCOMP_GET_ACTION_AVAIL = 2, SECCOMP_GET_NOTIF_SIZES = 3;
const FLAG_TSYNC = 1, FLAG_LOG = 2, FLAG_SPEC_ALLOW = 4, FLAG_NEW_LISTENER = 8, FLAG_TSYNC_ESRCH = 16,
  FLAG_WAIT_KILLABLE_RECV = 32;
const FILTER_FLAGS = FLAG_TSYNC | FLAG_LOG | FLAG_SPEC_ALLOW | FLAG_NEW_LISTENER | FLAG_TSYNC_ESRCH | FLAG_WAIT_KILLABLE_RECV;
// sizeof(struct seccomp_notif), (struct seccomp_notif_resp), (struct seccomp_data).
const NOTIF_SIZES = [80, 24, 64];

export function seccomp(t: Task, op: number, flagsArg: number, uargs: number): number {
  const flags = flagsArg >>> 0;
  switch (op >>> 0) {
    case SECCOMP_SET_MODE_STRICT:
      if (flags !== 0 || uargs !== 0) return -E.EINVAL;
      return enterStrictMode(t);
    case SECCOMP_SET_MODE_FILTER:
      return setModeFilter(t, flags, uargs);
    case SECCOMP_GET_ACTION_AVAIL: {
      if (flags !== 0) return -E.EINVAL;
      const action = t.mem.readU32(uargs);
      if (action === null) return -E.EFAULT;
      return SECCOMP_ACTIONS.includes(action) ? 0 : -E.EOPNOTSUPP;
    }
    case SECCOMP_GET_NOTIF_SIZES: {
      if (flags !== 0) return -E.EINVAL;
      const b = Buffer.alloc(6);
      NOTIF_SIZES.forEach((v, i) => b.writeUInt16LE(v, i * 2));
      return t.mem.write(uargs, b) ? 0 : -E.EFAULT;
    }
    default:
      return -E.EINVAL;
  }
}

function setModeFilter(t: Task, flags: number, uargs: number): number {
  if (flags & ~FILTER_FLAGS) return -E.EINVAL;
  if ((flags & FLAG_TSYNC) && (flags & FLAG_NEW_LISTENER) && !(flags & FLAG_TSYNC_ESRCH)) return -E.EINVAL;
  if ((flags & FLAG_WAIT_KILLABLE_RECV) && !(flags & FLAG_NEW_LISTENER)) return -E.EINVAL;
  // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
  const fprog = t.mem.read(uargs, 16);
  if (!fprog) return -E.EFAULT;
  const len = fprog.readUInt16LE(0);
  if (len === 0 || len > BPF_MAXINSNS) return -E.EINVAL;
  if (!t.noNewPrivs && !capable(t.creds, CAP_SYS_ADMIN)) return -E.EACCES;
  const insns = t.mem.read(Number(fprog.readBigUInt64LE(8)), len * 8);
  if (!insns) return -E.EFAULT;
  const prog = decodeBpf(insns);
  const bad = checkSeccompBpf(prog);
  if (bad) return -bad;
  const opts = { tsync: !!(flags & FLAG_TSYNC), tsyncEsrch: !!(flags & FLAG_TSYNC_ESRCH), log: !!(flags & FLAG_LOG) };
  if (!(flags & FLAG_NEW_LISTENER)) return installFilter(t, prog, opts);
  // The listener fd (close-on-exec) first, as Linux reserves it before attaching.
  const listener = new SeccompListener();
  const fd = installFd(t, listener, true);
  if (fd < 0) return fd;
  const r = installFilter(t, prog, { ...opts, listener });
  if (r !== 0) {
    t.fdTable.close(fd);
    return r;
  }
  return fd;
}

/** prctl(PR_SET_SECCOMP, mode, filter): strict ignores the third argument, filter has no flags. */
export function prctlSetSeccomp(t: Task, mode: number, filter: number): number {
  if (mode === SECCOMP_MODE_STRICT) return seccomp(t, SECCOMP_SET_MODE_STRICT, 0, 0);
  if (mode === SECCOMP_MODE_FILTER) return seccomp(t, SECCOMP_SET_MODE_FILTER, 0, filter);
  return -E.EINVAL;
}

/** prctl(PR_GET_SECCOMP): the mode (strict mode never gets here: prctl is not allowed in it). */
export function prctlGetSeccomp(t: Task): number {
  return t.seccomp?.mode ?? SECCOMP_MODE_DISABLED;
}
