// Issue 7, finding 6: resources have bounds. Guest memory under --memory (ENOMEM at
// mmap/brk time as Linux's overcommit heuristic, SIGKILL at touch time as the OOM
// killer), a bounded tmpfs by default whose big files live outside the Sentry's heap,
// and guest fds that do not cost the Sentry host fds one for one.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compileGuest } from '../helpers/build';
import { BASE_ENV, explain, runSandbox } from '../helpers/run';
import { BIN } from '../helpers/paths';

const GUESTS = path.join(__dirname, 'guests');

/**
 * Runs the sandbox; when the guest prints `ready`, calls probe(sentry pid) and sends a
 * line to the guest's stdin. Resolves with stdout, exit code and probe's result.
 */
function runWithProbe<T>(args: string[], probe: (pid: number) => T, timeoutMs = 120_000):
Promise<{ stdout: string; stderr: string; code: number | null; probed: T | undefined }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BIN, 'run', ...args], { env: BASE_ENV, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let probed: T | undefined;
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (probed === undefined && out.includes('ready\n')) {
        probed = probe(c.pid!);
        c.stdin.end('go\n');
      }
    });
    c.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    c.stdin.on('error', () => { /* exited */ });
    c.on('error', reject);
    c.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout: out, stderr: err, code, probed });
    });
  });
}

function vmRssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : -1;
}

describe('guest memory under --memory', () => {
  const hog = () => compileGuest('mem_hog', 'dynamic', { srcDir: GUESTS });

  it('touching 2 GiB under --memory 256m: the guest is killed (SIGKILL), the sandbox goes on', async () => {
    // The hog is a child of sh: sh (and the Sentry) must survive its death and report it.
    const r = await runSandbox(['--memory', '256m', '--debug', '/bin/sh', '-c', `${hog()} touch; echo "status $?"`],
      { timeoutMs: 120_000 });
    expect(r.stdout, explain(r)).not.toContain('touched 2048 MiB');
    // Linux: the OOM killer's SIGKILL (137), or mmap's ENOMEM first.
    expect(r.stdout, explain(r)).toMatch(/^(status 137|mmap after \d+ MiB: Cannot allocate memory\nstatus 0)\n$/);
    // The Sentry's line names the group whose limit was hit (the sandbox's, or a guest cgroup's).
    if (r.stdout.startsWith('status 137')) expect(r.stderr).toMatch(/Memory cgroup out of memory( \([^)]*\))?: Killed process/);
    expect(r.code).toBe(0);
  }, 130_000);

  it('one request larger than the limit: mmap and brk give ENOMEM (overcommit heuristic)', async () => {
    const r = await runSandbox(['--memory', '256m', hog(), 'big']);
    expect(r.stdout, explain(r)).toBe('mmap 2 GiB: Cannot allocate memory\nbrk +2 GiB: Cannot allocate memory\n');
  });

  it('MAP_NORESERVE reservations far beyond the limit (and the host RAM) succeed', async () => {
    const r = await runSandbox(['--memory', '256m', hog(), 'noreserve']);
    expect(r.stdout, explain(r)).toBe('noreserve 64 GiB: ok, touched 2 MiB\n');
  });

  it('tmpfs data and touched memory share the one limit, and tmpfs gives it back', async () => {
    // 200 MiB in /dev/shm leaves 56 MiB of 256: touching 128 MiB more is the OOM kill
    // (or ENOMEM); once the file is gone the same 128 MiB fit.
    const r = await runSandbox(['--memory', '256m', '/bin/sh', '-c',
      'dd if=/dev/zero of=/dev/shm/f bs=1M count=200 2>/dev/null; ls -l /dev/shm/f | cut -d" " -f5; ' +
      `${hog()} fits 2>/dev/null; echo "status $?"; rm /dev/shm/f; ${hog()} fits; echo "status $?"`,
    ], { timeoutMs: 120_000 });
    expect(r.stdout, explain(r)).toMatch(
      /^209715200\n(status 137|mmap after \d+ MiB: Cannot allocate memory\nstatus 0)\ntouched 128 MiB\nstatus 0\n$/);
  }, 130_000);

  it('memory within the limit works', async () => {
    const r = await runSandbox(['--memory', '256m', hog(), 'fits']);
    expect(r.stdout, explain(r)).toBe('touched 128 MiB\n');
    expect(r.code).toBe(0);
  });
});

