// Finding 4 (issue 7): one execve must not take the Sentry down. 32 767 argv pointers to
// one 128 KiB string made the Sentry copy all of it (4 GiB) before checking, and Node
// died of heap exhaustion. Limits are now checked while copying, as fs/exec.c computes
// E2BIG, and every case below gives what Linux gives (compared with a native run).
import { describe, expect, it } from 'vitest';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { compileGuest, LINKAGES } from '../helpers/build';
import { BASE_ENV, expectSameAsNative, hasStackTrace } from '../helpers/run';
import { BIN } from '../helpers/paths';

const SRC = path.join(__dirname, 'guests');

/** The peak resident set of a live process, in KiB (VmHWM in /proc/PID/status). */
function peakRssKiB(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmHWM for ${pid}`);
  return Number(m[1]);
}

describe.each(LINKAGES)('execve argument limits (%s)', (linkage) => {
  it('E2BIG and EFAULT exactly where Linux gives them: string length, total, RLIMIT_STACK, pointers, bad pointers', async () => {
    const bin = compileGuest('exec_args', linkage, { srcDir: SRC });
    const { sandbox } = await expectSameAsNative([bin], { timeoutMs: 60_000 });
    expect(sandbox.stdout).toContain('attack: execve = -1 E2BIG\n');
    expect(sandbox.stdout).toContain('total at the limit (default RLIMIT_STACK):\n  child: argc=');
    expect(sandbox.stdout).toMatch(/total one byte over:\n {2}execve = -1 E2BIG\n/);
    expect(sandbox.stdout).toContain('empty argv:\n  argc=1 argv[0]=""\n');
    expect(hasStackTrace(sandbox.stderr), sandbox.stderr).toBe(false);
  });
});

describe('the execve attack, seen from the host', () => {
  it('32 767 pointers to one 128 KiB string: E2BIG, and the Sentry stays small', async () => {
    const bin = compileGuest('exec_args', 'static', { srcDir: SRC });
    const child = spawn(process.execPath, [BIN, 'run', bin, 'attack'], { env: BASE_ENV, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no answer: ${stdout} ${stderr}`)), 60_000);
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
          if (stdout.includes('waiting\n')) {
            clearTimeout(t);
            resolve();
          }
        });
        child.on('exit', () => reject(new Error(`the Sentry died: ${stdout} ${stderr}`)));
      });
      // The Sentry (the CLI's own process) while the guest waits: its peak so far covers
      // both execs. Copying the strings would take 4 GiB; a Sentry is ~100 MiB.
      const peak = peakRssKiB(child.pid!);
      expect(peak, `Sentry VmHWM ${peak} KiB`).toBeLessThan(400 * 1024);
      child.stdin.end();
      expect(await exited, stderr).toBe(0);
      expect(stdout).toBe('attack: execve = -1 E2BIG\nattack via envp: execve = -1 E2BIG\nwaiting\n');
      expect(stderr).toBe('');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
