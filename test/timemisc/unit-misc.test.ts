import { describe, it, expect } from 'vitest';
import { fakeTask, BASE, BAD } from './fake-task';
import * as misc from '../../syscalls/misc';
import * as creds from '../../syscalls/creds';
import * as sched from '../../syscalls/sched';
import { Limits, parseProcLimits, RLIM_INFINITY, limitsOf, RLIMIT_NOFILE } from '../../src/kernel/limits';

const EINVAL = -22, EFAULT = -14, EPERM = -1, ESRCH = -3, EACCES = -13;
const NO = 0xffffffff;

describe('uname / hostname', () => {
  it('uname fields and sethostname', () => {
    const t = fakeTask();
    expect(misc.uname(t, BASE)).toBe(0);
    const field = (i: number) => t.mem.read(BASE + 65 * i, 65)!.toString('latin1').replace(/\0.*$/s, '');
    expect(field(0)).toBe('Linux');
    expect(field(1)).toBe(t.kernel.hostname);
    expect(field(4)).toBe('x86_64');
    expect(misc.uname(t, BAD)).toBe(EFAULT);
    t.mem.write(BASE + 1000, Buffer.from('guestbox'));
    expect(misc.sethostname(t, BASE + 1000, 8)).toBe(0);
    misc.uname(t, BASE);
    expect(field(1)).toBe('guestbox');
    expect(misc.sethostname(t, BASE + 1000, 65)).toBe(EINVAL);
    expect(misc.sethostname(t, BASE + 1000, -1)).toBe(EINVAL);
    expect(misc.sethostname(t, BAD, 5)).toBe(EFAULT);
    expect(misc.setdomainname(t, BASE + 1000, 5)).toBe(0);
    misc.uname(t, BASE);
    expect(field(5)).toBe('guest');
    const u = fakeTask(1000);
    expect(misc.sethostname(u, BASE + 1000, 8)).toBe(EPERM);
    t.kernel.hostname = 'tssandbox';
  });
});

describe('getrandom / sysinfo / personality', () => {
  it('getrandom fills, validates flags, faults', () => {
    const t = fakeTask();
    expect(misc.getrandom(t, BASE, 256, 0)).toBe(256);
    expect(t.mem.read(BASE, 256)!.equals(Buffer.alloc(256))).toBe(false);
    expect(misc.getrandom(t, BASE, 16, 1)).toBe(16);
    expect(misc.getrandom(t, BASE, 16, 2)).toBe(16);
    expect(misc.getrandom(t, BASE, 16, 6)).toBe(EINVAL);
    expect(misc.getrandom(t, BASE, 16, 8)).toBe(EINVAL);
    expect(misc.getrandom(t, BAD, 16, 0)).toBe(EFAULT);
    expect(misc.getrandom(t, BASE, 0, 0)).toBe(0);
    // Runs off the end of memory: partial count.
    expect(misc.getrandom(t, BASE + 0x10000 - 5000, 100000, 0)).toBe(5000);
  });

  it('sysinfo', () => {
    const t = fakeTask();
    expect(misc.sysinfo(t, BASE)).toBe(0);
    const b = t.mem.read(BASE, 112)!;
    expect(b.readBigUInt64LE(32)).toBeGreaterThan(1n << 20n);
    expect(b.readUInt32LE(104)).toBe(1);
    expect(b.readUInt16LE(80)).toBeGreaterThan(0);
    expect(misc.sysinfo(t, BAD)).toBe(EFAULT);
  });

  it('personality', () => {
    const t = fakeTask();
    expect(misc.personality(t, 0xffffffff)).toBe(0);
    expect(misc.personality(t, 0x0040000)).toBe(0);
    expect(misc.personality(t, -1)).toBe(0x0040000);
  });
});

