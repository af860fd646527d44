/**
 * Compatibility classes of issue 15: guest C programs (test/compat/guests) built static and
 * dynamic, run natively and under `tssandbox run`, stdout compared with Linux's.
 */
import * as nfs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileGuest, LINKAGES } from '../helpers/build';
import { GUESTS_DIR } from '../helpers/paths';
import { expectSameAsNative, explain, runSandbox } from '../helpers/run';

const SRC = path.join(__dirname, 'guests');
const build = (name: string, l: (typeof LINKAGES)[number]) => compileGuest(name, l, { srcDir: SRC, flags: ['-I', GUESTS_DIR] });

describe('compat guests match Linux', () => {
  for (const name of ['cp_sendfile', 'cp_clone', 'cp_stdin', 'cp_misc', 'cp_usage', 'cp_procsys']) {
    for (const l of LINKAGES) {
      it(`${name} (${l})`, async () => {
        await expectSameAsNative([build(name, l)], { timeoutMs: 25_000 });
      }, 40_000);
    }
  }
});

/** A hand-built ELF: one PT_LOAD (R+X) holding header and code, no sections; writes, exits 42. */
function tinyElf(bssPages: number): Buffer {
  const base = 0x400000n;
  const msg = Buffer.from('tiny elf\n');
  const codeOff = 64 + 56;
  const code = (msgAddr: bigint) => {
    const c = Buffer.alloc(46);
    Buffer.from([0xb8, 1, 0, 0, 0, 0xbf, 1, 0, 0, 0, 0x48, 0xbe]).copy(c, 0); // mov eax,1; mov edi,1; movabs rsi,
    c.writeBigUInt64LE(msgAddr, 12);
    c[20] = 0xba; c.writeUInt32LE(msg.length, 21); // mov edx,len
    Buffer.from([0x0f, 0x05, 0xb8, 60, 0, 0, 0, 0xbf, 42, 0, 0, 0, 0x0f, 0x05]).copy(c, 25); // syscall; exit(42)
    return c.subarray(0, 39);
  };
  const body = Buffer.concat([code(base + BigInt(codeOff + 39)), msg]);
  const filesz = BigInt(codeOff + body.length);
  const eh = Buffer.alloc(64);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(eh, 0);
  eh.writeUInt16LE(2, 16); eh.writeUInt16LE(62, 18); eh.writeUInt32LE(1, 20);
  eh.writeBigUInt64LE(base + BigInt(codeOff), 24); eh.writeBigUInt64LE(64n, 32);
  eh.writeUInt16LE(64, 52); eh.writeUInt16LE(56, 54); eh.writeUInt16LE(1, 56);
  const ph = Buffer.alloc(56);
  ph.writeUInt32LE(1, 0); ph.writeUInt32LE(5, 4);
  ph.writeBigUInt64LE(base, 16); ph.writeBigUInt64LE(base, 24);
  ph.writeBigUInt64LE(filesz, 32); ph.writeBigUInt64LE(filesz + BigInt(bssPages * 4096), 40);
  ph.writeBigUInt64LE(0x1000n, 48);
  return Buffer.concat([eh, ph, body]);
}

describe('rseq, membarrier, mlock, ioprio, NUMA policy', () => {
  for (const l of LINKAGES) {
    it(`cp_rseq (${l}): registration and the rest as Linux`, async () => {
      // glibc registers rseq itself at start: turned off here, so the guest registers its own.
      await expectSameAsNative([build('cp_rseq', l)], { timeoutMs: 25_000, env: { GLIBC_TUNABLES: 'glibc.pthread.rseq=0' } });
    }, 40_000);
    it(`cp_rseq (${l}): glibc's own registration succeeds`, async () => {
      await expectSameAsNative([build('cp_rseq', l), 'glibc'], { timeoutMs: 25_000 });
    }, 40_000);
  }
});

