// Issue 7, finding 1 (guest side): guest root tries to uncover what lies under the
// sandbox's own /proc and /sys (umount2 MNT_DETACH, MS_MOVE, a bind of / without its
// submounts) and looks for the host's /proc and /sys there. The Sentry refuses to
// uncover its own mounts (fs/namespace.ts: they are locked, EINVAL as Linux gives in a
// container); behind it the gofer serves no special filesystem at all
// (test/escape/gofer-confinement.test.ts checks that layer on its own).
import { describe, expect, it } from 'vitest';
import * as crypto from 'crypto';
import * as path from 'path';
import { compileGuest } from '../helpers/build';
import { BASE_ENV, spawnCollect } from '../helpers/run';
import { BIN } from '../helpers/paths';

const SRC = path.join(__dirname, 'guests');

describe("the host's /proc and /sys under the sandbox's own", () => {
  it('stay covered: umount, move and bind of / show nothing of the host', async () => {
    const probe = compileGuest('uncover', 'static', { srcDir: SRC });
    // In the Sentry's (and so the gofer's) host environment only: were the host's /proc
    // uncovered, their /proc/PID/environ would show it.
    const marker = `TSS_UNCOVER_${crypto.randomBytes(8).toString('hex')}`;
    const r = await spawnCollect([process.execPath, BIN, 'run', '--clear-env', probe, marker], { ...BASE_ENV, [marker]: '1' }, { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).not.toContain('marker in the guest environment');
    // Every attempt ran...
    for (const step of ['umount /proc', 'umount /sys', 'bind / /mnt/root', 'rbind / /mnt/rroot', 'move /proc', 'bind /dev'])
      expect(lines.some((l) => l.startsWith(step + ': ')), r.stdout).toBe(true);
    // ...and wherever the host's /proc or /sys would have shown, nothing of them did.
    const scans = lines.filter((l) => l.includes(' leaks='));
    expect(scans.length).toBe(6);
    for (const l of scans) expect(l, r.stdout).toMatch(/: leaks=0 kallsyms=- notes=- module=- status=(-|uncover\.static)$/);
    // The sandbox's mounts cannot be removed or left out of a bind; a recursive bind
    // carries them locked (as Linux's MNT_LOCKED): its copies stay too, until the whole
    // copy goes at once.
    expect(lines.filter((l) => !l.includes(' leaks='))).toEqual([
      'umount /proc: EINVAL',
      'umount /sys: EINVAL',
      'bind / /mnt/root: EINVAL',
      'rbind / /mnt/rroot: ok',
      'umount /mnt/rroot/proc: EINVAL',
      'move /mnt/rroot/proc: EINVAL',
      'bind /mnt/rroot: EINVAL',
      'umount /mnt/rroot: ok',
      'move /proc: EINVAL',
      'bind /dev: EINVAL',
    ]);
  });
});
