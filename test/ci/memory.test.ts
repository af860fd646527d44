// Issue 12: --memory is the guest's real memory as the Sentry counts it (resident pages of
// every address space, anonymous, file-backed and shared, plus tmpfs): over it a CI run
// ends with status 118 and one line; below it the guest runs to the end; virtual size is
// not memory; the report's peak memory is what the guest touched, within a stated
// tolerance (the static guest's own pages and the stub's: under 4 MiB). The count is
// sampled (mmap/brk, every 512th syscall, every 10 ms, exit).
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileGuest } from '../helpers/build';
import { explain, runSandbox, type RunResult } from '../helpers/run';
import { GUESTS, readReport, scratch } from './ci-helpers';

const mem = () => compileGuest('ci_memory', 'static', { srcDir: GUESTS });
const limits = () => compileGuest('ci_limits', 'static', { srcDir: GUESTS });
const MiB = 1 << 20;
/** What the report's peak may exceed the guest's own touched bytes by. */
const TOLERANCE = 4 * MiB;

async function ciRun(dir: string, args: string[], flags: string[] = []): Promise<{ r: RunResult; peak: number }> {
  const report = path.join(dir, 'report.json');
  const r = await runSandbox(['--ci', '--memory', '64m', '--report', report, ...flags, ...args], { timeoutMs: 90_000 });
  const peak = readReport(report).peakMemoryBytes as number;
  return { r, peak };
}

function killed(r: RunResult): void {
  expect(r.code, explain(r)).toBe(118);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('tssandbox: limit reached'));
  expect(lines, explain(r)).toEqual(['tssandbox: limit reached: --memory (67108864 bytes of guest memory), exit status 118']);
  expect(r.stdout).not.toContain('ok');
}

function passed(r: RunResult): void {
  expect(r.code, explain(r)).toBe(0);
  expect(r.stdout).toBe('ok\n');
  expect(r.stderr).not.toContain('limit reached');
}

describe('--memory counted by the Sentry', () => {
  it('anonymous memory: 80 MiB touched under 64m ends the run (118), 40 MiB passes; peak is what was touched', async () => {
    const d = scratch('mem-anon');
    try {
      const over = await ciRun(d, [mem(), 'anon', '80']);
      killed(over.r);
      // Ended at the limit, not at the cgroup backstop 32 MiB above it.
      expect(over.peak).toBeGreaterThan(64 * MiB);
      expect(over.peak).toBeLessThan(64 * MiB + TOLERANCE);
      const under = await ciRun(d, [mem(), 'anon', '40']);
      passed(under.r);
      expect(under.peak).toBeGreaterThanOrEqual(40 * MiB);
      expect(under.peak).toBeLessThan(40 * MiB + TOLERANCE);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  }, 120_000);

  it('tmpfs data: writing 80 MiB to /tmp under 64m ends the run, 40 MiB passes', async () => {
    const d = scratch('mem-tmpfs');
    try {
      killed((await ciRun(d, [limits(), 'disk', String(80 * MiB)])).r);
      const under = await ciRun(d, [limits(), 'disk', String(40 * MiB)]);
      expect(under.r.code, explain(under.r)).toBe(0);
      expect(under.peak).toBeGreaterThanOrEqual(40 * MiB);
      expect(under.peak).toBeLessThan(40 * MiB + TOLERANCE);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  }, 120_000);

  it('virtual size is not memory: 1 GiB mapped, 4 MiB touched passes under 64m', async () => {
    const d = scratch('mem-sparse');
    try {
      const r = await ciRun(d, [mem(), 'sparse']);
      passed(r.r);
      expect(r.peak).toBeGreaterThanOrEqual(4 * MiB);
      expect(r.peak).toBeLessThan(4 * MiB + TOLERANCE);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  }, 120_000);

  it('MAP_SHARED file pages count: a host file on a bind and a tmpfs file', async () => {
    const d = scratch('mem-shared');
    try {
      const flags = ['--mount', `${d}:/data:rw`];
      killed((await ciRun(d, [mem(), 'shared', '/data/f', '80'], flags)).r);
      const under = await ciRun(d, [mem(), 'shared', '/data/f', '40'], flags);
      passed(under.r);
      expect(under.peak).toBeGreaterThanOrEqual(40 * MiB);
      expect(under.peak).toBeLessThan(40 * MiB + TOLERANCE);
      expect(fs.statSync(path.join(d, 'f')).size).toBe(40 * MiB);
      killed((await ciRun(d, [mem(), 'shared', '/dev/shm/f', '80'])).r);
      passed((await ciRun(d, [mem(), 'shared', '/dev/shm/f', '40'])).r);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  }, 180_000);

  it('one file read by six processes counts once (not as six times its size, as summed RSS would)', async () => {
    const d = scratch('mem-readers');
    try {
      const flags = ['--mount', `${d}:/data:rw`];
      // 6 x 16 MiB of the same file's pages: 96 MiB of summed RSS, 16 MiB of memory.
      const under = await ciRun(d, [mem(), 'readers', '/data/f', '6', '16'], flags);
      passed(under.r);
      expect(under.peak).toBeGreaterThanOrEqual(16 * MiB);
      expect(under.peak).toBeLessThan(32 * MiB);
      // Private memory still adds up across processes (the kids case above), and so does a
      // file too big for the limit on its own.
      killed((await ciRun(d, [mem(), 'readers', '/data/f', '2', '80'], flags)).r);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  }, 180_000);

  it('a guest touching memory without syscalls is caught by the Sentry\'s timer, below the cgroup backstop', async () => {
    const d = scratch('mem-nosys');
    try {
      const over = await ciRun(d, [mem(), 'nosys', '120']);
      killed(over.r);
      // The backstop (where there is a cgroup) is 32 MiB above the limit: the count ended it first.
      expect(over.peak).toBeGreaterThan(64 * MiB);
      expect(over.peak).toBeLessThan(96 * MiB);
      passed((await ciRun(d, [mem(), 'nosys', '40'])).r);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  }, 120_000);

  it('every address space counts: three children of 30 MiB end the run, three of 15 pass', async () => {
    const d = scratch('mem-kids');
    try {
      killed((await ciRun(d, [mem(), 'kids', '3', '30'])).r);
      const under = await ciRun(d, [mem(), 'kids', '3', '15']);
      passed(under.r);
      expect(under.peak).toBeGreaterThanOrEqual(45 * MiB);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  }, 120_000);

  it('without CI mode the process holding the most is killed (SIGKILL) and the sandbox goes on', async () => {
    const r = await runSandbox(['--memory', '64m', '--debug', '/bin/sh', '-c', `${mem()} anon 80; echo "status $?"`], { timeoutMs: 90_000 });
    expect(r.stdout, explain(r)).toBe('status 137\n');
    expect(r.stderr).toMatch(/Memory cgroup out of memory( \([^)]*\))?: Killed process \d+ \(ci_memory/);
    expect(r.code).toBe(0);
  }, 120_000);
});
