/**
 * src/oci/seccomp-profile.ts against a reference: random profiles compiled to classic
 * BPF and run by the guest seccomp's interpreter (src/kernel/seccomp/bpf.ts) for every
 * syscall number and for 64-bit arguments around each comparison's value, compared
 * with the profile's meaning evaluated directly (first matching rule, else the default).
 */
import { describe, expect, it } from 'vitest';
import { compileProfile, type SeccompProfile, type SeccompRule } from '../../src/oci/seccomp-profile';
import { runBpf } from '../../src/kernel/seccomp/bpf';
import { SYSCALLS } from '../../syscalls/table';

const ARCH = 0xc000003e;
const names = SYSCALLS.filter((e) => e !== undefined).map((e) => e!.name);
const nrOf = new Map(SYSCALLS.filter((e) => e !== undefined).map((e) => [e!.name, e!.nr]));

/** A seeded PRNG (xorshift32): the same profiles at every run. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

const RET: Record<string, (e?: number) => number> = {
  SCMP_ACT_ALLOW: () => 0x7fff0000,
  SCMP_ACT_ERRNO: (e = 1) => (0x50000 | e) >>> 0,
  SCMP_ACT_KILL_PROCESS: () => 0x80000000,
  SCMP_ACT_TRAP: () => 0x30000,
  SCMP_ACT_LOG: () => 0x7ffc0000,
};

const ALL_ONES = 0xffffffffffffffffn;
/** A profile's number as the kernel compares it (2^64 is JSON.parse's all ones). */
const u64 = (n: number) => (n >= 2 ** 64 ? ALL_ONES : BigInt(n));

function holds(op: string, arg: bigint, v: bigint, v2: bigint): boolean {
  switch (op) {
    case 'SCMP_CMP_EQ': return arg === v;
    case 'SCMP_CMP_NE': return arg !== v;
    case 'SCMP_CMP_LT': return arg < v;
    case 'SCMP_CMP_LE': return arg <= v;
    case 'SCMP_CMP_GT': return arg > v;
    case 'SCMP_CMP_GE': return arg >= v;
    case 'SCMP_CMP_MASKED_EQ': return (arg & v) === v2;
    default: throw new Error(op);
  }
}

/** What the profile means for one call, evaluated directly. */
function reference(p: SeccompProfile, nr: number, args: bigint[]): number {
  for (const r of p.syscalls ?? []) {
    if (!(r.names ?? []).some((n) => nrOf.get(n) === nr)) continue;
    const conds = r.args ?? [];
    const idx = conds.map((a) => a.index);
    const sameArg = new Set(idx).size < idx.length;
    const ok = conds.length === 0 ||
      (sameArg ? conds.some((a) => holds(a.op, args[a.index], u64(a.value), u64(a.valueTwo ?? 0)))
        : conds.every((a) => holds(a.op, args[a.index], u64(a.value), u64(a.valueTwo ?? 0))));
    if (ok) return RET[r.action](r.errnoRet);
  }
  return RET[p.defaultAction](p.defaultErrnoRet);
}

function run(prog: ReturnType<typeof compileProfile>, nr: number, args: bigint[]): number {
  if (typeof prog === 'string') throw new Error(prog);
  const d = new Uint32Array(16);
  d[0] = nr;
  d[1] = ARCH;
  args.forEach((a, i) => {
    d[4 + i * 2] = Number(a & 0xffffffffn);
    d[5 + i * 2] = Number(a >> 32n);
  });
  return runBpf(prog.prog, d) >>> 0;
}

describe('linux.seccomp compiled to classic BPF', () => {
  it('allow and deny lists of every size: each syscall number gets the rule it matches first', () => {
    const rnd = prng(7);
    for (let trial = 0; trial < 60; trial++) {
      const density = rnd();
      const rules: SeccompRule[] = [];
      for (let r = 0; r < 1 + Math.floor(rnd() * 4); r++) {
        const action = ['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_LOG'][Math.floor(rnd() * 3)];
        rules.push({ names: names.filter(() => rnd() < density), action, errnoRet: 1 + Math.floor(rnd() * 100) });
      }
      const p: SeccompProfile = { defaultAction: trial % 2 ? 'SCMP_ACT_ERRNO' : 'SCMP_ACT_ALLOW', defaultErrnoRet: 38, syscalls: rules };
      const prog = compileProfile(p);
      for (let nr = 0; nr < 460; nr++) expect(run(prog, nr, [0n, 0n, 0n, 0n, 0n, 0n]), `trial ${trial} nr ${nr}`).toBe(reference(p, nr, [0n, 0n, 0n, 0n, 0n, 0n]));
    }
  });

  it('64-bit argument comparisons, alone, together (AND) and on one argument (OR)', () => {
    const rnd = prng(11);
    const ops = ['SCMP_CMP_EQ', 'SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_GT', 'SCMP_CMP_GE', 'SCMP_CMP_MASKED_EQ'];
    // Exact in JSON (below 2^53), and all ones (JSON.parse makes it 2^64; the compiler takes it back).
    const values = [0n, 1n, 2n, 0xffffffffn, 0x100000000n, 0x100000001n, 0x1fffffffffffffn, 0xffffffffffffffffn, 0x123456789n];
    for (let trial = 0; trial < 300; trial++) {
      const conds = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => {
        const v = values[Math.floor(rnd() * values.length)];
        return { index: Math.floor(rnd() * 3), op: ops[Math.floor(rnd() * ops.length)], value: Number(v), valueTwo: Number(values[Math.floor(rnd() * 3)]) };
      });
      const p: SeccompProfile = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['write'], action: 'SCMP_ACT_ERRNO', errnoRet: 13, args: conds }] };
      const prog = compileProfile(p);
      for (const a of values) {
        for (const b of [0n, 1n, 0x100000000n]) {
          const args = [a, b, a ^ b, 0n, 0n, 0n];
          const ref = reference(p, 1, args);
          expect(run(prog, 1, args), JSON.stringify({ conds, args: args.map(String) })).toBe(ref);
        }
      }
    }
  });

  it('another architecture, or an x32 number, is killed; bad profiles are one line', () => {
    const prog = compileProfile({ defaultAction: 'SCMP_ACT_ALLOW' });
    if (typeof prog === 'string') throw new Error(prog);
    const d = new Uint32Array(16);
    d[1] = 0x40000003; // AUDIT_ARCH_I386
    expect(runBpf(prog.prog, d) >>> 0).toBe(0x80000000);
    d[1] = ARCH;
    d[0] = 0x40000000 | 1;
    expect(runBpf(prog.prog, d) >>> 0).toBe(0x80000000);
    expect(compileProfile({ defaultAction: 'SCMP_ACT_NOTIFY' })).toMatch(/^linux.seccomp: defaultAction: SCMP_ACT_NOTIFY is not supported/);
    expect(compileProfile({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_VAX'] })).toBe('linux.seccomp: unknown architecture SCMP_ARCH_VAX');
    expect(compileProfile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 6, value: 0, op: 'SCMP_CMP_EQ' }] }] }))
      .toBe('linux.seccomp: syscalls[0]: argument index 6 out of 0..5');
  });
});
