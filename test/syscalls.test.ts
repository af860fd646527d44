/**
 * Foundation syscall families: each guest in test/guests is built static and
 * dynamic, run natively and under `tssandbox run`, and the outputs compared.
 * Guests whose output depends on the sandbox's identity (pid 1, uname) are
 * checked against the expected values instead.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { compileGuest, LINKAGES, type Linkage } from './helpers/build';
import { explain, expectSameAsNative, runNative, runSandbox, status } from './helpers/run';

/** Guests whose whole stdout must equal the native run. */
const COMPARED = [
  'fileio',
  'stat',
  'getdents',
  'mm',
  'mm_shared_file',
  'mm_advice',
  'fork_wait',
  'pipe_fork',
  'execve',
  'signals',
  'time',
  'getrandom',
  'threads',
  'dup_fcntl',
  'enosys',
];

const bins: Record<string, string> = {};
const bin = (name: string, l: Linkage) => bins[`${name}.${l}`];

beforeAll(() => {
  for (const name of [...COMPARED, 'identity', 'uname']) {
    for (const l of LINKAGES) bins[`${name}.${l}`] = compileGuest(name, l);
  }
});

for (const name of COMPARED) {
  describe(name, () => {
    for (const l of LINKAGES) {
      it(`${l}: output equals native`, async () => {
        const { sandbox } = await expectSameAsNative([bin(name, l)], { timeoutMs: 25_000 });
        expect(sandbox.stdout).toMatch(/done\n$/);
      });
    }
  });
}

describe('identity (pid namespace)', () => {
  for (const l of LINKAGES) {
    it(`${l}: first process is pid 1, child pids are the Sentry's`, async () => {
      const [native, sb] = await Promise.all([runNative([bin('identity', l)]), runSandbox([bin('identity', l)])]);
      expect(status(sb), explain(sb)).toBe(0);
      const ns = (s: string) => s.split('\n').filter((x) => x.startsWith('ns: '));
      const rest = (s: string) => s.split('\n').filter((x) => !x.startsWith('ns: ')).join('\n');
      // Everything not namespace-dependent matches the native run.
      expect(rest(sb.stdout), explain(sb)).toBe(rest(native.stdout));
      const lines = ns(sb.stdout);
      expect(lines[0], explain(sb)).toBe('ns: pid=1 ppid=0 tid=1');
      const child = /^ns: child pid=(\d+) ppid=(\d+)$/.exec(lines[1] ?? '');
      const forked = /^ns: fork returned (\d+)$/.exec(lines[2] ?? '');
      expect(child, explain(sb)).not.toBeNull();
      expect(forked, explain(sb)).not.toBeNull();
      expect(Number(child![1])).toBeGreaterThan(1);
      expect(Number(child![2])).toBe(1);
      expect(child![1]).toBe(forked![1]);
    });
  }
});

describe('uname', () => {
  for (const l of LINKAGES) {
    it(`${l}: reports the sandbox identity`, async () => {
      const sb = await runSandbox([bin('uname', l)]);
      expect(status(sb), explain(sb)).toBe(0);
      expect(sb.stdout, explain(sb)).toBe(
        [
          'sysname=Linux',
          'nodename=tssandbox',
          'release=6.1.0-tssandbox',
          'machine=x86_64',
          'version non-empty: yes',
          'hostname=tssandbox',
          'uname bad pointer: EFAULT',
          'done',
          '',
        ].join('\n'),
      );
    });
  }
});
