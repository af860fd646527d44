import { readFileSync } from 'fs';
import type { ThreadGroup } from './thread-group';
import { EINVAL, EPERM } from '../abi/errno';

/**
 * Resource limits (getrlimit/setrlimit/prlimit64), one Limits object per process.
 * The first process starts with the host's limits as they were when the Sentry
 * started (read from /proc/self/limits at load, so the guest sees what a process
 * started from the same shell would see); children inherit a copy at fork.
 * Values are bigint (RLIM_INFINITY is 2^64-1); consumers that want a number use soft().
 *
 * Enforced elsewhere: NOFILE (fd table), STACK (loader), NPROC/AS/FSIZE where the
 * owners of those checks read them; CPU by src/kernel/time/cpu-limit.ts (SIGXCPU, SIGKILL).
 */

export const RLIMIT_CPU = 0;
export const RLIMIT_FSIZE = 1;
export const RLIMIT_DATA = 2;
export const RLIMIT_STACK = 3;
export const RLIMIT_CORE = 4;
export const RLIMIT_RSS = 5;
export const RLIMIT_NPROC = 6;
export const RLIMIT_NOFILE = 7;
export const RLIMIT_MEMLOCK = 8;
export const RLIMIT_AS = 9;
export const RLIMIT_LOCKS = 10;
export const RLIMIT_SIGPENDING = 11;
export const RLIMIT_MSGQUEUE = 12;
export const RLIMIT_NICE = 13;
export const RLIMIT_RTPRIO = 14;
export const RLIMIT_RTTIME = 15;
export const RLIM_NLIMITS = 16;

export const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;
/** fs.nr_open: the hard ceiling for RLIMIT_NOFILE. */
export const NR_OPEN = 1048576n;

export interface Rlimit {
  cur: bigint;
  max: bigint;
}

const INF: Rlimit = { cur: RLIM_INFINITY, max: RLIM_INFINITY };

/** Linux's defaults for init (used where the host's limits cannot be read). */
const LINUX_DEFAULTS: Rlimit[] = [
  INF, // CPU
  INF, // FSIZE
  INF, // DATA
  { cur: 8n << 20n, max: RLIM_INFINITY }, // STACK
  { cur: 0n, max: RLIM_INFINITY }, // CORE
  INF, // RSS
  { cur: 63493n, max: 63493n }, // NPROC (threads-max / 2 on a small machine)
  { cur: 1024n, max: 1048576n }, // NOFILE
  { cur: 8n << 20n, max: 8n << 20n }, // MEMLOCK
  INF, // AS
  INF, // LOCKS
  { cur: 63493n, max: 63493n }, // SIGPENDING
  { cur: 819200n, max: 819200n }, // MSGQUEUE
  { cur: 0n, max: 0n }, // NICE
  { cur: 0n, max: 0n }, // RTPRIO
  INF, // RTTIME
];

/** Parses /proc/self/limits text (rows in resource order); null when it does not fit. */
export function parseProcLimits(text: string): Rlimit[] | null {
  const rows = text.split('\n').slice(1).filter((l) => l.startsWith('Max '));
  if (rows.length < RLIM_NLIMITS) return null;
  const out: Rlimit[] = [];
  for (const row of rows.slice(0, RLIM_NLIMITS)) {
    // Columns are fixed width: name (26), soft (21), hard (21), units.
    const soft = row.slice(26, 47).trim();
    const hard = row.slice(47, 68).trim();
    const val = (s: string): bigint | null => (s === 'unlimited' ? RLIM_INFINITY : /^\d+$/.test(s) ? BigInt(s) : null);
    const cur = val(soft);
    const max = val(hard);
    if (cur === null || max === null) return null;
    out.push({ cur, max });
  }
  return out;
}

function hostLimits(): Rlimit[] {
  try {
    return parseProcLimits(readFileSync('/proc/self/limits', 'latin1')) ?? LINUX_DEFAULTS;
  } catch {
    return LINUX_DEFAULTS;
  }
}

/** Snapshot taken when the Sentry loads: the limits of the sandbox's first process. */
const INITIAL = hostLimits();

const softNumber = (c: bigint): number => (c === RLIM_INFINITY ? Infinity : Number(c));

export class Limits {
  private readonly lims: Rlimit[];
  /** soft() of each resource, kept with lims (open and write check one per call: no BigInt then). */
  private readonly softs = new Float64Array(RLIM_NLIMITS);

  constructor(from: readonly Rlimit[] = INITIAL) {
    this.lims = from.map((l) => ({ cur: l.cur, max: l.max }));
    for (let i = 0; i < this.lims.length && i < RLIM_NLIMITS; i++) this.softs[i] = softNumber(this.lims[i].cur);
  }

  /** The child's copy at fork (limits are per process, inherited, kept across exec). */
  fork(): Limits {
    return new Limits(this.lims);
  }

  get(resource: number): Rlimit {
    const l = this.lims[resource];
    return { cur: l.cur, max: l.max };
  }

  /** Soft limit as a number (Infinity for RLIM_INFINITY), for enforcement checks. */
  soft(resource: number): number {
    return this.softs[resource];
  }

  hard(resource: number): number {
    const m = this.lims[resource].max;
    return m === RLIM_INFINITY ? Infinity : Number(m);
  }

  /**
   * Linux do_prlimit's checks and update: EINVAL for an unknown resource or cur > max,
   * EPERM for NOFILE above nr_open or for raising the hard limit without privilege.
   * `privileged` may be a check, made only when the hard limit is raised (Linux's order:
   * a capability that was not needed is not "used", acct's ASU).
   */
  set(resource: number, nl: Rlimit, privileged: boolean | (() => boolean)): number {
    if (resource < 0 || resource >= RLIM_NLIMITS) return -EINVAL;
    if (nl.cur > nl.max) return -EINVAL;
    if (resource === RLIMIT_NOFILE && nl.max > NR_OPEN) return -EPERM;
    if (nl.max > this.lims[resource].max && !(typeof privileged === 'function' ? privileged() : privileged)) return -EPERM;
    this.lims[resource] = { cur: nl.cur, max: nl.max };
    this.softs[resource] = softNumber(nl.cur);
    return 0;
  }
}

/** Where a ThreadGroup keeps its Limits (ThreadGroup.limits). */
interface WithLimits {
  limits?: unknown;
}

/**
 * The limits of a process, kept in tg.limits. A process that has none yet gets the
 * initial limits on first use, stored there so that fork's `parent.limits.fork()`
 * hands the child a copy.
 */
export function limitsOf(tg: ThreadGroup): Limits {
  const holder = tg as unknown as WithLimits;
  if (holder.limits instanceof Limits) return holder.limits;
  const l = new Limits();
  holder.limits = l;
  return l;
}
