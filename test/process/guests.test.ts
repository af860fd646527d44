/**
 * The process model end to end: guest C programs (test/process/guests) built static and
 * dynamic, run natively and under `tssandbox run`, stdout compared line for line. Guests
 * whose output depends on the sandbox's pid namespace or timing are checked against the
 * Linux-documented values instead.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileGuest, LINKAGES, type Linkage } from '../helpers/build';
import { GUESTS_DIR } from '../helpers/paths';
import { explain, runNative, runSandbox, status, type RunResult } from '../helpers/run';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SRC = path.join(HERE, 'guests');

/** Guests compared with a native run, static and dynamic. */
const COMPARED = ['pr_clone', 'pr_exec', 'pr_exit', 'pr_wait', 'pr_prctl', 'pr_pidfd', 'pr_signals', 'pr_faults', 'pr_futex', 'pr_session', 'pr_time'];
/** Compared too, but only static (slow, or not linkage-dependent). */
const COMPARED_STATIC = ['pr_limits', 'pr_forkbomb'];
const ALL = [...COMPARED, ...COMPARED_STATIC, 'pr_park'];

const bins: Record<string, string> = {};
const bin = (name: string, l: Linkage) => bins[`${name}.${l}`];

beforeAll(() => {
  for (const name of ALL) {
    for (const l of LINKAGES) {
      bins[`${name}.${l}`] = compileGuest(`${name}`, l, { srcDir: SRC, flags: ['-I', GUESTS_DIR, '-lrt'] });
    }
  }
}, 180_000);

/** Lines that differ, as "-native / +sandbox" pairs, so a failure names every divergence. */
function lineDiff(native: string, sandbox: string): string {
  const a = native.split('\n');
  const b = sandbox.split('\n');
  const out: string[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) out.push(`line ${i + 1}:\n  - native:  ${a[i] ?? '(none)'}\n  + sandbox: ${b[i] ?? '(none)'}`);
  }
  return out.join('\n');
}

async function compare(argv: string[], timeoutMs = 30_000): Promise<{ native: RunResult; sandbox: RunResult }> {
  const [native, sandbox] = await Promise.all([runNative(argv, { timeoutMs }), runSandbox(argv, { timeoutMs })]);
  expect(native.timedOut, `native run timed out\n${explain(native)}`).toBe(false);
  expect(native.stdout, 'native reference must finish').toMatch(/done\n$/);
  expect(sandbox.timedOut, `sandbox run timed out\n${explain(sandbox)}`).toBe(false);
  expect(sandbox.stdout, `stdout differs from native:\n${lineDiff(native.stdout, sandbox.stdout)}\n${explain(sandbox)}`).toBe(native.stdout);
  expect(status(sandbox), explain(sandbox)).toBe(status(native));
  return { native, sandbox };
}

for (const name of COMPARED) {
  describe(name, () => {
    for (const l of LINKAGES) {
      it(`${l}: output equals native`, async () => { await compare([bin(name, l)]); }, 45_000);
    }
  });
}
for (const name of COMPARED_STATIC) {
  describe(name, () => {
    it('static: output equals native', async () => { await compare([bin(name, 'static')]); }, 45_000);
  });
}

describe('pid namespace', () => {
  it('an orphan is re-parented to pid 1 (the first process) and reaped by it', async () => {
    const r = await runSandbox([bin('pr_prctl', 'static'), 'orphan']);
    expect(status(r), explain(r)).toBe(0);
    expect(r.stdout, explain(r)).toBe('self pid=1\nmiddle: exited 0\norphan ppid=1\npid 1 reaped the orphan: yes\n');
  });
});

describe('fatal signals: the sandbox exits 128+N', () => {
  for (const [sig, n] of [['SIGSEGV', 11], ['SIGABRT', 6], ['SIGFPE', 8], ['SIGBUS', 7], ['SIGQUIT', 3]] as const) {
    it(`guest dies of ${sig}`, async () => {
      // A fault kills init itself; a signal it raises is ignored by init (as Linux's
      // pid 1 ignores it), so those run under a shell that reports 128+N.
      const fault = sig === 'SIGSEGV' || sig === 'SIGFPE';
      const prog = [bin('pr_faults', 'static'), 'die', String(n)];
      const r = await runSandbox(fault ? prog : ['/bin/sh', '-c', '"$0" "$@"; exit $?', ...prog]);
      expect(r.timedOut, explain(r)).toBe(false);
      expect(status(r), explain(r)).toBe(128 + n);
    });
  }
});

