#!/usr/bin/env node
// `npm test` after the build: the whole suite once per platform that works here (issue 11:
// the Sentry above the platform must behave the same on each), the passes side by side.
// Each pass runs one test file at a time (vitest.config.ts), and a file mostly waits on
// guests, engines and compilers, so two passes on this 2-core machine take ~0.65 of their
// time one after the other (measured: 800 + 825 s side by side against 638 s for one).
//
//   npm test                          ptrace (the default, streamed) and systrap beside it
//   npm test -- test/fs               the same, only test/fs (other arguments go to vitest)
//   npm test -- --platforms ptrace    the given passes only (kvm is listed only when named)
//   npm test -- --json-dir DIR        each pass also writes DIR/PLATFORM.json (vitest --reporter=json)
//
// The first pass runs with the CLI's own default (no TSSANDBOX_PLATFORM: the tests of the
// default choice run there) and prints as it goes; the others write a log each, printed
// whole when they end. Files that never start a sandbox run in the first pass only.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const VITEST = path.join(REPO, 'node_modules', 'vitest', 'vitest.mjs');
const DEFAULT_PLATFORMS = ['ptrace', 'systrap'];
// No sandbox in these: the package, the generated docs, the layering, the native harness.
const PLATFORM_FREE = ['test/ci/package.test.ts', 'test/docs.test.ts', 'test/structure.test.ts', 'test/harness.test.ts'];

const args = process.argv.slice(2);
function takeOption(name) {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) {
    console.error(`npm test: ${name} needs a value`);
    process.exit(2);
  }
  args.splice(i, 2);
  return v;
}
const asked = takeOption('--platforms')?.split(',').filter(Boolean);
const jsonDir = takeOption('--json-dir');

/** Each platform's line of `tssandbox platforms` ("NAME  works ...", "(default)" on one). */
function platformLines() {
  const r = spawnSync(process.execPath, [path.join(REPO, 'bin', 'tssandbox'), 'platforms'], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(`npm test: tssandbox platforms failed: ${(r.stderr || r.stdout || 'no output').trim().split('\n')[0]}`);
    process.exit(1);
  }
  return new Map(r.stdout.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => [l.split(/\s+/)[0], l]));
}

const lines = platformLines();
const platforms = [];
for (const p of asked ?? DEFAULT_PLATFORMS) {
  const line = lines.get(p);
  if (line === undefined) {
    console.error(`npm test: unknown platform '${p}' (available: ${[...lines.keys()].join(', ')})`);
    process.exit(2);
  }
  if (/^\S+\s+works/.test(line)) platforms.push(p);
  else console.log(`== platform ${p} does not work here: ${line}`);
}
if (platforms.length === 0) {
  console.error('npm test: no platform to test on');
  process.exit(1);
}
// The default platform's pass goes first, streamed, and runs as users run: without
// TSSANDBOX_PLATFORM (the tests of the default choice run there).
const isDefault = (p) => / \(default\)/.test(lines.get(p) ?? '');
platforms.sort((a, b) => Number(isDefault(b)) - Number(isDefault(a)));

function vitestArgs(platform, first) {
  const a = [VITEST, 'run', ...args];
  // A run of only such files leaves a second pass nothing: not a failure.
  if (!first) a.push(...PLATFORM_FREE.flatMap((f) => ['--exclude', f]), '--passWithNoTests');
  if (jsonDir) a.push('--reporter=default', '--reporter=json', `--outputFile.json=${path.join(jsonDir, `${platform}.json`)}`);
  return a;
}

if (jsonDir) fs.mkdirSync(jsonDir, { recursive: true });
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-test-passes-'));
const started = Date.now();
const seconds = () => Math.round((Date.now() - started) / 1000);

const children = [];
const passes = platforms.map((platform, i) => new Promise((resolve) => {
  const first = i === 0;
  const env = { ...process.env };
  if (!isDefault(platform)) env.TSSANDBOX_PLATFORM = platform;
  const log = path.join(logDir, `${platform}.log`);
  const out = first ? 'inherit' : fs.openSync(log, 'w');
  console.log(`== pass ${platform}${first ? '' : ` (beside; its log follows when it ends)`}`);
  const child = spawn(process.execPath, vitestArgs(platform, first), { cwd: REPO, env, stdio: ['ignore', out, out] });
  children.push(child);
  child.on('close', (code, signal) => {
    const rc = code ?? 128 + (os.constants.signals[signal] ?? 0);
    if (!first) {
      fs.closeSync(out);
      console.log(`\n== pass ${platform}: its log\n${fs.readFileSync(log, 'utf8')}`);
    }
    console.log(`== pass ${platform}: ${rc === 0 ? 'passed' : `failed (exit ${rc})`} after ${seconds()} s`);
    resolve({ platform, rc });
  });
}));

// Ctrl-C or a CI timeout: end every pass, not only the one on the terminal.
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    for (const c of children) c.kill('SIGTERM');
    process.exit(130);
  });
}

const results = await Promise.all(passes);
fs.rmSync(logDir, { recursive: true, force: true });
console.log(`== ${results.map((r) => `${r.platform} ${r.rc === 0 ? 'passed' : 'FAILED'}`).join(', ')} in ${seconds()} s`);
process.exit(results.find((r) => r.rc !== 0)?.rc ?? 0);
