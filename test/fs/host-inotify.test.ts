/**
 * inotify under a rw bind sees what the host does (fs/fsimpl/hostfs/host-watch.ts): the
 * guest (test/fs/guests/host_inotify.c) watches the bound directory, makes changes of
 * its own, prints "watching"; only then does the test change the directory from the
 * host (mkdir, a file written, a rename, a chmod, a file made and removed last), and
 * the guest prints every event until the last. The same guest on the same steps runs
 * natively: the outputs must match (the guest's own events once each, the host's with
 * their names and a rename's shared cookie). Synchronised on the guest's line, never
 * by time. Both ways a run starts: through the launcher (when built) and directly.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compileGuest } from '../helpers/build';
import { BASE_ENV } from '../helpers/run';
import { BIN, FRONT } from '../helpers/paths';

const SRC = path.join(__dirname, 'guests');

/** The host's side, in order (each a change the guest's watch must report). */
function hostSteps(d: string): void {
  fs.mkdirSync(path.join(d, 'hostdir'));
  fs.writeFileSync(path.join(d, 'hostfile'), 'abc');
  fs.renameSync(path.join(d, 'hostdir'), path.join(d, 'hostdir2'));
  fs.chmodSync(path.join(d, 'hostfile'), 0o600);
  fs.closeSync(fs.openSync(path.join(d, 'last'), 'w'));
  fs.unlinkSync(path.join(d, 'last'));
}

/** Runs argv; once it prints "watching", changes dir from the host. Its stdout, or why not. */
function runWithHost(argv: string[], dir: string): Promise<{ out: string; code: number | null; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(argv[0], argv.slice(1), { env: { ...BASE_ENV, TSSANDBOX_NODE: process.execPath }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    let err = '';
    let stepped = false;
    const timer = setTimeout(() => {
      try { process.kill(-p.pid!, 'SIGKILL'); } catch { /* gone */ }
    }, 40_000);
    p.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (!stepped && out.includes('watching\n')) {
        stepped = true;
        try {
          hostSteps(dir);
        } catch (e) {
          err += `host steps: ${String(e)}\n`;
        }
      }
    });
    p.stderr.on('data', (b: Buffer) => (err += b.toString()));
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ out, code, err });
    });
  });
}

function scratch(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tss-host-inotify-'));
}

describe('inotify on a rw bind', () => {
  it('reports the host\'s changes, and the guest\'s own once, as Linux does', async () => {
    const bin = compileGuest('host_inotify', 'static', { srcDir: SRC });
    const dn = scratch();
    let native;
    try {
      native = await runWithHost([bin, dn], dn);
      expect(native.code, native.out + native.err).toBe(0);
    } finally {
      fs.rmSync(dn, { recursive: true, force: true });
    }
    expect(native.out).toContain('moved_to dir hostdir2 (cookie of its move)');
    const heads: string[][] = [[process.execPath, BIN]];
    if (fs.existsSync(FRONT)) heads.push([FRONT]); // the default path: the Sentry in its own user namespace
    for (const head of heads) {
      const d = scratch();
      try {
        const r = await runWithHost([...head, 'run', '--mount', `${d}:/w:rw`, bin, '/w'], d);
        expect(r.out, `${head.join(' ')}\n${r.err}`).toBe(native.out);
        expect(r.code, r.err).toBe(0);
      } finally {
        fs.rmSync(d, { recursive: true, force: true });
      }
    }
  });
});
