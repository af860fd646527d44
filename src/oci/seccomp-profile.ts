/**
 * linux.seccomp compiled to classic BPF, for the Sentry's guest seccomp
 * (src/kernel/seccomp: the interpreter and per-task filters; this file only writes the
 * program, as libseccomp does for runc).
 *
 * The program: the architecture is checked first (the guest is x86-64: anything else,
 * or an x32 number, is killed, libseccomp's bad-arch action); then the rules in config
 * order, first match wins; then defaultAction. Syscall names this architecture lacks are
 * skipped (as runc does with names libseccomp cannot resolve). Within a rule every
 * argument condition must hold, except that several conditions on the same argument
 * make one rule each (runc's rule for libseccomp's limits). Arguments are 64-bit: each
 * comparison looks at the high word, then the low one. Consecutive rules without
 * conditions that share an action are one block searched by number (searchBlock).
 */
import { bpfFrom, checkSeccompBpf, BPF_MAXINSNS, type BpfProgram } from '../kernel/seccomp/bpf';
import {
  AUDIT_ARCH_X86_64, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD,
  SECCOMP_RET_LOG, SECCOMP_RET_TRACE, SECCOMP_RET_TRAP,
} from '../kernel/seccomp/filter';
import { SYSCALLS } from '../../syscalls/table';
import { EPERM } from '../abi/errno';

export interface SeccompArg { index: number; value: number; valueTwo?: number; op: string }
export interface SeccompRule { names?: string[]; name?: string; action: string; errnoRet?: number; args?: SeccompArg[] | null }
export interface SeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[] | null;
  flags?: string[] | null;
  listenerPath?: string;
  syscalls?: SeccompRule[] | null;
}

/** The compiled profile: the program, and whether SECCOMP_FILTER_FLAG_LOG was asked for. */
export interface CompiledProfile { prog: BpfProgram; log: boolean }

// Classic BPF opcodes (linux/filter.h).
const LD_W_ABS = 0x20, JEQ_K = 0x15, JGT_K = 0x25, JGE_K = 0x35, AND_K = 0x54, RET_K = 0x06;
/** Offsets in struct seccomp_data. */
const OFF_NR = 0, OFF_ARCH = 4, OFF_ARGS = 16;
const X32_SYSCALL_BIT = 0x40000000;
const ARCHES = new Set([
  'SCMP_ARCH_X86', 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X32', 'SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_MIPS',
  'SCMP_ARCH_MIPS64', 'SCMP_ARCH_MIPS64N32', 'SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64', 'SCMP_ARCH_MIPSEL64N32',
  'SCMP_ARCH_PPC', 'SCMP_ARCH_PPC64', 'SCMP_ARCH_PPC64LE', 'SCMP_ARCH_S390', 'SCMP_ARCH_S390X', 'SCMP_ARCH_PARISC',
  'SCMP_ARCH_PARISC64', 'SCMP_ARCH_RISCV64', 'SCMP_ARCH_LOONGARCH64', 'SCMP_ARCH_M68K', 'SCMP_ARCH_SH', 'SCMP_ARCH_SHEB',
]);
const FLAGS = new Set(['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV']);

/** A jump target inside a block: a relative offset, or 'F' (the next block). */
type Target = number | 'F';
interface Insn { code: number; jt?: Target; jf?: Target; k: number }

let byName: Map<string, number> | null = null;
function syscallNumber(name: string): number | undefined {
  if (byName === null) {
    byName = new Map();
    for (const e of SYSCALLS) if (e) byName.set(e.name, e.nr);
  }
  return byName.get(name);
}

class ProfileError extends Error {}
const bad = (m: string): never => {
  throw new ProfileError(`linux.seccomp: ${m}`);
};

function actionOf(action: string, errnoRet: number | undefined, where: string): number {
  const errno = (errnoRet ?? EPERM) & 0xffff;
  switch (action) {
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return SECCOMP_RET_KILL_THREAD;
    case 'SCMP_ACT_KILL_PROCESS':
      return SECCOMP_RET_KILL_PROCESS;
    case 'SCMP_ACT_TRAP':
      return SECCOMP_RET_TRAP;
    case 'SCMP_ACT_ERRNO':
      return (SECCOMP_RET_ERRNO | errno) >>> 0;
    case 'SCMP_ACT_TRACE':
      return (SECCOMP_RET_TRACE | errno) >>> 0;
    case 'SCMP_ACT_ALLOW':
      return SECCOMP_RET_ALLOW;
    case 'SCMP_ACT_LOG':
      return SECCOMP_RET_LOG;
    case 'SCMP_ACT_NOTIFY':
      return bad(`${where}: SCMP_ACT_NOTIFY is not supported (no seccomp listener in this sandbox)`);
    default:
      return bad(`${where}: unknown action ${action}`);
  }
}

