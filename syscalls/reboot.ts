/**
 * reboot(2) and acct(2) as Linux answers them inside a container, which is what a sandbox
 * is to the host: reboot needs CAP_SYS_BOOT over the caller's pid namespace, then the
 * magic numbers; in a pid namespace (reboot_pid_ns) RESTART/RESTART2 end its init as if by
 * SIGHUP and HALT/POWER_OFF as if by SIGINT, the caller exits, and every other command is
 * EINVAL. acct needs CAP_SYS_PACCT in the initial user namespace (the sandbox's root has
 * it: it is the container's init user namespace), then opens the file for appending as
 * Linux's acct_on does (a regular file, else EACCES); src/kernel/acct.ts writes the records.
 */
import * as E from '../src/abi/errno';
import type { Task } from '../src/kernel/task';
import { capable, nsCapable } from '../src/auth/capabilities';
import { groupPidNs } from '../src/kernel/namespaces/pid-ns';
import { exitGroup, exitThread } from '../src/kernel/process-lifecycle';
import { NO_RESUME } from '../src/kernel/syscall-dispatch';
import { readPath } from './fs-common';
import { setAccounting } from '../src/kernel/acct';
import { AT_FDCWD, O_APPEND, O_LARGEFILE, O_WRONLY, S_IFMT, S_IFREG } from '../src/abi/fs';


const CAP_SYS_PACCT = 20;
const CAP_SYS_BOOT = 22;
const SIGHUP = 1;
const SIGINT = 2;

const MAGIC1 = 0xfee1dead;
const MAGIC2 = [672274793, 85072278, 369367448, 537993216];
const CMD_RESTART = 0x01234567;
const CMD_RESTART2 = 0xa1b2c3d4;
const CMD_HALT = 0xcdef0123;
const CMD_POWER_OFF = 0x4321fedc;

export function reboot(t: Task, magic1: number, magic2: number, cmd: number): number {
  const ns = groupPidNs(t.tg);
  if (!nsCapable(t.creds, ns?.userns ?? null, CAP_SYS_BOOT)) return -E.EPERM;
  if (magic1 >>> 0 !== MAGIC1 || !MAGIC2.includes(magic2 >>> 0)) return -E.EINVAL;
  const c = cmd >>> 0;
  const sig = c === CMD_RESTART || c === CMD_RESTART2 ? SIGHUP : c === CMD_HALT || c === CMD_POWER_OFF ? SIGINT : 0;
  if (sig === 0) return -E.EINVAL;
  const init = t.kernel.threadGroups.get(ns === null ? 1 : ns.initPid);
  const s = t.kernel.sentry;
  // Linux SIGKILLs the init and gives it the reboot signal as its exit status; the
  // namespace goes with its init. The caller does do_exit(0) (first here: the init's end
  // takes the namespace's processes with it).
  if (t.tg !== init) exitThread(s, t, 0);
  if (init !== undefined) exitGroup(s, init, sig);
  return NO_RESUME;
}

export function acct(t: Task, name: number): number {
  if (!capable(t.creds, CAP_SYS_PACCT)) return -E.EPERM;
  if (name === 0) {
    setAccounting(t, null);
    return 0;
  }
  const p = readPath(t, name);
  if (typeof p === 'number') return p;
  const f = t.kernel.vfs.open(t, AT_FDCWD, p, O_WRONLY | O_APPEND | O_LARGEFILE, 0);
  if (typeof f === 'number') return f;
  if ((f.inode.mode & S_IFMT) !== S_IFREG) {
    f.decRef();
    return -E.EACCES;
  }
  setAccounting(t, f);
  return 0;
}
