/**
 * bubblewrap inside the sandbox (issue 15): the invocations flatpak and build tools use,
 * run natively and under tssandbox on each platform, output compared. bwrap exercises
 * user/pid/uts/ipc/net/mount namespaces, a recursive bind of the old root carrying its
 * submounts, read-only remounts of each, pivot_root twice (the second one ".", "."),
 * umount of the old root, devpts/proc/tmpfs instances, file and directory binds,
 * PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG, the bounding set dropped in a nested user
 * namespace, a guest seccomp filter (--seccomp FD). Nothing here depends on timing: every process listed is waiting on the
 * one that lists it.
 */
import { execFileSync } from 'node:child_process';
import * as nfs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileGuest } from '../helpers/build';
import { explain, runNative, runSandbox, TEST_PLATFORMS } from '../helpers/run';

const BWRAP = '/usr/bin/bwrap';

// Mount points whose top mount is compared (the rest of the table is the host's).
const TOPS = '/ /tmp /proc /dev /dev/null /dev/pts';
const MOUNTS = `awk -v want="${TOPS}" 'BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) keep[w[i]] = 1 } ($5 in keep) { o[$5] = $6 } END { for (p in o) print p, o[p] }' /proc/self/mountinfo | sort`;

const CASES: Array<{ what: string; args: (scratch: string) => string[]; script: string }> = [
  {
    what: 'the usual sandbox: ro root, own /dev, /proc and /tmp, every namespace, die-with-parent',
    args: () => ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', '--unshare-all',
      '--die-with-parent', '--hostname', 'box'],
    script: `id; ls /dev; touch /x 2>&1; echo hi > /tmp/f && cat /tmp/f && ls -A /tmp; hostname; echo > /dev/null && echo null ok;
      ps -o pid,ppid,comm; ${MOUNTS}; cat /proc/self/uid_map; grep -c . /proc/self/gid_map`,
  },
  {
    what: 'flatpak-like: /usr only, symlinks, dirs, a rw bind, setenv/chdir, new session, another uid, no caps',
    args: (scratch) => ['--ro-bind', '/usr', '/usr', '--symlink', 'usr/bin', '/bin', '--symlink', 'usr/lib', '/lib',
      '--symlink', 'usr/lib64', '/lib64', '--symlink', 'usr/sbin', '/sbin', '--dir', '/tmp', '--dir', '/var/tmp',
      '--bind', scratch, '/data', '--setenv', 'FOO', 'bar', '--chdir', '/data', '--proc', '/proc', '--dev', '/dev',
      '--unshare-pid', '--unshare-uts', '--hostname', 'box', '--new-session', '--cap-drop', 'ALL', '--die-with-parent',
      '--unshare-user', '--uid', '1000', '--gid', '1000'],
    script: `echo $FOO; pwd; ls /; echo x > /data/out; cat /data/out; readlink /bin; grep -E "^(Cap|NoNewPrivs)" /proc/self/status;
      ps -o pid,comm; id; cat /proc/self/uid_map; hostname; mkdir /usr/x 2>&1; ls -ld /var/tmp | cut -c1-10;
      test -t 0 && echo tty || echo notty; ls -ln /data/out | cut -d' ' -f3,4`,
  },
  {
    what: 'one directory bound twice, one read-only: each sees the other\'s writes, the read-only one refuses its own',
    args: (scratch) => ['--bind', '/', '/', '--bind', scratch, '/w', '--ro-bind', scratch, '/r', '--tmpfs', '/tmp',
      '--proc', '/proc', '--unshare-pid'],
    script: `echo a > /w/f; cat /r/f; echo b > /r/f 2>&1 || echo ro refused; mkdir /w/d; ls /r;
      awk '$5 == "/w" || $5 == "/r" {print $5, $6}' /proc/self/mountinfo`,
  },
];

