/**
 * `tssandbox platforms` and the default platform: each platform is probed by running a
 * tiny guest under it (`run --platform=NAME /bin/true` must exit 0 with the expected
 * output); the fastest that works is the default. The result is cached per kernel and
 * tssandbox version ($XDG_CACHE_HOME/tssandbox or /tmp), so only the first run pays.
 * TSSANDBOX_PLATFORM (or --platform) overrides the default.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PLATFORM_NAMES, isPlatformName, staticUnavailability, type PlatformName } from '../platform/select';
import { kvmHostKind, kvmProbe } from '../platform/kvm/native-kvm';
import { UsageError } from './args';

/**
 * The platforms the default may pick, fastest first (see src/platform/README.md). Measured
 * on this 2-vCPU nested VM (npm run bench, 2026-12-04, session 12) systrap is ahead on
 * getppid (6.9 vs 21 us), tar and, at load, fork+exec, but behind on cat of a 200 MB file
 * (10-25%) and, on a quiet machine, fork+exec and gcc: not on every row, so ptrace comes first.
 */
const DEFAULT_CANDIDATES: PlatformName[] = ['ptrace', 'systrap'];

export interface ProbeResult {
  name: PlatformName;
  works: boolean;
  reason: string;
}

/** A --platform / TSSANDBOX_PLATFORM value, checked: one clear line if unusable. */
export function checkPlatformName(v: string, from: string): PlatformName {
  if (!isPlatformName(v)) throw new UsageError(`${from}: unknown platform '${v}' (available: ${PLATFORM_NAMES.join(', ')})`);
  return v;
}

/** The platform a run uses: the flag, else TSSANDBOX_PLATFORM, else the probed default. */
export function resolvePlatform(flag: string): PlatformName {
  if (flag) return checkPlatformName(flag, '--platform');
  const env = process.env.TSSANDBOX_PLATFORM;
  if (env) return checkPlatformName(env, 'TSSANDBOX_PLATFORM');
  return defaultPlatform();
}

/** The repository (or install) root: the first ancestor holding package.json and binding.gyp. */
function root(): string {
  for (const up of ['..', '../..', '../../..']) {
    const d = path.join(__dirname, up);
    if (fs.existsSync(path.join(d, 'package.json')) && fs.existsSync(path.join(d, 'binding.gyp'))) return d;
  }
  return path.join(__dirname, '../..');
}

/** tssandbox's version and the stub's build time: a rebuilt stub is probed again. */
function version(): string {
  try {
    const r = root();
    const st = fs.statSync(path.join(r, 'build', 'Release', 'tssandbox-stub'));
    return `${(JSON.parse(fs.readFileSync(path.join(r, 'package.json'), 'utf8')) as { version: string }).version}-${Math.floor(st.mtimeMs)}`;
  } catch {
    return 'unknown';
  }
}

/**
 * Our uid as the host sees it: inside the launcher's user namespace (native/
 * sentry_launch.cc) uid 0 is an unprivileged host uid, whose files these are.
 */
function hostUid(): number {
  const uid = process.getuid?.() ?? 0;
  try {
    for (const line of fs.readFileSync('/proc/self/uid_map', 'utf8').split('\n')) {
      const [inside, outside, count] = line.trim().split(/\s+/).map(Number);
      if (uid >= inside && uid < inside + count) return outside + (uid - inside);
    }
  } catch {
    // no /proc: the uid as it is
  }
  return uid;
}

/** Where the probe results live: $XDG_CACHE_HOME or ~/.cache, else the temp directory. */
function cacheFiles(): string[] {
  const uid = hostUid();
  const key = `${os.release()}-${version()}-uid${uid}`.replace(/[^A-Za-z0-9._-]/g, '_');
  const dirs = [process.env.XDG_CACHE_HOME, process.env.HOME ? path.join(process.env.HOME, '.cache') : undefined]
    .filter((d): d is string => !!d).map((d) => path.join(d, 'tssandbox'));
  dirs.push(path.join(os.tmpdir(), `tssandbox-${uid}`));
  return dirs.map((d) => path.join(d, `platforms-${key}.json`));
}

