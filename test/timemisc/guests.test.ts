/**
 * Time and misc syscalls end to end: guest C programs (test/timemisc/guests) built
 * static and dynamic, run under `tssandbox run` and, where the behaviour is Linux's
 * and safe to run natively as root, compared line for line with a native run.
 * tm_sandbox checks what only makes sense inside (hostname, clock_settime EPERM,
 * capabilities of the guest's root) and refuses to run natively.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileGuest, LINKAGES, type Linkage } from '../helpers/build';
import { GUESTS_DIR } from '../helpers/paths';
import { explain, expectSameAsNative, runNative, runSandbox } from '../helpers/run';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SRC = path.join(HERE, 'guests');
const COMPARED = ['tm_clocks', 'tm_sleep', 'tm_timers', 'tm_timerfd', 'tm_limits_sched'];
const CRED_SCENARIOS = ['', 'setuid', 'seteuid', 'fsuid', 'groups', 'caps'];

const bins: Record<string, string> = {};
const bin = (name: string, l: Linkage) => bins[`${name}.${l}`];

beforeAll(() => {
  for (const name of [...COMPARED, 'tm_creds', 'tm_sandbox', 'tm_threads']) {
    for (const l of LINKAGES) {
      // Output names are prefixed so they cannot collide with test/guests builds.
      bins[`${name}.${l}`] = compileGuest(name, l, { srcDir: SRC, flags: ['-I', GUESTS_DIR, '-lrt'] });
    }
  }
}, 120_000);

for (const name of COMPARED) {
  describe(name, () => {
    for (const l of LINKAGES) {
      it(`${l}: output equals native`, async () => {
        const { sandbox } = await expectSameAsNative([bin(name, l)], { timeoutMs: 30_000 });
        expect(sandbox.stdout).toMatch(/done\n$/);
      }, 40_000);
    }
  });
}

describe('tm_creds (set*id, groups, capabilities as root)', () => {
  for (const l of LINKAGES) {
    for (const sc of CRED_SCENARIOS) {
      it(`${l}: ${sc || 'start'} equals native`, async () => {
        const argv = sc ? [bin('tm_creds', l), sc] : [bin('tm_creds', l)];
        const { sandbox } = await expectSameAsNative(argv, { timeoutMs: 20_000 });
        expect(sandbox.stdout).toMatch(/done\n$/);
      }, 30_000);
    }
  }
});

describe('tm_threads (per-thread creds and CPU clocks, THREAD_ID timers, child CPU)', () => {
  const CHILD = /^(children cpu|tms_cutime)/;
  for (const l of LINKAGES) {
    it(`${l}: equals native (child CPU lines checked apart)`, async () => {
      const [native, sb] = await Promise.all([runNative([bin('tm_threads', l)], { timeoutMs: 30_000 }), runSandbox([bin('tm_threads', l)], { timeoutMs: 30_000 })]);
      const keep = (out: string) => out.split('\n').filter((x) => !CHILD.test(x)).join('\n');
      expect(keep(sb.stdout), explain(sb)).toBe(keep(native.stdout));
      expect(sb.stdout).toMatch(/done\n$/);
    }, 40_000);
    // Needs the lead's reap path to add cpuNsForParent(child) to parent.childrenCpuNs.
    it(`${l}: reaped children's CPU time in getrusage(RUSAGE_CHILDREN) and times()`, async () => {
      const sb = await runSandbox([bin('tm_threads', l)], { timeoutMs: 30_000 });
      expect(sb.stdout, explain(sb)).toContain('children cpu >= 50ms: yes\ntms_cutime+cstime >= 5 ticks: yes\n');
    }, 40_000);
  }
});

describe('tm_sandbox (sandbox-only identity)', () => {
  for (const l of LINKAGES) {
    it(`${l}: hostname, clock, sysinfo, getrandom, capabilities`, async () => {
      const r = await runSandbox([bin('tm_sandbox', l)], { timeoutMs: 20_000 });
      const out = r.stdout;
      expect(out, explain(r)).toMatch(/done\n$/);
      expect(out).toContain('sysname=Linux machine=x86_64 nodename=tssandbox domain=(none)\n');
      expect(out).toContain('nodename now inner-host\ngethostname inner-host\n');
      expect(out).toContain('domainname now example.org\n');
      for (const line of [
        'sethostname 65: EINVAL', 'sethostname -1: EINVAL', 'sethostname (void*)1: EFAULT',
        'clock_settime REALTIME: EPERM', 'settimeofday: EPERM', 'adjtimex ADJ_FREQUENCY: EPERM',
        'uptime < 1h: yes', 'totalram >= freeram > 0: yes', 'mem_unit 1: yes', 'procs >= 1: yes',
        'getrandom 4096 = 4096', 'looks random: yes', 'getrandom flags 0x10: EINVAL',
        'getrandom INSECURE|RANDOM: EINVAL', 'getrandom (void*)1: EFAULT', 'getrandom 0 = 0',
        'caps eff 0xffffffff 0x1ff perm 0xffffffff 0x1ff inh 0', 'raise NOFILE back as root = 0',
      ]) {
        expect(out, explain(r)).toContain(line + '\n');
      }
    }, 30_000);
  }
});