// config.json's numbers come through JSON.parse: exact below 2^53; 18446744073709551615
// (all ones, as profiles write -1) arrives as 2^64 and is taken as all ones again.
const hi = (v: number) => (v >= 2 ** 64 ? 0xffffffff : Math.floor(v / 2 ** 32) >>> 0);
const lo = (v: number) => (v >= 2 ** 64 ? 0xffffffff : v % 2 ** 32 >>> 0);

/** The instructions checking one argument condition: fall through when it holds, 'F' when not. */
function condition(a: SeccompArg, where: string): Insn[] {
  if (!Number.isInteger(a.index) || a.index < 0 || a.index > 5) bad(`${where}: argument index ${a.index} out of 0..5`);
  const offHi = OFF_ARGS + a.index * 8 + 4, offLo = OFF_ARGS + a.index * 8;
  const v = a.value ?? 0, v2 = a.valueTwo ?? 0;
  const ld = (k: number): Insn => ({ code: LD_W_ABS, k });
  switch (a.op) {
    case 'SCMP_CMP_EQ':
      return [ld(offHi), { code: JEQ_K, k: hi(v), jt: 0, jf: 'F' }, ld(offLo), { code: JEQ_K, k: lo(v), jt: 0, jf: 'F' }];
    case 'SCMP_CMP_NE':
      return [ld(offHi), { code: JEQ_K, k: hi(v), jt: 0, jf: 2 }, ld(offLo), { code: JEQ_K, k: lo(v), jt: 'F', jf: 0 }];
    case 'SCMP_CMP_MASKED_EQ':
      return [
        ld(offHi), { code: AND_K, k: hi(v) }, { code: JEQ_K, k: hi(v2), jt: 0, jf: 'F' },
        ld(offLo), { code: AND_K, k: lo(v) }, { code: JEQ_K, k: lo(v2), jt: 0, jf: 'F' },
      ];
    case 'SCMP_CMP_GT':
    case 'SCMP_CMP_GE': {
      const last = a.op === 'SCMP_CMP_GT' ? JGT_K : JGE_K;
      return [ld(offHi), { code: JGT_K, k: hi(v), jt: 3, jf: 0 }, { code: JEQ_K, k: hi(v), jt: 0, jf: 'F' }, ld(offLo), { code: last, k: lo(v), jt: 0, jf: 'F' }];
    }
    case 'SCMP_CMP_LT':
    case 'SCMP_CMP_LE': {
      const last = a.op === 'SCMP_CMP_LT' ? JGE_K : JGT_K;
      return [ld(offHi), { code: JGE_K, k: hi(v), jt: 0, jf: 3 }, { code: JEQ_K, k: hi(v), jt: 0, jf: 'F' }, ld(offLo), { code: last, k: lo(v), jt: 'F', jf: 0 }];
    }
    default:
      return bad(`${where}: unknown operator ${a.op}`);
  }
}

/** A block: the syscall number checked, the conditions, the action; any failure goes to the next block. */
function block(nr: number, conds: SeccompArg[], action: number, where: string): Insn[] {
  const body: Insn[] = [{ code: LD_W_ABS, k: OFF_NR }, { code: JEQ_K, k: nr, jt: 0, jf: 'F' }];
  for (const c of conds) body.push(...condition(c, where));
  body.push({ code: RET_K, k: action });
  return body;
}

/**
 * Syscalls in one run share an action, so their order does not matter: a binary search
 * on the number (jge) down to short jeq chains, then the one ret. Every guest syscall
 * runs the program in the Sentry, so Docker's default profile (~350 names allowed)
 * costs about a dozen instructions per run rather than one per name. RUN_MAX keeps every
 * jump to the ret within 255 instructions (the jeq's plus one jge per 6 of them).
 */
