// The ELF fuzzer (issue 7): valid small executables (static, static-PIE, dynamic, built
// at test time) with bytes of their ELF header and program headers flipped or overwritten
// by a seeded PRNG, each exec'd inside one sandbox by a runner guest. Whatever the bytes,
// the Sentry must not crash (the sandbox's status is the runner's), print no internal
// error or stack trace, change nothing outside the sandbox (a canary directory and the
// repository are checked before and after), and leave no host process behind.
//   TSS_ELF_FUZZ_CASES (default 300), TSS_ELF_FUZZ_SEED (default 20261201).
import { describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { compileGuest } from '../helpers/build';
import { BIN, REPO } from '../helpers/paths';
import { BASE_ENV, hasStackTrace } from '../helpers/run';
import {
  buildSeed, EH, GUESTS, makeCanary, ph, PH, phnum, prng, SEED_KINDS, setU64, getU64, leftBehind, treeHash,
  watchDescendants,
} from './elf-tools';

const CASES = Number(process.env.TSS_ELF_FUZZ_CASES ?? 300);
const SEED = Number(process.env.TSS_ELF_FUZZ_SEED ?? 20261201);

/** Values that sit on the edges of the loader's checks. */
function interesting(rnd: () => number, orig: bigint, fileSize: number): bigint {
  const page = 0x1000n;
  const choices: bigint[] = [
    0n, 1n, 2n, 0xfffn, page, page + 1n, BigInt(fileSize), BigInt(fileSize) - 1n, BigInt(fileSize) + page,
    orig + 1n, orig - 1n, orig + page, orig - page, orig * 2n, orig + 0x10000000n,
    0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 0x7ffffffff000n, 0x7ffffffff000n - page,
    0x800000000000n, (1n << 53n) - 1n, 1n << 53n, (1n << 53n) + 1n, 1n << 62n, (1n << 63n) - page, 1n << 63n,
    (1n << 64n) - 1n, (1n << 64n) - page,
  ];
  if (rnd() < 0.2) return BigInt(Math.floor(rnd() * 2 ** 32)) << 32n | BigInt(Math.floor(rnd() * 2 ** 32));
  return BigInt.asUintN(64, choices[Math.floor(rnd() * choices.length)]);
}

const PH_FIELDS = [PH.offset, PH.vaddr, PH.filesz, PH.memsz, PH.align];
const PH_TYPES = [0, 1, 2, 3, 4, 6, 7, 0x6474e550, 0x6474e551, 0x6474e552, 0x6474e553, 0x70000000, 0xffffffff];

/** One mutant of seed bytes b: 1 to 4 mutations of the headers. Returns the bytes and what was done. */
function mutate(b: Buffer, rnd: () => number): { out: Buffer; what: string[] } {
  let out = Buffer.from(b);
  const what: string[] = [];
  const n = 1 + Math.floor(rnd() * 4);
  for (let k = 0; k < n && out.length >= 64; k++) {
    const np = Math.min(phnum(out), 64);
    const i = Math.floor(rnd() * Math.max(np, 1));
    const base = np > 0 && ph(out, i) + 56 <= out.length ? ph(out, i) : -1;
    const r = rnd();
    if (r < 0.25) {
      // A bit of the ELF header (the magic rarely: past it is where the checks are).
      const at = rnd() < 0.05 ? Math.floor(rnd() * 4) : 4 + Math.floor(rnd() * 60);
      const bit = Math.floor(rnd() * 8);
      out[at] ^= 1 << bit;
      what.push(`eh[${at}]^=${1 << bit}`);
    } else if (r < 0.35) {
      const field = [EH.entry, EH.phoff][Math.floor(rnd() * 2)];
      const v = interesting(rnd, getU64(out, field), out.length);
      setU64(out, field, v);
      what.push(`eh@${field}=${v}`);
    } else if (r < 0.42) {
      const field = [EH.phnum, EH.phentsize, EH.type][Math.floor(rnd() * 3)];
      const v = [0, 1, 2, 3, 4, 55, 56, 57, 73, 74, 1170, 1171, 0xffff][Math.floor(rnd() * 13)];
      out.writeUInt16LE(v, field);
      what.push(`eh16@${field}=${v}`);
    } else if (base >= 0 && r < 0.75) {
      const field = PH_FIELDS[Math.floor(rnd() * PH_FIELDS.length)];
      const v = interesting(rnd, getU64(out, base + field), out.length);
      setU64(out, base + field, v);
      what.push(`ph${i}@${field}=${v}`);
    } else if (base >= 0 && r < 0.85) {
      const t = PH_TYPES[Math.floor(rnd() * PH_TYPES.length)];
      out.writeUInt32LE(t >>> 0, base + PH.type);
      what.push(`ph${i}.type=${t}`);
    } else if (base >= 0 && r < 0.93) {
      const at = base + Math.floor(rnd() * 56);
      out[at] = Math.floor(rnd() * 256);
      what.push(`ph${i}[${at - base}]=${out[at]}`);
    } else if (base >= 0 && r < 0.97 && np > 1 && ph(out, np - 1) + 56 <= out.length) {
      const j = Math.floor(rnd() * np);
      const a = Buffer.from(out.subarray(base, base + 56));
      out.copy(out, base, ph(out, j), ph(out, j) + 56);
      a.copy(out, ph(out, j));
      what.push(`swap ph${i} ph${j}`);
    } else {
      const len = Math.floor(rnd() * Math.min(out.length, 8192));
      out = out.subarray(0, len);
      what.push(`truncate ${len}`);
    }
  }
  return { out, what };
}

function gitStatus(): string {
  return execFileSync('git', ['status', '--porcelain', '--ignored=no'], { cwd: REPO, encoding: 'utf8' });
}

describe('ELF fuzzer', () => {
  it(`${CASES} mutated executables (seed ${SEED}): no Sentry crash, no internal error, nothing changed outside, no stray process`, async () => {
    const seeds = SEED_KINDS.map((k) => ({ kind: k, bytes: fs.readFileSync(buildSeed(k)) }));
    const runner = compileGuest('exec_each', 'static', { srcDir: GUESTS });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-elf-fuzz-'));
    const canary = makeCanary(os.tmpdir());
    const gitBefore = gitStatus();
    const rnd = prng(SEED);
    const log: string[] = [];
    const files: string[] = [];
    for (let c = 0; c < CASES; c++) {
      const s = seeds[c % seeds.length];
      const { out, what } = mutate(s.bytes, rnd);
      const name = `m${String(c).padStart(4, '0')}-${s.kind}`;
      fs.writeFileSync(path.join(dir, name), out, { mode: 0o755 });
      files.push(path.join(dir, name));
      log.push(`${name}: ${what.join(', ')}`);
    }
    fs.writeFileSync(path.join(dir, 'list'), files.join('\n') + '\n');
    fs.writeFileSync(path.join(dir, 'mutations'), log.join('\n') + '\n');
    const dirHash = treeHash(dir);

    const child = spawn(process.execPath, [BIN, 'run', runner, path.join(dir, 'list')], {
      env: BASE_ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const watch = watchDescendants(child.pid!);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 400_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    clearTimeout(killer);
    watch.stop();
    const alive = await leftBehind(watch.seen); // the host reaps what the Sentry's exit orphaned
    const why = `seed ${SEED}; mutations in ${dir}/mutations\n--- stderr ---\n${stderr.slice(0, 4000)}`;
    expect(stderr, why).not.toMatch(/internal error|BUG:/);
    expect(hasStackTrace(stderr), why).toBe(false);
    expect(code, why).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines[lines.length - 1], why).toBe('all done');
    expect(lines.length - 1, why).toBe(CASES);
    expect(alive, 'host processes left behind').toEqual([]);
    expect(treeHash(canary.dir), 'the canary directory changed').toBe(canary.hash);
    expect(treeHash(dir), 'the mutants changed on the host').toBe(dirHash);
    expect(gitStatus(), 'the repository changed').toBe(gitBefore);
    // What the mutants did, roughly: not all refused, not all run.
    const refused = lines.filter((l) => l.includes('execve -1')).length;
    expect(refused, stdout).toBeGreaterThan(0);
    expect(refused, stdout).toBeLessThan(CASES);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(canary.dir, { recursive: true, force: true });
  }, 420_000);
});
