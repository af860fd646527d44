/**
 * The Sentry confines itself once the sandbox is set up (called from src/cli/run.ts
 * after the stub and the gofer are started, before guest code runs): chrooted into an
 * empty directory, not dumpable, capabilities dropped, no_new_privs, and a seccomp
 * filter on all of its threads that allows only the host calls it makes and, with the
 * gofer, no open of a host path (native/sentry_confine.cc lists them). See SECURITY.md.
 *
 * TSSANDBOX_CONFINE=off skips it (debugging: e.g. to strace the Sentry or to compare
 * with an unconfined run); TSSANDBOX_CONFINE=log allows and logs to the kernel log
 * (dmesg) what the filter would refuse, to find what a new Node version needs.
 * TSSANDBOX_TEST_FORBIDDEN_SYSCALL=KIND[:ARG] (tests only) makes the confined Sentry
 * try one forbidden call and report its result on stderr (`cgroup-move:PID`: move a host
 * process into the sandbox's memory cgroup; `sentry-alloc:MIB`: touch that much memory in
 * the Sentry's own heap; `pids-unbounded`: the Sentry's own count of guest tasks off, so
 * only the host's pids cgroup stops a fork bomb).
 */
import * as nfs from 'node:fs';
import { native } from '../platform/native';
import { hostAuxv } from '../loader/host-auxv';
import { dropLaunchedGofer } from '../gofer/client';
import { dropLaunchedFiles, launchedCgroup } from '../platform/launched-files';
import { memoryLimit } from '../mm/memory-limit';

/** A host SIGTERM/SIGINT/SIGHUP the run loop has not taken after this long ends the Sentry. */
const SIGNAL_WATCHDOG_MS = 10_000;

interface ConfineNative {
  hostSignalWatchdog?(ms: number): number;
  sentryConfine(o: { gofer: boolean; log: boolean; keepFileCaps: boolean; stubPid: number; chroot: boolean }): number;
  sentryTryForbidden(kind: string, arg: number, path?: string): number;
}

export interface ConfineOptions {
  /** The host trees are served by the gofer: the Sentry itself changes no host path. */
  gofer: boolean;
  /** Host pid of the template stub (its user namespace decides whether CAP_SYS_PTRACE stays). */
  stubPid: number;
}

/** Result bits of sentryConfine. */
export const CONFINED_FILTER = 1, CONFINED_CAPS = 2, CONFINED_NNP = 4, CONFINED_ROOT = 8, CONFINED_NODUMP = 16;

/** Confines the Sentry; returns the native result (bits, or -errno), or 0 when turned off. */
export function confineSentry(o: ConfineOptions, warn: (m: string) => void): number {
  const mode = process.env.TSSANDBOX_CONFINE ?? 'on';
  const n = native() as unknown as Partial<ConfineNative>;
  if (typeof n.sentryConfine !== 'function') return 0;
  let r = 0;
  dropLaunchedGofer();
  dropLaunchedFiles();
  if (mode !== 'off') {
    // What is read lazily from the host's /proc by name must be read before: the
    // confined Sentry opens no host path (the rest is opened at module load).
    hostAuxv();
    // With the gofer, the Sentry needs no host path at all: it is also chrooted into an
    // empty directory (the Direct backend reaches host trees by path itself).
    r = n.sentryConfine({ gofer: o.gofer, log: mode === 'log', keepFileCaps: !o.gofer, stubPid: o.stubPid, chroot: o.gofer });
    if (r < 0) warn(`cannot confine the Sentry (errno ${-r}): running without its seccomp filter`);
    // Second layer behind the run loop's host-signal handling: a Sentry stuck in a
    // JavaScript loop (a guest-driven loop without a bound) still ends on SIGTERM.
    n.hostSignalWatchdog?.(SIGNAL_WATCHDOG_MS);
  }
  testHook(n as ConfineNative);
  return r;
}

/** The test hook asked for (TSSANDBOX_TEST_FORBIDDEN_SYSCALL's KIND), or undefined. */
export function testHookKind(): string | undefined {
  return process.env.TSSANDBOX_TEST_FORBIDDEN_SYSCALL?.split(':')[0];
}

function testHook(n: ConfineNative): void {
  const spec = process.env.TSSANDBOX_TEST_FORBIDDEN_SYSCALL;
  if (!spec) return;
  const [kind, arg = ''] = spec.split(/:(.*)/s);
  if (kind === 'cgroup-move') {
    // A Sentry taken over moving host pid ARG into its memory cgroup (through the member
    // list it holds open on the old path; by name in the front's, which it may not
    // write), to starve it there; the test checks the host's side.
    const dir = launchedCgroup();
    let moved = false;
    if (dir === undefined) moved = memoryLimit.attach(Number(arg));
    else try { nfs.writeFileSync(`${dir}/cgroup.procs`, arg); moved = true; } catch { /* refused */ }
    process.stderr.write(`tssandbox: forbidden ${kind}: ${moved ? 'allowed' : 'refused'}\n`);
    return;
  }
  if (kind === 'sentry-alloc') {
    // A Sentry taken over growing its own heap (no guest count sees it): only the
    // sandbox's cgroup bounds it. Each chunk written, so that it is resident.
    const keep: Buffer[] = [];
    for (let mib = 0; mib < Number(arg); mib += 16) keep.push(Buffer.allocUnsafeSlow(16 << 20).fill(mib & 0xff | 1));
    process.stderr.write(`tssandbox: forbidden ${kind}: allowed (${keep.length * 16} MiB)\n`);
    return;
  }
  if (kind === 'pids-unbounded') return; // src/cli/run.ts turns the count off
  if (kind === 'spin') {
    // A Sentry stuck in JavaScript (the watchdog's test): says so, then never returns.
    process.stderr.write('tssandbox: forbidden spin: spinning\n');
    for (;;) {
      /* spin */
    }
  }
  const r = n.sentryTryForbidden(kind, Number(arg) || 0, arg);
  process.stderr.write(`tssandbox: forbidden ${kind}: ${r === 0 ? 'allowed' : `errno ${-r}`}\n`);
}
