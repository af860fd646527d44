/**
 * Running programs natively and under `tssandbox run`, with a timeout.
 *
 * Both sides get the same small, fixed host environment (BASE_ENV) so that output
 * does not depend on the developer's shell. `env` adds guest variables: natively
 * they are set in the child's environment; in the sandbox they are passed as
 * `--env K=V` flags (so they reach the guest whether or not the CLI forwards the
 * host environment).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { expect } from 'vitest';
import { BIN, FRONT } from './paths';

export interface RunOptions {
  /** Written to the program's stdin, which is then closed. Default: empty stdin. */
  input?: string | Buffer;
  /** Guest environment variables, added to BASE_ENV. */
  env?: Record<string, string>;
  /** Kill (SIGKILL, whole process group) after this long. Default 20 s. */
  timeoutMs?: number;
  /** Working directory of the spawned host process. */
  cwd?: string;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** Wall time in ms. */
  ms: number;
}

export const BASE_ENV: Record<string, string> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  LANG: 'C',
  LC_ALL: 'C',
  TERM: 'dumb',
  TZ: 'UTC',
  // The whole suite can run per platform: TSSANDBOX_PLATFORM=systrap npx vitest run ...
  ...(process.env.TSSANDBOX_PLATFORM ? { TSSANDBOX_PLATFORM: process.env.TSSANDBOX_PLATFORM } : {}),
  // ... and without the Sentry's own user namespace: TSSANDBOX_USERNS=off npx vitest run ...
  ...(process.env.TSSANDBOX_USERNS ? { TSSANDBOX_USERNS: process.env.TSSANDBOX_USERNS } : {}),
  // and with systrap's syscall-site patching on or off: TSSANDBOX_SYSTRAP_PATCH=0|1
  ...(process.env.TSSANDBOX_SYSTRAP_PATCH ? { TSSANDBOX_SYSTRAP_PATCH: process.env.TSSANDBOX_SYSTRAP_PATCH } : {}),
};

/**
 * The platforms per-platform tests run on: TSSANDBOX_PLATFORM alone when set (the suite
 * run once per platform), else each platform that has a guest-facing contract to keep.
 */
export const TEST_PLATFORMS: readonly string[] = process.env.TSSANDBOX_PLATFORM ? [process.env.TSSANDBOX_PLATFORM] : ['ptrace', 'systrap'];

/** Whether guests run in stub processes (ptrace, systrap); kvm's vCPUs are threads of the Sentry. */
export const GUEST_STUBS = process.env.TSSANDBOX_PLATFORM !== 'kvm';

/**
 * Whether an unprivileged user may run the platform under test here: kvm needs /dev/kvm
 * open to it (root's 0600 on this host), the others need nothing.
 */
export const PLATFORM_UNPRIVILEGED = process.env.TSSANDBOX_PLATFORM !== 'kvm' ||
  ((fs.statSync('/dev/kvm', { throwIfNoEntry: false })?.mode ?? 0) & 0o006) === 0o006;

const MAX_OUTPUT = 16 * 1024 * 1024;

// Native reference runs write for real: a guest that creates a file with a garbage
// name must not leave it in the repository, so the default cwd is the suite's scratch
// folder (test/helpers/global-setup.ts).
function defaultCwd(): string {
  return process.env.TSS_TEST_CWD ?? tmpdir();
}

/** Spawns argv[0] with argv[1..] on the host. */
export function spawnCollect(argv: string[], env: Record<string, string>, opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      env,
      cwd: opts.cwd ?? defaultCwd(),
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true, // own process group, so a timeout kills everything it started
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    let timedOut = false;
    const killAll = () => {
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
      try { child.kill('SIGKILL'); } catch { /* gone */ }
    };
    const timer = setTimeout(() => { timedOut = true; killAll(); }, timeoutMs);
    child.stdout!.on('data', (d: Buffer) => { if (outLen < MAX_OUTPUT) { out.push(d); outLen += d.length; } });
    child.stderr!.on('data', (d: Buffer) => { if (errLen < MAX_OUTPUT) { err.push(d); errLen += d.length; } });
    child.stdin!.on('error', () => { /* program exited without reading its stdin */ });
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        code,
        signal,
        timedOut,
        ms: Date.now() - start,
      });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    else child.stdin!.end();
  });
}

