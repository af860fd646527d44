/**
 * linux.resources on the host (src/oci/resources.ts, native/oci_cgroup.cc): the
 * container's Sentry, Gofer and stubs in one host cgroup with the config's limits, as
 * `run --memory/--pids-limit` has (native/launch_cgroup.h); `update` rewrites them; the
 * cgroup goes with the Sentry. This host is cgroup v1 for memory, pids and cpu: a
 * container with no cpu limit is in a cpu cgroup all the same (as runc joins every
 * controller), so a later `update --cpu-quota` applies. The runtime writes limits only
 * into a cgroup filesystem's files, reached with no link at the last step, and delete
 * kills only what a real cgroup lists: a state.json pointing elsewhere changes nothing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileGuest } from '../helpers/build';
import { BIN, RUNTIME, alive, cli, descendants, makeBundle, makeRootfs, tmp, waitFor, spawnAsync, type Cli } from './helpers';

/** The v1 directory of controller ctrl a host process is in, or null. */
function cgroupOf(ctrl: string, pid: number | 'self'): string | null {
  try {
    for (const line of fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')) {
      const [, ctrls, p] = line.split(':');
      if (p !== undefined && ctrls.split(',').includes(ctrl)) {
        const mnt = ctrl === 'cpu' && fs.existsSync('/sys/fs/cgroup/cpu,cpuacct') ? 'cpu,cpuacct' : ctrl;
        return `/sys/fs/cgroup/${mnt}${p === '/' ? '' : p}`;
      }
    }
  } catch {
    // gone
  }
  return null;
}
const v1 = process.getuid?.() === 0 && fs.existsSync(`${cgroupOf('memory', 'self')}/memory.limit_in_bytes`) && fs.existsSync(`${cgroupOf('pids', 'self')}/cgroup.procs`);
const MiB = 1 << 20;
/** launch_cgroup.h HostMemoryLimit and HostPidsLimit. */
const hostMemory = (limit: number): number => Math.max(limit, MiB) + Math.max(Math.floor(limit / 4), 32 * MiB) + 128 * MiB;
const hostPids = (n: number): number => n * 2 + 64;
/** A host process of the test's own, outside every container. */
const spawnSleep = () => spawn('sleep', ['600'], { stdio: 'ignore' });
const read = (dir: string, f: string) => fs.readFileSync(`${dir}/${f}`, 'utf8').trim();