describe('tmpfs without flags', () => {
  const half = Math.floor(os.totalmem() / 2 / 4096) * 4096;

  it('is bounded by default (half the host RAM): statfs says so, a write past it is ENOSPC', async () => {
    const r = await runSandbox(['/bin/sh', '-c',
      'stat -f -c "%b %S" /dev/shm; ' +
      // Past 2 GiB (a file no longer lives on the Sentry's heap) is fine...
      'dd if=/dev/zero of=/dev/shm/a bs=4096 count=1 seek=$((2*1024*1024/4+1)) 2>/dev/null && echo "past 2 GiB ok"; rm /dev/shm/a; ' +
      // ...past the default bound is not.
      `dd if=/dev/zero of=/dev/shm/b bs=4096 count=1 seek=${half / 4096} 2>&1 | grep -o "No space left on device"`,
    ]);
    const [blocks, bsize] = r.stdout.split('\n')[0].split(' ').map(Number);
    expect(blocks * bsize, explain(r)).toBe(half);
    expect(r.stdout.split('\n').slice(1).join('\n')).toBe('past 2 GiB ok\nNo space left on device\n');
  });

  it('big files do not live on the Sentry heap: 512 MiB in /tmp, Sentry RSS stays small', async () => {
    const r = await runWithProbe(['/bin/sh', '-c',
      'dd if=/dev/zero of=/tmp/big bs=1M count=512 2>/dev/null; ls -l /tmp/big | cut -d" " -f5; echo ready; read x; ' +
      'cmp -n 536870912 /tmp/big /dev/zero && echo same'], vmRssKiB, 400_000);
    expect(r.stdout, r.stderr).toBe('536870912\nready\nsame\n');
    // Before: the file's bytes were a Buffer in the Sentry (RSS > 512 MiB).
    expect(r.probed!).toBeGreaterThan(0);
    expect(r.probed!).toBeLessThan(256 * 1024);
  }, 420_000); // 1 GiB through the Sentry: past 120 s in a loaded suite (a timeout only ends a hang)
});

describe('guest fds and the Sentry\'s host fds', () => {
  it('three times the host fd cache\'s files open at once: no EIO, Sentry fd count bounded, every fd reads its file', async () => {
    const bin = compileGuest('many_files', 'dynamic', { srcDir: GUESTS });
    // Three times the cache's cap (4096): every fd past the cap evicts one, and each read
    // after the first pass reopens its file. The bound below fails for any n past it if
    // eviction breaks (100 000 files took minutes a run, 120 s and more on a loaded machine).
    const n = 3 * 4096;
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-manyfiles-'));
    try {
      for (let i = 0; i < n; i++) fs.writeFileSync(path.join(d, String(i)), String(i));
      for (const [label, args] of [
        ['root overlay', [bin, d, String(n)]],
        ['ro bind', ['--mount', `${d}:/data:ro`, bin, '/data', String(n)]],
      ] as const) {
        const r = await runWithProbe([...args], (pid) => fs.readdirSync(`/proc/${pid}/fd`).length);
        expect(r.stdout, `${label}\n${r.stderr}`).toBe(`opened ${n}, EMFILE 0, other errors 0\nready\nread back ${n} right, 0 wrong\n`);
        // The cache holds at most 4096 host files (plus the Sentry's own few dozen fds).
        expect(r.probed!, label).toBeLessThan(4096 + 256);
        expect(r.code).toBe(0);
      }
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  }, 300_000);
});
