// The kvm platform (src/platform/kvm, native/kvm): the probe, static and dynamic guests,
// threads and fork compared with Linux, memory calls and signals without any stub, and what a guest can
// do to the machinery (the shim's pages, page tables, privileged instructions). Skipped,
// with the probe's reason in the suite's name, where /dev/kvm is missing or unusable.
// These run --platform=kvm whatever TSSANDBOX_PLATFORM says (kvm is not in the default list).
import { describe, expect, it } from 'vitest';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { compileGuest } from '../helpers/build';
import { explain, hasStackTrace, runCli, runNative, runSandbox } from '../helpers/run';
import { BIN } from '../helpers/paths';

const SRC = path.join(__dirname, 'guests');

/** argv natively and on kvm: the same output and status (which must be `code`); the sandbox's stdout. */
async function sameAsLinux(argv: string[], code = 0): Promise<string> {
  const [n, s] = await Promise.all([runNative(argv), runSandbox(['--platform=kvm', ...argv], { timeoutMs: 120_000 })]);
  expect(n.code).toBe(code);
  expect(s.code, explain(s)).toBe(code);
  expect(s.stdout).toBe(n.stdout);
  expect(hasStackTrace(s.stderr)).toBe(false);
  return s.stdout;
}

/** `tssandbox platforms`' kvm line: works (with its cost) or why not. */
function kvmLine(): string {
  const out = execFileSync(process.execPath, [BIN, 'platforms'], { encoding: 'utf8', timeout: 120_000 });
  return out.split('\n').find((l) => l.startsWith('kvm ')) ?? 'kvm      (no line)';
}
const line = kvmLine();
const works = /^kvm\s+works/.test(line);
const title = works ? 'platform kvm' : `platform kvm (skipped: ${line.replace(/^kvm\s+/, '')})`;

describe('platform kvm: the probe', () => {
  it('`tssandbox platforms` lists kvm with its measured exit cost or one reason, and never as the default', async () => {
    const r = await runCli(['platforms']);
    expect(r.code, explain(r)).toBe(0);
    const kvm = r.stdout.split('\n').find((l) => l.startsWith('kvm '));
    expect(kvm).toMatch(/^kvm\s+(works \(one guest syscall as a KVM exit and back: \d+\.\d us here; kvm_\w+: (PVM|VMX|SVM), syscalls (exit from ring 3|through the ring-0 shim)\)|unavailable: \S.*)$/);
    expect(kvm).not.toMatch(/\(default\)/);
    expect(r.stdout).toMatch(/^(ptrace|systrap)\s+works.*\(default\)$/m);
  });
});

describe.skipIf(!works)(title, () => {
  it('runs a static -nostdlib guest (write, a bad pointer, getpid, exit_group) as Linux does', async () => {
    const guest = compileGuest('kvm_nostdlib', 'static', { srcDir: SRC, flags: ['-nostdlib', '-fno-stack-protector', '-fno-pie', '-no-pie'] });
    expect(await sameAsLinux([guest], 7)).toBe('hello from a nostdlib guest\nwrite(bad)=-14 pidy\n');
  });

  it('memory calls and signals as on Linux: malloc, mmap/munmap/mprotect/mremap/madvise, file mappings, handlers', async () => {
    const guest = compileGuest('kvm_memory', 'static', { srcDir: SRC });
    expect(await sameAsLinux([guest])).toMatch(/write to read-only: signal 11 at page 4\n/);
  });

  it('runs a dynamic glibc program (/bin/echo) as Linux does', async () => {
    expect(await sameAsLinux(['/bin/echo', 'hello', 'kvm'])).toBe('hello kvm\n');
  });

  it('threads are vCPUs of one VM: syscalls, a mutex, memory and FP state as on Linux', async () => {
    const guest = compileGuest('kvm_threads', 'static', { srcDir: SRC });
    expect(await sameAsLinux([guest])).toMatch(/^threads joined: total 1600, getpid calls 1600, pages abcd\n/);
  });

  it('TLB shootdown: a thread spinning on a page faults once its sibling munmaps or protects it, as on Linux', async () => {
    const guest = compileGuest('kvm_shootdown', 'static', { srcDir: SRC });
    expect(await sameAsLinux([guest])).toBe([
      'reader got SIGSEGV MAPERR at the page: yes', 'munmap: child exit 0',
      'reader got SIGSEGV ACCERR at the page: yes', 'mprotect PROT_NONE: child exit 0',
      'reader got SIGSEGV ACCERR at the page: yes', 'mprotect read-only while writing: child exit 0', ''].join('\n'));
  });

  it('FP state read and written (KVM_GET/SET_XSAVE): restored after a handler, inherited by fork and threads, as on Linux', async () => {
    const guest = compileGuest('kvm_fpstate', 'static', { srcDir: SRC, flags: ['-mavx'] });
    expect(await sameAsLinux([guest])).toBe('after the handler: xmm0 42.5\nchild: xmm0 0.0 ymm1[7] 307 mxcsr 0x7f80\nthread mxcsr 0x7f80\n');
  });

  it('vfork and exec (a shell running a command) work', async () => {
    expect(await sameAsLinux(['/bin/sh', '-c', '/bin/echo from-child; echo after'])).toBe('from-child\nafter\n');
  });

  it('fork: private memory private, MAP_SHARED shared, a grandchild, the vDSO in children, as on Linux', async () => {
    const guest = compileGuest('kvm_fork', 'dynamic', { srcDir: SRC });
    expect(await sameAsLinux([guest])).toMatch(/child status 3; parent sees priv 1 shared 3\n$/);
  });

  it('copy-on-write fork: each side\'s writes (its own, the kernel\'s for it, MADV_DONTNEED) private, a second fork and a grandchild, mremap after, as on Linux', async () => {
    const guest = compileGuest('kvm_cow', 'dynamic', { srcDir: SRC });
    expect(await sameAsLinux([guest])).toMatch(/^child: page0 C .*\nsecond child status 4; parent page0 byte1 a\n$/s);
  });

  it('a shell pipeline, subshells and command substitution (fork, vfork, exec, pipes)', async () => {
    const script = 'for i in 1 2 3; do echo $i | wc -c; done; (echo paren); echo "$(echo sub)"';
    expect(await sameAsLinux(['/bin/sh', '-c', script])).toBe('2\n2\n2\nparen\nsub\n');
  });

  it('the guest cannot touch the shim, its page tables or the VMM: every attempt faults, and it runs on', async () => {
    const guest = compileGuest('kvm_escape', 'static', { srcDir: SRC });
    const r = await runSandbox(['--platform=kvm', guest], { timeoutMs: 120_000 });
    expect(r.code, explain(r)).toBe(0);
    const pages = ['shim code', 'IDT', 'state page', 'GDT/TSS', 'PTE queue', 'ring-0 stack', 'page tables (shim window)'];
    expect(r.stdout).toBe([
      ...pages.map((p) => `${p}: write SIGSEGV, read SIGSEGV`),
      'GDT found by sgdt: write SIGSEGV',
      'out: SIGSEGV', 'hlt: SIGSEGV', 'cli: SIGSEGV', 'mov to cr3: SIGSEGV', 'wrmsr LSTAR: SIGSEGV', 'int $0x80: SIGSEGV',
      'out to the syscall port: SIGSEGV', 'in from the syscall port: SIGSEGV', 'out %dx to the syscall port: SIGSEGV',
      'mmap over the shim: refused', 'mmap over the last user page: refused',
      // A jump into the shim's syscall entry is a syscall of its own, answered by the Sentry.
      'jump into the syscall entry with getpid: 1',
      'still running: yes', ''].join('\n'));
  });
});
