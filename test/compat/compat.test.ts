/**
 * Compatibility classes of issue 15: guest C programs (test/compat/guests) built static and
 * dynamic, run natively and under `tssandbox run`, stdout compared with Linux's.
 */
import * as nfs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileGuest, LINKAGES } from '../helpers/build';
import { GUESTS_DIR } from '../helpers/paths';
import { expectSameAsNative, explain, runNative, runSandbox, sandboxCommand, spawnCollect } from '../helpers/run';
import { tmpDirs } from '../helpers/tmp';

const mkTmp = tmpDirs();

const SRC = path.join(__dirname, 'guests');
const build = (name: string, l: (typeof LINKAGES)[number]) => compileGuest(name, l, { srcDir: SRC, flags: ['-I', GUESTS_DIR] });

/** The guest run natively under `prefix` (fresh namespaces) and in the sandbox: same stdout, both exit 0. */
async function sameAsNativeIn(prefix: string[], name: string, l: (typeof LINKAGES)[number]): Promise<void> {
  const bin = build(name, l);
  const [native, sandbox] = await Promise.all([runNative([...prefix, bin], { timeoutMs: 25_000 }), runSandbox([bin], { timeoutMs: 25_000 })]);
  expect(native.code, explain(native)).toBe(0);
  expect(sandbox.stdout, explain(sandbox)).toBe(native.stdout);
  expect(sandbox.code, explain(sandbox)).toBe(0);
}

describe('compat guests match Linux', () => {
  for (const name of ['cp_sendfile', 'cp_clone', 'cp_stdin', 'cp_misc', 'cp_usage', 'cp_procsys', 'cp_aio', 'cp_keys', 'cp_fallocate', 'cp_maps_ids', 'cp_statm', 'cp_sockmode', 'cp_sockaddr', 'cp_mem_exec']) {
    for (const l of LINKAGES) {
      it(`${name} (${l})`, async () => {
        await expectSameAsNative([build(name, l)], { timeoutMs: 25_000 });
      }, 40_000);
    }
  }
});

describe.skipIf(process.getuid?.() !== 0)('credentials once privileges are dropped', () => {
  for (const l of LINKAGES) {
    it(`cp_creds (${l}): capsets, keepcaps, ambient, exec, enforced as Linux`, async () => {
      await expectSameAsNative([build('cp_creds', l)], { timeoutMs: 25_000 });
    }, 40_000);
    it(`cp_dumpable (${l}): set*id and set-id execs end dumpability (prctl, /proc owners, ptrace attach, AT_SECURE)`, async () => {
      await expectSameAsNative([build('cp_dumpable', l)], { timeoutMs: 25_000 });
    }, 40_000);
  }
});

/** The host's fs.protected_* and suid_dumpable, to compare with only where they are the sandbox's. */
const hostProtected = ['protected_hardlinks', 'protected_symlinks', 'protected_fifos', 'protected_regular', 'suid_dumpable']
  .map((n) => { try { return nfs.readFileSync(`/proc/sys/fs/${n}`, 'latin1').trim(); } catch { return '?'; } }).join(',');

describe.skipIf(process.getuid?.() !== 0 || hostProtected !== '1,0,0,0,0')('fs.protected_* in /proc/sys/fs are the rules in force', () => {
  for (const l of LINKAGES) {
    it(`cp_protected (${l}): hard links restricted, sticky-directory symlinks, fifos and files not`, async () => {
      const { sandbox } = await expectSameAsNative([build('cp_protected', l)], { timeoutMs: 25_000 });
      expect(sandbox.stdout).toContain('protected_hardlinks = 1\n');
    }, 40_000);
  }
});

