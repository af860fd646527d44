// Seeded syscall-argument fuzzer (issue 7): guests/sysfuzz.c as the sandbox's init, in
// a scratch tmpfs. A sweep of every syscall number with fixed bad arguments (NULL,
// unmapped and kernel pointers, huge and negative sizes), then forked children making
// random calls with random arguments from fixed seeds. Conditions: the Sentry neither
// crashes nor reports an internal error, no raw result is outside Linux's errno range
// (an internal restart code reaching the guest), it ends by itself, nothing outside
// changed (canary directory, repository), no host process left behind.
// Found so far: mincore with a length of -1 threw; pwrite64 with a count above 2^63
// spun the Sentry (sizes are size_t: Linux clamps them to MAX_RW_COUNT).
//   TSS_SYSFUZZ_SEEDS (default "1,6"): the seeds, one sandbox each.
//   TSS_SYSFUZZ_CHILDREN (default 60), TSS_SYSFUZZ_CALLS (default 500): children, calls each.
import { describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import { compileGuest } from '../helpers/build';
import { BIN, REPO } from '../helpers/paths';
import { BASE_ENV, hasStackTrace } from '../helpers/run';
import { GUESTS, makeCanary, leftBehind, treeHash, watchDescendants } from './elf-tools';

const SEEDS = (process.env.TSS_SYSFUZZ_SEEDS ?? '1,6').split(',').map(Number);
const CHILDREN = Number(process.env.TSS_SYSFUZZ_CHILDREN ?? 60);
const CALLS = Number(process.env.TSS_SYSFUZZ_CALLS ?? 500);
const BOUND_MS = 90_000;

function gitStatus(): string {
  return execFileSync('git', ['status', '--porcelain'], { cwd: REPO, encoding: 'utf8' });
}

describe('syscall-argument fuzzer inside the sandbox', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: every syscall with bad arguments, ${CHILDREN} x ${CALLS} random calls; no crash, Linux errnos only, nothing changed or left`, async () => {
      const fuzzer = compileGuest('sysfuzz', 'static', { srcDir: GUESTS });
      const canary = makeCanary(os.tmpdir());
      const gitBefore = gitStatus();
      const child = spawn(process.execPath, [BIN, 'run', '--tmpfs', '/scratch', '--cwd', '/scratch', fuzzer,
        String(seed), String(CHILDREN), String(CALLS)], { env: BASE_ENV, stdio: ['ignore', 'pipe', 'pipe'], cwd: os.tmpdir() });
      const watch = watchDescendants(child.pid!, 250);
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => { if (out.length < 1 << 20) out += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { if (err.length < 1 << 20) err += d.toString(); });
      const hard = setTimeout(() => child.kill('SIGKILL'), BOUND_MS);
      const r = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.on('exit', (code, signal) => resolve({ code, signal })));
      clearTimeout(hard);
      watch.stop();
      const alive = await leftBehind(watch.seen);
      const why = `exit ${r.code} signal ${r.signal}\n--- stdout ---\n${out.slice(-2000)}\n--- stderr ---\n${err.slice(-4000)}`;
      try {
        expect(r.signal, `the Sentry was killed (crash, or the SIGKILL backstop after a hang): ${why}`).toBeNull();
        expect(err, why).not.toMatch(/internal error|BUG:/);
        expect(hasStackTrace(err), why).toBe(false);
        expect(r.code, why).toBe(0);
        const m = /sysfuzz: (\d+) calls, (\d+) children, bad (\d+)/.exec(out);
        expect(m, why).not.toBeNull();
        expect(Number(m![3]), `results outside Linux's errno range: ${why}`).toBe(0);
        // The sweep alone is ~2 700 calls; most random calls are made (a child may end early).
        expect(Number(m![1]), why).toBeGreaterThan(2000 + (CHILDREN * CALLS) / 4);
        expect(alive, 'host processes left behind').toEqual([]);
        expect(treeHash(canary.dir), 'the canary directory changed').toBe(canary.hash);
        expect(gitStatus(), 'the repository changed').toBe(gitBefore);
      } finally {
        fs.rmSync(canary.dir, { recursive: true, force: true });
      }
    }, BOUND_MS + 30_000);
  }
});