describe('credentials', () => {
  it('root setuid drops everything; unprivileged rules', () => {
    const t = fakeTask();
    expect(creds.setuid(t, 1000)).toBe(0);
    expect([t.creds.uid, t.creds.euid, t.creds.suid, t.creds.fsuid]).toEqual([1000, 1000, 1000, 1000]);
    expect(creds.setuid(t, 0)).toBe(EPERM);
    expect(creds.setuid(t, -1)).toBe(EINVAL);
    expect(creds.setgid(t, 5)).toBe(EPERM);
  });

  it('seteuid round trip keeps the saved root', () => {
    const t = fakeTask();
    expect(creds.setresuid(t, -1, 1000, -1)).toBe(0);
    expect([t.creds.uid, t.creds.euid, t.creds.suid]).toEqual([0, 1000, 0]);
    expect(creds.setgid(t, 7)).toBe(EPERM); // no CAP_SETGID with euid != 0
    expect(creds.setresuid(t, -1, 0, -1)).toBe(0);
    expect(t.creds.euid).toBe(0);
    expect(creds.setgid(t, 7)).toBe(0);
    expect([t.creds.gid, t.creds.egid, t.creds.sgid]).toEqual([7, 7, 7]);
  });

  it('setreuid saved-id rule and setfsuid', () => {
    const t = fakeTask();
    t.creds.uid = 1; t.creds.euid = 2; t.creds.suid = 3; t.creds.fsuid = 2;
    expect(creds.setreuid(t, 2, -1)).toBe(0); // ruid may become euid
    expect([t.creds.uid, t.creds.euid, t.creds.suid]).toEqual([2, 2, 2]);
    const u = fakeTask();
    u.creds.uid = 1; u.creds.euid = 2; u.creds.suid = 3; u.creds.fsuid = 2;
    expect(creds.setreuid(u, -1, 3)).toBe(0); // euid from suid, != ruid -> suid = euid
    expect([u.creds.uid, u.creds.euid, u.creds.suid]).toEqual([1, 3, 3]);
    expect(creds.setreuid(u, 9, -1)).toBe(EPERM);
    expect(creds.setfsuid(u, 77)).toBe(3);
    expect(u.creds.fsuid).toBe(3);
    expect(creds.setfsuid(u, 1)).toBe(3);
    expect(u.creds.fsuid).toBe(1);
    expect(creds.setfsuid(u, -1)).toBe(1);
    expect(creds.setresuid(u, 5, -1, -1)).toBe(EPERM);
  });

  it('getres*id, groups', () => {
    const t = fakeTask();
    expect(creds.getresuid(t, BASE, BASE + 4, BASE + 8)).toBe(0);
    expect(creds.getresuid(t, BASE, BAD, BASE + 8)).toBe(EFAULT);
    expect(creds.getgroups(t, 0, 0)).toBe(0);
    t.mem.write(BASE, Buffer.from([30, 0, 0, 0, 10, 0, 0, 0, 20, 0, 0, 0]));
    expect(creds.setgroups(t, 3, BASE)).toBe(0);
    expect(creds.getgroups(t, 0, 0)).toBe(3);
    expect(creds.getgroups(t, 2, BASE + 100)).toBe(EINVAL);
    expect(creds.getgroups(t, -1, BASE + 100)).toBe(EINVAL);
    expect(creds.getgroups(t, 3, BASE + 100)).toBe(3);
    expect([0, 4, 8].map((o) => t.mem.readU32(BASE + 100 + o))).toEqual([10, 20, 30]);
    expect(creds.setgroups(t, 70000, BASE)).toBe(EINVAL);
    expect(creds.setgroups(t, 1, BAD)).toBe(EFAULT);
    const u = fakeTask(1000);
    expect(creds.setgroups(u, 0, 0)).toBe(EPERM);
    expect(creds.getuid(u)).toBe(1000);
  });

  it('capget / capset', () => {
    const t = fakeTask();
    const H = BASE, D = BASE + 64;
    t.mem.writeU32(H, 0x20080522);
    t.mem.writeI32(H + 4, 0);
    expect(creds.capget(t, H, D)).toBe(0);
    expect(t.mem.readU32(D)).toBe(0xffffffff);
    expect(t.mem.readU32(D + 12)).toBe(0x1ff);
    // Unknown version: EINVAL and header rewritten; NULL data probes with 0.
    t.mem.writeU32(H, 1);
    expect(creds.capget(t, H, D)).toBe(EINVAL);
    expect(t.mem.readU32(H)).toBe(0x20080522);
    t.mem.writeU32(H, 1);
    expect(creds.capget(t, H, 0)).toBe(0);
    // Drop everything but CAP_SETUID (7) from effective.
    t.mem.writeU32(H, 0x20080522);
    t.mem.write(D, Buffer.alloc(24));
    t.mem.writeU32(D, 1 << 7);
    t.mem.writeU32(D + 4, 0xffffffff);
    t.mem.writeU32(D + 16, 0x1ff);
    expect(creds.capset(t, H, D)).toBe(0);
    expect(creds.capget(t, H, D + 100)).toBe(0);
    expect(t.mem.readU32(D + 100)).toBe(1 << 7);
    expect(creds.setgroups(t, 0, 0)).toBe(EPERM); // CAP_SETGID gone
    // Cannot regain a permitted bit once dropped.
    t.mem.writeU32(D + 4, 0);
    t.mem.writeU32(D + 16, 0);
    t.mem.writeU32(D, 0);
    expect(creds.capset(t, H, D)).toBe(0);
    t.mem.writeU32(D + 4, 1);
    expect(creds.capset(t, H, D)).toBe(EPERM);
    const u = fakeTask(1000);
    t.mem.writeU32(H + 4, u.tid);
    expect(creds.capset(t, H, D)).toBe(EPERM);
    expect(creds.capget(t, H, D)).toBe(0);
    expect(t.mem.readU32(D)).toBe(0);
  });
});

