/**
 * File names are bytes end to end: names that are not UTF-8 keep their bytes in tmpfs,
 * on a rw bind (through the Gofer), in the read-only host tree, and in both host backends.
 */
import * as nfs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileGuest, LINKAGES } from '../helpers/build';
import { GUESTS_DIR } from '../helpers/paths';
import { expectSameAsNative, explain, runSandbox } from '../helpers/run';
import { DirectBackend } from '../../fs/fsimpl/hostfs/host-backend';
import { GoferBackend } from '../../fs/fsimpl/hostfs/gofer-backend';
import { spawnGofer } from '../../src/gofer/client';
import { goferNative } from '../../src/gofer/native';
import { tmpDirs } from '../helpers/tmp';

const mkTmp = tmpDirs();

const SRC = path.join(__dirname, 'guests');
const guest = (l: (typeof LINKAGES)[number]) => compileGuest('cp_names', l, { srcDir: SRC, flags: ['-I', GUESTS_DIR] });
/** "f\x80\xff" as the host sees it: raw bytes, not UTF-8. */
const RAW = Buffer.from([0x66, 0x80, 0xff, 0xc3, 0x28]);

describe('non-UTF-8 file names', () => {
  for (const l of LINKAGES) {
    it(`in the overlay's tmpfs (${l})`, async () => {
      await expectSameAsNative([guest(l)], { timeoutMs: 25_000 });
    }, 40_000);
  }

  it('on a rw bind mount, through the Gofer', async () => {
    const native = mkTmp('tss-names-n-');
    const bind = mkTmp('tss-names-b-');
    const bin = guest('dynamic');
    const { spawnCollect, BASE_ENV } = await import('../helpers/run');
    const n = await spawnCollect([bin, native], BASE_ENV, { timeoutMs: 20_000 });
    const s = await runSandbox(['--mount', `${bind}:${bind}:rw`, bin, bind], { timeoutMs: 20_000 });
    expect(n.stdout).toMatch(/done\n$/);
    expect(s.stdout, explain(s)).toBe(n.stdout);
  }, 40_000);

  it('in the read-only host tree: listed, stat-ed, read and readlink-ed with their bytes', async () => {
    const dir = mkTmp('tss-names-ro-');
    const dirB = Buffer.from(dir + '/');
    nfs.writeFileSync(Buffer.concat([dirB, RAW]), 'abc');
    nfs.symlinkSync(RAW, Buffer.concat([dirB, Buffer.from('l')]));
    // The name goes through the shell, not argv (argv bytes are the exec path's business).
    const script = `cd ${dir} && ls | od -An -c && for f in f*; do cat < "$f"; done && echo && readlink l | od -An -tx1 && test -e l && echo resolves`;
    const r = await runSandbox(['/bin/sh', '-c', script]);
    expect(r.stdout, explain(r)).toBe('   f 200 377 303   (  \\n   l  \\n\nabc\n 66 80 ff c3 28 0a\nresolves\n');
  }, 30_000);

  it.skipIf(goferNative() === null)('DirectBackend and the Gofer pass names as bytes', () => {
    const root = mkTmp('tss-names-g-');
    nfs.writeFileSync(Buffer.concat([Buffer.from(root + '/'), RAW]), 'x');
    const latin = RAW.toString('latin1');
    const c = spawnGofer([root])!;
    try {
      for (const b of [new DirectBackend(root), new GoferBackend(c, 0, root)]) {
        const names = b.readdir('');
        expect(typeof names === 'number' ? names : names.map((e) => e.name)).toEqual([latin]);
        expect(typeof b.lstat(latin)).toBe('object');
        expect(b.symlink(latin, 'ln')).toBe(0);
        expect(b.readlink('ln')).toBe(latin);
        expect(nfs.readlinkSync(path.join(root, 'ln'), { encoding: 'buffer' })).toEqual(RAW);
        expect(b.unlink('ln')).toBe(0);
      }
    } finally {
      process.kill(c.pid, 'SIGKILL');
    }
  });
});
