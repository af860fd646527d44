/**
 * prctl and arch_prctl (as gVisor's sys_prctl.go and sys_tls_amd64.go): per-task and
 * per-process switches (death signal, dumpable, name, capabilities' bounding and
 * ambient sets, no_new_privs, subreaper, timer slack, ...) and the FS/GS bases.
 */
import type { Task } from '../src/kernel/task';
import { Reg } from '../src/platform/event-buffer';
import { prctlGetSeccomp, prctlSetSeccomp } from './seccomp';
import { boundingOf, capsOf, ownCapable, setCaps, CAP_LAST_CAP, CAP_SETPCAP, type CapSets } from '../src/auth/capabilities';
import { SUID_DUMP_DISABLE, SUID_DUMP_USER } from '../src/kernel/dumpable';
import * as E from '../src/abi/errno';

const ARCH_SET_GS = 0x1001, ARCH_SET_FS = 0x1002, ARCH_GET_FS = 0x1003, ARCH_GET_GS = 0x1004;

export function arch_prctl(t: Task, code: number, addr: number): number {
  const p = t.kernel.sentry.platform;
  switch (code | 0) {
    case ARCH_SET_FS:
    case ARCH_SET_GS:
      if (addr < 0 || addr >= 0x800000000000) return -E.EPERM;
      if (p.getRegs(t.hostTid) !== 0) return -E.ESRCH;
      p.ev.setReg((code | 0) === ARCH_SET_FS ? Reg.FS_BASE : Reg.GS_BASE, addr);
      return p.setRegs(t.hostTid) === 0 ? 0 : -E.ESRCH;
    case ARCH_GET_FS:
    case ARCH_GET_GS:
      if (p.getRegs(t.hostTid) !== 0) return -E.ESRCH;
      return t.mem.writeU64(addr, p.ev.regs[(code | 0) === ARCH_GET_FS ? Reg.FS_BASE : Reg.GS_BASE]) ? 0 : -E.EFAULT;
    default:
      return -E.EINVAL;
  }
}

const PR_SET_PDEATHSIG = 1, PR_GET_PDEATHSIG = 2, PR_GET_DUMPABLE = 3, PR_SET_DUMPABLE = 4,
  PR_GET_KEEPCAPS = 7, PR_SET_KEEPCAPS = 8, PR_SET_NAME = 15, PR_GET_NAME = 16, PR_CAPBSET_READ = 23, PR_CAPBSET_DROP = 24,
  PR_SET_CHILD_SUBREAPER = 36, PR_GET_CHILD_SUBREAPER = 37, PR_SET_NO_NEW_PRIVS = 38, PR_GET_NO_NEW_PRIVS = 39,
  PR_GET_TID_ADDRESS = 40, PR_SET_THP_DISABLE = 41, PR_GET_THP_DISABLE = 42, PR_CAP_AMBIENT = 47,
  PR_SET_VMA = 0x53564d41, PR_GET_SECCOMP = 21, PR_SET_SECCOMP = 22, PR_SET_PTRACER = 0x59616d61,
  PR_GET_TSC = 25, PR_SET_TSC = 26, PR_SET_TIMERSLACK = 29, PR_GET_TIMERSLACK = 30,
  PR_GET_SPECULATION_CTRL = 52, PR_SET_SPECULATION_CTRL = 53;
const PR_TSC_ENABLE = 1;

/** PR_CAP_AMBIENT: IS_SET, RAISE (cap in permitted and inheritable), LOWER, CLEAR_ALL. */
function capAmbient(t: Task, op: number, cap: number, a4: number, a5: number): number {
  const s = capsOf(t.creds);
  const amb = s.ambient ?? 0n;
  if (op === 4 /* CLEAR_ALL */) {
    if (cap || a4 || a5) return -E.EINVAL;
    return withCaps(t, { ...s, ambient: 0n });
  }
  if (a4 || a5 || cap < 0 || cap > CAP_LAST_CAP) return -E.EINVAL;
  const bit = 1n << BigInt(cap);
  switch (op) {
    case 1: // IS_SET
      return amb & bit ? 1 : 0;
    case 2: // RAISE
      if (!(s.permitted & bit) || !(s.inheritable & bit)) return -E.EPERM;
      return withCaps(t, { ...s, ambient: amb | bit });
    case 3: // LOWER
      return withCaps(t, { ...s, ambient: amb & ~bit });
    default:
      return -E.EINVAL;
  }
}

function withCaps(t: Task, s: CapSets): number {
  const n = t.creds.clone();
  setCaps(n, s);
  t.creds = n;
  return 0;
}

