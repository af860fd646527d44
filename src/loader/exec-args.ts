/**
 * execve's argv and envp, copied out of the caller's memory with the limits checked
 * while copying, as fs/exec.c does: count() the pointers, bprm_stack_limits(), then
 * copy_strings() for envp and argv, each from its last string to its first, failing with
 * E2BIG as soon as a string is longer than MAX_ARG_STRLEN or the strings and pointers
 * together pass the limit. Nothing the guest passes makes the Sentry read or allocate
 * more than that limit (at most 6 MiB) plus one string's worth.
 *
 * Strings are bytes: each is kept as a "binary" (latin1) JS string, one char per byte,
 * never decoded as UTF-8, so any byte sequence reaches the new image unchanged.
 */
import { E2BIG, EFAULT } from '../abi/errno';
import { PAGE_SIZE } from '../mm/vma';

/** Longest single argument or environment string, its NUL included (Linux's MAX_ARG_STRLEN). */
export const MAX_ARG_STRLEN = 32 * PAGE_SIZE;
/** Most pointers in argv or envp (Linux's MAX_ARG_STRINGS). */
export const MAX_ARG_STRINGS = 0x7fffffff;
/** Argument space even under a tiny RLIMIT_STACK (Linux's ARG_MAX: 32 pages). */
const ARG_MAX = 32 * PAGE_SIZE;
/** Linux's _STK_LIM: the default stack limit, 8 MiB. */
export const STK_LIM = 8 << 20;
const TASK_SIZE = 0x7ffffffff000;

/**
 * Bytes that argv and envp strings plus their pointers may take (bprm_stack_limits):
 * a quarter of RLIMIT_STACK, at most three quarters of _STK_LIM, at least ARG_MAX.
 */
export function argSpace(stackLimit: number): number {
  const quarter = Number.isFinite(stackLimit) && stackLimit >= 0 ? Math.floor(stackLimit / 4) : Infinity;
  return Math.max(Math.min((STK_LIM / 4) * 3, quarter), ARG_MAX);
}

/** The part of GuestMemory this needs: all-or-nothing reads. */
export interface ArgMemory {
  readInto(addr: number, buf: Uint8Array, off?: number, len?: number): boolean;
}

export interface ExecArgs {
  argv: string[];
  envp: string[];
}