describe('exec of a minimal hand-built ELF', () => {
  for (const bss of [0, 3]) {
    it(`one PT_LOAD, no sections${bss ? ', with bss' : ''}: runs and exits like Linux`, async () => {
      const dir = nfs.mkdtempSync(path.join(os.tmpdir(), 'tss-tiny-'));
      const p = path.join(dir, 'tiny');
      nfs.writeFileSync(p, tinyElf(bss), { mode: 0o755 });
      await expectSameAsNative([p], { timeoutMs: 15_000 });
      await expectSameAsNative(['/bin/sh', '-c', `${p}; echo status $?`], { timeoutMs: 15_000 });
    }, 40_000);
  }
});

describe.skipIf(!nfs.existsSync('/usr/bin/time'))('/usr/bin/time -v reports real figures', () => {
  it('user time, maximum RSS, page faults and context switches are not zero', async () => {
    const bin = build('cp_usage', 'dynamic');
    const r = await runSandbox(['/usr/bin/time', '-v', bin], { timeoutMs: 25_000 });
    expect(r.code, explain(r)).toBe(0);
    const num = (label: string) => Number(new RegExp(`${label}[^:]*: ([0-9.]+)`).exec(r.stderr)?.[1] ?? NaN);
    expect(num('User time'), explain(r)).toBeGreaterThan(0.05);
    expect(num('Maximum resident set size'), explain(r)).toBeGreaterThan(40 * 1024);
    expect(num('Minor \\(reclaiming a frame\\) page faults'), explain(r)).toBeGreaterThan(1000);
    expect(num('Voluntary context switches') + num('Involuntary context switches'), explain(r)).toBeGreaterThan(0);
    expect(num('File system outputs'), explain(r)).toBe(0);
  }, 40_000);
});

describe('/proc and /sys agree with the sandbox and its limits', () => {
  it('ptrace, pinned (its default): one CPU everywhere the guest looks', async () => {
    const r = await runSandbox(['--platform=ptrace', '/bin/sh', '-c', 'nproc; getconf _NPROCESSORS_ONLN; grep -c ^processor /proc/cpuinfo; cat /sys/devices/system/cpu/online']);
    expect(r.stdout, explain(r)).toBe('1\n1\n1\n0\n');
  });

  it('systrap (never pinned): the host\'s CPUs, the same count everywhere', async () => {
    const r = await runSandbox(['--platform=systrap', '/bin/sh', '-c', 'nproc; getconf _NPROCESSORS_ONLN; grep -c ^processor /proc/cpuinfo']);
    const n = Math.min(31, os.availableParallelism());
    expect(r.stdout, explain(r)).toBe(`${n}\n${n}\n${n}\n`);
  });

  it('--no-pin: the host\'s CPUs, the same count everywhere', async () => {
    const r = await runSandbox(['--platform=ptrace', '--no-pin', '/bin/sh', '-c', 'nproc; getconf _NPROCESSORS_ONLN; grep -c ^processor /proc/cpuinfo']);
    const n = Math.min(31, os.availableParallelism());
    expect(r.stdout, explain(r)).toBe(`${n}\n${n}\n${n}\n`);
  });

  it('/sys/fs/cgroup is a cgroup v2 root carrying --memory and --pids-limit', async () => {
    const r = await runSandbox(['--memory', '64m', '--pids-limit', '50', '/bin/sh', '-c',
      'cd /sys/fs/cgroup && cat memory.max pids.max cgroup.controllers && head -1 cgroup.procs && test "$(cat pids.current)" -ge 1 && test "$(cat memory.current)" -gt 0 && echo ok']);
    expect(r.stdout, explain(r)).toBe('67108864\n50\ncpuset cpu io memory pids\n1\nok\n');
    const d = await runSandbox(['/bin/sh', '-c', 'cat /sys/fs/cgroup/memory.max /proc/self/cgroup']);
    expect(d.stdout, explain(d)).toBe('max\n0::/\n');
  });
});