describe('limits', () => {
  it('parses /proc/self/limits', () => {
    const txt = require('fs').readFileSync('/proc/self/limits', 'latin1');
    const l = parseProcLimits(txt)!;
    expect(l.length).toBe(16);
    expect(l[3].cur).toBeGreaterThan(0n);
  });

  it('Limits.set rules and fork copies', () => {
    const l = new Limits();
    expect(l.set(7, { cur: 10n, max: 5n }, true)).toBe(EINVAL);
    expect(l.set(7, { cur: 10n, max: 2_000_000n }, true)).toBe(EPERM);
    expect(l.set(7, { cur: 10n, max: 100n }, false)).toBe(0);
    expect(l.set(7, { cur: 10n, max: 101n }, false)).toBe(EPERM);
    const c = l.fork();
    expect(c.set(7, { cur: 50n, max: 50n }, false)).toBe(0);
    expect(l.get(7)).toEqual({ cur: 10n, max: 100n });
    expect(c.soft(7)).toBe(50);
    expect(new Limits().hard(9)).toBe(Infinity);
  });

  it('getrlimit / setrlimit / prlimit64', () => {
    const t = fakeTask(1000);
    expect(misc.getrlimit(t, 7, BASE)).toBe(0);
    const cur = t.mem.read(BASE, 16)!.readBigUInt64LE(0);
    expect(BigInt(limitsOf(t.tg).soft(RLIMIT_NOFILE))).toBe(cur);
    expect(misc.getrlimit(t, 16, BASE)).toBe(EINVAL);
    expect(misc.getrlimit(t, 7, BAD)).toBe(EFAULT);
    const b = Buffer.alloc(16);
    b.writeBigUInt64LE(64n, 0);
    b.writeBigUInt64LE(128n, 8);
    t.mem.write(BASE + 32, b);
    expect(misc.setrlimit(t, 7, BASE + 32)).toBe(0);
    b.writeBigUInt64LE(256n, 8);
    t.mem.write(BASE + 32, b);
    expect(misc.setrlimit(t, 7, BASE + 32)).toBe(EPERM);
    expect(misc.setrlimit(t, 7, BAD)).toBe(EFAULT);
    expect(misc.prlimit64(t, 0, 7, 0, BASE + 64)).toBe(0);
    expect(t.mem.read(BASE + 64, 16)!.readBigUInt64LE(8)).toBe(128n);
    expect(misc.prlimit64(t, 999999, 7, 0, BASE + 64)).toBe(ESRCH);
    const root = fakeTask(0);
    expect(misc.prlimit64(t, root.tid, 7, 0, BASE + 64)).toBe(EPERM);
    expect(misc.prlimit64(root, t.tid, 7, 0, BASE + 64)).toBe(0);
    expect(misc.prlimit64(t, 0, 99, 0, BASE + 64)).toBe(EINVAL);
    b.writeBigUInt64LE(RLIM_INFINITY, 0);
    b.writeBigUInt64LE(RLIM_INFINITY, 8);
    root.mem.write(BASE, b);
    expect(misc.prlimit64(root, 0, 9, BASE, 0)).toBe(0);
  });

  it('getrusage', () => {
    const t = fakeTask();
    const end = Date.now() + 20;
    while (Date.now() < end);
    expect(misc.getrusage(t, 0, BASE)).toBe(0);
    const b = t.mem.read(BASE, 144)!;
    const user = b.readBigInt64LE(0) * 1_000_000n + b.readBigInt64LE(8);
    expect(user).toBeGreaterThan(0n);
    expect(b.readBigInt64LE(32)).toBeGreaterThan(0n); // maxrss kB
    expect(misc.getrusage(t, 1, BASE)).toBe(0);
    expect(misc.getrusage(t, -1, BASE)).toBe(0);
    expect(misc.getrusage(t, 2, BASE)).toBe(EINVAL);
    expect(misc.getrusage(t, 0, BAD)).toBe(EFAULT);
  });
});

