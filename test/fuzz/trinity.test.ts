// The syscall fuzzer inside the sandbox (issue 7): Debian's trinity, as uid 65534 (a
// wrapper drops root: trinity warns and waits as root, and setpriv needs PR_SET_KEEPCAPS),
// in a scratch tmpfs as its cwd. Two bounded runs with fixed seeds:
//   1. a fixed count of syscalls, which must end by itself (trinity's own exit 0);
//   2. an unbounded count, ended by the host's SIGTERM once its children fuzz: the
//      sandbox must answer it (exit 143 or trinity's own 0), not need the SIGKILL backstop.
// Both: no Sentry crash, internal error or stack trace, nothing outside the sandbox
// changed (a canary directory and the repository's git status), no host process left.
// Skipped without /usr/bin/trinity (scripts/install-deps.sh installs it). Knobs:
//   TSS_TRINITY_OPS (default 3000): run 1's syscall count (-N).
//   TSS_TRINITY_SEED (default 1): trinity's seed (-s); run 2 uses SEED + 1.
//   TSS_TRINITY_BOUND (default 100): seconds before a run is SIGKILLed (a failure).
//   TSS_TRINITY=0 skips both.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import { compileGuest } from '../helpers/build';
import { BIN, REPO } from '../helpers/paths';
import { BASE_ENV, hasStackTrace } from '../helpers/run';
import { GUESTS, makeCanary, leftBehind, treeHash, watchDescendants } from './elf-tools';

const TRINITY = '/usr/bin/trinity';
const have = process.env.TSS_TRINITY !== '0' && fs.existsSync(TRINITY) &&
  spawnSync(TRINITY, ['--help'], { stdio: 'ignore' }).status !== null;
const OPS = Number(process.env.TSS_TRINITY_OPS ?? 3000);
const SEED = Number(process.env.TSS_TRINITY_SEED ?? 1);
const BOUND = Number(process.env.TSS_TRINITY_BOUND ?? 100);

function gitStatus(): string {
  return execFileSync('git', ['status', '--porcelain'], { cwd: REPO, encoding: 'utf8' });
}

interface TrinityRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  termed: boolean;
  out: string;
  err: string;
  alive: string[];
  why: string;
}

/**
 * Runs trinity in a sandbox. `termOnceFuzzing`: SIGTERM two seconds after its first
 * child reported a call (trinity's "[childN:pid]" lines). SIGKILL after BOUND seconds.
 */
async function runTrinity(wrapper: string, ops: number, seed: number, termOnceFuzzing: boolean): Promise<TrinityRun> {
  const args = [
    BIN, 'run', '--tmpfs', '/scratch', '--cwd', '/scratch', wrapper, TRINITY,
    '-q', '-l', 'off', '-C', '2', '-N', String(ops), '-s', String(seed),
    // Sockets: trinity's start-up opens thousands (slow here, and covered by the net tests).
    '--disable-fds=sockets',
    // Not fuzzed: calls that end or stall the fuzzer itself rather than test the Sentry.
    '-x', 'exit_group', '-x', 'exit', '-x', 'pause', '-x', 'rt_sigsuspend', '-x', 'vfork',
  ];
  const child = spawn(process.execPath, args, { env: BASE_ENV, stdio: ['ignore', 'pipe', 'pipe'], cwd: os.tmpdir() });
  const watch = watchDescendants(child.pid!, 250);
  let out = '';
  let err = '';
  let termed = false;
  let termTimer: NodeJS.Timeout | undefined;
  child.stdout.on('data', (d: Buffer) => {
    if (out.length < 1 << 22) out += d.toString();
    if (termOnceFuzzing && !termTimer && /\[child\d+:\d+\]/.test(out)) {
      termTimer = setTimeout(() => { termed = true; child.kill('SIGTERM'); }, 2000);
    }
  });
  child.stderr.on('data', (d: Buffer) => { if (err.length < 1 << 22) err += d.toString(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })));
  const hard = setTimeout(() => child.kill('SIGKILL'), BOUND * 1000);
  const r = await exited;
  clearTimeout(hard);
  clearTimeout(termTimer);
  watch.stop();
  const alive = await leftBehind(watch.seen); // the host reaps what the Sentry's exit orphaned
  const why = `exit ${r.code} signal ${r.signal}${termed ? ' (after SIGTERM)' : ''}\n--- stderr (tail) ---\n${err.slice(-4000)}\n--- stdout (tail) ---\n${out.slice(-2000)}`;
  return { ...r, termed, out, err, alive, why };
}

function expectContained(r: TrinityRun): void {
  expect(r.err, r.why).not.toMatch(/internal error|BUG:/);
  expect(hasStackTrace(r.err), r.why).toBe(false);
  expect(r.signal, `the Sentry was killed (the SIGKILL backstop: it did not end): ${r.why}`).toBeNull();
  expect(r.out, r.why).toMatch(/\[main\]/);
  expect(r.alive, 'host processes left behind').toEqual([]);
}

describe.skipIf(!have)('trinity inside the sandbox', () => {
  let wrapper = '';
  let canary: { dir: string; hash: string };
  let gitBefore = '';
  beforeAll(() => {
    wrapper = compileGuest('as_nobody', 'static', { srcDir: GUESTS });
    canary = makeCanary(os.tmpdir());
    gitBefore = gitStatus();
  });
  afterAll(() => {
    if (canary) fs.rmSync(canary.dir, { recursive: true, force: true });
  });

  it(`${OPS} syscalls, seed ${SEED}: ends by itself; no crash, no internal error, nothing left behind`, async () => {
    const r = await runTrinity(wrapper, OPS, SEED, false);
    expectContained(r);
    expect(r.code, r.why).toBe(0);
    expect(r.out, r.why).toMatch(/Ran \d+ syscalls/);
    expect(treeHash(canary.dir), 'the canary directory changed').toBe(canary.hash);
    expect(gitStatus(), 'the repository changed').toBe(gitBefore);
  }, (BOUND + 30) * 1000);

  it(`unbounded, seed ${SEED + 1}: the host's SIGTERM ends it while its children fuzz`, async () => {
    const r = await runTrinity(wrapper, 1_000_000_000, SEED + 1, true);
    expectContained(r);
    expect(r.termed, `it ended before the SIGTERM: ${r.why}`).toBe(true);
    expect(r.code === 143 || r.code === 0, r.why).toBe(true);
    expect(treeHash(canary.dir), 'the canary directory changed').toBe(canary.hash);
    expect(gitStatus(), 'the repository changed').toBe(gitBefore);
  }, (BOUND + 30) * 1000);
});
