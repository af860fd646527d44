// The syscall fuzzer inside the sandbox (issue 7): Debian's trinity, as uid 65534 (a
// wrapper drops root: trinity warns and waits as root, and setpriv needs PR_SET_KEEPCAPS),
// in a scratch tmpfs as its cwd, bounded by a syscall count and by time. Conditions:
// no Sentry crash or internal error, nothing outside the sandbox changed (a canary
// directory and the repository's git status), no host process left behind, and the
// sandbox ends by itself or on SIGTERM.
//   TSS_TRINITY_SECONDS (default 120): the time budget, after which SIGTERM ends it.
//   TSS_TRINITY_OPS (default 20000): the syscall count (-N).
//   TSS_TRINITY_SEED (default 1): trinity's seed (-s).
//   TSS_TRINITY=1 runs it. Opt-in for now: it does not pass yet. While trinity's children
//   loop on syscalls the Sentry does not act on the host's SIGTERM (issue 7 finding 5,
//   the platform's part), and one run ended in "internal error" from the run loop.
import { describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { compileGuest } from '../helpers/build';
import { BIN, REPO } from '../helpers/paths';
import { BASE_ENV, hasStackTrace } from '../helpers/run';
import { GUESTS, makeCanary, leftBehind, treeHash, watchDescendants } from './elf-tools';

const TRINITY = '/usr/bin/trinity';
const have = process.env.TSS_TRINITY === '1' && fs.existsSync(TRINITY) &&
  spawnSync(TRINITY, ['--help'], { stdio: 'ignore' }).status !== null;
const SECONDS = Number(process.env.TSS_TRINITY_SECONDS ?? 120);
const OPS = Number(process.env.TSS_TRINITY_OPS ?? 20000);
const SEED = Number(process.env.TSS_TRINITY_SEED ?? 1);

function gitStatus(): string {
  return execFileSync('git', ['status', '--porcelain'], { cwd: REPO, encoding: 'utf8' });
}

describe.skipIf(!have)('trinity inside the sandbox', () => {
  it(`${OPS} syscalls or ${SECONDS} s: no crash, no internal error, nothing changed outside, nothing left behind`, async () => {
    const wrapper = compileGuest('as_nobody', 'static', { srcDir: GUESTS });
    const canary = makeCanary(os.tmpdir());
    const gitBefore = gitStatus();
    const args = [
      BIN, 'run', '--tmpfs', '/scratch', '--cwd', '/scratch', wrapper, TRINITY,
      '-q', '-l', 'off', '-C', '2', '-N', String(OPS), '-s', String(SEED),
      // Sockets: trinity's start-up opens thousands (slow here, and covered by the net tests).
      '--disable-fds=sockets',
      // Not fuzzed: calls that end or stall the fuzzer itself rather than test the Sentry.
      '-x', 'exit_group', '-x', 'exit', '-x', 'pause', '-x', 'rt_sigsuspend', '-x', 'vfork',
    ];
    const child = spawn(process.execPath, args, { env: BASE_ENV, stdio: ['ignore', 'pipe', 'pipe'], cwd: os.tmpdir() });
    const watch = watchDescendants(child.pid!, 250);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { if (out.length < 1 << 22) out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { if (err.length < 1 << 22) err += d.toString(); });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })));
    // The budget: then SIGTERM, which must end the sandbox (it is forwarded to trinity's
    // main process, which stops its children and exits).
    let termed = false;
    const term = setTimeout(() => { termed = true; child.kill('SIGTERM'); }, SECONDS * 1000);
    const hard = setTimeout(() => child.kill('SIGKILL'), (SECONDS + 30) * 1000);
    const r = await exited;
    clearTimeout(term);
    clearTimeout(hard);
    watch.stop();
    const alive = await leftBehind(watch.seen); // the host reaps what the Sentry's exit orphaned
    const why = `exit ${r.code} signal ${r.signal}${termed ? ' (after SIGTERM)' : ''}\n--- stderr (tail) ---\n${err.slice(-4000)}\n--- stdout (tail) ---\n${out.slice(-2000)}`;
    expect(err, why).not.toMatch(/internal error|BUG:/);
    expect(hasStackTrace(err), why).toBe(false);
    expect(r.signal, `the Sentry was killed: ${why}`).toBeNull(); // only our SIGKILL backstop kills it
    // The guest's status: trinity's own exit, or 143 when our SIGTERM ended it.
    expect(r.code === 0 || (termed && r.code === 143) || (termed && r.code === 0), why).toBe(true);
    expect(out, why).toMatch(/\[main\]/);
    expect(alive, 'host processes left behind').toEqual([]);
    expect(treeHash(canary.dir), 'the canary directory changed').toBe(canary.hash);
    expect(gitStatus(), 'the repository changed').toBe(gitBefore);
    fs.rmSync(canary.dir, { recursive: true, force: true });
  }, (SECONDS + 120) * 1000);
});
