/**
 * Guest signal state, kept entirely in the Sentry: dispositions (shared by threads
 * under CLONE_SIGHAND), per-thread masks and pending queues, the process-wide pending
 * queue. Delivery (frames on the guest stack) is in signal-frame.ts; the decision of
 * what to deliver and when is in signal-delivery.ts.
 */
export const SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGILL = 4, SIGTRAP = 5, SIGABRT = 6, SIGBUS = 7,
  SIGFPE = 8, SIGKILL = 9, SIGUSR1 = 10, SIGSEGV = 11, SIGUSR2 = 12, SIGPIPE = 13, SIGALRM = 14,
  SIGTERM = 15, SIGSTKFLT = 16, SIGCHLD = 17, SIGCONT = 18, SIGSTOP = 19, SIGTSTP = 20, SIGTTIN = 21,
  SIGTTOU = 22, SIGURG = 23, SIGXCPU = 24, SIGXFSZ = 25, SIGVTALRM = 26, SIGPROF = 27, SIGWINCH = 28,
  SIGIO = 29, SIGPWR = 30, SIGSYS = 31, SIGRTMIN = 32, NSIG = 64;

export const SA_NOCLDSTOP = 1n, SA_NOCLDWAIT = 2n, SA_SIGINFO = 4n, SA_ONSTACK = 0x08000000n,
  SA_RESTART = 0x10000000n, SA_NODEFER = 0x40000000n, SA_RESETHAND = 0x80000000n, SA_RESTORER = 0x04000000n;

export const SIG_DFL = 0n;
export const SIG_IGN = 1n;

/** si_code values. */
export const SI_USER = 0, SI_KERNEL = 0x80, SI_QUEUE = -1, SI_TIMER = -2, SI_TKILL = -6;
export const CLD_EXITED = 1, CLD_KILLED = 2, CLD_DUMPED = 3, CLD_TRAPPED = 4, CLD_STOPPED = 5, CLD_CONTINUED = 6;

export function sigbit(sig: number): bigint {
  return 1n << BigInt(sig - 1);
}

/** Signals that can be neither caught, blocked nor ignored. */
export const UNBLOCKABLE = sigbit(SIGKILL) | sigbit(SIGSTOP);

export const enum DefaultAction { Terminate, Core, Ignore, Stop, Continue }

export function defaultAction(sig: number): DefaultAction {
  switch (sig) {
    case SIGQUIT: case SIGILL: case SIGTRAP: case SIGABRT: case SIGBUS: case SIGFPE: case SIGSEGV:
    case SIGXCPU: case SIGXFSZ: case SIGSYS:
      return DefaultAction.Core;
    case SIGCHLD: case SIGURG: case SIGWINCH:
      return DefaultAction.Ignore;
    case SIGCONT:
      return DefaultAction.Continue;
    case SIGSTOP: case SIGTSTP: case SIGTTIN: case SIGTTOU:
      return DefaultAction.Stop;
    default:
      return DefaultAction.Terminate;
  }
}

export interface SigAction {
  handler: bigint;
  flags: bigint;
  restorer: bigint;
  mask: bigint;
}

/** Dispositions of signals 1..64 (index = signo). */
export class SignalHandlers {
  readonly actions: SigAction[] = [];

  constructor() {
    for (let i = 0; i <= NSIG; i++) this.actions.push({ handler: SIG_DFL, flags: 0n, restorer: 0n, mask: 0n });
  }

  clone(): SignalHandlers {
    const c = new SignalHandlers();
    for (let i = 0; i <= NSIG; i++) c.actions[i] = { ...this.actions[i] };
    return c;
  }

  /** execve: caught signals revert to default; ignored ones stay ignored. */
  resetForExec(): SignalHandlers {
    const c = new SignalHandlers();
    for (let i = 1; i <= NSIG; i++) if (this.actions[i].handler === SIG_IGN) c.actions[i].handler = SIG_IGN;
    return c;
  }

  isIgnored(sig: number): boolean {
    const a = this.actions[sig];
    if (a.handler === SIG_IGN) return sig !== SIGKILL && sig !== SIGSTOP;
    return a.handler === SIG_DFL && defaultAction(sig) === DefaultAction.Ignore;
  }
}

