// Finding 8 (issue 7): the Gofer dies under a running guest. Every host-backed call must
// then fail with EIO; no host-backend failure may surface in the Sentry as a thrown
// exception ("internal error in newfstatat" before), and the sandbox ends normally.
import { describe, expect, it } from 'vitest';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { compileGuest, LINKAGES } from '../helpers/build';
import { BASE_ENV, hasStackTrace } from '../helpers/run';
import { BIN } from '../helpers/paths';

const SRC = path.join(__dirname, 'guests');

/** The Sentry's children that are not stubs: the Gofer. */
function goferOf(sentryPid: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === sentryPid && !comm.startsWith('tssandbox-stub')) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Resolves once pid is dead (gone, or a zombie its parent has not reaped yet). */
async function deadOrZombie(pid: number): Promise<void> {
  for (;;) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return;
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.each(LINKAGES)('the Gofer killed mid-run (%s)', (linkage) => {
  it('the guest gets EIO from every host call, the Sentry says nothing odd, the sandbox ends normally', async () => {
    const bin = compileGuest('gofer_loop', linkage, { srcDir: SRC });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-gofer-death-'));
    fs.writeFileSync(path.join(dir, 'f'), 'host file\n');
    const child = spawn(process.execPath, [BIN, 'run', '--mount', `${dir}:/mnt/b`, bin, '/mnt/b'], {
      env: BASE_ENV,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`guest did not start: ${stdout} ${stderr}`)), 30_000);
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
          if (stdout.includes('ready\n')) {
            clearTimeout(t);
            resolve();
          }
        });
      });
      const gofers = goferOf(child.pid!);
      expect(gofers, 'exactly one gofer under the Sentry').toHaveLength(1);
      process.kill(gofers[0], 'SIGKILL');
      await deadOrZombie(gofers[0]);
      child.stdin.end('go\n'); // the guest goes on: its next calls meet a dead Gofer
      const code = await exited;
      // The first call to reach the dead Gofer fails: a stat, or the open when the
      // stat was answered from the attribute cache (fs/fsimpl/hostfs/cache.ts).
      expect(stdout.replace('\nopen failed: EIO\n', '\nstat failed: EIO\n')).toBe([
        'ready',
        'stat failed: EIO',
        'stat again: EIO',
        'open again: EIO',
        'create: EIO',
        'opendir: EIO',
        'done',
        '',
      ].join('\n'));
      expect(stderr).not.toMatch(/internal error/);
      expect(hasStackTrace(stderr), stderr).toBe(false);
      expect(code, stderr).toBe(0);
    } finally {
      child.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
