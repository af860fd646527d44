/**
 * A pool member's warm-up with real guest code (pool.ts): V8 compiles a function at its
 * first call, and a container's first guest syscalls (execve of a static and a dynamic
 * binary, mmap, openat, read, fstat, brk, arch_prctl, clone, wait4, exit) used to pay
 * for compiling their handlers, the loader and the platform's paths. So before its claim
 * a member runs one throwaway sandbox: the host's root read-only under a tmpfs (no
 * Gofer), a platform and stub of its own, and `busybox sh -c '/bin/true; exit 0'` (or
 * `/bin/true` without a static busybox) as its pid 1.
 *
 * Nothing of it is left for the container: its Kernel (tasks, fd tables, mounts, the
 * tmpfs) is dropped whole; its stubs are killed and collected; the process-wide tables
 * a guest can fill (timers, polled fds, futex queues, socket names, ports, the host fd
 * cache, the tmpfs budget) are emptied; and the host fds it left (the dead stub's
 * socket pair, any directory) are closed, so a confined Sentry never inherits a host
 * directory's fd. It runs before the member listens: no container can be
 * handed to it mid-way.
 */
import * as fs from 'fs';
import { createVfs } from '../../fs/rootfs/create';
import { FdTable } from '../../fs/vfs/fdtable';
import { Kernel } from '../kernel/kernel';
import { Sentry } from '../kernel/sentry';
import { createInit, startInit } from '../kernel/process-lifecycle';
import { installTimers } from '../kernel/time/index';
import { createPlatform, platformFromEnv, type StartablePlatform } from '../platform/select';
import { native } from '../platform/native';
import { Credentials } from '../auth/credentials';
import { SYSCALL_TABLE } from '../../syscalls/table';
import { clearSandboxTables } from '../../syscalls/sandbox-tables';
import type { ExecRequest } from '../loader/exec-image';
import { closeFd } from './control';
import { ociNative } from './native';

const BUSYBOX = '/bin/busybox';
const TRUE = '/bin/true';
/** How long the killed stubs get to be collected (a bound, not a wait: they die at once). */
const REAP_MS = 2000;
const EAGAIN = 11;
const ECHILD = 10;
const nap = new Int32Array(new SharedArrayBuffer(4));

/** The fds open now, with what each is (a path, socket:[N], anon_inode:[eventfd] …). */
function openFds(): Map<number, string> {
  const out = new Map<number, string>();
  for (const e of fs.readdirSync('/proc/self/fd')) {
    try {
      out.set(Number(e), fs.readlinkSync(`/proc/self/fd/${e}`));
    } catch {
      // the directory's own fd, closed already
    }
  }
  return out;
}

function isDir(fd: number): boolean {
  try {
    return fs.fstatSync(fd).isDirectory();
  } catch {
    return false;
  }
}

function isStaticElf(p: string): boolean {
  try {
    const fd = fs.openSync(p, 'r');
    const b = Buffer.alloc(64 + 56 * 16);
    const n = fs.readSync(fd, b, 0, b.length, 0);
    fs.closeSync(fd);
    if (n < 64 || b.readUInt32BE(0) !== 0x7f454c46) return false;
    const phoff = Number(b.readBigUInt64LE(32)), phnum = b.readUInt16LE(56);
    for (let i = 0; i < phnum && phoff + 56 * (i + 1) <= n; i++) if (b.readUInt32LE(phoff + 56 * i) === 3) return false; // PT_INTERP
    return true;
  } catch {
    return false;
  }
}

/** The guest: a static shell that forks and execs a dynamic binary, else the dynamic one alone. */
function guestRequest(): ExecRequest | null {
  const argv = isStaticElf(BUSYBOX) ? ['sh', '-c', `${TRUE}; exit 0`] : fs.existsSync(TRUE) ? ['true'] : null;
  if (argv === null) return null;
  return { path: argv[0] === 'sh' ? BUSYBOX : TRUE, argv, envp: ['PATH=/usr/bin:/bin'], uid: 0, euid: 0, gid: 0, egid: 0 };
}

/**
 * Runs the throwaway guest to its end and clears what it left; its exit status, or a
 * reason it did not run (best effort: a member that cannot warm up still serves).
 */
export function warmGuest(): number | string {
  const req = guestRequest();
  if (req === null) return 'no guest binary to warm up with';
  const name = platformFromEnv('ptrace');
  if (!name || name === 'kvm' || !['ptrace', 'systrap'].includes(name)) return `platform ${name}: not warmed`;
  const before = openFds();
  // Not pinned: ptrace's pinning would hold the member on whichever CPU it warmed on.
  const made = createPlatform(name as 'ptrace' | 'systrap', { pin: false });
  if (typeof made === 'string') return made;
  const platform = made.platform;
  let s: Sentry | null = null;
  let stub = -1;
  try {
    const kernel = new Kernel();
    const vfs = createVfs({ root: '/', gofer: false, kernel });
    s = new Sentry(kernel, platform, SYSCALL_TABLE);
    installTimers(s);
    const init = createInit(s, { req: null as unknown as ExecRequest, fdTable: new FdTable(), fsCtx: vfs.rootContext(), creds: new Credentials(0, 0) });
    stub = platform.start();
    if (stub < 0) return `cannot start a stub (errno ${-stub})`;
    const err = startInit(s, init, req);
    if (err) return err.reason;
    const status = s.run();
    return status;
  } catch (e) {
    return `warm-up failed: ${(e as Error)?.message ?? e}`;
  } finally {
    reap(platform, s, stub);
    clearSandboxTables();
    // The dead stubs' socket pair through the platform, which holds its numbers (closed
    // by the scan below, the next spawnStub would close whatever fds took them since).
    ociNative().closeStubSocket();
    // Host fds the warm-up opened and left: any other socket, and any
    // directory (a host directory's fd in a Sentry chrooted later is a way out). What the
    // next sandbox of this process reuses stays: the doorbell eventfd, the vDSO's image
    // and data memfd, which every Sentry holds.
    for (const [fd, what] of openFds()) if (!before.has(fd) && (what.startsWith('socket:') || isDir(fd))) closeFd(fd);
  }
}

/**
 * Kills every stub of the warm-up (the template too: systrap's destroy knows only address
 * spaces) and collects every child until none is left: the template, its pid namespace's
 * init, exits only once we, the tracer, have reaped its dead children. A member has no
 * other child before its claim.
 */
function reap(platform: StartablePlatform, s: Sentry | null, stub: number): void {
  const n = native();
  if (s !== null) for (const t of s.byHost.values()) if (t.mm && t.mm.asPid > 0) platform.destroyAddressSpace(t.mm.asPid);
  if (stub > 0) n.kill(stub, 9);
  const end = Date.now() + REAP_MS;
  while (Date.now() < end) {
    const r = n.reap(-1);
    if (r === -ECHILD) break;
    if (r === -EAGAIN) Atomics.wait(nap, 0, 0, 1);
  }
  s?.byHost.clear();
}