describe.skipIf(process.getuid?.() !== 0 || !nfs.existsSync(BWRAP))('bwrap inside the sandbox', () => {
  const scratch = nfs.mkdtempSync(path.join(os.tmpdir(), 'tss-bwrap-'));
  afterAll(() => nfs.rmSync(scratch, { recursive: true, force: true }));
  let n = 0;
  // Each run binds a directory of its own (the native run writes the host's).
  const dir = () => {
    const d = path.join(scratch, String(n++));
    nfs.mkdirSync(d);
    return d;
  };
  for (const c of CASES) {
    it(`${c.what}: as natively`, async () => {
      const native = await runNative([BWRAP, ...c.args(dir()), '--', '/bin/sh', '-c', c.script], { timeoutMs: 30_000 });
      expect(native.code, explain(native)).toBe(0);
      for (const p of TEST_PLATFORMS) {
        const sandbox = await runSandbox([`--platform=${p}`, BWRAP, ...c.args(dir()), '--', '/bin/sh', '-c', c.script], { timeoutMs: 30_000 });
        expect(sandbox.stdout, `${p}: ${explain(sandbox)}`).toBe(native.stdout);
        expect(sandbox.code, `${p}: ${explain(sandbox)}`).toBe(0);
      }
    }, 90_000);
  }

  it('--seccomp FD: the guest filter bwrap installs refuses mkdir with EPERM, the rest runs', async () => {
    const prog = path.join(scratch, 'mkdir-eperm.bpf');
    nfs.writeFileSync(prog, execFileSync(compileGuest('cp_seccomp_prog', 'dynamic', { srcDir: path.join(__dirname, 'guests') })));
    const argv = ['/bin/sh', '-c', `${BWRAP} --bind / / --tmpfs /tmp --seccomp 9 -- /bin/sh -c 'mkdir /tmp/x 2>&1; echo $?; touch /tmp/y && echo touched; grep -E "^(NoNewPrivs|Seccomp)" /proc/self/status' 9< ${prog}`];
    const native = await runNative(argv, { timeoutMs: 30_000 });
    expect(native.stdout, explain(native)).toContain('Operation not permitted');
    for (const p of TEST_PLATFORMS) {
      const r = await runSandbox([`--platform=${p}`, ...argv], { timeoutMs: 30_000 });
      expect(r.stdout, `${p}: ${explain(r)}`).toBe(native.stdout);
    }
  }, 90_000);

  it('--file, --bind-data, --perms/--dir, --remount-ro, --as-pid-1, --disable-userns (max_user_namespaces), --json-status-fd', async () => {
    const script = 'cat /etc/x /etc/y; ls -l /etc/x /etc/y | cut -c1-10; touch /usr/z 2>&1; stat -c "%a" /opt/d; ' +
      'cat /proc/sys/user/max_user_namespaces; echo pid $$; unshare -U true 2>&1; echo end';
    const argv = (d: string) => {
      nfs.writeFileSync(path.join(d, 'x'), 'file-data\n');
      nfs.writeFileSync(path.join(d, 'y'), 'bind-data\n');
      const args = ['--bind', '/', '/', '--ro-bind-try', '/nonexistent', '/nx', '--file', '5', '/etc/x', '--bind-data', '6', '/etc/y',
        '--bind', '/usr', '/usr', '--remount-ro', '/usr', '--perms', '0700', '--dir', '/opt/d', '--unshare-net', '--unshare-pid',
        '--unshare-user', '--disable-userns', '--as-pid-1', '--json-status-fd', '7', '--tmpfs', '/tmp'];
      return ['/bin/sh', '-c', `${BWRAP} ${args.join(' ')} -- /bin/sh -c '${script}' 5<${d}/x 6<${d}/y 7>${d}/status; echo "rc=$?"; sed 's/[0-9][0-9]*/N/g' ${d}/status`];
    };
    const native = await runNative(argv(dir()), { timeoutMs: 30_000 });
    expect(native.stdout, explain(native)).toContain('No space left on device');
    expect(native.stdout).toContain('file-data\nbind-data\n');
    expect(native.stdout).toContain('rc=0');
    for (const p of TEST_PLATFORMS) {
      const r = await runSandbox([`--platform=${p}`, ...argv(dir())], { timeoutMs: 30_000 });
      expect(r.stdout, `${p}: ${explain(r)}`).toBe(native.stdout);
    }
  }, 90_000);

  it("bwrap's exit status is the command's; --die-with-parent and --unshare-pid end the rest with it", async () => {
    const script = 'sleep 1000 & echo started; exit 7';
    const native = await runNative([BWRAP, '--bind', '/', '/', '--unshare-pid', '--die-with-parent', '--', '/bin/sh', '-c', script], { timeoutMs: 30_000 });
    expect(native.code, explain(native)).toBe(7);
    for (const p of TEST_PLATFORMS) {
      const r = await runSandbox([`--platform=${p}`, BWRAP, '--bind', '/', '/', '--unshare-pid', '--die-with-parent', '--', '/bin/sh', '-c', script], { timeoutMs: 30_000 });
      expect(r.stdout, `${p}: ${explain(r)}`).toBe(native.stdout);
      expect(r.code, `${p}: ${explain(r)}`).toBe(7);
    }
  }, 90_000);
});
