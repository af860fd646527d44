/**
 * Mount options and propagation (issue 15), guests compared with Linux (natively in a
 * mount namespace of the test's own, every mount private):
 * - cp_tmpfs_size: tmpfs size=, nr_inodes=, mode=, uid=, gid= as Linux's shmem applies
 *   them (a short write then ENOSPC, ENOSPC past nr_inodes, statfs and mountinfo as the
 *   options say, remount moving the limits never below use, bad options EINVAL);
 * - cp_mount_prop: shared peers (a bind of a shared mount, the copies in a new mount
 *   namespace), a slave that receives but does not send, umount propagated, private and
 *   unbindable mounts, mountinfo's shared:/master:/unbindable. Its two processes take
 *   turns through pipes: nothing depends on scheduling;
 * - cp_pipe_attr: fchown/fchmod of a pipe, which runc does to its stdio under podman, and
 *   of a socket (conmon's before bind);
 * - cp_exe_gone: /proc/self/exe once the program's file is unlinked (runc runs so).
 * - cp_userns_tmpfs: as rootless runc in its user namespace: uid_map/gid_map written as a
 *   C string with its NUL, a tmpfs whose root is the mounter's, uid=/gid= in its own ids.
 */
import * as nfs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileGuest, LINKAGES } from '../helpers/build';
import { GUESTS_DIR } from '../helpers/paths';
import { explain, runNative, runSandbox } from '../helpers/run';

const SRC = path.join(__dirname, 'guests');
const UNSHARE = '/usr/bin/unshare';

describe.skipIf(process.getuid?.() !== 0 || !nfs.existsSync(UNSHARE))('mount options and propagation', () => {
  const guests = [
    { name: 'cp_tmpfs_size', what: 'tmpfs limits, statfs, mountinfo and remount', marks: ['write 2 MiB: 1048576'] },
    { name: 'cp_mount_prop', what: 'shared, slave, private, unbindable', marks: ['child sees s/c: yes', '  s/c master:C'] },
    { name: 'cp_pipe_attr', what: 'fchown/fchmod of a pipe (runc\'s stdio)', marks: ['read end: uid 5 gid 6 mode 640'] },
    { name: 'cp_exe_gone', what: '/proc/self/exe of a program exec\'d from an unlinked file (runc\'s copy)', marks: ['open /proc/self/exe: ok, the program'] },
    { name: 'cp_userns_tmpfs', what: 'maps written with their NUL, a tmpfs owned by its mounter, uid= in the mounter\'s ids (rootless runc)',
      marks: ['uid_map, with the NUL = 10', 'mkdir d/pts = 0'] },
  ];
  for (const g of guests) {
    for (const l of LINKAGES) {
      it(`${g.name} (${l}): ${g.what} as Linux`, async () => {
        const bin = compileGuest(g.name, l, { srcDir: SRC, flags: ['-I', GUESTS_DIR] });
        const [native, sandbox] = await Promise.all([
          runNative([UNSHARE, '-m', '--propagation', 'private', bin], { timeoutMs: 25_000 }),
          runSandbox([bin], { timeoutMs: 25_000 }),
        ]);
        expect(native.code, explain(native)).toBe(0);
        for (const m of g.marks) expect(native.stdout).toContain(m);
        expect(sandbox.stdout, explain(sandbox)).toBe(native.stdout);
        expect(sandbox.code, explain(sandbox)).toBe(0);
      }, 40_000);
    }
  }

  it('util-linux: mount --make-shared, a bind, and findmnt\'s PROPAGATION column', async () => {
    const script = 'set -e; d=/tmp/tss-prop-$$; mkdir -p $d/a $d/b; mount -t tmpfs t $d/a; mount --make-shared $d/a; ' +
      'mkdir $d/a/x; mount --bind $d/a $d/b; mount -t tmpfs u $d/a/x; touch $d/a/x/f; ls $d/b/x; ' +
      'findmnt -rno TARGET,PROPAGATION | grep "^$d" | sed "s|$d|D|"; umount $d/b/x; ls $d/a/x | wc -l; ' +
      'umount -R $d/b; umount -R $d/a; rm -r $d';
    const [native, sandbox] = await Promise.all([
      runNative([UNSHARE, '-m', '--propagation', 'private', '/bin/sh', '-c', script]),
      runSandbox(['/bin/sh', '-c', script]),
    ]);
    expect(native.code, explain(native)).toBe(0);
    expect(native.stdout).toContain('D/b/x shared');
    expect(sandbox.stdout, explain(sandbox)).toBe(native.stdout);
  }, 30_000);
});
