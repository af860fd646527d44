// --strace output reaches a slow reader whole: the Sentry writes each line before it
// goes on (Node's process.stderr would queue lines to a full pipe and drop them at exit).
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { BIN } from './helpers/paths';

describe('--strace', () => {
  it('loses no line when the reader of stderr is slow', async () => {
    // Some 12 000 traced syscalls: far more than a pipe holds while nobody reads.
    const child = spawn(process.execPath, [BIN, 'run', '--strace', '/bin/sh', '-c', 'i=0; while [ $i -lt 3000 ]; do : >/dev/null; i=$((i+1)); done; exec /bin/true'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const chunks: Buffer[] = [];
    child.stderr!.pause();
    child.stderr!.on('data', (d: Buffer) => chunks.push(d));
    const resume = setTimeout(() => child.stderr!.resume(), 1500);
    const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
    clearTimeout(resume);
    const lines = Buffer.concat(chunks).toString('utf8').trimEnd().split('\n');
    expect(code).toBe(0);
    expect(lines[0]).toMatch(/execve\("\/bin\/sh"/);
    expect(lines.at(-1)).toMatch(/^\[pid \d+\] exit_group\(0\) = \?/);
  }, 60_000);
});
