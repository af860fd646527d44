// Issue 15: link(2) of a file that lives only in the overlay's lower layer makes one
// inode with two names (same st_ino, st_nlink 2, shared data), as on Linux; git >= 2.39's
// local clone (which checks that its hard links are the source) then works.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compileGuest } from '../helpers/build';
import { explain, runNative, runSandbox } from '../helpers/run';

const GUESTS = path.join(__dirname, 'guests');

describe('hard links of lower-layer files', () => {
  it('the new name is the same inode, as on Linux', async () => {
    const bin = compileGuest('overlay_link', 'dynamic', { srcDir: GUESTS });
    // The file is on the host: in the sandbox it is in the read-only lower layer, and
    // the new name goes to the upper layer (/tmp is the overlay's).
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-olink-'));
    try {
      fs.writeFileSync(path.join(d, 'f'), 'hello\n');
      const sbx = await runSandbox([bin, path.join(d, 'f'), '/tmp/olink-new']);
      // The host file is untouched by the guest (its writes and unlink stayed in the overlay).
      expect(fs.readFileSync(path.join(d, 'f'), 'utf8')).toBe('hello\n');
      const native = await runNative([bin, path.join(d, 'f'), path.join(d, 'g')]);
      expect(native.stdout).toContain('same st_ino: yes');
      expect(sbx.stdout, explain(sbx)).toBe(native.stdout);
      expect(sbx.code).toBe(0);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it('git clone of a local path (hard-linked objects) works and fscks', async () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-gitclone-'));
    try {
      const repo = path.join(d, 'repo');
      const git = (...a: string[]) => execFileSync('git', ['-C', repo, ...a], { stdio: 'pipe' });
      fs.mkdirSync(repo);
      git('init', '-q');
      for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(repo, `f${i}`), `file ${i}\n`);
      git('add', '.');
      git('-c', 'user.email=t@t', '-c', 'user.name=t', 'commit', '-qm', 'one');
      const r = await runSandbox(['--env', 'HOME=/root', '/bin/sh', '-c',
        `git clone -q ${repo} /tmp/clone && cd /tmp/clone && cat f3 && git log --format=%s && ` +
        'git fsck --no-progress && echo fsck-ok && ' +
        // The clone's objects are hard links of the source's: same inode numbers.
        'o=$(cd .git/objects && ls -d ??/* | head -1) && ' +
        `[ "$(stat -c %i .git/objects/$o)" = "$(stat -c %i ${repo}/.git/objects/$o)" ] && echo linked`,
      ], { timeoutMs: 60_000 });
      expect(r.stdout, explain(r)).toBe('file 3\none\nfsck-ok\nlinked\n');
      expect(r.code).toBe(0);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  }, 70_000);
});