const RUN_MAX = 200;
const LEAF = 6;
function searchBlock(nrs: number[], action: number): Array<{ code: number; jt: number; jf: number; k: number }> {
  const sorted = [...new Set(nrs)].sort((a, b) => a - b);
  type J = number | 'RET' | 'F' | 'NEXT';
  const code: Array<{ code: number; k: number; jt: J; jf: J }> = [{ code: LD_W_ABS, k: OFF_NR, jt: 'NEXT', jf: 'NEXT' }];
  const emit = (xs: number[]): void => {
    if (xs.length <= LEAF) {
      xs.forEach((nr, i) => code.push({ code: JEQ_K, k: nr, jt: 'RET', jf: i === xs.length - 1 ? 'F' : 'NEXT' }));
      return;
    }
    const mid = xs.length >> 1;
    const at = code.length;
    code.push({ code: JGE_K, k: xs[mid], jt: 0, jf: 'NEXT' });
    emit(xs.slice(0, mid));
    code[at].jt = code.length; // the upper half starts here
    emit(xs.slice(mid));
  };
  emit(sorted);
  const ret = code.length;
  code.push({ code: RET_K, k: action, jt: 'NEXT', jf: 'NEXT' });
  const end = code.length;
  return code.map((x, i) => {
    const off = (j: J) => (j === 'NEXT' ? 0 : (j === 'RET' ? ret : j === 'F' ? end : j) - i - 1);
    const jt = off(x.jt), jf = off(x.jf);
    if (jt > 255 || jf > 255) bad('internal error: a search block jump is out of reach');
    return { code: x.code, jt, jf, k: x.k };
  });
}

/** Resolves 'F' to the offset of the instruction just past the block. */
function resolve(b: Insn[]): Array<{ code: number; jt: number; jf: number; k: number }> {
  const off = (t: Target | undefined, i: number) => (t === 'F' ? b.length - i - 1 : t ?? 0);
  return b.map((x, i) => {
    const jt = off(x.jt, i), jf = off(x.jf, i);
    if (jt > 255 || jf > 255) bad('a rule is too long to compile');
    return { code: x.code, jt, jf, k: x.k };
  });
}

/** Compiles the profile, or returns one error line. */
export function compileProfile(p: SeccompProfile): CompiledProfile | string {
  try {
    return compile(p);
  } catch (e) {
    if (e instanceof ProfileError) return e.message;
    throw e;
  }
}

function compile(p: SeccompProfile): CompiledProfile {
  for (const a of p.architectures ?? []) if (!ARCHES.has(a)) bad(`unknown architecture ${a}`);
  for (const f of p.flags ?? []) if (!FLAGS.has(f)) bad(`unknown flag ${f}`);
  if (p.listenerPath) bad('listenerPath is not supported (no seccomp listener in this sandbox)');
  const dflt = actionOf(p.defaultAction, p.defaultErrnoRet, 'defaultAction');
  const out: Array<{ code: number; jt: number; jf: number; k: number }> = [
    { code: LD_W_ABS, jt: 0, jf: 0, k: OFF_ARCH },
    { code: JEQ_K, jt: 1, jf: 0, k: AUDIT_ARCH_X86_64 },
    { code: RET_K, jt: 0, jf: 0, k: SECCOMP_RET_KILL_PROCESS },
    { code: LD_W_ABS, jt: 0, jf: 0, k: OFF_NR },
    { code: JGE_K, jt: 0, jf: 1, k: X32_SYSCALL_BIT },
    { code: RET_K, jt: 0, jf: 0, k: SECCOMP_RET_KILL_PROCESS },
  ];
  // A run of condition-free syscalls sharing one action, flushed as one search block.
  let run: number[] = [];
  let runAction = 0;
  const flush = () => {
    if (run.length === 0) return;
    out.push(...searchBlock(run, runAction));
    run = [];
  };
  (p.syscalls ?? []).forEach((r, ri) => {
    const where = `syscalls[${ri}]`;
    const action = actionOf(r.action, r.errnoRet, where);
    const names = r.names ?? (r.name ? [r.name] : []);
    const args = r.args ?? [];
    const indices = args.map((a) => a.index);
    // Several conditions on one argument: one rule each (OR), as runc gives libseccomp.
    const sets = new Set(indices).size < indices.length ? args.map((a) => [a]) : [args];
    for (const name of names) {
      const nr = syscallNumber(name);
      if (nr === undefined) continue;
      for (const conds of sets) {
        if (conds.length === 0) {
          if (run.length > 0 && (runAction !== action || run.length >= RUN_MAX)) flush();
          runAction = action;
          run.push(nr);
          continue;
        }
        flush();
        out.push(...resolve(block(nr, conds, action, where)));
      }
    }
  });
  flush();
  out.push({ code: RET_K, jt: 0, jf: 0, k: dflt });
  if (out.length > BPF_MAXINSNS) bad(`the profile compiles to ${out.length} instructions (at most ${BPF_MAXINSNS})`);
  const prog = bpfFrom(out);
  const err = checkSeccompBpf(prog);
  if (err !== 0) bad(`the compiled program was refused (errno ${err})`);
  return { prog, log: (p.flags ?? []).includes('SECCOMP_FILTER_FLAG_LOG') };
}
