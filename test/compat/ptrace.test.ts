/**
 * Guest ptrace (issue 15): a C tracer compared with Linux, and the real tracers
 * (strace -f, gdb -batch) run inside the sandbox, their output compared with the same
 * commands run natively.
 */
import * as nfs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileGuest, LINKAGES } from '../helpers/build';
import { GUESTS_DIR } from '../helpers/paths';
import { expectSameAsNative, explain, runNative, runSandbox } from '../helpers/run';

const SRC = path.join(__dirname, 'guests');
const build = (name: string, l: (typeof LINKAGES)[number], flags: string[] = []) =>
  compileGuest(name, l, { srcDir: SRC, flags: ['-I', GUESTS_DIR, ...flags] });

describe('ptrace from a guest tracer', () => {
  for (const l of LINKAGES) {
    it(`cp_ptrace (${l}): stops, registers, memory, events, signals, steps`, async () => {
      await expectSameAsNative([build('cp_ptrace', l)], { timeoutMs: 25_000 });
    }, 40_000);
    it(`cp_ptrace_seize (${l}): SEIZE, INTERRUPT, LISTEN, group-stops, auto-attach`, async () => {
      const { sandbox } = await expectSameAsNative([build('cp_ptrace_seize', l)], { timeoutMs: 25_000 });
      expect(sandbox.stdout).toContain('group-stop: stopped sig 19 event 128');
    }, 40_000);
    it(`cp_ptrace_gaps (${l}): PEEKSIGINFO, PTRACE_EVENT_EXIT on death by a signal, a group-stop of every thread`, async () => {
      const { sandbox } = await expectSameAsNative([build('cp_ptrace_gaps', l, ['-pthread'])], { timeoutMs: 25_000 });
      expect(sandbox.stdout).toContain('exit: dying: stopped sig 5 event 6');
      expect(sandbox.stdout).toContain('group: every thread reported: yes');
    }, 40_000);
  }
});

/** One traced process per block, in pid order (strace -ff writes one file per process). */
const STRACE = (bin: string, extra = '') => [
  '/bin/sh', '-c',
  `d=$(mktemp -d) && strace -ff -qq ${extra} -e signal=none -e trace=openat,execve -o "$d/tr" ${bin} && ` +
  `for f in $(ls "$d" | sort -t. -k2 -n); do echo "== $f" | sed 's/[0-9]*$//'; sed 's/0x[0-9a-f]* \\/\\* [0-9]* vars \\*\\//ENV/' "$d/$f"; done; rm -rf "$d"`,
];

describe.skipIf(!nfs.existsSync('/usr/bin/strace'))('strace -f inside the sandbox', () => {
  for (const l of LINKAGES) {
    it(`traces the same openat/execve calls as outside (${l})`, async () => {
      const bin = build('cp_strace_target', l);
      const { sandbox } = await expectSameAsNative(STRACE(bin), { timeoutMs: 30_000 });
      expect(sandbox.stdout, explain(sandbox)).toContain('openat(AT_FDCWD, "/etc/group", O_RDONLY|O_CLOEXEC) = 3');
      expect(sandbox.stdout).toContain('"/nonexistent-tss-file", O_RDONLY) = -1 ENOENT');
    }, 45_000);
  }
  it('with --seccomp-bpf (a guest filter returning SECCOMP_RET_TRACE to its tracer): the same', async () => {
    const { sandbox } = await expectSameAsNative(STRACE(build('cp_strace_target', 'dynamic'), '--seccomp-bpf'), { timeoutMs: 30_000 });
    expect(sandbox.stdout, explain(sandbox)).toContain('openat(AT_FDCWD, "/etc/group", O_RDONLY|O_CLOEXEC) = 3');
  }, 45_000);
});

describe.skipIf(!nfs.existsSync('/usr/bin/gdb'))('gdb -batch inside the sandbox', () => {
  it('runs a crashing program and prints the same backtrace as outside', async () => {
    const bin = build('cp_gdb_crash', 'dynamic', ['-g', '-O0']);
    const argv = ['/usr/bin/gdb', '-nx', '-batch', '-ex', 'run', '-ex', 'bt', bin];
    const [native, sandbox] = await Promise.all([runNative(argv, { timeoutMs: 40_000 }), runSandbox(argv, { timeoutMs: 40_000 })]);
    const frames = (s: string) => s.split('\n').filter((x) => /^#\d|^Program received/.test(x));
    expect(frames(native.stdout).length, explain(native)).toBeGreaterThanOrEqual(5);
    expect(frames(sandbox.stdout), explain(sandbox)).toEqual(frames(native.stdout));
  }, 60_000);

  it('stops at a breakpoint (int3 written through /proc/PID/mem), shows registers, continues to the crash: as outside', async () => {
    const bin = build('cp_gdb_crash', 'dynamic', ['-g', '-O0']);
    const argv = ['/usr/bin/gdb', '-nx', '-batch', '-ex', 'break depth2', '-ex', 'run', '-ex', 'bt', '-ex', 'info registers rip', '-ex', 'continue', bin];
    const [native, sandbox] = await Promise.all([runNative(argv, { timeoutMs: 40_000 }), runSandbox(argv, { timeoutMs: 40_000 })]);
    // Thread-debugging notes ("[Thread debugging using libthread_db enabled]") aside, every line.
    const lines = (s: string) => s.split('\n').filter((x) => !x.startsWith('[') && !x.includes('libthread_db'));
    expect(lines(native.stdout).some((l) => l.startsWith('Breakpoint 1, depth2')), explain(native)).toBe(true);
    expect(lines(sandbox.stdout), explain(sandbox)).toEqual(lines(native.stdout));
  }, 60_000);
});