describe.skipIf(process.getuid?.() !== 0)('reboot and acct', () => {
  for (const l of LINKAGES) {
    it(`cp_reboot (${l}): EPERM without the capability, magic checked, a pid namespace's init ended by RESTART/HALT`, async () => {
      await expectSameAsNative([build('cp_reboot', l)], { timeoutMs: 25_000 });
    }, 40_000);
  }
  it('RESTART in the sandbox\'s own pid namespace ends the run as a SIGHUP of its init (a container\'s answer)', async () => {
    const r = await runSandbox([build('cp_reboot', 'static'), 'top'], { timeoutMs: 25_000 });
    expect(r.stdout, explain(r)).toBe('top reboot CAD_ON: -1 EINVAL\n');
    expect(r.code, explain(r)).toBe(128 + 1);
  }, 40_000);
});

describe.skipIf(process.getuid?.() !== 0)('SCHED_DEADLINE', () => {
  for (const l of LINKAGES) {
    // Unpinned, the guest sees the host's CPUs, which the bandwidth limit is counted on; natively
    // one run at a time (the admitted bandwidth is the host's).
    it(`cp_deadline (${l}): parameters, EPERM unprivileged or in a user namespace, admission and EBUSY, no fork, as Linux`, async () => {
      const bin = build('cp_deadline', l);
      const native = await runNative([bin], { timeoutMs: 25_000 });
      const sandbox = await runSandbox(['--no-pin', bin], { timeoutMs: 25_000 });
      expect(native.code, explain(native)).toBe(0);
      expect(sandbox.stdout, explain(sandbox)).toBe(native.stdout);
      expect(sandbox.code, explain(sandbox)).toBe(0);
      // The sandbox's own bandwidth starts empty: as many 50% tasks as fit in 95% of each CPU.
      const cpus = Math.min(31, Math.max(1, os.availableParallelism()));
      expect(sandbox.stderr).toContain(`admitted: ${Math.floor((95 * cpus) / 50)}\n`);
    }, 60_000);
  }
});

describe.skipIf(process.getuid?.() !== 0)('errno paths across the syscall table', () => {
  for (const l of LINKAGES) {
    it(`cp_errno (${l}): EFAULT, EBADF, EINVAL, ENOTDIR, EISDIR, ELOOP, ENAMETOOLONG, EMFILE, EACCES/EPERM as Linux`, async () => {
      await expectSameAsNative([build('cp_errno', l)], { timeoutMs: 25_000 });
    }, 40_000);
  }
});

describe.skipIf(process.getuid?.() !== 0 || !nfs.existsSync('/usr/bin/unshare'))('errno paths, second batch', () => {
  for (const l of LINKAGES) {
    // Natively in a new IPC namespace: its SysV keys and ids start as the sandbox's do.
    it(`cp_errno2 (${l}): wait/kill/prctl/sched, mmap/mprotect/mremap/madvise/mlock as Linux`,
      () => sameAsNativeIn(['unshare', '-i'], 'cp_errno2', l), 40_000);
    it(`cp_errno2b (${l}): timers, SysV IPC, xattrs as Linux`, () => sameAsNativeIn(['unshare', '-i'], 'cp_errno2b', l), 40_000);
  }
});

describe.skipIf(process.getuid?.() !== 0 || !nfs.existsSync('/usr/bin/unshare'))('errno paths, third batch: the rest of the table', () => {
  for (const l of LINKAGES) {
    // Natively in new IPC and pid namespaces: message queues start empty, and acct(2) turned
    // on there records only that namespace's processes, never the host's.
    it(`cp_errno3 (${l}): files, vectors, events, ids, pidfds, acct, reboot, mempolicy, AIO as Linux`,
      () => sameAsNativeIn(['unshare', '-ipf'], 'cp_errno3', l), 40_000);
    it(`cp_errno4 (${l}): message queues, keys, sockets as Linux`, () => sameAsNativeIn(['unshare', '-i'], 'cp_errno4', l), 40_000);
    it(`cp_errno5 (${l}): exit, exit_group, rt_sigreturn; sysfs, ioprio, close_range, RWF_* flags (and per iocb), setns(pidfd), kcmp, device nodes, syslog, ustat, clone3; capabilities dropped as Linux`,
      () => sameAsNativeIn(['unshare', '-ipf'], 'cp_errno5', l), 40_000);
  }
});

