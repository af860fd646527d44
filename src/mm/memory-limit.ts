/**
 * The sandbox's memory limit (`--memory`): guest memory is bounded two ways.
 *
 * - At mmap/brk/mremap time, in the Sentry, as Linux's overcommit heuristic
 *   (vm.overcommit_memory=0) does against the machine's RAM: one request for private
 *   writable or anonymous memory larger than the limit cannot be committed and gets
 *   ENOMEM. MAP_NORESERVE (and PROT_NONE) ranges are only reserved and always succeed,
 *   as AddressSanitizer/ThreadSanitizer shadows need.
 * - At touch time, by the Sentry's count of resident pages plus tmpfs
 *   (src/kernel/memory-account.ts, sampled), and below it, as a hard backstop, by the
 *   host kernel: the stubs (every address space is a clone of the template stub, and
 *   inherits its cgroup) run in a memory cgroup of their own whose limit is a quarter
 *   (at least 32 MiB) above the sandbox's. A guest that touches memory faster than the
 *   Sentry samples it is killed with SIGKILL by the host's OOM killer there; the Sentry,
 *   the Gofer and the host are outside it and unaffected, and the Sentry reports the
 *   death as SIGKILL (with a kernel-log line under --debug).
 *
 * Why a cgroup, measured against the other ways (docs in src/mm/README.md):
 * RLIMIT_AS / RLIMIT_DATA on the stub count reserved address space, so they break
 * MAP_NORESERVE reservations (an ASan shadow is 16 TiB of address space); polling each
 * stub's resident size costs a /proc read per stub per tick and lets a guest overshoot
 * by whatever it touches between ticks. Without cgroups (not root, or no memory
 * controller), only the mmap-time bound applies, and `--debug` says so.
 */
import * as nfs from 'fs';
import { spawn } from 'child_process';
import { launchedCgroup } from '../platform/launched-files';

const CG_V1 = '/sys/fs/cgroup/memory';
const CG_V2 = '/sys/fs/cgroup';
const PREFIX = 'tssandbox-';

export class MemoryLimit {
  /** Bytes; Infinity when unlimited. */
  limit = Infinity;
  /** The cgroup directory holding the stubs, or null. */
  cgroupDir: string | null = null;
  private usageFd = -1;
  private eventsFd = -1;
  private v2 = false;
  /** OOM kills seen so far (to tell an OOM kill from another SIGKILL). */
  private oomKills = 0;

  /**
   * mmap/brk-time check of Linux's heuristic: can `len` more bytes be committed?
   * (False only for one request larger than the whole limit.)
   */
  mayCommit(len: number): boolean {
    return len <= this.limit;
  }

  /**
   * Sets up the stubs' memory cgroup (at start-up, before any guest code). Returns a
   * note for --debug saying how touched memory is bounded.
   */
  setup(limit: number): string {
    this.limit = limit;
    if (limit === Infinity) return 'no memory limit';
    // The sandbox's cgroup, made, limited and joined by the native front before Node
    // (native/launch_cgroup.h): the Sentry is inside with its stubs, removed by the front's reaper.
    const given = launchedCgroup();
    if (given !== undefined) {
      try {
        return this.useSandbox(given, limit);
      } catch (e) {
        return `sandbox cgroup ${given} unreadable (${(e as Error).message}): guest memory counted by the Sentry only`;
      }
    }
    const own = ownCgroup();
    for (const [root, v2] of [[CG_V1, false], [CG_V2, true]] as const) {
      const rel = v2 ? own.v2 : own.memory;
      if (rel === null) continue;
      const parent = root + (rel === '/' ? '' : rel);
      try {
        if (v2 && !nfs.readFileSync(parent + '/cgroup.subtree_control', 'utf8').includes('memory')) continue;
        if (!v2 && !nfs.existsSync(parent + '/memory.limit_in_bytes')) continue;
        sweepStale(parent);
        const dir = `${parent}/${PREFIX}${process.pid}`;
        if (!nfs.existsSync(dir)) nfs.mkdirSync(dir);
        const note = this.use(dir, v2, limit);
        startReaper(dir);
        return note;
      } catch (e) {
        return `memory cgroup unavailable (${(e as Error).message}): guest memory counted by the Sentry only`;
      }
    }
    return 'no memory cgroup controller: guest memory counted by the Sentry only';
  }