export function prctl(t: Task, option: number, a2: number, a3: number, a4: number, a5: number): number {
  switch (option | 0) {
    case PR_GET_SECCOMP:
      return prctlGetSeccomp(t);
    case PR_SET_PTRACER:
      // Yama's exception for a debugger (valgrind's vgdb, crash handlers): 0, ANY or a live pid.
      // Attaching is allowed by ptrace's same-user rule here, so there is nothing to widen.
      if (a2 !== 0 && a2 !== -1 && !t.kernel.threadGroups.has(a2)) return -E.EINVAL;
      return 0;
    case PR_SET_SECCOMP:
      return prctlSetSeccomp(t, a2, a3);
    case PR_SET_PDEATHSIG:
      if (a2 < 0 || a2 > 64) return -E.EINVAL;
      t.pdeathSig = a2;
      return 0;
    case PR_GET_PDEATHSIG:
      return t.mem.writeI32(a2, t.pdeathSig) ? 0 : -E.EFAULT;
    case PR_GET_DUMPABLE:
      return t.mm.dumpable;
    case PR_SET_DUMPABLE:
      // Only SUID_DUMP_DISABLE and SUID_DUMP_USER: 2 (root-only core files) is the sysctl's alone.
      if (a2 !== SUID_DUMP_DISABLE && a2 !== SUID_DUMP_USER) return -E.EINVAL;
      t.mm.dumpable = a2;
      return 0;
    case PR_GET_KEEPCAPS:
      return capsOf(t.creds).keepCaps ? 1 : 0;
    case PR_SET_KEEPCAPS: {
      if (a2 !== 0 && a2 !== 1) return -E.EINVAL;
      const n = t.creds.clone();
      setCaps(n, { ...capsOf(t.creds), keepCaps: a2 === 1 });
      t.creds = n;
      return 0;
    }
    case PR_SET_NAME: {
      const b = t.mem.read(a2, 16);
      if (!b) return -E.EFAULT;
      const nul = b.indexOf(0);
      t.comm = b.subarray(0, nul < 0 ? 15 : Math.min(nul, 15)).toString('latin1');
      return 0;
    }
    case PR_GET_NAME: {
      const b = Buffer.alloc(16);
      b.write(t.comm.slice(0, 15));
      return t.mem.write(a2, b) ? 0 : -E.EFAULT;
    }
    case PR_CAPBSET_READ:
      if (a2 < 0 || a2 > CAP_LAST_CAP) return -E.EINVAL;
      return (boundingOf(t.creds) >> BigInt(a2)) & 1n ? 1 : 0;
    case PR_CAPBSET_DROP: {
      if (a2 < 0 || a2 > CAP_LAST_CAP) return -E.EINVAL;
      // CAP_SETPCAP in the caller's own user namespace (a new one's root may drop).
      if (!ownCapable(t.creds, CAP_SETPCAP)) return -E.EPERM;
      return withCaps(t, { ...capsOf(t.creds), bounding: boundingOf(t.creds) & ~(1n << BigInt(a2)) });
    }
    case PR_SET_CHILD_SUBREAPER:
      t.tg.subreaper = a2 !== 0;
      return 0;
    case PR_GET_CHILD_SUBREAPER:
      return t.mem.writeI32(a2, t.tg.subreaper ? 1 : 0) ? 0 : -E.EFAULT;
    case PR_SET_NO_NEW_PRIVS:
      if (a2 !== 1 || a3 || a4 || a5) return -E.EINVAL;
      t.noNewPrivs = true;
      return 0;
    case PR_GET_NO_NEW_PRIVS:
      if (a2 || a3 || a4 || a5) return -E.EINVAL;
      return t.noNewPrivs ? 1 : 0;
    case PR_GET_TID_ADDRESS:
      return t.mem.writeU64(a2, t.clearChildTid) ? 0 : -E.EFAULT;
    case PR_SET_THP_DISABLE:
      // Kept and read back (no huge pages are made either way), inherited at fork.
      if (a3 || a4 || a5) return -E.EINVAL;
      t.tg.thpDisabled = a2 !== 0;
      return 0;
    case PR_GET_THP_DISABLE:
      if (a2 || a3 || a4 || a5) return -E.EINVAL;
      return t.tg.thpDisabled ? 1 : 0;
    case PR_SET_TIMERSLACK:
      // 0 (or a negative long) restores the default (the parent's slack at fork).
      t.timerSlackNs = a2 <= 0 ? t.defaultTimerSlackNs : a2;
      return 0;
    case PR_GET_TIMERSLACK:
      return t.timerSlackNs;
    case PR_GET_TSC:
      // The TSC is always readable by the guest (no RDTSC trap outside deterministic mode).
      return t.mem.writeI32(a2, PR_TSC_ENABLE) ? 0 : -E.EFAULT;
    case PR_SET_TSC:
      return a2 === PR_TSC_ENABLE ? 0 : -E.EINVAL;
    case PR_GET_SPECULATION_CTRL:
    case PR_SET_SPECULATION_CTRL:
      // Store bypass, indirect branch and L1D flush are x86's; anything else is no device.
      return a2 < 0 || a2 > 2 ? -E.ENODEV : -E.EINVAL;
    case PR_CAP_AMBIENT:
      return capAmbient(t, a2, a3, a4, a5);
    case PR_SET_VMA:
      return 0;
    default:
      return -E.EINVAL;
  }
}

