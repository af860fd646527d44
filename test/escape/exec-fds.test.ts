// execve opened the executable (and its interpreter) and never let go: every exec of a
// host binary left two host fds in the Sentry, so a guest looping on exec exhausted the
// Sentry's fd table and every host open became EIO. Exec now releases what it opened.
import { describe, expect, it } from 'vitest';
import { spawn } from 'child_process';
import * as fs from 'fs';
import { BASE_ENV } from '../helpers/run';
import { BIN } from '../helpers/paths';

describe('exec and the Sentry\'s host fds', () => {
  it('300 execs of a dynamic host binary (and failed execs) leave the Sentry\'s fd count flat', async () => {
    const loop = 'i=0; while [ $i -lt 300 ]; do /bin/true; /nonexistent 2>/dev/null; i=$((i+1)); done; echo done; exec sleep 30';
    const child = spawn(process.execPath, [BIN, 'run', '/bin/sh', '-c', loop], { env: BASE_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      const fds = await new Promise<number>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no answer; stderr: ${stderr}`)), 120_000);
        child.stdout.on('data', (d: Buffer) => {
          if (d.toString().includes('done')) {
            clearTimeout(t);
            resolve(fs.readdirSync(`/proc/${child.pid}/fd`).length);
          }
        });
      });
      // A Sentry holds a few dozen fds of its own; the leak was 600 here.
      expect(fds, `Sentry fds after 300 execs`).toBeLessThan(100);
      expect(stderr).toBe('');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
