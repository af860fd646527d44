/**
 * --strace: one line per syscall on stderr, like strace -f:
 *   [pid 3] openat(AT_FDCWD, "/etc/passwd", 0x80000) = 3 <0.000021>
 * Arguments are decoded from a small signature table (s: string, d: int, u: unsigned,
 * x: hex/pointer, o: octal mode, f: dirfd); results show errno names.
 */
import type { Task } from '../kernel/task';
import type { SyscallTracer } from '../kernel/sentry';
import { syscallName } from '../../syscalls/table';
import { errnoName } from '../abi/errno';

const SIG: Record<string, string> = {
  read: 'dxu', write: 'dxu', open: 'sxo', close: 'd', stat: 'sx', fstat: 'dx', lstat: 'sx', poll: 'xud',
  lseek: 'ddd', mmap: 'xuxxdx', mprotect: 'xux', munmap: 'xu', brk: 'x', rt_sigaction: 'dxxu',
  rt_sigprocmask: 'dxxu', ioctl: 'dxx', pread64: 'dxud', pwrite64: 'dxud', readv: 'dxd', writev: 'dxd',
  access: 'so', pipe: 'x', select: 'dxxxx', mremap: 'xuuxx', madvise: 'xud', dup: 'd', dup2: 'dd',
  nanosleep: 'xx', getpid: '', getppid: '', gettid: '', socket: 'ddd', connect: 'dxd', clone: 'xxxxx',
  fork: '', vfork: '', execve: 'sxx', exit: 'd', wait4: 'dxdx', kill: 'dd', uname: 'x', fcntl: 'ddx',
  getcwd: 'xu', chdir: 's', fchdir: 'd', rename: 'ss', mkdir: 'so', rmdir: 's', unlink: 's',
  symlink: 'ss', readlink: 'sxu', chmod: 'so', umask: 'o', getrlimit: 'dx', getuid: '', getgid: '',
  geteuid: '', getegid: '', setpgid: 'dd', getpgrp: '', setsid: '', arch_prctl: 'xx', exit_group: 'd',
  getdents64: 'dxu', set_tid_address: 'x', clock_gettime: 'dx', clock_nanosleep: 'ddxx', tgkill: 'ddd',
  openat: 'fsxo', mkdirat: 'fso', newfstatat: 'fsxx', unlinkat: 'fsx', renameat: 'fsfs', readlinkat: 'fsxu',
  faccessat: 'fso', faccessat2: 'fsox', pipe2: 'xx', dup3: 'ddx', prlimit64: 'ddxx', getrandom: 'xux',
  statx: 'fsxxx', rseq: 'xuxx', set_robust_list: 'xu', futex: 'xddxxd', sched_getaffinity: 'dux',
  sysinfo: 'x', getppid_: '', wait: '', rt_sigreturn: '', sigaltstack: 'xx', prctl: 'dxxxx',
  execveat: 'fsxxx', chroot: 's', truncate: 'sd', ftruncate: 'dd', getdents: 'dxu', fsync: 'd',
};

export class StraceTracer implements SyscallTracer {
  constructor(private readonly out: (line: string) => void) {}

  enter(_t: Task): void {}

  /** The sandbox's own exec of the first program, as strace shows it first. */
  execLine(tid: number, path: string, argv: string[], envCount: number): void {
    const args = argv.map((a) => JSON.stringify(a)).join(', ');
    this.out(`[pid ${tid}] execve(${JSON.stringify(path)}, [${args}], 0x0 /* ${envCount} vars */) = 0`);
  }

  block(t: Task): void {
    this.out(`[pid ${t.tid}] ${syscallName(t.sysno)}(${this.args(t)} <unfinished ...>`);
  }

  exit(t: Task, result: number): void {
    const name = syscallName(t.sysno);
    const dur = t.sysStartNs ? (t.kernel.nowNs() - t.sysStartNs) / 1e9 : 0;
    const head = t.resumed ? `<... ${name} resumed>` : `${name}(${this.args(t)})`;
    this.out(`[pid ${t.tid}] ${head} = ${this.result(name, result)} <${dur.toFixed(6)}>`);
  }

  private args(t: Task): string {
    const sig = SIG[syscallName(t.sysno)] ?? 'xxx';
    const parts: string[] = [];
    for (let i = 0; i < sig.length; i++) parts.push(this.arg(t, sig[i], t.args[i]));
    return parts.join(', ');
  }

  private arg(t: Task, kind: string, v: number): string {
    switch (kind) {
      case 's': {
        if (v === 0) return 'NULL';
        const s = t.mem.readCString(v, 4096);
        return s === null ? `0x${v.toString(16)}` : JSON.stringify(s.length > 64 ? s.slice(0, 64) + '...' : s);
      }
      case 'd':
        return String(v | 0);
      case 'u':
        return String(v);
      case 'o':
        return '0' + ((v | 0) >>> 0).toString(8);
      case 'f':
        return (v | 0) === -100 ? 'AT_FDCWD' : String(v | 0);
      default:
        return v === 0 ? '0' : v < 0 ? String(v) : `0x${v.toString(16)}`;
    }
  }

  private result(name: string, r: number): string {
    if (r < 0 && r > -4096) return `-1 ${errnoName(-r)}`;
    if (name === 'mmap' || name === 'brk' || name === 'mremap') return `0x${r.toString(16)}`;
    if (r <= -0x100000) return name === 'execve' || name === 'execveat' ? '0' : '?';
    return String(r);
  }
}