function cliPath(): string {
  return path.join(root(), 'bin', 'tssandbox');
}

/** Runs a tiny guest on `name`; works, or why not (its first line of stderr). */
export function probe(name: PlatformName): ProbeResult {
  const why = staticUnavailability(name);
  if (why) return { name, works: false, reason: why };
  if (name === 'kvm') {
    // Its exit cost decides (src/platform/README.md "kvm"): measured, never a default yet.
    const ns = kvmProbe(300);
    if (typeof ns === 'string') return { name, works: false, reason: ns };
    return { name, works: true, reason: `one guest syscall as a KVM exit and back: ${(ns / 1000).toFixed(1)} us here; ${kvmHostKind()}` };
  }
  const r = spawnSync(process.execPath, [cliPath(), 'run', `--platform=${name}`, '/bin/sh', '-c', 'echo probe-$((6*7))'], {
    encoding: 'utf8', timeout: 20_000, env: { PATH: '/usr/bin:/bin' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.status === 0 && r.stdout === 'probe-42\n') return { name, works: true, reason: '' };
  const line = (r.stderr || '').split('\n').find((l) => l.trim()) ?? '';
  const how = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
  return { name, works: false, reason: `a test guest failed (${how})${line ? ': ' + line : ''}` };
}

export function probeAll(): ProbeResult[] {
  return PLATFORM_NAMES.map(probe);
}

/**
 * The invoking user's cache, which the native front opened for a Sentry in its own user
 * namespace (its host uid has none: native/launch_platform.h); read once, then closed.
 */
function launchedCache(): ProbeResult[] | null {
  const g = globalThis as Record<symbol, unknown>;
  const fd = g[Symbol.for('tssandbox.launchedPlatformCache')];
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) return null;
  delete g[Symbol.for('tssandbox.launchedPlatformCache')];
  try {
    const v = JSON.parse(fs.readFileSync(fd, 'utf8')) as ProbeResult[];
    return Array.isArray(v) && v.every((x) => isPlatformName(x.name)) ? v : null;
  } catch {
    return null;
  } finally {
    try {
      fs.closeSync(fd);
    } catch {
      // already gone
    }
  }
}

function readCache(): ProbeResult[] | null {
  const given = launchedCache();
  if (given) return given;
  for (const f of cacheFiles()) {
    try {
      const v = JSON.parse(fs.readFileSync(f, 'utf8')) as ProbeResult[];
      if (Array.isArray(v) && v.every((x) => isPlatformName(x.name))) return v;
    } catch {
      // not there: the next place
    }
  }
  return null;
}

function writeCache(v: ProbeResult[]): void {
  for (const f of cacheFiles()) {
    try {
      fs.mkdirSync(path.dirname(f), { recursive: true, mode: 0o700 });
      const tmp = `${f}.${process.pid}`;
      fs.writeFileSync(tmp, JSON.stringify(v), { mode: 0o600 });
      fs.renameSync(tmp, f);
      return;
    } catch {
      // read-only: the next place
    }
  }
}

/** The fastest candidate that works here (probed once, then cached). */
export function defaultPlatform(): PlatformName {
  let results = readCache();
  if (!results) {
    results = DEFAULT_CANDIDATES.map(probe);
    writeCache(results);
  }
  for (const n of DEFAULT_CANDIDATES) if (results.find((r) => r.name === n)?.works) return n;
  return 'ptrace';
}

/** `tssandbox platforms`: each platform, whether it works here and why not. */
export function platformsCommand(): number {
  const results = probeAll();
  writeCache(results.filter((r) => DEFAULT_CANDIDATES.includes(r.name)));
  const def = DEFAULT_CANDIDATES.find((n) => results.find((r) => r.name === n)?.works) ?? 'ptrace';
  for (const r of results) {
    const mark = r.name === def ? ' (default)' : '';
    const how = r.works ? (r.reason ? `works (${r.reason})` : 'works') : 'unavailable: ' + r.reason;
    process.stdout.write(`${r.name.padEnd(8)} ${how}${mark}\n`);
  }
  return 0;
}