/** Live tssandbox-stub processes (not zombies) with their parent pid. */
function stubs(): Map<number, number> {
  const out = new Map<number, number>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (comm.startsWith('tssandbox-stub') && rest[0] !== 'Z') out.set(Number(d), Number(rest[1]));
    } catch { /* gone */ }
  }
  return out;
}
/** True when pid has a live ancestor that is a tssandbox Sentry (another run still in progress). */
function ownedByLiveSentry(pid: number): boolean {
  let p = pid;
  for (let i = 0; i < 64 && p > 1; i++) {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      p = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (p <= 1) return false;
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (cmd.includes('tssandbox') && !cmd.includes('tssandbox-stub')) return true;
    } catch { return false; }
  }
  return false;
}

describe('fork bomb under RLIMIT_NPROC', () => {
  it('ends quickly, is limited, and leaves no stub processes behind', async () => {
    const before = new Set(stubs().keys());
    const r = await runSandbox([bin('pr_forkbomb', 'static')], { timeoutMs: 30_000 });
    expect(r.timedOut, explain(r)).toBe(false);
    expect(r.ms, explain(r)).toBeLessThan(20_000);
    expect(status(r), explain(r)).toBe(0);
    expect(r.stdout, explain(r)).toBe('processes created <= limit: yes\nfork failed with EAGAIN: yes\nother errors: 0\nwait ended with ECHILD: yes\ndone\n');
    await new Promise((res) => setTimeout(res, 500));
    const stray = [...stubs().keys()].filter((p) => !before.has(p) && !ownedByLiveSentry(p));
    expect(stray, `stub processes left running after the sandbox exited: ${stray.join(' ')}`).toEqual([]);
  }, 45_000);
});

describe('blocking parks only the blocked task', () => {
  it('a 200k-getppid child finishes before a child sleeping 1 s in read() on a pipe', async () => {
    const r = await runSandbox([bin('pr_park', 'static')], { timeoutMs: 30_000 });
    expect(status(r), explain(r)).toBe(0);
    const m = /worker_ms=(\d+) sleeper_ms=(\d+)/.exec(r.stdout);
    expect(m, explain(r)).not.toBeNull();
    const [worker, sleeper] = [Number(m![1]), Number(m![2])];
    // The sleeper wakes when the parent writes after 1 s: never much later.
    expect(sleeper, explain(r)).toBeGreaterThanOrEqual(950);
    expect(sleeper, explain(r)).toBeLessThan(2500);
    // The worker ran while the sleeper was blocked (it would take > 1 s more otherwise).
    expect(worker, explain(r)).toBeLessThan(sleeper);
  }, 45_000);

  it('the Sentry uses no CPU while every task sleeps (sleep 2)', async () => {
    const p = runSandbox(['/bin/sleep', '2'], { timeoutMs: 20_000 });
    // runSandbox spawns node directly: find it by its command line.
    const cpu = (pid: number) => {
      const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').slice(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').lastIndexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 10 ms
    };
    const findSentry = (): number | undefined => {
      for (const d of fs.readdirSync('/proc')) {
        if (!/^\d+$/.test(d)) continue;
        try {
          const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
          if (cmd.some((a) => a.endsWith('bin/tssandbox')) && cmd.includes('/bin/sleep') && cmd.includes('2') && Number(d) !== process.pid) {
            const ppid = Number(fs.readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
            if (ppid === process.pid) return Number(d);
          }
        } catch { /* gone */ }
      }
      return undefined;
    };
    await new Promise((res) => setTimeout(res, 700));
    const pid = findSentry();
    expect(pid, 'Sentry process not found').toBeDefined();
    const c0 = cpu(pid!);
    await new Promise((res) => setTimeout(res, 1000));
    const c1 = cpu(pid!);
    const r = await p;
    expect(status(r), explain(r)).toBe(0);
    expect(c1 - c0, `Sentry CPU over 1 s of guest sleep: ${(c1 - c0).toFixed(2)} s`).toBeLessThan(0.3);
  }, 30_000);
});

describe('host tools present', () => {
  it('gcc is available for the guests', () => {
    expect(() => execFileSync('gcc', ['--version'])).not.toThrow();
  });
});
