/**
 * Dumpability (Linux's mm->flags SUID_DUMP_*, with fs.suid_dumpable at its default 0):
 * a process whose identity changed is no longer dumpable, so a process that gave up root
 * keeps its /proc files owned by root and refuses a same-user ptrace attach (a less
 * privileged peer must not read what the privileged part left in memory). Kept on the
 * address space, as Linux keeps it on the mm: threads share it, fork copies it, exec sets it.
 */
import type { Credentials } from '../auth/credentials';
import { capsOf } from '../auth/capabilities';
import { toKid } from '../auth/userns';
import type { Task } from './task';
import type { AddressSpace } from '../mm/address-space';

export const SUID_DUMP_DISABLE = 0;
export const SUID_DUMP_USER = 1;

/** commit_creds()'s test: an effective or fs id changed, or permitted gained a capability. */
export function identityChanged(o: Credentials, n: Credentials): boolean {
  if (o.euid !== n.euid || o.egid !== n.egid || o.fsuid !== n.fsuid || o.fsgid !== n.fsgid) return true;
  return (capsOf(n).permitted & ~capsOf(o).permitted) !== 0n;
}

/** Installs n as t's credentials, as commit_creds: an identity change ends dumpability and the parent-death signal. */
export function commitCreds(t: Task, n: Credentials): void {
  if (identityChanged(t.creds, n)) {
    // A task with no address space (Linux's kernel threads, unit tests' fake tasks) has none to mark.
    if (t.mm !== undefined) t.mm.dumpable = SUID_DUMP_DISABLE;
    t.pdeathSig = 0;
  }
  t.creds = n;
}

/** task_dump_owner(): who owns t's /proc files (not its 0555 directories): t's effective ids, or root of its namespace once non-dumpable. */
export function dumpOwner(t: Task): [number, number] {
  const c = t.creds;
  // No address space (Linux: a kernel thread or one past exit_mm) is root's too.
  const mm = t.mm as AddressSpace | undefined;
  if (mm !== undefined && mm.dumpable === SUID_DUMP_USER) return [c.euid, c.egid];
  const u = toKid(c.userns, 0, false), g = toKid(c.userns, 0, true);
  return [u < 0 ? 0 : u, g < 0 ? 0 : g];
}
