/**
 * open(O_CREAT) and unlink on a rw bind take one Gofer round trip each (the create
 * answers the lookup, EEXIST comes with the existing name's attributes, the unlink
 * names what it removed: fs/fsimpl/hostfs/README.md) and still answer every case as
 * Linux does: existing names, O_EXCL, dangling symlinks, directories, trailing
 * slashes, missing parents, files removed while open, sticky directories and an
 * unprivileged caller (test/fs/guests/create_unlink.c, run natively and in the
 * sandbox). Round trips are counted (TSSANDBOX_FS_STATS), never timed. Both ways a run
 * starts: through the launcher (runSandbox, when built) and `tssandbox run` itself.
 */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileGuest } from '../helpers/build';
import { explain } from '../helpers/run';
import { sameAsNativeInBind, scratch, WAYS } from './rw-bind';

const SRC = path.join(__dirname, 'guests');

function goferCalls(stderr: string): number {
  const m = /fs-stats gofer_calls=(\d+)/.exec(stderr);
  if (!m) throw new Error(`no fs-stats line in:\n${stderr}`);
  return Number(m[1]);
}

describe('create and unlink on a rw bind', () => {
  const bin = () => compileGuest('create_unlink', 'static', { srcDir: SRC });

  it('answer as Linux does', async () => {
    await sameAsNativeInBind(bin(), 'tss-create-unlink-');
  });

  for (const [way, run] of WAYS) {
    it(`take one Gofer round trip a file each, ${way}`, async () => {
      const b = bin();
      const d = scratch('tss-create-unlink-');
      const n = 300;
      const env = { TSSANDBOX_FS_STATS: '1' };
      try {
        const base = await run(['--mount', `${d}:/w:rw`, b, '/w', 'many', '0'], { env, timeoutMs: 30_000 });
        expect(base.code, explain(base)).toBe(0);
        const r = await run(['--mount', `${d}:/w:rw`, b, '/w', 'many', String(n)], { env, timeoutMs: 60_000 });
        expect(r.stdout, explain(r)).toBe(`made and removed ${n}\n`);
        expect(r.code, explain(r)).toBe(0);
        // 2 a file (the create, the unlink); a negative lookup, the create, a lookup of the
        // victim and the unlink were 4. (Slack for anything a slow run asks again.)
        expect(goferCalls(r.stderr) - goferCalls(base.stderr)).toBeLessThanOrEqual(2.2 * n);
        expect(fs.readdirSync(d)).toEqual([]);
      } finally {
        fs.rmSync(d, { recursive: true, force: true });
      }
    });
  }
});