describe.skipIf(process.getuid?.() !== 0 || !nfs.existsSync('/usr/bin/unshare'))('acct(2): process accounting records', () => {
  for (const l of LINKAGES) {
    // Natively in a new pid namespace, whose accounting file is its own.
    it(`cp_acct (${l}): struct acct_v3 per ended process (AFORK, ASU, AXSIG, tty, status, ids, comm), off, switched file`,
      () => sameAsNativeIn(['unshare', '-pf'], 'cp_acct', l), 40_000);
    it(`cp_acct_su (${l}): ASU only where a capability decided the call (ids, owners, limits and mode bits first)`,
      () => sameAsNativeIn(['unshare', '-pf'], 'cp_acct_su', l), 40_000);
    // Under script(1): the terminal is a host pty, natively and passed through to the sandbox.
    it.skipIf(!nfs.existsSync('/usr/bin/script'))(`cp_acct_tty (${l}): ac_tty and tty_nr of the host terminal passed through are its number`, async () => {
      const bin = build('cp_acct_tty', l);
      const q = (a: string[]) => a.map((x) => `'${x.replace(/'/g, `'\\''`)}'`).join(' ');
      const sb = sandboxCommand([bin]);
      const [native, sandbox] = await Promise.all([
        runNative(['/usr/bin/script', '-qec', q(['unshare', '-pf', bin]), '/dev/null'], { timeoutMs: 25_000 }),
        spawnCollect(['/usr/bin/script', '-qec', q(sb.argv), '/dev/null'], sb.env, { timeoutMs: 25_000 }),
      ]);
      expect(native.stdout, explain(native)).toContain('ac_tty is the terminal\'s: yes');
      expect(sandbox.stdout.replace(/\r/g, ''), explain(sandbox)).toBe(native.stdout.replace(/\r/g, ''));
      expect(sandbox.code, explain(sandbox)).toBe(0);
    }, 40_000);
  }
});

describe('guest seccomp: filters, every action, strict mode, TSYNC, inheritance', () => {
  for (const l of LINKAGES) {
    it(`cp_seccomp (${l})`, async () => {
      await expectSameAsNative([build('cp_seccomp', l)], { timeoutMs: 25_000 });
    }, 40_000);
    it(`cp_seccomp_addfd (${l}): NOTIF_ADDFD puts the supervisor's fds in the caller's table`, async () => {
      const { sandbox } = await expectSameAsNative([build('cp_seccomp_addfd', l)], { timeoutMs: 25_000 });
      expect(sandbox.stdout).toContain('pipe got: w3;w5;w100;');
    }, 40_000);
    it(`cp_seccomp_notify (${l}): USER_NOTIF answered by a supervisor`, async () => {
      await expectSameAsNative([build('cp_seccomp_notify', l)], { timeoutMs: 25_000 });
    }, 40_000);
  }
});

describe.skipIf(process.getuid?.() !== 0 || !nfs.existsSync('/usr/bin/unshare') || !nfs.existsSync('/usr/bin/ipcs'))('SysV IPC: shm, sem, msg, /proc/sysvipc, ipcs', () => {
  for (const l of LINKAGES) {
    // Natively in a new IPC namespace, so its ids and ipcs listing start empty as the sandbox's do.
    it(`cp_sysvipc (${l}) matches Linux in a fresh IPC namespace`, () => sameAsNativeIn(['unshare', '-i'], 'cp_sysvipc', l), 40_000);
  }
});

describe.skipIf(process.getuid?.() !== 0 || !nfs.existsSync('/usr/bin/unshare'))('POSIX message queues and the mqueue filesystem', () => {
  for (const l of LINKAGES) {
    it(`cp_mqueue (${l}) matches Linux in fresh IPC and mount namespaces`, () => sameAsNativeIn(['unshare', '-im'], 'cp_mqueue', l), 40_000);
    it(`cp_mq_thread (${l}): SIGEV_THREAD through glibc's netlink helper, as Linux`, () => sameAsNativeIn(['unshare', '-im'], 'cp_mq_thread', l), 40_000);
    it(`cp_mq_owner (${l}): mq_notify's registration ends when its process closes any fd of the queue (dup2, exec, exit) as Linux`, () => sameAsNativeIn(['unshare', '-im'], 'cp_mq_owner', l), 40_000);
  }
  it('/dev/mqueue is the sandbox\'s mqueue filesystem', async () => {
    const r = await runSandbox(['/bin/sh', '-c', 'stat -c %A /dev/mqueue; grep " /dev/mqueue " /proc/mounts']);
    expect(r.stdout, explain(r)).toBe('drwxrwxrwt\nmqueue /dev/mqueue mqueue rw,nosuid,nodev,noexec 0 0\n');
  });
});

describe.skipIf(process.getuid?.() !== 0 || !nfs.existsSync('/usr/bin/unshare'))('fanotify (notification class, fd events)', () => {
  for (const l of LINKAGES) {
    it(`cp_fanotify (${l}): inode and mount marks, open/modify/close, merging, ignore masks, errors`, () =>
      sameAsNativeIn(['unshare', '-m'], 'cp_fanotify', l), 40_000);
  }
});

describe('sanitizer runtimes (huge MAP_NORESERVE shadows, their own signal and thread machinery)', () => {
  for (const [name, flag] of [['cp_asan', '-fsanitize=address'], ['cp_tsan', '-fsanitize=thread']] as const) {
    it(`${name}: the report's summary and the exit status are Linux's`, async () => {
      const bin = compileGuest(name, 'dynamic', { srcDir: SRC, flags: [flag, '-g', '-O0'] });
      const [native, sandbox] = await Promise.all([runNative([bin], { timeoutMs: 30_000 }), runSandbox([bin], { timeoutMs: 30_000 })]);
      const summary = (s: string) => s.split('\n').filter((l) => l.startsWith('SUMMARY:'));
      expect(summary(native.stderr).length, explain(native)).toBe(1);
      expect(summary(sandbox.stderr), explain(sandbox)).toEqual(summary(native.stderr));
      expect(sandbox.code, explain(sandbox)).toBe(native.code);
    }, 45_000);
  }
});

describe.skipIf(!nfs.existsSync('/usr/bin/valgrind'))('valgrind inside', () => {
  it('--trace-children follows a shell into a crashing program: the same report as outside', async () => {
    const bin = compileGuest('cp_gdb_crash', 'dynamic', { srcDir: SRC, flags: ['-g', '-O0'] });
    const argv = ['/usr/bin/valgrind', '-q', '--trace-children=yes', '/bin/sh', '-c', `echo child; ${bin}`];
    const [native, sandbox] = await Promise.all([runNative(argv, { timeoutMs: 60_000 }), runSandbox(argv, { timeoutMs: 60_000 })]);
    const report = (s: string) => s.split('\n').filter((l) => /^==\d+==/.test(l)).map((l) => l.replace(/^==\d+==/, '==PID=='));
    expect(report(native.stderr).some((l) => l.includes('depth3 (cp_gdb_crash.c:')), explain(native)).toBe(true);
    expect(report(sandbox.stderr), explain(sandbox)).toEqual(report(native.stderr));
    expect(sandbox.stdout, explain(sandbox)).toBe(native.stdout);
    expect(sandbox.code, explain(sandbox)).toBe(native.code);
  }, 90_000);
});

describe.skipIf(!nfs.existsSync('/usr/bin/java'))('Java with ZGC', () => {
  it('starts (a multi-mapped heap in a memfd, uncommitted by punching holes) with no GC error', async () => {
    const r = await runSandbox(['/usr/bin/java', '-XX:+UseZGC', '-Xmx256m', '-version'], { timeoutMs: 60_000 });
    expect(r.code, explain(r)).toBe(0);
    expect(r.stderr, explain(r)).toMatch(/OpenJDK .*VM/);
    expect(r.stderr, explain(r)).not.toMatch(/\[error\]/);
  }, 90_000);
});

const PG = '/usr/lib/postgresql/15/bin';
describe.skipIf(process.getuid?.() !== 0 || !nfs.existsSync(`${PG}/initdb`) || !nfs.existsSync('/usr/bin/setpriv'))('PostgreSQL inside', () => {
  it('initdb, a server (SysV + POSIX shared memory, semaphores), a query, a clean stop', async () => {
    // As Debian's scripts do: drop to the postgres user with setpriv (keepcaps, setres*id, capset).
    const script = [
      'set -e', 'mkdir /tmp/pg && chown postgres /tmp/pg',
      'run() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }',
      `run ${PG}/initdb -D /tmp/pg -A trust >/dev/null 2>&1`,
      `run ${PG}/pg_ctl -D /tmp/pg -l /tmp/pg/log -o "-k /tmp -c listen_addresses=''" -w start >/dev/null`,
      'run /usr/bin/psql -h /tmp -d postgres -Atc "create table t(a int); insert into t select generate_series(1,1000); select count(*), sum(a) from t;"',
      `run ${PG}/pg_ctl -D /tmp/pg -m fast -w stop >/dev/null`, 'echo stopped',
    ].join('\n');
    const r = await runSandbox(['/bin/sh', '-c', script], { timeoutMs: 90_000 });
    expect(r.stdout, explain(r)).toBe('CREATE TABLE\nINSERT 0 1000\n1000|500500\nstopped\n');
    expect(r.code, explain(r)).toBe(0);
  }, 120_000);
});

/** A hand-built ELF: one PT_LOAD (R+X) holding header and code, no sections; writes, exits 42. */
function tinyElf(bssPages: number): Buffer {
  const base = 0x400000n;
  const msg = Buffer.from('tiny elf\n');
  const codeOff = 64 + 56;
  const code = (msgAddr: bigint) => {
    const c = Buffer.alloc(46);
    Buffer.from([0xb8, 1, 0, 0, 0, 0xbf, 1, 0, 0, 0, 0x48, 0xbe]).copy(c, 0); // mov eax,1; mov edi,1; movabs rsi,
    c.writeBigUInt64LE(msgAddr, 12);
    c[20] = 0xba; c.writeUInt32LE(msg.length, 21); // mov edx,len
    Buffer.from([0x0f, 0x05, 0xb8, 60, 0, 0, 0, 0xbf, 42, 0, 0, 0, 0x0f, 0x05]).copy(c, 25); // syscall; exit(42)
    return c.subarray(0, 39);
  };
  const body = Buffer.concat([code(base + BigInt(codeOff + 39)), msg]);
  const filesz = BigInt(codeOff + body.length);
  const eh = Buffer.alloc(64);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(eh, 0);
  eh.writeUInt16LE(2, 16); eh.writeUInt16LE(62, 18); eh.writeUInt32LE(1, 20);
  eh.writeBigUInt64LE(base + BigInt(codeOff), 24); eh.writeBigUInt64LE(64n, 32);
  eh.writeUInt16LE(64, 52); eh.writeUInt16LE(56, 54); eh.writeUInt16LE(1, 56);
  const ph = Buffer.alloc(56);
  ph.writeUInt32LE(1, 0); ph.writeUInt32LE(5, 4);
  ph.writeBigUInt64LE(base, 16); ph.writeBigUInt64LE(base, 24);
  ph.writeBigUInt64LE(filesz, 32); ph.writeBigUInt64LE(filesz + BigInt(bssPages * 4096), 40);
  ph.writeBigUInt64LE(0x1000n, 48);
  return Buffer.concat([eh, ph, body]);
}

describe('rseq, membarrier, mlock, ioprio, NUMA policy', () => {
  for (const l of LINKAGES) {
    it(`cp_rseq (${l}): registration and the rest as Linux`, async () => {
      // glibc registers rseq itself at start: turned off here, so the guest registers its own.
      await expectSameAsNative([build('cp_rseq', l)], { timeoutMs: 25_000, env: { GLIBC_TUNABLES: 'glibc.pthread.rseq=0' } });
    }, 40_000);
    it(`cp_rseq (${l}): glibc's own registration succeeds`, async () => {
      await expectSameAsNative([build('cp_rseq', l), 'glibc'], { timeoutMs: 25_000 });
    }, 40_000);
  }
});

describe('exec of a minimal hand-built ELF', () => {
  for (const bss of [0, 3]) {
    it(`one PT_LOAD, no sections${bss ? ', with bss' : ''}: runs and exits like Linux`, async () => {
      const dir = mkTmp('tss-tiny-');
      const p = path.join(dir, 'tiny');
      nfs.writeFileSync(p, tinyElf(bss), { mode: 0o755 });
      await expectSameAsNative([p], { timeoutMs: 15_000 });
      await expectSameAsNative(['/bin/sh', '-c', `${p}; echo status $?`], { timeoutMs: 15_000 });
    }, 40_000);
  }
});

describe.skipIf(!nfs.existsSync('/usr/bin/time'))('/usr/bin/time -v reports real figures', () => {
  it('user time, maximum RSS, page faults and context switches are not zero', async () => {
    const bin = build('cp_usage', 'dynamic');
    const r = await runSandbox(['/usr/bin/time', '-v', bin], { timeoutMs: 25_000 });
    expect(r.code, explain(r)).toBe(0);
    const num = (label: string) => Number(new RegExp(`${label}[^:]*: ([0-9.]+)`).exec(r.stderr)?.[1] ?? NaN);
    expect(num('User time'), explain(r)).toBeGreaterThan(0.05);
    expect(num('Maximum resident set size'), explain(r)).toBeGreaterThan(40 * 1024);
    expect(num('Minor \\(reclaiming a frame\\) page faults'), explain(r)).toBeGreaterThan(1000);
    expect(num('Voluntary context switches') + num('Involuntary context switches'), explain(r)).toBeGreaterThan(0);
    expect(num('File system outputs'), explain(r)).toBe(0);
  }, 40_000);
});

describe('/proc and /sys agree with the sandbox and its limits', () => {
  it('ptrace, pinned (its default): one CPU everywhere the guest looks', async () => {
    const r = await runSandbox(['--platform=ptrace', '/bin/sh', '-c', 'nproc; getconf _NPROCESSORS_ONLN; grep -c ^processor /proc/cpuinfo; cat /sys/devices/system/cpu/online']);
    expect(r.stdout, explain(r)).toBe('1\n1\n1\n0\n');
  });

  it('systrap (never pinned): the host\'s CPUs, the same count everywhere', async () => {
    const r = await runSandbox(['--platform=systrap', '/bin/sh', '-c', 'nproc; getconf _NPROCESSORS_ONLN; grep -c ^processor /proc/cpuinfo']);
    const n = Math.min(31, os.availableParallelism());
    expect(r.stdout, explain(r)).toBe(`${n}\n${n}\n${n}\n`);
  });

  it('--no-pin: the host\'s CPUs, the same count everywhere', async () => {
    const r = await runSandbox(['--platform=ptrace', '--no-pin', '/bin/sh', '-c', 'nproc; getconf _NPROCESSORS_ONLN; grep -c ^processor /proc/cpuinfo']);
    const n = Math.min(31, os.availableParallelism());
    expect(r.stdout, explain(r)).toBe(`${n}\n${n}\n${n}\n`);
  });

  it('/sys/fs/cgroup is a cgroup v2 root carrying --memory and --pids-limit', async () => {
    const r = await runSandbox(['--memory', '64m', '--pids-limit', '50', '/bin/sh', '-c',
      'cd /sys/fs/cgroup && cat memory.max pids.max cgroup.controllers && head -1 cgroup.procs && test "$(cat pids.current)" -ge 1 && test "$(cat memory.current)" -gt 0 && echo ok']);
    expect(r.stdout, explain(r)).toBe('67108864\n50\ncpuset cpu io memory pids\n1\nok\n');
    const d = await runSandbox(['/bin/sh', '-c', 'cat /sys/fs/cgroup/memory.max /proc/self/cgroup']);
    expect(d.stdout, explain(d)).toBe('max\n0::/\n');
  });
});
