// Finding 8 (issue 7): signals to init from inside its pid namespace. Linux ignores every
// signal init has no handler for when it comes from inside (SIGKILL and SIGSTOP too:
// kernel/signal.c sig_task_ignored, SIGNAL_UNKILLABLE), so a guest cannot kill the
// sandbox's pid 1 with kill(1, SIGKILL); the host's SIGTERM/SIGINT, which the Sentry
// forwards from outside, still end it.
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'child_process';
import * as path from 'path';
import { compileGuest, LINKAGES } from '../helpers/build';
import { BASE_ENV, explain, hasStackTrace, runNative, runSandbox } from '../helpers/run';
import { BIN } from '../helpers/paths';

const SRC = path.join(__dirname, 'guests');

const EXPECTED = [
  'pid 1',
  'kill(1, SIGKILL) = 0',
  'kill(1, SIGSTOP) = 0',
  'kill(1, SIGTERM) = 0',
  'kill(1, SIGUSR1) = 0',
  'tgkill(1, 1, SIGSEGV) = 0',
  'raise(SIGINT) = 0',
  'alive after self-signals',
  'kill(1, SIGTERM) blocked = 0',
  'SIGTERM pending while blocked: yes',
  'alive after unblocking',
  'child kill(1, SIGKILL) = 0',
  'child kill(1, SIGTERM) = 0',
  'child kill(1, SIGSTOP) = 0',
  'child: exit 0',
  "alive after the child's signals",
  'kill(1, SIGUSR1) handled = 0',
  'handler ran: yes',
  'child kill(-1, SIGTERM) = 0',
  'kill(-1) sender: exit 0',
  'sleeper a: killed by 15',
  'sleeper b: killed by 15',
  'init kill(-1, SIGTERM) with no one else = -1 ESRCH',
  'alive at the end',
  '',
].join('\n');

/** True when this host lets us run a program as pid 1 of a new pid namespace. */
const canUnshare = spawnSync('unshare', ['--pid', '--fork', '/bin/true']).status === 0;

describe.each(LINKAGES)('init and signals from inside (%s)', (linkage) => {
  it('kill(1, SIGKILL) and every unhandled signal from inside leave init alive; a fault still kills it', async () => {
    const bin = compileGuest('init_signals', linkage, { srcDir: SRC });
    const r = await runSandbox([bin]);
    expect(r.stdout, explain(r)).toBe(EXPECTED);
    expect(r.code, explain(r)).toBe(139); // the final NULL write: faults are forced
    expect(hasStackTrace(r.stderr), explain(r)).toBe(false);
  });

  it.skipIf(!canUnshare)('matches Linux: the same guest as pid 1 of a native pid namespace', async () => {
    const bin = compileGuest('init_signals', linkage, { srcDir: SRC });
    const n = await runNative(['unshare', '--pid', '--fork', bin]);
    expect(n.stdout, explain(n)).toBe(EXPECTED);
  });
});

/** Starts a guest under the CLI, waits for its first output line, sends a host signal. */
async function hostSignal(sig: NodeJS.Signals, program: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [BIN, 'run', ...program], { env: BASE_ENV, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`guest did not start; stderr: ${stderr}`)), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  child.kill(sig);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  return { code, stderr };
}

describe('host signals the Sentry forwards to init (from outside)', () => {
  // `exec` keeps pid 1: the shell that prints ready becomes sleep, which has no handler.
  const prog = ['/bin/sh', '-c', 'echo ready; exec sleep 60'];

  it('SIGTERM to the Sentry ends an init without a handler (143)', async () => {
    const r = await hostSignal('SIGTERM', prog);
    expect(r.code, r.stderr).toBe(143);
    expect(r.stderr).toBe('');
  });

  it('SIGINT to the Sentry ends an init without a handler (130)', async () => {
    const r = await hostSignal('SIGINT', prog);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toBe('');
  });
});
