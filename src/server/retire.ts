/**
 * The end of one sandbox in a reused pool worker (`serve --reuse N`): before the same
 * process builds the next sandbox, nothing of this one may remain to be seen or to act.
 *
 * - every guest process still alive (init's exit ends the sandbox; its orphans, daemons
 *   and zombies would go on) is killed on the host and its exit collected, so no stub of
 *   it stops in the next sandbox's loop;
 * - the process-wide tables a Sentry keeps outside its Kernel are emptied: the timer
 *   queue, the host fds polled, futex wait queues (shared-mapping keys are by address),
 *   bound unix socket names (abstract and by path), loopback TCP/UDP ports, the tmpfs budget, the host fds kept
 *   open for the sandbox's host files;
 * - host signals taken but not yet delivered are dropped (a late ^C of the last client
 *   must not reach the next one).
 *
 * Everything else a sandbox has (tasks, VFS and its tmpfs, fd tables, SysV IPC, mqueues,
 * keys, the network) hangs off its Kernel object, which is dropped whole.
 */
import type { Sentry } from '../kernel/sentry';
import { EventKind } from '../platform/event-buffer';
import { native } from '../platform/native';
import { flushDeferred } from '../gofer/client';
import { clearSandboxTables } from '../../syscalls/sandbox-tables';

/** How long the killed stubs get to be collected (they die at once; this is a bound, not a wait). */
const REAP_BOUND_MS = 2000;

/** Kills what is left of s's sandbox and empties the process-wide tables; false if a stub would not go. */
export function retireSandbox(s: Sentry): boolean {
  const p = s.platform;
  const alive = new Set<number>(s.byHost.keys());
  const spaces = new Set<number>();
  for (const t of s.byHost.values()) if (t.mm && t.mm.asPid > 0) spaces.add(t.mm.asPid);
  for (const t of s.kernel.tasks.values()) if (t.mm && t.mm.asPid > 0) spaces.add(t.mm.asPid);
  for (const pid of spaces) p.destroyAddressSpace(pid);
  // Collect their exits; a killed tracee may still report a stop first: let it go on to die.
  const ev = p.ev;
  const end = Date.now() + REAP_BOUND_MS;
  while (alive.size > 0 && Date.now() < end) {
    const kind = p.wait(50, null, null, null, 0);
    if (kind === EventKind.Exit) alive.delete(ev.tid);
    else if (kind === EventKind.Syscall) p.resumeSyscall(ev.tid, -38);
    else if (kind === EventKind.Signal || kind === EventKind.GroupStop || kind === EventKind.PtraceEvent) p.resume(ev.tid);
    else if (kind < 0) break;
  }
  s.byHost.clear();
  flushDeferred(); // the sandbox's write-behind is its own: it must not ride with the next one's first request
  clearSandboxTables();
  (native() as unknown as { takeHostSignals(): number }).takeHostSignals();
  return alive.size === 0;
}
