import type { Task } from './task';
import type { Dentry } from '../../fs/vfs/dentry';
import { WaitQueue } from '../waiter/waitqueue';
import type { SignalHandlers, SigInfo } from './signals';
import type { Kernel } from './kernel';
import type { Usage } from './time/cputime';

/**
 * A guest process: the thread group that shares a pid, signal handlers, and the
 * parent/child relation. Its threads are Tasks; the leader's tid is the pid.
 */
export class ThreadGroup {
  readonly tasks = new Set<Task>();
  readonly children = new Set<ThreadGroup>();
  /** Process-directed pending signals (kill). */
  sharedPending: SigInfo[] = [];
  /** Notified (with any mask) when a child changes state: wait4/waitid sleep here. */
  readonly childEvents = new WaitQueue();
  /** Notified when this process exits (pidfds poll here). */
  readonly exitEvents = new WaitQueue();
  parent: ThreadGroup | null = null;
  pgid: number;
  sid: number;
  /** argv and envp of the current image, for /proc/[pid]/cmdline and environ. */
  argv: string[] = [];
  envp: string[] = [];
  /** Absolute guest path of the running executable (/proc/[pid]/exe, AT_EXECFN). */
  exePath = '';
  /** The dentry it was loaded from: /proc/PID/exe still reaches it once unlinked or unmounted (runc's bound copy). */
  exeDentry: Dentry | null = null;
  /** The auxiliary vector of its program (/proc/PID/auxv; debuggers read AT_ENTRY, AT_PHDR). */
  auxv: Buffer = Buffer.alloc(16);
  /** Set once every thread has exited: the wait status (as wait4 reports it). */
  zombie = false;
  waitStatus = 0;
  /** Exit requested by exit_group or a fatal signal; tasks leave when they next stop. */
  exiting = false;
  groupExitStatus = 0;
  /** Job-control stopped (SIGSTOP & co.) until SIGCONT. */
  stopped = false;
  /** Has exec'd since fork (setpgid on it then fails with EACCES). */
  didExec = false;
  /** A capability check of one of its threads succeeded (Linux's PF_SUPERPRIV: acct's ASU); a fork's child starts without. */
  superPriv = false;
  /** Reported once to the parent by WUNTRACED / WCONTINUED. */
  stopReport = 0;
  continueReport = false;
  /** Signal sent to the parent at exit (SIGCHLD unless clone said otherwise). */
  exitSignal = 17;
  /** User/system CPU time of reaped children, in ns, for getrusage(RUSAGE_CHILDREN). */
  childrenCpuNs = 0;
  /** Resource usage of reaped children (and theirs), for RUSAGE_CHILDREN; null: none yet. */
  childrenUsage: Usage | null = null;
  /** Set when reaped: what wait4/waitid report (the child's usage and its children's). */
  finalUsage: Usage | null = null;
  /** read/write accounting for /proc/PID/io (characters and calls). */
  io = { rchar: 0, wchar: 0, syscr: 0, syscw: 0 };
  startTimeNs = 0;
  subreaper = false;
  /** PR_SET_THP_DISABLE (Linux's MMF_DISABLE_THP is the mm's; here the process's): inherited at fork, kept over exec. */
  thpDisabled = false;
  /** personality(2) flags (PER_LINUX = 0). */
  personality = 0;
  /** Resource limits (src/kernel/limits.ts), shared by the group's threads. */
  limits: any = undefined;

  constructor(
    /** The sandbox this process belongs to. */
    readonly kernel: Kernel,
    readonly pid: number,
    public handlers: SignalHandlers,
  ) {
    this.pgid = pid;
    this.sid = pid;
  }

  get ppid(): number {
    return this.parent ? this.parent.pid : 0;
  }

  get leader(): Task | undefined {
    for (const t of this.tasks) if (t.tid === this.pid) return t;
    return undefined;
  }
}
