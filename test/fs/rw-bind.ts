/**
 * Shared by the tests of a guest working in a rw bind (create-unlink, write-behind):
 * both ways a run starts, a scratch host directory, and the run against Linux.
 */
import { expect } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { explain, runCli, runNative, runSandbox, type RunOptions, type RunResult } from '../helpers/run';

/** An empty host directory an unprivileged guest may walk into (mkdtemp makes 0700). */
export function scratch(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(d, 0o755);
  return d;
}

/** Through the launcher (runSandbox, when built: the default user namespace) and `tssandbox run` itself. */
export const WAYS: Array<[string, (args: string[], o: RunOptions) => Promise<RunResult>]> = [
  ['as runSandbox starts it (the launcher when built)', runSandbox],
  ['through `tssandbox run` directly', (args, o) => runCli(['run', ...Object.entries(o.env ?? {}).flatMap(([k, v]) => ['--env', `${k}=${v}`]), ...args], o)],
];

/**
 * The guest b run natively in a scratch directory, then both ways with one bound at /w:
 * the same output, nothing left. opts: more of the bind's options (":cache=exclusive").
 */
export async function sameAsNativeInBind(b: string, prefix: string, timeoutMs = 30_000, opts = ''): Promise<void> {
  const dn = scratch(prefix);
  try {
    const native = await runNative([b, dn], { timeoutMs: 20_000 });
    expect(native.code, explain(native)).toBe(0);
    expect(fs.readdirSync(dn)).toEqual([]);
    for (const [, run] of WAYS) {
      const ds = scratch(prefix);
      try {
        const r = await run(['--mount', `${ds}:/w:rw${opts}`, b, '/w'], { timeoutMs });
        expect(r.stdout, explain(r)).toBe(native.stdout);
        expect(r.code, explain(r)).toBe(0);
        expect(fs.readdirSync(ds)).toEqual([]);
      } finally {
        fs.rmSync(ds, { recursive: true, force: true });
      }
    }
  } finally {
    fs.rmSync(dn, { recursive: true, force: true });
  }
}