describe.skipIf(!v1)('linux.resources: the sandbox in a host cgroup', () => {
  let dir = '';
  let rootfs = '';
  let t: Cli;
  let n = 0;
  let hog = '';

  beforeAll(async () => {
    dir = tmp('resources');
    rootfs = await makeRootfs(path.join(dir, 'rootfs'));
    hog = compileGuest('hog', 'static', { srcDir: path.join(__dirname, 'guests') });
    fs.copyFileSync(hog, path.join(rootfs, 'bin', 'hog'));
    fs.chmodSync(path.join(rootfs, 'bin', 'hog'), 0o755);
    t = cli(path.join(dir, 'state'));
  });

  afterAll(async () => {
    for (const id of (await t.run(['list', '-q'])).stdout.split('\n').filter(Boolean)) await t.run(['delete', '--force', id]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const bundle = (edit: (c: any) => void) => makeBundle(path.join(dir, `b${++n}`), edit, rootfs);

  it('Sentry, Gofer and stub inside, limited as the config says; update changes it; delete removes it', async () => {
    const b = await bundle((c) => {
      c.process.args = ['sleep', '1000'];
      c.linux.resources = { memory: { limit: 64 * MiB }, pids: { limit: 32 }, cpu: { shares: 512, quota: 50000, period: 100000 } };
    });
    expect((await t.detached(['create', '--bundle', b, 'r1'], b)).status).toBe(0);
    expect((await t.run(['start', 'r1'])).status).toBe(0);
    const sentry = JSON.parse((await t.run(['state', 'r1'])).stdout).pid as number;
    const mem = `${cgroupOf('memory', 'self')}/tssandbox-${sentry}`;
    const pids = `${cgroupOf('pids', 'self')}/tssandbox-${sentry}`;
    const cpu = `${cgroupOf('cpu', 'self')}/tssandbox-${sentry}`;
    expect(Number(read(mem, 'memory.limit_in_bytes'))).toBe(hostMemory(64 * MiB));
    expect(Number(read(pids, 'pids.max'))).toBe(hostPids(32));
    expect(read(cpu, 'cpu.cfs_quota_us')).toBe('50000');
    expect(read(cpu, 'cpu.shares')).toBe('512');
    // Everything of the sandbox is inside: the Sentry, its Gofer, its stubs.
    const kids = descendants(sentry).filter((p) => !/tss-cg-reaper/.test(fs.readFileSync(`/proc/${p}/comm`, 'utf8')));
    expect(kids.length).toBeGreaterThanOrEqual(2);
    for (const p of [sentry, ...kids]) {
      expect(cgroupOf('memory', p)).toBe(mem);
      expect(cgroupOf('pids', p)).toBe(pids);
      expect(cgroupOf('cpu', p)).toBe(cpu);
    }
    expect((await t.run(['update', '--memory', '96m', '--pids-limit', '50', '--cpu-quota', '20000', 'r1'])).status).toBe(0);
    expect(Number(read(mem, 'memory.limit_in_bytes'))).toBe(hostMemory(96 * MiB));
    expect(Number(read(pids, 'pids.max'))).toBe(hostPids(50));
    expect(read(cpu, 'cpu.cfs_quota_us')).toBe('20000');
    expect((await t.run(['delete', '--force', 'r1'])).status).toBe(0);
    await waitFor(() => !fs.existsSync(mem) && !fs.existsSync(pids) && !fs.existsSync(cpu));
    expect(alive(sentry)).toBe(false);
  });

  it('no cpu limit at create: in a cpu cgroup all the same, one reaper; update --cpu-quota applies', async () => {
    const b = await bundle((c) => (c.process.args = ['sleep', '1000']));
    expect((await t.detached(['create', '--bundle', b, 'r5'], b)).status).toBe(0);
    expect((await t.run(['start', 'r5'])).status).toBe(0);
    const sentry = JSON.parse((await t.run(['state', 'r5'])).stdout).pid as number;
    const cpu = `${cgroupOf('cpu', 'self')}/tssandbox-${sentry}`;
    expect(cgroupOf('cpu', sentry)).toBe(cpu);
    expect(read(cpu, 'cpu.cfs_quota_us')).toBe('-1');
    const reapers = descendants(sentry).filter((p) => /tss-cg-reaper/.test(fs.readFileSync(`/proc/${p}/comm`, 'utf8')));
    expect(reapers.length).toBe(1);
    const u = await t.run(['update', '--cpu-quota', '30000', '--cpu-period', '100000', 'r5']);
    expect(u.status, u.stderr).toBe(0);
    expect(read(cpu, 'cpu.cfs_quota_us')).toBe('30000');
    expect(read(cpu, 'cpu.cfs_period_us')).toBe('100000');
    expect((await t.run(['delete', '--force', 'r5'])).status).toBe(0);
    await waitFor(() => !fs.existsSync(cpu));
    expect(alive(reapers[0])).toBe(false);
  });

  it('host cgroup writes and delete\'s kills reach only a cgroup filesystem, never through a link', async () => {
    const b = await bundle((c) => {
      c.process.args = ['sleep', '1000'];
      c.linux.resources = { memory: { limit: 64 * MiB } };
    });
    expect((await t.detached(['run', '-d', '--bundle', b, 'r6'], b)).status).toBe(0);
    const file = path.join(t.root, 'r6', 'state.json');
    const saved = fs.readFileSync(file, 'utf8');
    const real = JSON.parse(saved).cgroup as { memory: string; pids: string };
    const limit = read(real.memory, 'memory.limit_in_bytes');
    // A plain directory with the files a cgroup has.
    const fake = path.join(dir, 'fake-cg');
    fs.mkdirSync(fake);
    fs.writeFileSync(path.join(fake, 'memory.limit_in_bytes'), 'untouched\n');
    fs.writeFileSync(path.join(fake, 'memory.memsw.limit_in_bytes'), 'untouched\n');
    // One whose limit file is a link to the real cgroup's.
    const linked = path.join(dir, 'linked-cg');
    fs.mkdirSync(linked);
    fs.symlinkSync(path.join(real.memory, 'memory.limit_in_bytes'), path.join(linked, 'memory.limit_in_bytes'));
    for (const d of [fake, linked]) {
      fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(saved), cgroup: { ...real, memory: d } }));
      const u = await t.run(['update', '--memory', '32m', 'r6']);
      expect(u.status).not.toBe(0);
      expect(u.stderr).toMatch(/^tssandbox: cannot update the container's cgroup \(errno \d+\)\n$/);
    }
    expect(fs.readFileSync(path.join(fake, 'memory.limit_in_bytes'), 'utf8')).toBe('untouched\n');
    expect(read(real.memory, 'memory.limit_in_bytes')).toBe(limit);
    // delete kills what a cgroup's cgroup.procs lists: a fake one's list is not read.
    const bystander = spawnSleep();
    fs.writeFileSync(path.join(fake, 'cgroup.procs'), `${bystander.pid}\n`);
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(saved), cgroup: { ...real, pids: fake } }));
    const d = await cli(t.root, RUNTIME).run(['delete', '--force', 'r6']);
    expect(d.status, d.stderr).toBe(0);
    expect(alive(bystander.pid!)).toBe(true);
    bystander.kill('SIGKILL');
    await waitFor(() => !fs.existsSync(real.memory));
    // The real pids leaf, which that state.json no longer named, is empty (every task of
    // the sandbox went with the memory leaf). The sandbox's cgroup reaper may have removed
    // it before delete's kill reached the reaper too; if not, the test removes it.
    try {
      expect(fs.readFileSync(path.join(real.pids, 'cgroup.procs'), 'utf8')).toBe('');
      fs.rmdirSync(real.pids);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  });

  it('memory past the limit: the guest is OOM-killed in the host cgroup and that is the container\'s exit; without a limit it is not', async () => {
    const b = await bundle((c) => {
      c.process.args = ['hog', '400'];
      c.linux.resources = { memory: { limit: 16 * MiB } };
    });
    const r = await spawnAsync(BIN, ['--root', t.root, 'run', '--bundle', b, 'r2'], { input: '', timeout: 120_000 });
    expect(r.stdout).not.toContain('done');
    expect(r.status).toBe(137);
    await t.run(['delete', '--force', 'r2']);
    const free = await bundle((c) => (c.process.args = ['hog', '400']));
    const ok = await spawnAsync(BIN, ['--root', t.root, 'run', '--bundle', free, 'r3'], { input: '', timeout: 120_000 });
    expect(ok.stdout).toBe('done\n');
    expect(ok.status).toBe(0);
  });

  it('a fork bomb stops at the pids limit; the sandbox goes on', async () => {
    const b = await bundle((c) => {
      c.process.args = ['sh', '-c', '(while :; do sleep 30 & done) 2>/dev/null; set -- /proc/[0-9]*; echo procs=$#; echo still-here'];
      c.linux.resources = { pids: { limit: 16 } };
    });
    const r = await spawnAsync(BIN, ['--root', t.root, 'run', '--bundle', b, 'r4'], { input: '', timeout: 120_000 });
    const procs = Number(/procs=(\d+)/.exec(r.stdout)?.[1]);
    expect(r.stdout, r.stderr).toContain('procs=');
    expect(procs).toBeGreaterThan(1);
    expect(procs).toBeLessThanOrEqual(16);
    expect(r.stdout).toContain('still-here');
    expect(r.status).toBe(0);
  });
});
