// Issue 12: each CI limit ends the run with its own exit status and one line naming
// it when a guest passes it, and a guest just below it runs to the end.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileGuest } from '../helpers/build';
import { BIN } from '../helpers/paths';
import { BASE_ENV, explain, runSandbox } from '../helpers/run';

const GUESTS = path.join(__dirname, 'guests');
const guest = () => compileGuest('ci_limits', 'static', { srcDir: GUESTS });

async function over(flags: string[], args: string[], limitFlag: string, status: number): Promise<string> {
  const r = await runSandbox([...flags, guest(), ...args], { timeoutMs: 60_000 });
  expect(r.code, explain(r)).toBe(status);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('tssandbox: limit reached'));
  expect(lines, explain(r)).toEqual([expect.stringContaining(`limit reached: ${limitFlag} (`)]);
  expect(lines[0]).toContain(`exit status ${status}`);
  return r.stdout;
}

async function under(flags: string[], args: string[]): Promise<string> {
  const r = await runSandbox([...flags, guest(), ...args], { timeoutMs: 60_000 });
  expect(r.code, explain(r)).toBe(0);
  expect(r.stderr).not.toContain('limit reached');
  return r.stdout;
}

describe('CI limits', () => {
  it('--timeout: wall time', async () => {
    await over(['--timeout', '1s'], ['sleep', '30'], '--timeout', 124);
    expect(await under(['--timeout', '20s'], ['sleep', '1'])).toBe('ok\n');
  }, 90_000);

  it('--timeout also stops a guest that spins without a syscall', async () => {
    await over(['--timeout', '1s'], ['spin'], '--timeout', 124);
  }, 60_000);

  it('--cpu-time: CPU time of the guest', async () => {
    await over(['--cpu-time', '300ms'], ['spin'], '--cpu-time', 152);
    // Sleeping costs no CPU: a 2 s sleep stays far below a 1 s CPU limit.
    expect(await under(['--cpu-time', '1s'], ['sleep', '2'])).toBe('ok\n');
  }, 90_000);

  it('--memory: touched anonymous memory', async () => {
    await over(['--ci', '--memory', '48m'], ['mem', '200'], '--memory', 118);
    expect(await under(['--ci', '--memory', '48m'], ['mem', '8'])).toBe('ok\n');
    // Alone, --memory acts as on Linux (issue 7): the OOM killer ends the process only.
    const r = await runSandbox(['--memory', '48m', guest(), 'mem', '200'], { timeoutMs: 60_000 });
    expect(r.code, explain(r)).toBe(137);
    expect(r.stderr).not.toContain('limit reached');
  }, 90_000);

  it('--pids-limit: tasks at once', async () => {
    await over(['--ci', '--pids-limit', '4'], ['fork', '8'], '--pids-limit', 119);
    expect(await under(['--ci', '--pids-limit', '9'], ['fork', '8'])).toBe('ok\n');
    const r = await runSandbox(['--pids-limit', '4', guest(), 'fork', '8'], { timeoutMs: 60_000 });
    expect(r.stdout, explain(r)).toBe('fork: Resource temporarily unavailable\n');
    expect(r.code).toBe(1);
  }, 90_000);

  it('--nofile: open files per process', async () => {
    // 0, 1, 2 are open: 17 more fill 20 slots, 18 pass them.
    await over(['--nofile', '20'], ['fds', '18'], '--nofile', 120);
    expect(await under(['--nofile', '20'], ['fds', '17'])).toBe('ok\n');
  }, 90_000);

  it('--output-limit: exactly the limit reaches stdout', async () => {
    const out = await over(['--output-limit', '10000'], ['out', '10001'], '--output-limit', 121);
    expect(out).toBe('x'.repeat(10000));
    // stdout and stderr share it: 9997 + "ok\n" is just the limit.
    const r = await runSandbox(['--output-limit', '10000', guest(), 'out', '9997'], { timeoutMs: 60_000 });
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout.length + r.stderr.length).toBe(10000);
  }, 90_000);

  it('--disk: bytes in the writable overlay and tmpfs', async () => {
    await over(['--disk', '1m'], ['disk', String(2 << 20)], '--disk', 122);
    expect(await under(['--disk', '4m'], ['disk', String(2 << 20)])).toBe('ok\n');
  }, 90_000);

  it('limits in --help', async () => {
    const r = await runSandbox(['--help-is-not-a-flag', '/bin/true']);
    expect(r.code).toBe(2);
    const h = await new Promise<string>((resolve) => {
      const c = spawn(process.execPath, [BIN, '--help']);
      let s = '';
      c.stdout.on('data', (d) => (s += d));
      c.on('close', () => resolve(s));
    });
    for (const f of ['--timeout', '--cpu-time', '--nofile', '--output-limit', '--disk', '--policy', '--report', '--summary']) expect(h).toContain(f);
    expect(h).toMatch(/124.*timeout/);
  });

  it('bad limit values: one line, exit 2', async () => {
    for (const [flag, v] of [['--timeout', 'soon'], ['--disk', '12q'], ['--nofile', '0'], ['--cpu-time', '-1s']]) {
      const r = await runSandbox([flag, v, '/bin/true']);
      expect(r.code, explain(r)).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(flag);
    }
  });

  it('a limit leaves no process behind (stubs, Gofer)', async () => {
    const child = spawn(process.execPath, [BIN, 'run', '--timeout', '1s', guest(), 'fork', '3'], {
      env: BASE_ENV, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    });
    const pgid = child.pid!;
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(code, err).toBe(124);
    // Everything the run started shares its process group (and is a descendant of it).
    let left: string[] = [];
    for (let i = 0; i < 50; i++) {
      left = [];
      for (const p of fs.readdirSync('/proc')) {
        if (!/^\d+$/.test(p)) continue;
        try {
          const st = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
          const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
          if (Number(f[2]) === pgid) left.push(`${p} ${st.slice(0, 60)}`);
        } catch { /* gone */ }
      }
      if (left.length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(left).toEqual([]);
  }, 60_000);
});
