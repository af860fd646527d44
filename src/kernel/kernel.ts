import type { Task } from './task';
import type { ThreadGroup } from './thread-group';
import { sinceBootNs } from './time/clocks';
import type { Vfs } from '../../fs/vfs/vfs';
import type { Sentry } from './sentry';
import type { Ctty } from '../../fs/vfs/caller';
import type { SandboxHooks } from './sandbox-hooks';
import type { MemoryAccount } from './memory-account';

/**
 * Sandbox-wide state: the task and process tables, identity (uname), the VFS and the
 * clock. One Kernel per Sentry process (one sandbox per Sentry).
 */
export class Kernel {
  readonly tasks = new Map<number, Task>();
  readonly threadGroups = new Map<number, ThreadGroup>();
  /** Set by the CLI before the first task starts. */
  vfs!: Vfs;
  /** The run loop serving this sandbox's tasks (it registers itself here). */
  sentry!: Sentry;
  hostname = 'tssandbox';
  domainname = '(none)';
  /** net.ipv4.ip_unprivileged_port_start: binding a port below it needs root (CAP_NET_BIND_SERVICE). */
  unprivilegedPortStart = 1024;
  /** net.ipv4.ping_group_range: groups that may open ping sockets (src/net/icmp-socket.ts); distributions' "0 2147483647". */
  pingGroupRange = '0\t2147483647';
  readonly sysname = 'Linux';
  readonly release = '6.1.0-tssandbox';
  readonly version = '#1 SMP PREEMPT_DYNAMIC tssandbox';
  readonly machine = 'x86_64';
  readonly bootWallMs = Date.now();
  private nextPid = 1;
  /** Highest pid handed out wraps at this (like /proc/sys/kernel/pid_max). */
  pidMax = 4194304;
  /** kernel.dmesg_restrict: syslog(2) only with CAP_SYSLOG (Debian's and most distributions' default). */
  readonly dmesgRestrict: number = 1;
  /** Most guest tasks (threads included) at once: --pids-limit. */
  pidsLimit = 16384;
  /**
   * CPUs the guest sees and may use (sched_getaffinity, /proc/cpuinfo, /proc/stat,
   * /sys/devices/system/cpu, sysconf): the CLI sets 1 when the Sentry and its stubs are
   * pinned to one CPU (the default), the host's count (at most 31) with --no-pin; 2 for a
   * Kernel made without the CLI (unit tests), a fixed machine.
   */
  cpus = 2;
  /** --memory: bytes the sandbox may use (tmpfs data is what is counted), Infinity if unset. */
  memoryLimit = Infinity;
  /** --memory as the Sentry counts it (src/kernel/memory-account.ts); null without a limit. */
  memAcct: MemoryAccount | null = null;
  /** Controlling terminals by session id (src/kernel/tty.ts). */
  readonly sessionTtys = new Map<number, Ctty>();
  /** Foreground process group of the sandbox's terminal (0: init's group). */
  foregroundPgid = 0;
  /** The policy / audit / library watcher (src/kernel/sandbox-hooks.ts); null: nothing watches. */
  hooks: SandboxHooks | null = null;
  /** --nofile: the sandbox's ceiling on open fds per process (RLIMIT_NOFILE at most this); Infinity if unset. */
  nofileLimit = Infinity;
  /** --strace / --debug sinks (set by the CLI). */
  debug: ((msg: string) => void) | null = null;
  /**
   * Work that outlives init, as Linux's kernel outlives a process (a network stack's
   * closing connections: data and FIN still to deliver). Asked by the run loop once init
   * has exited: true while it still needs the loop (timers, host fds); each bounds
   * itself, and the Sentry bounds them all (sentry.ts LINGER_MAX_MS).
   */
  readonly lingerers: Array<() => boolean> = [];

  /** Nanoseconds since the sandbox booted (monotonic), as a JS number. */
  nowNs(): number {
    return sinceBootNs();
  }

  allocPid(): number {
    for (let tries = 0; tries < this.pidMax; tries++) {
      const pid = this.nextPid++;
      if (this.nextPid > this.pidMax) this.nextPid = 2;
      if (!this.tasks.has(pid) && !this.threadGroups.has(pid)) return pid;
    }
    return -1;
  }

  /** The next pid to try (checkpoint support, src/snapshot: a restored sandbox goes on numbering where it was). */
  get pidCursor(): number {
    return this.nextPid;
  }
  set pidCursor(n: number) {
    this.nextPid = n;
  }

  log(msg: string): void {
    if (this.debug) this.debug(msg);
  }
}