describe('sched', () => {
  it('affinity', () => {
    const t = fakeTask();
    expect(sched.sched_getaffinity(t, 0, 128, BASE)).toBe(32);
    expect(t.mem.read(BASE, 8)!.readBigUInt64LE(0)).toBe(3n);
    expect(sched.sched_getaffinity(t, 0, 4, BASE)).toBe(EINVAL);
    expect(sched.sched_getaffinity(t, 0, 0, BASE)).toBe(EINVAL);
    expect(sched.sched_getaffinity(t, 999999, 8, BASE)).toBe(ESRCH);
    expect(sched.sched_getaffinity(t, 0, 8, BAD)).toBe(EFAULT);
    t.mem.write(BASE, Buffer.from([2, 0, 0, 0, 0, 0, 0, 0]));
    expect(sched.sched_setaffinity(t, 0, 8, BASE)).toBe(0);
    expect(sched.getcpu(t, BASE + 16, BASE + 20)).toBe(0);
    expect(t.mem.readU32(BASE + 16)).toBe(1);
    t.mem.write(BASE, Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]));
    expect(sched.sched_setaffinity(t, 0, 8, BASE)).toBe(EINVAL);
    expect(sched.sched_setaffinity(t, 0, 8, BAD)).toBe(EFAULT);
    const u = fakeTask(1000);
    t.mem.write(BASE, Buffer.from([1]));
    expect(sched.sched_setaffinity(u, t.tid, 1, BASE)).toBe(EPERM);
  });

  it('policies and priorities', () => {
    const t = fakeTask();
    expect(sched.sched_get_priority_max(t, 1)).toBe(99);
    expect(sched.sched_get_priority_min(t, 2)).toBe(1);
    expect(sched.sched_get_priority_max(t, 0)).toBe(0);
    expect(sched.sched_get_priority_max(t, 4)).toBe(EINVAL);
    expect(sched.sched_getscheduler(t, 0)).toBe(0);
    t.mem.writeI32(BASE, 10);
    expect(sched.sched_setscheduler(t, 0, 1, BASE)).toBe(0);
    expect(sched.sched_getscheduler(t, 0)).toBe(1);
    expect(sched.sched_getparam(t, 0, BASE + 8)).toBe(0);
    expect(t.mem.readI32(BASE + 8)).toBe(10);
    expect(sched.sched_setscheduler(t, 0, 0, BASE)).toBe(EINVAL); // OTHER needs prio 0
    expect(sched.sched_setparam(t, 0, 0)).toBe(EINVAL);
    expect(sched.sched_getparam(t, -1, BASE)).toBe(EINVAL);
    expect(sched.sched_rr_get_interval(t, 0, BASE)).toBe(0);
    expect(t.mem.i64(BASE + 8)).toBe(0n); // FIFO: 0
    const u = fakeTask(1000);
    u.mem.writeI32(BASE, 10);
    expect(sched.sched_setscheduler(u, 0, 1, BASE)).toBe(EPERM);
    u.mem.writeI32(BASE, 0);
    expect(sched.sched_setscheduler(u, t.tid, 0, BASE)).toBe(EPERM);
  });

  it('getpriority / setpriority', () => {
    const u = fakeTask(1000);
    expect(sched.getpriority(u, 0, 0)).toBe(20);
    expect(sched.setpriority(u, 0, 0, 5)).toBe(0);
    expect(sched.getpriority(u, 0, 0)).toBe(15);
    expect(sched.setpriority(u, 0, 0, 2)).toBe(EACCES);
    expect(sched.setpriority(u, 0, 0, 100)).toBe(0);
    expect(sched.getpriority(u, 0, 0)).toBe(1);
    expect(sched.setpriority(u, 3, 0, 0)).toBe(EINVAL);
    expect(sched.getpriority(u, 0, 999999)).toBe(ESRCH);
    const r = fakeTask(0);
    expect(sched.setpriority(u, 0, r.tid, 5)).toBe(EPERM);
    expect(sched.setpriority(r, 0, 0, -5)).toBe(0);
    expect(sched.getpriority(r, 0, 0)).toBe(25);
  });
});
void NO;
