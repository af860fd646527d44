/**
 * The sandbox's cgroup v2 filesystem (issue 15): /sys/fs/cgroup and `mount -t cgroup2`
 * are one cgroup2 hierarchy (statfs magic, mountinfo type, the core files), as a cgroup2
 * mount natively in a mount namespace of the test's own (the host's /sys/fs/cgroup may
 * be anything), and podman then takes it for cgroup v2. Child groups, moves and pids.max
 * (cp_cgroup) run in the sandbox only: natively they would change the host's cgroups.
 * Its expected output (guests/cp_cgroup.expected) is what cgroup v2 documents
 * (Documentation/admin-guide/cgroup-v2.rst): EBUSY for internal processes and populated
 * groups, ENOENT for an unknown controller, EAGAIN at pids.max. cp_cgroup_mem likewise
 * (guests/cp_cgroup_mem.expected): memory.max in pages or "max", cpu.max's bounds,
 * cpu.weight's ERANGE, cpuset.cpus within the CPUs; natively the host's controllers are
 * cgroup v1's, so no cgroup2 mount there has them. cp_cgroup_oom (guests/cp_cgroup_oom.expected):
 * memory.max enforced with the OOM killer, as that document says of a group with no swap;
 * cp_cgroup_high (guests/cp_cgroup_high.expected) memory.high counted and throttling (memory.pressure), never killing.
 * cp_clone_cgroup (guests/cp_clone_cgroup.expected): clone3's CLONE_INTO_CGROUP as cgroup-v2.rst and clone(2) describe it.
 */
import * as nfs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileGuest, LINKAGES } from '../helpers/build';
import { explain, runNative, runSandbox } from '../helpers/run';

const SRC = path.join(__dirname, 'guests');

const UNSHARE = '/usr/bin/unshare';
const script = (d: string) => `set -e; d=${d}; mkdir -p $d; mount -t cgroup2 none $d; stat -f -c %T $d; ` +
  'awk -v d=$d \'$5 == d {for (i = 7; $i != "-"; i++); print $(i+1)}\' /proc/self/mountinfo; ' +
  'ls $d | grep -cE "^cgroup\\.(procs|controllers|subtree_control|threads)$"; umount $d; rmdir $d';

describe.skipIf(process.getuid?.() !== 0 || !nfs.existsSync(UNSHARE))('cgroup2 filesystem', () => {
  it('mount -t cgroup2: statfs, mountinfo and the core files as Linux', async () => {
    const [native, sandbox] = await Promise.all([
      runNative([UNSHARE, '-m', '--propagation', 'private', '/bin/sh', '-c', script('/tmp/tss-cg2-n$$')]),
      runSandbox(['/bin/sh', '-c', script('/tmp/tss-cg2-s$$')]),
    ]);
    expect(native.code, explain(native)).toBe(0);
    expect(native.stdout).toBe('cgroup2fs\ncgroup2\n4\n');
    expect(sandbox.stdout, explain(sandbox)).toBe(native.stdout);
  }, 30_000);

  it('/sys/fs/cgroup is that hierarchy (a mount of its own, same files as a new cgroup2 mount)', async () => {
    const r = await runSandbox(['/bin/sh', '-c', 'stat -f -c %T /sys/fs/cgroup; awk \'$5 == "/sys/fs/cgroup" {print $9}\' /proc/self/mountinfo; ' +
      'mkdir -p /tmp/cg && mount -t cgroup2 none /tmp/cg && ls /tmp/cg > /tmp/a && ls /sys/fs/cgroup > /tmp/b && cmp /tmp/a /tmp/b && echo same; cat /tmp/cg/pids.max; ' +
      // Read-only on one mount only (runc mounts the container's so): the hierarchy stays writable elsewhere.
      'mkdir -p /tmp/ro && mount -t cgroup2 -o ro none /tmp/ro && { mkdir /tmp/ro/q 2>/dev/null || echo "ro mount: refused"; } && mkdir /sys/fs/cgroup/q && rmdir /sys/fs/cgroup/q && echo "writable elsewhere"']);
    expect(r.stdout, explain(r)).toBe('cgroup2fs\ncgroup2\nsame\n16384\nro mount: refused\nwritable elsewhere\n');
  }, 30_000);

  it.skipIf(!nfs.existsSync('/usr/bin/podman'))('podman info sees cgroup v2', async () => {
    const r = await runSandbox(['/bin/sh', '-c', 'HOME=/tmp/tss-podman-home podman --storage-driver=vfs --root /tmp/tss-pr --runroot /tmp/tss-prr info 2>&1 | grep cgroupVersion'],
      { timeoutMs: 40_000 });
    expect(r.stdout, explain(r)).toContain('cgroupVersion: v2');
  }, 60_000);

  for (const l of LINKAGES) {
    it(`cp_cgroup (${l}): mkdir/rmdir, subtree_control, cgroup.procs, pids.max enforced at fork`, async () => {
      const bin = compileGuest('cp_cgroup', l, { srcDir: SRC });
      const r = await runSandbox([bin], { timeoutMs: 25_000 });
      expect(r.stdout, explain(r)).toBe(nfs.readFileSync(path.join(SRC, 'cp_cgroup.expected'), 'utf8'));
      expect(r.code, explain(r)).toBe(0);
    }, 40_000);
    it(`cp_clone_cgroup (${l}): clone3 CLONE_INTO_CGROUP: born in the group, its pids.max (EAGAIN), no internal processes (EBUSY), EBADF`, async () => {
      const bin = compileGuest('cp_clone_cgroup', l, { srcDir: SRC });
      const r = await runSandbox([bin], { timeoutMs: 25_000 });
      expect(r.stdout, explain(r)).toBe(nfs.readFileSync(path.join(SRC, 'cp_clone_cgroup.expected'), 'utf8'));
      expect(r.code, explain(r)).toBe(0);
    }, 40_000);
    it(`cp_cgroup_oom (${l}): memory.max of a child group OOM-kills over it, memory.events counts it (hierarchically)`, async () => {
      const bin = compileGuest('cp_cgroup_oom', l, { srcDir: SRC });
      const r = await runSandbox([bin], { timeoutMs: 60_000 });
      expect(r.stdout, explain(r)).toBe(nfs.readFileSync(path.join(SRC, 'cp_cgroup_oom.expected'), 'utf8'));
      expect(r.code, explain(r)).toBe(0);
    }, 80_000);
    it(`cp_cgroup_high (${l}): memory.high of a child group counted in memory.events, throttling in memory.pressure (hierarchically), never an OOM kill`, async () => {
      const bin = compileGuest('cp_cgroup_high', l, { srcDir: SRC });
      const r = await runSandbox([bin], { timeoutMs: 60_000 });
      expect(r.stdout, explain(r)).toBe(nfs.readFileSync(path.join(SRC, 'cp_cgroup_high.expected'), 'utf8'));
      expect(r.code, explain(r)).toBe(0);
    }, 80_000);
    it(`cp_cgroup_mem (${l}): the memory, cpu, cpuset and io controllers' files in a child group, memory.current of its process`, async () => {
      const bin = compileGuest('cp_cgroup_mem', l, { srcDir: SRC });
      const r = await runSandbox([bin], { timeoutMs: 25_000 });
      expect(r.stdout, explain(r)).toBe(nfs.readFileSync(path.join(SRC, 'cp_cgroup_mem.expected'), 'utf8'));
      expect(r.code, explain(r)).toBe(0);
    }, 40_000);
  }
});
