// Issue 7: every launched Sentry has a host uid of its own (native/sentry_launch.cc), so
// that a Sentry taken over cannot signal another sandbox. The platform probe's cache
// (src/cli/platforms.ts) is per host uid: the front hands on the invoking user's,
// read-only (native/launch_platform.h), making it first when there is none, so a run
// neither probes again nor leaves a cache directory of its one-off uid behind.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BASE_ENV, spawnCollect } from '../helpers/run';
import { FRONT } from '../helpers/paths';

const isRoot = process.getuid?.() === 0;
const userNs = spawnSync('unshare', ['--user', '--map-root-user', 'true'], { stdio: 'ignore' }).status === 0;
const launched = isRoot && userNs && fs.existsSync(FRONT) && process.env.TSSANDBOX_USERNS !== 'off';
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-probe-cache-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

describe.skipIf(!launched)('the platform probe cache of Sentries with a uid of their own', () => {
  it('the first run makes the invoking user\'s cache, later runs only read it; no run leaves a directory of its Sentry\'s uid (a Sentry probing for itself would make one in TMPDIR)', async () => {
    const cache = path.join(scratch, 'cache');
    const tmp = path.join(scratch, 'tmp');
    fs.mkdirSync(cache, { mode: 0o700 });
    fs.mkdirSync(tmp);
    fs.chmodSync(tmp, 0o1777); // where a Sentry's own uid could make its cache, if it probed
    // The platform is left to the default (the probe): no TSSANDBOX_PLATFORM.
    const { TSSANDBOX_PLATFORM: _p, ...base } = BASE_ENV as Record<string, string>;
    const env = { ...base, TSSANDBOX_NODE: process.execPath, XDG_CACHE_HOME: cache, HOME: scratch, TMPDIR: tmp };
    const run = () => spawnCollect([FRONT, 'run', '/bin/sh', '-c', 'echo ran'], env, { timeoutMs: 90_000 });
    const first = await run();
    expect(first.stdout, first.stderr).toBe('ran\n');
    const files = fs.readdirSync(path.join(cache, 'tssandbox'));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^platforms-.*-uid0\.json$/);
    const f = path.join(cache, 'tssandbox', files[0]);
    expect(fs.statSync(f).uid).toBe(0);
    const before = fs.statSync(f).mtimeMs;
    for (let i = 0; i < 2; i++) {
      const r = await run();
      expect(r.stdout, r.stderr).toBe('ran\n');
    }
    expect(fs.statSync(f).mtimeMs).toBe(before);
    expect(fs.readdirSync(path.join(cache, 'tssandbox'))).toEqual(files);
    expect(fs.readdirSync(tmp).filter((n) => n.startsWith('tssandbox-'))).toEqual([]);
  }, 240_000);
});