  /**
   * The front's cgroup holding the Sentry, the Gofer and the stubs: tmpfs is charged there
   * too, so nothing is moved or reserved. Its limit is the front's (SENTRY_RESERVE above
   * the backstop); only a --policy's is written here, through the files the front handed
   * to this uid (a root-owned one refuses: the front set it).
   */
  private useSandbox(dir: string, limit: number): string {
    this.v2 = nfs.existsSync(dir + '/memory.max');
    const bytes = String(backstop(limit) + SENTRY_RESERVE);
    const files = this.v2 ? ['memory.max'] : ['memory.limit_in_bytes', 'memory.memsw.limit_in_bytes'];
    for (const f of files) {
      try { nfs.writeFileSync(`${dir}/${f}`, bytes); } catch { /* the front's, or no swap accounting */ }
    }
    this.usageFd = nfs.openSync(dir + (this.v2 ? '/memory.current' : '/memory.usage_in_bytes'), 'r');
    this.eventsFd = nfs.openSync(dir + (this.v2 ? '/memory.events' : '/memory.oom_control'), 'r');
    this.cgroupDir = dir;
    this.sandbox = true;
    this.oomKills = this.readOomKills();
    return `guest memory limited to ${limit} bytes, counted by the Sentry; the sandbox (Sentry, Gofer, stubs) in cgroup ${dir}, limited by the front`;
  }
  /** In the front's cgroup with the Sentry: nothing to move, reserve or remove. */
  private sandbox = false;

  /** Sets the limit in cgroup `dir` and opens what is used later (throws when it cannot). */
  private use(dir: string, v2: boolean, limit: number): string {
    const bytes = String(backstop(limit));
    const openW = (f: string): void => {
      this.limitFds.push(nfs.openSync(`${dir}/${f}`, 'w'));
    };
    // Read-write: release() reads the members through it (the confined Sentry names no
    // path). Opened by the Sentry itself: a move is checked with the opener's credentials.
    this.procsFd = nfs.openSync(dir + '/cgroup.procs', 'r+');
    this.applied = Number(bytes);
    if (v2) {
      nfs.writeFileSync(dir + '/memory.max', bytes);
      openW('memory.max');
      try { nfs.writeFileSync(dir + '/memory.swap.max', '0'); } catch { /* no swap accounting */ }
      this.usageFd = nfs.openSync(dir + '/memory.current', 'r');
      this.eventsFd = nfs.openSync(dir + '/memory.events', 'r');
    } else {
      nfs.writeFileSync(dir + '/memory.limit_in_bytes', bytes);
      openW('memory.limit_in_bytes');
      try {
        nfs.writeFileSync(dir + '/memory.memsw.limit_in_bytes', bytes);
        openW('memory.memsw.limit_in_bytes');
      } catch { /* no swap accounting */ }
      this.usageFd = nfs.openSync(dir + '/memory.usage_in_bytes', 'r');
      this.eventsFd = nfs.openSync(dir + '/memory.oom_control', 'r');
    }
    this.cgroupDir = dir;
    this.v2 = v2;
    this.oomKills = this.readOomKills();
    process.once('exit', () => this.release());
    return `guest memory limited to ${limit} bytes, counted by the Sentry; memory cgroup ${dir} stops the stubs at ${bytes} bytes`;
  }

  /**
   * tmpfs holds `bytes` of the same limit: the stubs may touch only what is left (at
   * least 16 MiB). Lowering it below what they hold makes the host reclaim or, past
   * that, refuse (cgroup v1: the old limit stays) or OOM-kill (v2).
   */
  reserve(bytes: number): void {
    if (this.cgroupDir === null || this.sandbox) return;
    const left = String(Math.max(backstop(this.limit) - bytes, 16 << 20));
    // v1 wants memsw >= limit at every step: lower the limit first, raise memsw first.
    const fds = [...this.limitFds];
    if (Number(left) > this.applied) fds.reverse();
    for (const fd of fds) {
      try {
        nfs.writeSync(fd, left);
      } catch {
        /* EBUSY: the stubs hold more; tmpfs' own check refuses the growth */
      }
    }
    this.applied = Number(left);
  }
  private applied = Infinity;
  /** Open at start-up (no host path is opened later): memory.max, or limit then memsw. */
  private limitFds: number[] = [];
  private procsFd = -1;

  /** Puts a host process (the template stub) into the cgroup; its clones inherit it. */
  attach(pid: number): boolean {
    if (this.cgroupDir === null) return false;
    if (this.sandbox) return true; // the stub, the Sentry's child, is in it already
    try {
      nfs.writeSync(this.procsFd, String(pid));
      return true;
    } catch {
      return false;
    }
  }

  /** Bytes the stubs hold now (0 without a cgroup). */
  usage(): number {
    if (this.usageFd < 0) return 0;
    const b = Buffer.alloc(32);
    try {
      const n = nfs.readSync(this.usageFd, b, 0, 32, 0);
      return Number(b.toString('latin1', 0, n).trim()) || 0;
    } catch {
      return 0;
    }
  }

  private readOomKills(): number {
    if (this.eventsFd < 0) return 0;
    const b = Buffer.alloc(512);
    try {
      const n = nfs.readSync(this.eventsFd, b, 0, b.length, 0);
      const m = /oom_kill (\d+)/.exec(b.toString('latin1', 0, n));
      return m ? Number(m[1]) : 0;
    } catch {
      return 0;
    }
  }

