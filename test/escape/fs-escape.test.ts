// Filesystem containment: a guest reads nothing outside its root and writes nothing to
// the host outside rw binds. Every target here is something the test itself created.
import { describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as crypto from 'crypto';
import { compileGuest } from '../helpers/build';
import { runSandbox } from '../helpers/run';

const SRC = path.join(__dirname, 'guests');

describe('a root directory full of ways out', () => {
  it('symlinks, .. chains, /proc/self/root and /proc/self/fd stay inside --root', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-root-'));
    try {
      fs.mkdirSync(path.join(root, 'etc'));
      fs.writeFileSync(path.join(root, 'etc', 'marker'), 'inside\n');
      fs.symlinkSync('/etc', path.join(root, 'abs'));
      fs.symlinkSync('../../../../../../../etc', path.join(root, 'rel'));
      fs.mkdirSync(path.join(root, 'deep', 'er'), { recursive: true });
      fs.symlinkSync('/proc/self/root/etc', path.join(root, 'viaproc'));
      fs.mkdirSync(path.join(root, 'race', 'a'), { recursive: true });
      fs.mkdirSync(path.join(root, 'proc'));
      fs.mkdirSync(path.join(root, 'dev'));
      fs.mkdirSync(path.join(root, 'sys'));
      fs.copyFileSync(compileGuest('root_escape', 'static', { srcDir: SRC }), path.join(root, 'probe'));
      fs.chmodSync(path.join(root, 'probe'), 0o755);
      const r = await runSandbox(['--root', root, '/probe']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe([
        '/etc/marker: inside',
        '/abs/marker: inside',
        '/rel/marker: inside',
        '/deep/../../../../../../etc/marker: inside',
        '/proc/self/root/etc/marker: inside',
        '/viaproc/marker: inside',
        '/etc/hostname: ENOENT',
        '/abs/hostname: ENOENT',
        '/rel/os-release: ENOENT',
        `/proc/self/fd/3/../../../etc/marker: inside`,
        'openat .. chain: opened inside',
        'rename race reached host os-release: no',
        '',
      ].join('\n'));
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('writes never reach the host', () => {
  it('echo > /etc/probe and rm -rf of a host directory leave the host unchanged', async () => {
    // The directory is the test's own: were the overlay broken, only it would go.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-rmrf-'));
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.writeFileSync(path.join(dir, 'sub', 'keep'), 'keep me');
    const probe = `/etc/probe_${crypto.randomBytes(6).toString('hex')}`;
    try {
      const r = await runSandbox(['/bin/sh', '-c', `echo x > ${probe} && cat ${probe} && rm -rf ${dir} && ls ${dir} 2>&1; echo done`]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^x\n.*No such file or directory\ndone\n$/s);
      expect(fs.existsSync(probe)).toBe(false);
      expect(fs.readFileSync(path.join(dir, 'sub', 'keep'), 'utf8')).toBe('keep me');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      if (fs.existsSync(probe)) fs.unlinkSync(probe);
    }
  });

  it('a read-only bind stays read-only; only an rw bind writes the host', async () => {
    const ro = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-ro-'));
    const rw = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-rw-'));
    fs.writeFileSync(path.join(ro, 'f'), 'orig');
    try {
      const r = await runSandbox([
        '--mount', `${ro}:/mnt/ro:ro`, '--mount', `${rw}:/mnt/rw:rw`, '/bin/sh', '-c',
        'echo new > /mnt/ro/f 2>/dev/null || echo ro-refused; echo hi > /mnt/rw/g && echo rw-ok',
      ]);
      expect(r.stdout).toBe('ro-refused\nrw-ok\n');
      expect(fs.readFileSync(path.join(ro, 'f'), 'utf8')).toBe('orig');
      expect(fs.readFileSync(path.join(rw, 'g'), 'utf8')).toBe('hi\n');
    } finally {
      fs.rmSync(ro, { recursive: true, force: true });
      fs.rmSync(rw, { recursive: true, force: true });
    }
  });
});