/** Runs `tssandbox run [flags...] PROGRAM [ARGS...]` (the command users run); `args` is everything after `run`. */
export function runSandbox(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const { argv, env } = sandboxCommand(args, opts.env);
  return spawnCollect(argv, env, opts);
}

/** The host command line and environment runSandbox spawns (for a test that talks to the run as it goes). */
export function sandboxCommand(args: string[], guestEnv: Record<string, string> = {}): { argv: string[]; env: Record<string, string> } {
  const envFlags = Object.entries(guestEnv).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
  // Flags must precede PROGRAM; put --env flags first.
  // Through the native front when built (the default path: the Sentry in its own user
  // namespace, native/sentry_launch.cc), with this Node.
  const head = fs.existsSync(FRONT) ? [FRONT] : [process.execPath, BIN];
  return { argv: [...head, 'run', ...envFlags, ...args], env: { ...BASE_ENV, TSSANDBOX_NODE: process.execPath, ...guestEnv } };
}

/** Runs `node bin/tssandbox ARGS...` (any subcommand). */
export function runCli(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return spawnCollect([process.execPath, BIN, ...args], { ...BASE_ENV, ...(opts.env ?? {}) }, opts);
}

/** Runs the program natively with the same environment the sandbox run would get. */
export function runNative(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  return spawnCollect(argv, { ...BASE_ENV, ...(opts.env ?? {}) }, opts);
}

/** The exit status a shell would report: code, or 128+signal number. */
export function status(r: RunResult): number {
  if (r.code !== null) return r.code;
  const signals: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGBUS: 7, SIGFPE: 8, SIGKILL: 9, SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15 };
  return 128 + (signals[r.signal ?? ''] ?? 0);
}

/** A readable summary of a run, for assertion messages. */
export function explain(r: RunResult): string {
  const clip = (s: string) => (s.length > 4000 ? `${s.slice(0, 4000)}\n…(${s.length - 4000} more chars)` : s);
  return `exit=${r.code} signal=${r.signal}${r.timedOut ? ' TIMED OUT' : ''} (${r.ms} ms)\n--- stdout ---\n${clip(r.stdout)}\n--- stderr ---\n${clip(r.stderr)}`;
}

/** True when stderr contains something that looks like a JS stack trace. */
export function hasStackTrace(stderr: string): boolean {
  return /^\s+at .*(\.js|\.ts|node:)/m.test(stderr) || /at .*\.js/.test(stderr);
}

/**
 * Runs argv natively and in the sandbox and asserts identical stdout and exit
 * status. Returns both results for further checks.
 */
export async function expectSameAsNative(
  argv: string[],
  opts: RunOptions = {},
): Promise<{ native: RunResult; sandbox: RunResult }> {
  const [native, sandbox] = await Promise.all([runNative(argv, opts), runSandbox(argv, opts)]);
  const cmd = argv.join(' ').length > 200 ? `${argv.join(' ').slice(0, 200)}…` : argv.join(' ');
  // The reference itself must be sane, or the comparison means nothing.
  expect(native.timedOut, `native run of ${cmd} timed out\n${explain(native)}`).toBe(false);
  expect(sandbox.timedOut, `sandbox run timed out\n${explain(sandbox)}`).toBe(false);
  expect(sandbox.stdout, `stdout differs from native for ${cmd}\n${explain(sandbox)}`).toBe(native.stdout);
  expect(status(sandbox), `exit status differs from native (${status(native)})\n${explain(sandbox)}`).toBe(status(native));
  return { native, sandbox };
}
