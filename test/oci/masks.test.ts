/**
 * linux.readonlyPaths and linux.maskedPaths anywhere (src/oci/masks.ts), compared with
 * what runc makes of the same spec: a directory of the rootfs, a subdirectory of a bind,
 * the root of a bind, a bound file made read-only; a directory of the rootfs, a file of
 * the rootfs and a file in a bind masked; a missing path skipped; a directory inside a
 * tmpfs made read-only, with a bind below it staying writable. The guest's view (what it
 * can write, what it reads) must be the same line for line.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, have, makeBundle, tmp, spawnAsync } from './helpers';

const SCRIPT = [
  'for f in /etc/new /data/sub/new /data2/new /data2/sub2/new /tmp/bound.txt /data/ok /tmp/ok /secret/new; do',
  '  (echo x > $f) 2>/dev/null && echo "$f writable" || echo "$f read-only"',
  'done',
  'mkdir /etc/d 2>/dev/null && echo mkdir-etc || echo no-mkdir-etc',
  'echo "bound: $(cat /tmp/bound.txt)"',
  'echo "secret dir: [$(ls -A /secret)]"',
  'echo "secret file: [$(cat /etc/secret.txt)]"',
  'echo "hidden: [$(cat /data/hidden.txt)]"',
  'echo "sub: $(ls /data/sub)"',
  'echo "data: $(cat /data/in.txt) $(cat /data2/in.txt)"',
].join('\n');

describe.skipIf(!have('runc') || process.getuid?.() !== 0)('readonlyPaths and maskedPaths, as runc makes them', () => {
  let dir = '';

  beforeAll(() => {
    dir = tmp('masks');
  });

  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A bundle of its own (runc refuses a symlinked rootfs), with host dirs of its own. */
  async function bundle(tag: string): Promise<string> {
    const host = path.join(dir, `host-${tag}`);
    for (const d of ['data/sub', 'data2/sub2']) fs.mkdirSync(path.join(host, d), { recursive: true });
    fs.writeFileSync(path.join(host, 'data', 'in.txt'), 'one');
    fs.writeFileSync(path.join(host, 'data', 'hidden.txt'), 'hidden on the host');
    fs.writeFileSync(path.join(host, 'data', 'sub', 'x'), '');
    fs.writeFileSync(path.join(host, 'data2', 'in.txt'), 'two');
    fs.writeFileSync(path.join(host, 'bound.txt'), 'a bound file');
    return makeBundle(path.join(dir, `b-${tag}`), (c) => {
      const rootfs = path.join(dir, `b-${tag}`, 'rootfs');
      fs.mkdirSync(path.join(rootfs, 'secret'));
      fs.writeFileSync(path.join(rootfs, 'secret', 'key'), 'k');
      fs.writeFileSync(path.join(rootfs, 'etc', 'secret.txt'), 'secret');
      fs.writeFileSync(path.join(rootfs, 'tmp', 'bound.txt'), '');
      fs.mkdirSync(path.join(rootfs, 'data'));
      fs.mkdirSync(path.join(rootfs, 'data2'));
      c.root.readonly = false;
      c.process.args = ['sh', '-c', SCRIPT];
      c.mounts.push(
        { destination: '/data', type: 'bind', source: path.join(host, 'data'), options: ['rbind', 'rw'] },
        { destination: '/data2', type: 'bind', source: path.join(host, 'data2'), options: ['rbind', 'rw'] },
        { destination: '/tmp/bound.txt', type: 'bind', source: path.join(host, 'bound.txt'), options: ['bind', 'rw'] },
      );
      c.linux.readonlyPaths = ['/etc', '/data/sub', '/data2', '/tmp/bound.txt', '/no/such/path'];
      c.linux.maskedPaths = ['/secret', '/etc/secret.txt', '/data/hidden.txt', '/no/such/file'];
    });
  }

  it('the guest sees the same as under runc', async () => {
    const run = async (bin: string, tag: string) => {
      const b = await bundle(tag);
      const r = await spawnAsync(bin, ['--root', path.join(dir, `state-${tag}`), 'run', '--bundle', b, `m-${tag}`], { input: '', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout;
    };
    const ours = await run(BIN, 'tss');
    const theirs = await run('runc', 'runc');
    expect(ours).toBe(theirs);
    // What the two agree on, spelled out (so a change in both shows too).
    expect(ours).toContain('/etc/new read-only\n/data/sub/new read-only\n/data2/new read-only\n/data2/sub2/new read-only\n/tmp/bound.txt read-only\n/data/ok writable\n/tmp/ok writable\n/secret/new read-only\n');
    expect(ours).toContain('bound: a bound file\nsecret dir: []\nsecret file: []\nhidden: []\nsub: x\ndata: one two\n');
    expect(fs.readFileSync(path.join(dir, 'host-tss', 'bound.txt'), 'utf8')).toBe('a bound file');
  });

  it('a directory inside a tmpfs: read-only, the rest of the tmpfs and a bind below it as before', async () => {
    const TMPFS_SCRIPT = [
      // Written before: the read-only view shows what the tmpfs holds, live.
      'echo early > /scratch/keep/early.txt 2>/dev/null || echo "early refused"',
      'for f in /scratch/new /scratch/keep/new /scratch/keep/data/new /scratch/other/new; do',
      '  (echo x > $f) 2>/dev/null && echo "$f writable" || echo "$f read-only"',
      'done',
      'mkdir /scratch/keep/d 2>/dev/null && echo mkdir-keep || echo no-mkdir-keep',
      'rmdir /scratch/keep/data 2>/dev/null && echo rmdir-data || echo no-rmdir-data',
      'mv /scratch/keep /scratch/moved 2>/dev/null && echo moved || echo not-moved',
      'echo "data: $(cat /scratch/keep/data/in.txt) $(ls /scratch/keep/data | tr "\\n" " ")"',
      'echo "other: $(cat /scratch/other/new)"',
      'grep " /scratch/keep " /proc/mounts | cut -d" " -f3,4 | cut -d, -f1',
    ].join('\n');
    const run = async (bin: string, tag: string) => {
      const host = path.join(dir, `tmpfs-host-${tag}`);
      fs.mkdirSync(host, { recursive: true });
      fs.writeFileSync(path.join(host, 'in.txt'), 'from-host');
      const b = await makeBundle(path.join(dir, `tb-${tag}`), (c) => {
        c.process.args = ['sh', '-c', TMPFS_SCRIPT];
        fs.mkdirSync(path.join(dir, `tb-${tag}`, 'rootfs', 'scratch'));
        c.mounts.push(
          { destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['mode=755'] },
          // Makes /scratch/keep and /scratch/other in the tmpfs (runc creates mount points).
          { destination: '/scratch/keep/data', type: 'bind', source: host, options: ['rbind', 'rw'] },
          { destination: '/scratch/other', type: 'tmpfs', source: 'tmpfs', options: ['mode=755'] },
        );
        c.linux.readonlyPaths = ['/scratch/keep'];
        c.linux.maskedPaths = [];
      });
      const r = await spawnAsync(bin, ['--root', path.join(dir, `tstate-${tag}`), 'run', '--bundle', b, `t-${tag}`], { input: '', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout;
    };
    const ours = await run(BIN, 'tss');
    const theirs = await run('runc', 'runc');
    expect(ours).toBe(theirs);
    expect(ours).toContain('/scratch/new writable\n/scratch/keep/new read-only\n/scratch/keep/data/new writable\n/scratch/other/new writable\n');
    expect(ours).toContain('no-mkdir-keep\nno-rmdir-data\n');
    expect(ours).toContain('tmpfs ro\n');
  });
});
