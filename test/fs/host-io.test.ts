/**
 * Large I/O on host files: copy_file_range between two host files is done by the host
 * kernel (fs/fsimpl/hostfs: HostFsFile.copyRangeTo) and must give what Linux gives
 * (counts, offsets, file positions, the bytes).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileGuest } from '../helpers/build';
import { explain, runNative, runSandbox } from '../helpers/run';

/** Runs guest `name` on a fresh host directory natively and in a fresh rw bind: same output. */
async function againstLinux(name: string, prefix: string, expected: string): Promise<void> {
  const bin = compileGuest(name, 'static', { srcDir: path.join(__dirname, 'guests') });
  const a = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const b = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  try {
    const native = await runNative([bin, a]);
    const sandbox = await runSandbox(['--mount', `${b}:/w:rw`, bin, '/w']);
    expect(native.code, explain(native)).toBe(0);
    expect(sandbox.code, explain(sandbox)).toBe(0);
    expect(sandbox.stdout).toBe(native.stdout);
    expect(sandbox.stdout).toContain(expected);
  } finally {
    fs.rmSync(a, { recursive: true, force: true });
    fs.rmSync(b, { recursive: true, force: true });
  }
}

describe('host file I/O', () => {
  it('copy_file_range between host files in a rw bind matches Linux', async () => {
    await againstLinux('copy_range', 'tss-cfr-', 'whole MiB: 1048576');
  }, 60_000);
});

describe('large reads of host files', () => {
  // The one-copy path (a window of the host file mapped in the Sentry) must answer as
  // pread does: across a window's edge, at and past EOF, into a half-mapped or bad
  // buffer (partial count, EFAULT), after the file shrank (no SIGBUS in the Sentry) and grew.
  it('reads, preads and a shrinking file in a rw bind match Linux', async () => {
    await againstLinux('big_read', 'tss-bigr-', 'read whole: 20983865 bytes, 0 bad chunks, last 0');
  }, 120_000);
});
