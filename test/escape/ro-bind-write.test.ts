// A read-only bind of a writable host bind: every write through it is EROFS, and the
// host directory stays as it was. The host filesystem's one-request create/unlink paths
// (fs/vfs/vfs.ts createIfAbsent, unlinkQuick, answersExisting) skip the usual lookup, so
// they must check the mount's read-only flag themselves; this is the test that they do.
// Compared with the same script run natively in a user and mount namespace.
import { describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { explain, runNative, runSandbox } from '../helpers/run';

const SCRIPT = `
set -u
b=$1
mkdir -p "$b/mp"
mount --bind "$b/d" "$b/mp" && mount -o remount,bind,ro "$b/mp" || exit 9
try() { what=$1; shift; if "$@" 2>/dev/null; then echo "$what: ok"; else echo "$what: refused"; fi; }
try create touch "$b/mp/new"
try create-excl sh -c "set -C; : > '$b/mp/new2'"
try truncate sh -c ": > '$b/mp/f'"
try append sh -c "echo x >> '$b/mp/f'"
try mkdir mkdir "$b/mp/dir"
try symlink ln -s f "$b/mp/link"
try link ln "$b/mp/f" "$b/mp/hard"
try unlink rm "$b/mp/f"
try rmdir rmdir "$b/mp/sub"
try rename mv "$b/mp/f" "$b/mp/g"
try chmod chmod 600 "$b/mp/f"
try utimes touch -d @0 "$b/mp/f"
cat "$b/mp/f"
ls "$b/mp"
`;

function scratch(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-robind-'));
  fs.mkdirSync(path.join(dir, 'd', 'sub'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'd', 'f'), 'kept\n');
  fs.writeFileSync(path.join(dir, 't.sh'), SCRIPT);
  return dir;
}

function snapshot(d: string): string {
  return fs.readdirSync(d).sort().map((n) => {
    const st = fs.lstatSync(path.join(d, n));
    return `${n} ${st.mode.toString(8)} ${st.mtimeMs} ${st.isFile() ? fs.readFileSync(path.join(d, n), 'utf8') : ''}`;
  }).join('\n');
}

describe('a read-only bind of a writable host bind', () => {
  it('refuses every write, as Linux, and the host directory is unchanged', async () => {
    const nat = scratch();
    const sbx = scratch();
    try {
      const before = snapshot(path.join(sbx, 'd'));
      const [native, sandbox] = await Promise.all([
        runNative(['unshare', '-rm', '/bin/sh', path.join(nat, 't.sh'), nat], { timeoutMs: 30_000 }),
        runSandbox(['--mount', `${sbx}:/w:rw`, '--', '/usr/bin/unshare', '-rm', '/bin/sh', '/w/t.sh', '/w'], { timeoutMs: 30_000 }),
      ]);
      expect(native.code, explain(native)).toBe(0);
      expect(native.stdout).toContain('create: refused');
      expect(native.stdout).not.toMatch(/: ok$/m);
      expect(sandbox.stdout, explain(sandbox)).toBe(native.stdout);
      expect(sandbox.code).toBe(0);
      expect(snapshot(path.join(sbx, 'd'))).toBe(before);
    } finally {
      fs.rmSync(nat, { recursive: true, force: true });
      fs.rmSync(sbx, { recursive: true, force: true });
    }
  }, 70_000);
});
