/**
 * The host tree's identity table is collected (fs/fsimpl/hostfs/README.md, Identity):
 * a guest walking 40 000 host names leaves a bounded number of HostInodes (the fs-stats
 * debug counter, never timed), while what anything refers to keeps its one object: an
 * fcntl and a flock lock seen by another process through another name, an inotify
 * watch that reports a create made by path, a cwd whose listing shows a file made by
 * path, all after the walk and as Linux answers (test/fs/guests/host_identity.c).
 */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compileGuest } from '../helpers/build';
import { explain, runNative, runSandbox } from '../helpers/run';

// Enough that an uncollected table (one per name) is well over the bound below.
const NAMES = 40_000;

function stat(stderr: string, key: string): number {
  const m = new RegExp(`fs-stats .*\\b${key}=(\\d+)`).exec(stderr);
  if (!m) throw new Error(`no fs-stats ${key} in:\n${stderr}`);
  return Number(m[1]);
}

/** A scratch directory (not /dev/shm: the Gofer serves nothing under /dev). */
function scratch(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-ident-'));
  fs.chmodSync(d, 0o755);
  return d;
}

describe('host inodes are collected', () => {
  it(`a walk of ${NAMES} names leaves a bounded count; locks, watches and a cwd keep their inode`, async () => {
    const b = compileGuest('host_identity', 'static', { srcDir: path.join(__dirname, 'guests') });
    const d = scratch();
    try {
      // (ext4 creates on a machine busy deleting files take up to ms each: README.md)
      const made = await runNative([b, 'make', d, String(NAMES)], { timeoutMs: 480_000 });
      expect(made.code, explain(made)).toBe(0);
      const native = await runNative([b, 'check', d], { timeoutMs: 60_000 });
      expect(native.code, explain(native)).toBe(0);
      expect(native.stdout).toContain(`walked ${NAMES + NAMES / 1000 + 1} names`) // the files, their folders of 1000, the top;
      expect(native.stdout).toContain('child: fcntl lock write, by the parent: yes');
      for (const cache of ['exclusive', 'shared']) {
        const r = await runSandbox(['--mount', `${d}:/w:rw:cache=${cache}`, b, 'check', '/w'],
          { env: { TSSANDBOX_FS_STATS: '1' }, timeoutMs: 300_000 });
        expect(r.code, explain(r)).toBe(0);
        expect(r.stdout, cache).toBe(native.stdout.replaceAll(d, '/w'));
        // Held: a few; recent: at most two collects' worth (2 x 8192 interns) and what
        // the one under way made. Uncollected, it was every name walked.
        expect(stat(r.stderr, 'host_inodes_peak'), cache).toBeLessThan(30_000);
      }
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  }, 1_200_000);
});