/** What a queued signal carries; encoded to siginfo_t on delivery. */
export interface SigInfo {
  signo: number;
  code: number;
  errno?: number;
  pid?: number;
  uid?: number;
  /** SIGCHLD: exit status or signal. */
  status?: number;
  utime?: number;
  stime?: number;
  /** Faults: the faulting address. */
  addr?: number;
  /** sigqueue / timers: the value. */
  value?: bigint;
  timerId?: number;
  overrun?: number;
  /** A siginfo taken verbatim from the host (faults): 128 bytes. */
  raw?: Buffer;
  /** Not a signal: a queued PTRACE_INTERRUPT (src/kernel/ptrace-seize.ts). */
  interrupt?: boolean;
  /** A marker: another thread began a group-stop with this signal; a traced thread traps at it too. */
  jobStop?: number;
  /**
   * Not subject to init's protection against signals from inside its pid namespace:
   * sent from outside the sandbox (the host's SIGTERM/SIGINT the Sentry forwards), or a
   * synchronous fault (Linux's force_sig_info clears SIGNAL_UNKILLABLE).
   */
  force?: boolean;
  /** Already shown to a ptrace tracer at a signal-delivery stop (passed back on resume). */
  traced?: boolean;
}

export function encodeSigInfo(si: SigInfo): Buffer {
  if (si.raw) return Buffer.from(si.raw);
  const b = Buffer.alloc(128);
  b.writeInt32LE(si.signo, 0);
  b.writeInt32LE(si.errno ?? 0, 4);
  b.writeInt32LE(si.code, 8);
  if (si.addr !== undefined) {
    b.writeBigUInt64LE(BigInt(si.addr), 16);
  } else if (si.timerId !== undefined) {
    b.writeInt32LE(si.timerId, 16);
    b.writeInt32LE(si.overrun ?? 0, 20);
    b.writeBigUInt64LE(si.value ?? 0n, 24);
  } else {
    b.writeInt32LE(si.pid ?? 0, 16);
    b.writeUInt32LE(si.uid ?? 0, 20);
    if (si.signo === SIGCHLD) {
      b.writeInt32LE(si.status ?? 0, 24);
      b.writeBigInt64LE(BigInt(si.utime ?? 0), 32);
      b.writeBigInt64LE(BigInt(si.stime ?? 0), 40);
    } else if (si.value !== undefined) {
      b.writeBigUInt64LE(si.value, 24);
    }
  }
  return b;
}

export interface AltStack {
  sp: number;
  flags: number;
  size: number;
  /** The 64-bit values as set (sp and size are Numbers for the frame arithmetic, which
   *  rounds near 2^64: sigaltstack hands these back unchanged). */
  rawSp?: bigint;
  rawSize?: bigint;
}

export const SS_ONSTACK = 1, SS_DISABLE = 2, SS_AUTODISARM = 1 << 31;

/** An enabled alternate stack from the guest's 64-bit sp and size. */
export function altStackOf(rawSp: bigint, flags: number, rawSize: bigint): AltStack {
  return { sp: Number(rawSp), flags, size: Number(rawSize), rawSp, rawSize };
}

/** Per-thread signal state. */
export class SignalState {
  mask = 0n;
  /** Thread-directed pending signals (tkill, faults). */
  pending: SigInfo[] = [];
  altStack: AltStack = { sp: 0, flags: SS_DISABLE, size: 0 };
  /** Mask to restore after rt_sigsuspend / pselect / ppoll once a handler ran. */
  savedMask: bigint | null = null;
  /**
   * The mask rt_sigtimedwait lifted its set from while it waits (Linux real_blocked):
   * those signals still count as blocked when sent, so an ignored-by-default one
   * (SIGCHLD) is queued for the waiter instead of dropped.
   */
  realBlocked = 0n;

  constructor(mask = 0n) {
    this.mask = mask;
  }

  /** Is sig (its bit) blocked, counting a mask rt_sigtimedwait lifted (sig_ignored)? */
  blocks(bit: bigint): boolean {
    return ((this.mask | this.realBlocked) & bit) !== 0n;
  }

  onAltStack(sp: number): boolean {
    const a = this.altStack;
    return (a.flags & SS_DISABLE) === 0 && sp > a.sp && sp <= a.sp + a.size;
  }
}

/** Adds a signal to a pending queue: standard signals queue once, real-time ones always. */
export function enqueue(q: SigInfo[], si: SigInfo): void {
  if (si.signo < SIGRTMIN && q.some((p) => p.signo === si.signo)) return;
  q.push(si);
}

/** Index of the next deliverable signal in q under mask, lowest number first. */
export function nextDeliverable(q: SigInfo[], mask: bigint): number {
  let best = -1;
  for (let i = 0; i < q.length; i++) {
    const s = q[i].signo;
    if ((mask & sigbit(s)) !== 0n && s !== SIGKILL && s !== SIGSTOP) continue;
    if (best < 0 || s < q[best].signo) best = i;
  }
  return best;
}