/** A host string (a JS string from the command line) as the bytes a guest gets: binary form. */
export function hostStringToArg(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

/** Bytes of an argument (binary form), for the guest's stack. */
export function argBytes(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

/** A path (the VFS's latin1 string: its bytes) as an argument string: the same bytes. */
export function pathToArg(path: string): string {
  return path;
}

/** An argument string as a path the VFS opens (a #! interpreter): the same bytes. */
export function argToPath(arg: string): string {
  return arg;
}

/**
 * Counts the pointers of a NULL-terminated array, a page of it at a time. More than
 * `cap` is E2BIG at once: the pointers alone would pass the limit, and going on would
 * only make the Sentry read whatever the guest mapped.
 */
function countPointers(mem: ArgMemory, addr: number, cap: number, scratch: Buffer): number {
  if (addr === 0) return 0; // a NULL argv or envp is an empty one (Linux)
  let n = 0;
  for (;;) {
    const pos = addr + n * 8;
    if (pos + 8 > TASK_SIZE) return -EFAULT;
    let chunk = Math.min(PAGE_SIZE - (pos % PAGE_SIZE), scratch.length);
    chunk -= chunk % 8;
    if (chunk < 8) chunk = 8; // a pointer across a page boundary
    if (!mem.readInto(pos, scratch, 0, chunk)) return -EFAULT;
    for (let o = 0; o < chunk; o += 8) {
      if (scratch.readUInt32LE(o) === 0 && scratch.readUInt32LE(o + 4) === 0) return n + o / 8;
    }
    n += chunk / 8;
    if (n > cap) return -E2BIG;
  }
}

/** Length of the string at p with its NUL (at most MAX_ARG_STRLEN), its bytes in scratch; or -errno. */
function measureString(mem: ArgMemory, p: number, scratch: Buffer): number {
  let got = 0;
  while (got < MAX_ARG_STRLEN) {
    const a = p + got;
    if (a >= TASK_SIZE) return -EFAULT;
    const chunk = Math.min(PAGE_SIZE - (a % PAGE_SIZE), MAX_ARG_STRLEN - got);
    if (!mem.readInto(a, scratch, got, chunk)) return -EFAULT;
    const z = scratch.subarray(got, got + chunk).indexOf(0);
    if (z >= 0) return got + z + 1;
    got += chunk;
  }
  return -E2BIG; // no NUL within MAX_ARG_STRLEN bytes
}

/** Bytes of guest memory read at once for the strings (xargs passes thousands side by side). */
const WINDOW = 64 * 1024;

/**
 * The last span of guest memory read for the strings: one read serves every string
 * wholly inside it (a read of guest memory per string was most of an xargs exec).
 * Strings are copied last to first, so a span is read ending with the page of the
 * string asked for; where part of that is not mapped, only that page (as
 * measureString reads), so what faults is exactly what faulted before.
 */
class ArgWindow {
  start = -1;
  len = 0;
  readonly buf = Buffer.allocUnsafe(WINDOW);

  /** The string at p (its NUL not included) if the span holds it whole, else null. */
  string(mem: ArgMemory, p: number): { s: string; len: number } | null {
    if (!(p >= this.start && p < this.start + this.len)) this.load(mem, p);
    if (!(p >= this.start && p < this.start + this.len)) return null;
    const from = p - this.start;
    const z = this.buf.indexOf(0, from);
    if (z < 0 || z >= this.len || z - from + 1 > MAX_ARG_STRLEN) return null;
    return { s: this.buf.toString('latin1', from, z), len: z - from + 1 };
  }

  private load(mem: ArgMemory, p: number): void {
    const end = Math.min(p - (p % PAGE_SIZE) + PAGE_SIZE, TASK_SIZE);
    const start = Math.max(0, end - WINDOW);
    this.start = -1;
    this.len = 0;
    if (mem.readInto(start, this.buf, 0, end - start)) {
      this.start = start;
      this.len = end - start;
    } else if (end - p > 0 && mem.readInto(p, this.buf, 0, end - p)) {
      this.start = p;
      this.len = end - p;
    }
  }
}

/**
 * Copies one array's strings, last to first (copy_strings), charging each to `budget`.
 * Returns the strings or -errno; budget.left is what remains.
 */
function copyStrings(mem: ArgMemory, addr: number, count: number, budget: { left: number }, scratch: Buffer): string[] | number {
  const out = new Array<string>(count);
  if (count === 0) return out;
  const ptrs = Buffer.allocUnsafe(count * 8); // count * 8 < the limit: bounded
  if (!mem.readInto(addr, ptrs, 0, ptrs.length)) return -EFAULT;
  const win = new ArgWindow();
  for (let i = count - 1; i >= 0; i--) {
    const p = Number(ptrs.readBigUInt64LE(i * 8));
    if (p >= TASK_SIZE) return -EFAULT;
    const w = win.string(mem, p);
    if (w !== null) {
      budget.left -= w.len;
      if (budget.left < 0) return -E2BIG;
      out[i] = w.s;
      continue;
    }
    const len = measureString(mem, p, scratch);
    if (len < 0) return len;
    budget.left -= len;
    if (budget.left < 0) return -E2BIG;
    out[i] = scratch.toString('latin1', 0, len - 1);
  }
  return out;
}

/**
 * Reads execve's argv and envp with Linux's E2BIG/EFAULT rules. `filename` is the path
 * as the caller passed it (its bytes count against the limit too); `stackLimit` is
 * the caller's RLIMIT_STACK soft limit. An empty argv becomes [""] (Linux since 5.18).
 */
export function readExecArgs(mem: ArgMemory, argvAddr: number, envpAddr: number, filename: string, stackLimit: number): ExecArgs | number {
  let limit = argSpace(stackLimit);
  const scratch = Buffer.allocUnsafe(MAX_ARG_STRLEN);
  const cap = Math.min(Math.floor(limit / 8), MAX_ARG_STRINGS);
  const argc = countPointers(mem, argvAddr, cap, scratch);
  if (argc < 0) return argc;
  const envc = countPointers(mem, envpAddr, cap, scratch);
  if (envc < 0) return envc;
  const ptrSize = (Math.max(argc, 1) + envc) * 8;
  if (limit <= ptrSize) return -E2BIG;
  limit -= ptrSize;
  const budget = { left: limit - (filename.length + 1) }; // a latin1 path: a char a byte
  const envp = copyStrings(mem, envpAddr, envc, budget, scratch);
  if (typeof envp === 'number') return envp;
  const argv = copyStrings(mem, argvAddr, argc, budget, scratch);
  if (typeof argv === 'number') return argv;
  if (argv.length === 0) argv.push('');
  return { argv, envp };
}