  /** A stub died of SIGKILL from the host: true (once per kill) if the OOM killer did it. */
  tookOomKill(): boolean {
    const k = this.readOomKills();
    if (k <= this.oomKills) return false;
    this.oomKills = k;
    return true;
  }

  /** Removes the cgroup (at exit; it must be empty, so the stubs are killed first). */
  release(): void {
    const dir = this.cgroupDir;
    if (dir === null) return;
    this.cgroupDir = null;
    if (this.sandbox) {
      // Its members are the Sentry and the Gofer too: the stubs die with the Sentry.
      for (const fd of [this.usageFd, this.eventsFd]) {
        try { nfs.closeSync(fd); } catch { /* closed */ }
      }
      this.usageFd = this.eventsFd = -1;
      return;
    }
    let members = '';
    try {
      const b = Buffer.alloc(64 * 1024);
      members = b.toString('latin1', 0, nfs.readSync(this.procsFd, b, 0, b.length, 0));
    } catch {
      /* read by path below */
    }
    for (const fd of [this.usageFd, this.eventsFd, this.procsFd, ...this.limitFds]) {
      try { nfs.closeSync(fd); } catch { /* closed */ }
    }
    this.usageFd = this.eventsFd = this.procsFd = -1;
    this.limitFds = [];
    try {
      if (!members) members = nfs.readFileSync(dir + '/cgroup.procs', 'utf8');
      for (const p of members.split('\n')) if (p) process.kill(Number(p), 'SIGKILL');
    } catch {
      /* gone */
    }
    // The killed stubs leave the cgroup as they die: a short wait, bounded. A confined
    // Sentry may not rmdir (EPERM): the reaper started at set-up removes it.
    for (let i = 0; i < 40; i++) {
      try {
        nfs.rmdirSync(dir);
        return;
      } catch (e) {
        if ((e as { code?: string }).code !== 'EBUSY') return;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
      }
    }
  }
}

/**
 * The cgroup's limit: above the sandbox's, so the Sentry's own count (src/kernel/
 * memory-account.ts) decides and the host kernel only stops a guest that touches
 * memory faster than the Sentry samples it.
 */
function backstop(limit: number): number {
  return Math.max(limit, 1 << 20) + Math.max(Math.floor(limit / 4), 32 << 20);
}

/** What the Sentry, the Gofer and the broker take beside the guest (native/launch_cgroup.h kSentryMemReserve). */
const SENTRY_RESERVE = 128 << 20;

/** The Sentry's own cgroup paths (v1 memory controller, v2 unified), from /proc/self/cgroup. */
function ownCgroup(): { memory: string | null; v2: string | null } {
  let memory: string | null = null;
  let v2: string | null = null;
  try {
    for (const line of nfs.readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
      const [, ctrls, p] = line.split(':');
      if (p === undefined) continue;
      if (ctrls.split(',').includes('memory')) memory = p;
      if (ctrls === '' && line.startsWith('0::')) v2 = p;
    }
  } catch {
    /* no /proc */
  }
  return { memory, v2 };
}

/**
 * A small host process that removes the cgroup once the Sentry is gone (its stdin, a
 * pipe nobody writes, reaches EOF when the Sentry exits, however it exits): the Sentry
 * confines itself after set-up and may then no longer rmdir. It reads nothing else and
 * exits within seconds of the Sentry; anything it misses, the next start sweeps.
 */
function startReaper(dir: string): void {
  try {
    const c = spawn('/bin/sh', ['-c',
      'read x; i=0; while [ $i -lt 100 ]; do rmdir "$1" 2>/dev/null && exit 0; [ -d "$1" ] || exit 0; sleep 0.1; i=$((i+1)); done',
      'tssandbox-cgroup-reaper', dir], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    c.unref();
    (c.stdin as unknown as { unref?: () => void }).unref?.();
    c.on('error', () => { /* no sh: the next start sweeps */ });
  } catch {
    /* the next start sweeps */
  }
}

/** Removes the empty cgroups of earlier sandboxes whose Sentry is gone. */
function sweepStale(parent: string): void {
  let names: string[];
  try {
    names = nfs.readdirSync(parent).filter((n) => n.startsWith(PREFIX));
  } catch {
    return;
  }
  for (const n of names) {
    const pid = Number(n.slice(PREFIX.length));
    if (pid === process.pid) continue;
    try {
      process.kill(pid, 0);
      continue; // still running
    } catch {
      /* its Sentry is gone */
    }
    try { nfs.rmdirSync(`${parent}/${n}`); } catch { /* not empty yet */ }
  }
}

/** The sandbox's one limit (set from the CLI before the first stub starts). */
export const memoryLimit = new MemoryLimit();
