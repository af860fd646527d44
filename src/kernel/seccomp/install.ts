/**
 * Entering seccomp modes: strict mode, and filters appended to a task's chain (with
 * TSYNC to every thread of its process), with Linux's rules and errnos. Checking and
 * copying the program from guest memory is the syscall's (syscalls/seccomp.ts); the OCI
 * mode can call installFilter on the first task with a program it built.
 */
import { EINVAL, ENOMEM, ESRCH } from '../../abi/errno';
import type { Task } from '../task';
import type { BpfProgram } from './bpf';
import type { SeccompListener } from './notify';
import { isAncestor, SECCOMP_MODE_FILTER, SECCOMP_MODE_STRICT, type SeccompFilter } from './filter';

/** MAX_INSNS_PER_PATH: instructions over a whole chain (each filter counting 4 more). */
const MAX_INSNS_PER_PATH = 32768;

export interface InstallOptions {
  /** SECCOMP_FILTER_FLAG_TSYNC: every thread of the process gets the new chain. */
  tsync?: boolean;
  /** SECCOMP_FILTER_FLAG_TSYNC_ESRCH: a thread that cannot be synced gives ESRCH, not its tid. */
  tsyncEsrch?: boolean;
  /** SECCOMP_FILTER_FLAG_LOG. */
  log?: boolean;
  /** SECCOMP_FILTER_FLAG_NEW_LISTENER's listener. */
  listener?: SeccompListener | null;
}

/** SECCOMP_SET_MODE_STRICT: 0 or -EINVAL (a task in filter mode cannot go back). */
export function enterStrictMode(t: Task): number {
  if (t.seccomp && t.seccomp.mode !== SECCOMP_MODE_STRICT) return -EINVAL;
  t.seccomp = { mode: SECCOMP_MODE_STRICT, filter: null };
  return 0;
}

/**
 * Appends a checked program to t's chain. Returns 0, -EINVAL (strict mode), -ENOMEM (the
 * chain is too long), or for TSYNC the tid of a thread whose chain is not an ancestor of
 * t's (-ESRCH with tsyncEsrch). The caller has checked no_new_privs or CAP_SYS_ADMIN.
 */
export function installFilter(t: Task, prog: BpfProgram, o: InstallOptions = {}): number {
  const cur = t.seccomp;
  if (cur && cur.mode !== SECCOMP_MODE_FILTER) return -EINVAL;
  const prev = cur?.filter ?? null;
  if (o.tsync) {
    for (const other of t.tg.tasks) {
      if (other === t) continue;
      const os = other.seccomp;
      if (os === null) continue;
      if (os.mode === SECCOMP_MODE_FILTER && isAncestor(os.filter, prev)) continue;
      return o.tsyncEsrch ? -ESRCH : other.tid;
    }
  }
  const pathInsns = prog.len + (prev ? prev.pathInsns + 4 : 0);
  if (pathInsns > MAX_INSNS_PER_PATH) return -ENOMEM;
  const filter: SeccompFilter = { prog, prev, log: !!o.log, pathInsns, listener: o.listener ?? null };
  const state = { mode: SECCOMP_MODE_FILTER, filter } as const;
  t.seccomp = state;
  if (o.tsync) {
    for (const other of t.tg.tasks) {
      if (other === t) continue;
      other.seccomp = state;
      // seccomp_sync_threads: no_new_privs goes with the filter.
      if (t.noNewPrivs) other.noNewPrivs = true;
    }
  }
  return 0;
}
