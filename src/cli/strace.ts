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
  lseek: 'dDd', mmap: 'xuxxdx', mprotect: 'xux', munmap: 'xu', brk: 'x', rt_sigaction: 'dxxu',
  rt_sigprocmask: 'dxxu', ioctl: 'dxx', pread64: 'dxuD', pwrite64: 'dxuD', readv: 'dxd', writev: 'dxd',
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
  execveat: 'fsxxx', chroot: 's', truncate: 'sD', ftruncate: 'dD', getdents: 'dxu', fsync: 'd',
};

/** A guest string (latin1: one char per byte) as strace quotes it: C escapes, \\xNN for other bytes. */
export function quote(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) out += '\\' + s[i];
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x0d) out += '\\r';
    else if (c >= 0x20 && c < 0x7f) out += s[i];
    else out += '\\x' + c.toString(16).padStart(2, '0');
  }
  return out + '"';
}

export class StraceTracer implements SyscallTracer {
  constructor(private readonly out: (line: string) => void) {}

  enter(_t: Task): void {}

  /** The sandbox's own exec of the first program, as strace shows it first. */
  execLine(tid: number, path: string, argv: string[], envCount: number): void {
    const args = argv.map((a) => quote(a)).join(', ');
    this.out(`[pid ${tid}] execve(${quote(path)}, [${args}], 0x0 /* ${envCount} vars */) = 0`);
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
    for (let i = 0; i < sig.length; i++) parts.push(this.arg(t, sig[i], t.args[i], t.rawArg(i)));
    return parts.join(', ');
  }

  /** One argument by kind: s string, d int, D signed 64-bit, u unsigned 64-bit, o octal, f dirfd, x hex (64 bits whole). */
  private arg(t: Task, kind: string, v: number, raw: bigint): string {
    switch (kind) {
      case 's': {
        if (v === 0) return 'NULL';
        const s = t.mem.readCString(v, 4096);
        return s === null ? `0x${raw.toString(16)}` : quote(s.length > 64 ? s.slice(0, 64) : s) + (s.length > 64 ? '...' : '');
      }
      case 'd':
        return String(Number(BigInt.asIntN(32, raw)));
      case 'D':
        return BigInt.asIntN(64, raw).toString();
      case 'u':
        return BigInt.asUintN(64, raw).toString();
      case 'o':
        return '0' + Number(BigInt.asUintN(32, raw)).toString(8);
      case 'f':
        return Number(BigInt.asIntN(32, raw)) === -100 ? 'AT_FDCWD' : String(Number(BigInt.asIntN(32, raw)));
      default:
        return raw === 0n ? '0' : `0x${BigInt.asUintN(64, raw).toString(16)}`;
    }
  }

  private result(name: string, r: number): string {
    if (r < 0 && r > -4096) return `-1 ${errnoName(-r)}`;
    if (name === 'mmap' || name === 'brk' || name === 'mremap') return `0x${r.toString(16)}`;
    if (r <= -0x100000) return name === 'execve' || name === 'execveat' ? '0' : '?';
    return String(r);
  }
}
