// Issue 12, deterministic mode: the same program under --deterministic gives
// byte-identical output and audit report on every run — a multi-threaded C guest
// (clocks, random bytes, pids, inode numbers, a sleep, a racy counter), a Python
// thread pool with time.time(), make -j4 of a generated project with file timestamps —
// a different seed gives other random bytes; --record/--replay re-runs and compares;
// a tampered log reports where it diverges.
import { afterAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { compileGuest } from '../helpers/build';
import { Sandbox } from '../../src/index';
import { explain, hasStackTrace, runSandbox, type RunResult } from '../helpers/run';
import { GUESTS, readReport, schemaErrors, scratch } from './ci-helpers';

const dir = scratch('determ');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const RUNS = 5;
const REPLAY_DIVERGED = 117;

/** Runs flags+argv RUNS times, each with its own --report; returns the outputs and reports. */
async function runs(tag: string, flags: string[], argv: string[], timeoutMs: number): Promise<{ out: RunResult[]; reports: string[] }> {
  const out: RunResult[] = [];
  const reports: string[] = [];
  for (let i = 0; i < RUNS; i++) {
    const rep = path.join(dir, `${tag}-${i}.json`);
    const r = await runSandbox([...flags, '--report', rep, ...argv], { timeoutMs });
    expect(r.code, explain(r)).toBe(0);
    out.push(r);
    reports.push(fs.readFileSync(rep, 'utf8'));
  }
  return { out, reports };
}

function allSame(rs: { out: RunResult[]; reports: string[] }): void {
  for (let i = 1; i < RUNS; i++) {
    expect(rs.out[i].stdout, `run ${i} stdout`).toBe(rs.out[0].stdout);
    expect(rs.out[i].stderr, `run ${i} stderr`).toBe(rs.out[0].stderr);
    expect(rs.reports[i], `run ${i} report`).toBe(rs.reports[0]);
  }
  expect(schemaErrors(JSON.parse(rs.reports[0]))).toBeNull();
}

/** Whether this host can make CPUID fault (a small native probe, as the Sentry's). */
function cpuidFaulting(): boolean {
  const probe = compileGuest('ci_cpuid_fault_probe', 'static', { srcDir: GUESTS });
  return spawnSync(probe).status === 0;
}

const line = (out: string, key: string): string => out.split('\n').find((l) => l.startsWith(key + ' ')) ?? '';

describe('deterministic mode', () => {
  const bin = compileGuest('ci_determ', 'dynamic', { srcDir: GUESTS });

  it('a multi-threaded C guest: 5 runs byte-identical, output and report', async () => {
    const rs = await runs('c', ['--deterministic'], [bin], 60_000);
    allSame(rs);
    const o = rs.out[0].stdout;
    // The virtual clock: the fixed epoch (2000-01-01) plus the guest's own activity.
    expect(line(o, 'realtime')).toMatch(/^realtime 9466848\d\d\.\d{9}$/);
    expect(line(o, 'pid')).toBe('pid 1 ppid 0 tid 1');
    expect(line(o, 'hostname')).toBe('hostname tssandbox uid 0 gid 0');
    // A sleep advances virtual time by at least its length.
    expect(o).toContain('slept >= 2.5 s');
    expect(o).toMatch(/^counter \d+ \(of 800\)$/m);
    // All four threads ran, interleaved at their syscalls.
    expect(line(o, 'order')).toMatch(/a.*b.*c.*d/);
    for (const k of ['getrandom', 'urandom', 'at_random']) expect(line(o, k)).toMatch(/^\S+ [0-9a-f]{32}$/);
    const report = readReport(path.join(dir, 'c-0.json'));
    expect(report.processes[0].pid).toBe(1);
    expect(report.wallMs).toBeGreaterThanOrEqual(2500); // virtual: the sleep counts
    expect(report.deterministic).toEqual({ seed: '0', wallPreemptions: 0 });
  });

  it('a different seed gives other random bytes, the same clock', async () => {
    const a = await runSandbox(['--deterministic=1', bin], { timeoutMs: 60_000 });
    const b = await runSandbox(['--deterministic=2', bin], { timeoutMs: 60_000 });
    expect(a.code, explain(a)).toBe(0);
    expect(b.code, explain(b)).toBe(0);
    for (const k of ['getrandom', 'urandom', 'at_random']) expect(line(a.stdout, k)).not.toBe(line(b.stdout, k));
    expect(line(a.stdout, 'realtime')).toBe(line(b.stdout, 'realtime'));
  });

  it('python3 with a thread pool and time.time(): 5 runs byte-identical', async () => {
    const prog = [
      'import threading, time, os, random',
      'from concurrent.futures import ThreadPoolExecutor',
      'print("start", time.time(), time.monotonic(), random.random(), os.urandom(4).hex())',
      'bar = threading.Barrier(4)',
      'shared = [0]',
      'def work(i):',
      '    bar.wait()',
      '    for k in range(50):',
      '        v = shared[0]',
      '        os.getpid()',
      '        shared[0] = v + 1',
      '    return (i, threading.current_thread().name, time.time())',
      'with ThreadPoolExecutor(4) as ex:',
      '    for r in ex.map(work, range(4)):',
      '        print(r)',
      'time.sleep(0.5)',
      'print("end", time.time(), shared[0], os.getpid())',
      // Loopback TCP: the ephemeral ports come from the seed too.
      'import socket',
      's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()',
      'c = socket.create_connection(s.getsockname()); a, _ = s.accept()',
      'print("ports", s.getsockname()[1], c.getsockname()[1], a.getpeername()[1])',
    ].join('\n');
    const rs = await runs('py', ['--deterministic'], ['python3', '-c', prog], 120_000);
    allSame(rs);
    const o = rs.out[0].stdout;
    expect(o).toMatch(/^start 9466848\d\d\.\d+ /m);
    // Four distinct pool threads ran.
    const names = new Set([...o.matchAll(/ThreadPoolExecutor-0_(\d)/g)].map((m) => m[1]));
    expect(names.size).toBe(4);
  });

  it('make -j4 of a generated project, with date and ls --full-time: 5 runs byte-identical', async () => {
    const src = path.join(dir, 'proj');
    fs.mkdirSync(src, { recursive: true });
    const objs: string[] = [];
    for (let i = 1; i <= 6; i++) {
      fs.writeFileSync(path.join(src, `f${i}.c`), `int f${i}(void) { return ${i}; }\n`);
      objs.push(`f${i}.o`);
    }
    fs.writeFileSync(path.join(src, 'main.c'),
      '#include <stdio.h>\nint f1(void), f2(void), f3(void), f4(void), f5(void), f6(void);\n' +
      'int main(void) { printf("sum %d\\n", f1() + f2() + f3() + f4() + f5() + f6()); return 0; }\n');
    fs.writeFileSync(path.join(src, 'Makefile'),
      `prog: main.o ${objs.join(' ')}\n\tgcc -o $@ $^\n%.o: %.c\n\t@echo "cc $<"; gcc -c -o $@ $<\n`);
    const script = 'set -e; rm -rf /tmp/w; mkdir /tmp/w; cp /src/*.c /src/Makefile /tmp/w; cd /tmp/w; date; ' +
      'make -j4; ./prog; ls -l --full-time /tmp/w; ls -i /src; date +%s.%N; ' +
      // What /proc says of the machine: fixed too (no host CPU times, free memory or boot time).
      'grep -E "^(cpu|btime)" /proc/stat; grep MemFree /proc/meminfo; grep -m1 MHz /proc/cpuinfo; stat -c %y /proc';
    const rs = await runs('make', ['--deterministic', '--mount', `${src}:/src:ro`], ['sh', '-c', script], 240_000);
    allSame(rs);
    const o = rs.out[0].stdout;
    expect(o).toContain('Sat Jan  1 00:00:01 UTC 2000');
    expect(o).toContain('sum 21');
    expect(o).toContain('btime 946684800\n');
    expect(o).toContain('2000-01-01 00:00:00.000000000 +0000\n');
    expect(o).toMatch(/ 2000-01-01 00:00:01\.\d{9} \+0000 prog$/m);
    // make ran 7 compilers and a link: a process tree of more than 8 processes, the same each run.
    expect(JSON.parse(rs.reports[0]).processes.length).toBeGreaterThan(8);
  });

  it('--record then --replay matches; a tampered log reports the first divergence', async () => {
    const log = path.join(dir, 'c.log');
    const rec = await runSandbox(['--deterministic=5', '--record', log, bin], { timeoutMs: 60_000 });
    expect(rec.code, explain(rec)).toBe(0);
    const lines = fs.readFileSync(log, 'latin1').split('\n');
    expect(lines[0]).toMatch(/^# tssandbox syscall log v1 \{"seed":"5"/);
    expect(lines.length).toBeGreaterThan(500);
    expect(lines[1]).toMatch(/^0 1 \w+\(0x[0-9a-f]+(,-?0x[0-9a-f]+){5}\) = -?\d+$/);

    // The replay takes the log's seed: same output, exit 0.
    const rep = await runSandbox(['--replay', log, bin], { timeoutMs: 60_000 });
    expect(rep.code, explain(rep)).toBe(0);
    expect(rep.stdout).toBe(rec.stdout);

    // Change one result in the middle of the log: the replay names that syscall.
    const k = Math.floor(lines.length / 2);
    const m = /^(\d+) (\d+) (.*) = (-?\d+)$/.exec(lines[k])!;
    const tampered = [...lines];
    tampered[k] = `${m[1]} ${m[2]} ${m[3]} = ${Number(m[4]) + 1}`;
    const bad = path.join(dir, 'tampered.log');
    fs.writeFileSync(bad, tampered.join('\n'), 'latin1');
    const div = await runSandbox(['--replay', bad, bin], { timeoutMs: 60_000 });
    expect(div.code, explain(div)).toBe(REPLAY_DIVERGED);
    expect(div.stderr).toContain(`replay diverged at syscall #${m[1]}: expected task ${m[2]}: ${m[3]} = ${Number(m[4]) + 1}, got task ${m[2]}: ${m[3]} = ${m[4]}`);
    expect(hasStackTrace(div.stderr)).toBe(false);

    // A log cut short: the run goes on past its end.
    const cut = path.join(dir, 'cut.log');
    fs.writeFileSync(cut, lines.slice(0, 101).join('\n') + '\n', 'latin1');
    const c = await runSandbox(['--replay', cut, bin], { timeoutMs: 60_000 });
    expect(c.code, explain(c)).toBe(REPLAY_DIVERGED);
    expect(c.stderr).toContain('replay diverged at syscall #100: the log ends there');
  });

  it('RDTSC reads the virtual clock; --mask-cpuid hides RDRAND/RDSEED where CPUID can fault', async () => {
    const probe = compileGuest('ci_cpuinsn', 'static', { srcDir: GUESTS });
    const runs2 = [await runSandbox(['--deterministic', probe]), await runSandbox(['--deterministic', probe])];
    for (const r of runs2) expect(r.code, explain(r)).toBe(0);
    expect(line(runs2[1].stdout, 'tsc')).toBe(line(runs2[0].stdout, 'tsc'));
    expect(runs2[0].stdout).toMatch(/forward 1$/m);
    const plain = await runSandbox([probe]);
    expect(line(plain.stdout, 'tsc')).not.toBe(line(runs2[0].stdout, 'tsc'));
    const masked = await runSandbox(['--deterministic', '--mask-cpuid', probe]);
    if (cpuidFaulting()) {
      expect(masked.code, explain(masked)).toBe(0);
      expect(masked.stdout).toMatch(/^rdrand 0\nrdseed 0\n/);
      // Each trapped CPUID is a stop too (it moves the clock): the same again on a second run.
      const again = await runSandbox(['--deterministic', '--mask-cpuid', probe]);
      expect(again.stdout).toBe(masked.stdout);
    } else {
      // CPUID faulting (ARCH_SET_CPUID) is a CPU feature: without it the flag is refused.
      expect(masked.code, explain(masked)).toBe(125);
      expect(masked.stderr).toMatch(/^tssandbox: --mask-cpuid: /);
    }
  }, 120_000); // five runs: 29 s of the default 30 in a loaded suite

  it('a thread spinning without syscalls is preempted, and the run says so', async () => {
    const spin = compileGuest('ci_spin', 'static', { srcDir: GUESTS });
    const r = await runSandbox(['--deterministic', spin], { timeoutMs: 60_000 });
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toBe('joined\n');
    expect(r.stderr).toMatch(/^tssandbox: deterministic mode: \d+ preemptions? by the wall clock/m);
    const rep = path.join(dir, 'spin.json');
    const r2 = await runSandbox(['--deterministic=3', '--report', rep, spin], { timeoutMs: 60_000 });
    expect(r2.code, explain(r2)).toBe(0);
    const d = readReport(rep).deterministic;
    expect(d.seed).toBe('3');
    expect(d.wallPreemptions).toBeGreaterThan(0);
  });

  it('a spin-wait on another thread\'s store stays deterministic: 5 runs byte-identical, preemptions included', async () => {
    // What is guaranteed without a PMU (src/determinism/README.md): a thread that runs
    // without syscalls is preempted by the wall clock at no fixed instruction, so only
    // programs whose output does not depend on how far it got between two of its
    // syscalls stay byte-identical; a spin-wait is one (it only waits for the flag).
    const spin = compileGuest('ci_spin', 'static', { srcDir: GUESTS });
    const rs = await runs('spin5', ['--deterministic'], [spin], 60_000);
    allSame(rs);
    expect(rs.out[0].stdout).toBe('joined\n');
    expect(JSON.parse(rs.reports[0]).deterministic.wallPreemptions).toBeGreaterThan(0);
  });

  it('the library option deterministic: two Sandbox.run give the same output and report', async () => {
    const a = await Sandbox.run([bin], { deterministic: 9 });
    const b = await Sandbox.run([bin], { deterministic: 9 });
    expect(a.status, a.stderr.toString()).toBe(0);
    expect(b.stdout.equals(a.stdout)).toBe(true);
    expect(JSON.stringify(b.report)).toBe(JSON.stringify(a.report));
    expect(a.stdout.toString()).toMatch(/^realtime 9466848/);
  });

  it('bad --replay and --record files: one line, exit 125', async () => {
    const notLog = path.join(dir, 'not-a-log');
    fs.writeFileSync(notLog, 'hello\n');
    for (const args of [['--replay', path.join(dir, 'missing.log')], ['--replay', notLog], ['--record', path.join(dir, 'no/such/dir/x.log')]]) {
      const r = await runSandbox([...args, bin], { timeoutMs: 30_000 });
      expect(r.code, explain(r)).toBe(125);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^tssandbox: --re(play|cord) /);
      expect(hasStackTrace(r.stderr)).toBe(false);
    }
    const e = await runSandbox(['--deterministic=', bin], { timeoutMs: 30_000 });
    expect(e.code).not.toBe(0);
    expect(e.stderr).toContain('--deterministic= needs a seed');
  });
});
