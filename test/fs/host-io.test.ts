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

describe('read windows of deleted and truncated files', () => {
  // A big read maps a window of the host file in the Sentry (native/host_file_read.cc);
  // unlinking or truncating the file through the sandbox unmaps it, so no deleted file's
  // data stays mapped (counted at exit by the fs-stats line, never timed). keep: the
  // control, a window still mapped when nothing happened to the file.
  const windowsLeft = (stderr: string): number => {
    const m = /fs-stats .*read_windows=(\d+)/.exec(stderr);
    if (!m) throw new Error(`no fs-stats line in:\n${stderr}`);
    return Number(m[1]);
  };
  const bin = () => compileGuest('read_windows', 'static', { srcDir: path.join(__dirname, 'guests') });
  for (const mode of ['keep', 'unlink', 'unlink-open', 'truncate', 'trunc-open', 'replace']) {
    it(`${mode}: as Linux, ${mode === 'keep' ? 'a window kept' : 'no window left'}`, async () => {
      const b = bin();
      const a = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-win-'));
      const s = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-win-'));
      try {
        const native = await runNative([b, a, mode]);
        expect(native.code, explain(native)).toBe(0);
        const r = await runSandbox(['--mount', `${s}:/w:rw`, b, '/w', mode], { env: { TSSANDBOX_FS_STATS: '1' }, timeoutMs: 60_000 });
        expect(r.code, explain(r)).toBe(0);
        expect(r.stdout).toBe(native.stdout);
        expect(r.stdout).toContain('first read: 4194304 bytes');
        if (mode === 'keep') expect(windowsLeft(r.stderr)).toBeGreaterThan(0);
        else expect(windowsLeft(r.stderr)).toBe(0);
      } finally {
        fs.rmSync(a, { recursive: true, force: true });
        fs.rmSync(s, { recursive: true, force: true });
      }
    }, 60_000);
  }
});
