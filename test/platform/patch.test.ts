// systrap's syscall-site patching (native/systrap_patch.cc, native/stub/stub.c st_tramp,
// src/mm/platform-regions.ts): patched sites behave as trapped ones, to the guest and
// to a tracer inside; what a guest does to the window and the trampoline stays its own.
import { describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { compileGuest } from '../helpers/build';
import { explain, runNative, runSandbox } from '../helpers/run';

const SRC = path.join(__dirname, 'guests');
// A site is patched at its first trap here (by default at its 64th: TSSANDBOX_SYSTRAP_PATCH_AFTER).
const on = { TSSANDBOX_PLATFORM: 'systrap', TSSANDBOX_SYSTRAP_PATCH: '1', TSSANDBOX_SYSTRAP_PATCH_AFTER: '1' };
const off = { TSSANDBOX_PLATFORM: 'systrap', TSSANDBOX_SYSTRAP_PATCH: '0' };
// Runs only where systrap is what the suite tests (or the suite is not per platform).
const platform = process.env.TSSANDBOX_PLATFORM;
const d = platform && platform !== 'systrap' ? describe.skip : describe;

d('systrap syscall-site patching', () => {
  it('patched sites in two threads, signalled by a third, with a fourth forking and execing: as trapped ones, and as on Linux', async () => {
    const guest = compileGuest('patch_stress', 'dynamic', { srcDir: SRC, flags: ['-pthread'] });
    const expected = 'signals handled: 200\nforks+execs ok: 8 of 8\nregister or result mismatches: 0\n';
    const native = await runNative([guest], { timeoutMs: 60_000 });
    expect(native.stdout, explain(native)).toBe(expected);
    for (const env of [off, on]) {
      const r = await runSandbox([guest], { env, timeoutMs: 120_000 });
      expect(r.code, explain(r)).toBe(0);
      expect(r.stdout, `TSSANDBOX_SYSTRAP_PATCH=${env.TSSANDBOX_SYSTRAP_PATCH}`).toBe(expected);
    }
  });

  it("glibc's syscall(3) site (the number in rax, `mov 0x8(%rsp),%r9` replayed): arguments, numbers of any size, signals, fork as on Linux", async () => {
    const guest = compileGuest('patch_syscall3', 'dynamic', { srcDir: SRC, flags: ['-pthread'] });
    const expected = (patched: boolean) => [
      'mmap offset 4096 through syscall(3): b',
      'syscall(1000): -1 ENOSYS, syscall(0x12345678): -1 ENOSYS',
      'signals handled: 100',
      'child: 7',
      '/proc/self/mem shows the original site: yes',
      `site patched: ${patched ? 'yes' : 'no'}`,
      'result mismatches: 0', ''].join('\n');
    const native = await runNative([guest], { timeoutMs: 60_000 });
    expect(native.stdout, explain(native)).toBe(expected(false));
    // syscall(3) sites are patched with patching on, unless TSSANDBOX_SYSTRAP_PATCH_RAX=0.
    const offRax = { ...on, TSSANDBOX_SYSTRAP_PATCH_RAX: '0' };
    for (const env of [off, on, offRax]) {
      const r = await runSandbox([guest], { env, timeoutMs: 120_000 });
      expect(r.code, explain(r)).toBe(0);
      expect(r.stdout, JSON.stringify(env)).toBe(expected(env === on));
    }
  });

  it('a guest jumping into the window and the trampoline, moving its gs base, rewriting its patched bytes and going at the window from another thread only makes syscalls the Sentry serves', async () => {
    const guest = compileGuest('patch_attack', 'static', { srcDir: SRC, flags: ['-pthread'] });
    const host = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-patch-'));
    try {
      const r = await runSandbox([guest, host], { env: on, timeoutMs: 60_000 });
      expect(r.code, explain(r)).toBe(0);
      expect(r.stdout).toBe([
        'site patched: yes',
        '/proc/self/mem shows the original bytes: yes',
        'entry holds the site\'s return and number: yes',
        'trampoline getpid -> 1',
        // Served by the Sentry: the file is in the sandbox's overlay, not on the host.
        'trampoline openat(O_CREAT) -> fd, visible in the sandbox: yes',
        'trampoline with number 0xffff -> -38',
        'rax trampoline getpid -> 1',
        'rax trampoline openat(O_CREAT) -> fd, visible in the sandbox: yes',
        'rax trampoline with number 0x12345678 -> -38',
        'window entry getpid -> 1',
        'getpid with gs moved -> 1, memory at gs untouched: yes',
        // The window is a hole the guest cannot fill or reach (src/mm/platform-regions.ts).
        'write window: SIGSEGV',
        'mprotect window rw: ENOMEM',
        'mmap MAP_FIXED over window: ENOMEM',
        'mmap hint at window: moved elsewhere',
        'mremap onto window: EINVAL',
        'write(pipe, window): EFAULT',
        'read(pipe, window): EFAULT',
        'munmap window: ok',
        'patched site after munmap: getpid -> 1',
        'patched syscalls meanwhile wrong: 0',
        'original bytes back: getpid -> 1',
        'aimed through an unused pointer: SIGSEGV',
        'patched bytes back: getpid -> 1',
        'own code patched: yes',
        'new code at that address reads as written: yes, runs: getppid -> 0',
        'done', ''].join('\n'));
      expect(r.stderr).not.toMatch(/internal error|BUG|Error/);
      expect(fs.readdirSync(host)).toEqual([]);
    } finally {
      fs.rmSync(host, { recursive: true, force: true });
    }
  });

  it('the window is claimed per address space: dropped at exec, free for a guest that never had a site patched', async () => {
    const guest = compileGuest('window_free', 'static', { srcDir: SRC, flags: ['-nostdlib', '-fno-stack-protector'] });
    const native = await runNative([guest]);
    expect(native.stdout, explain(native)).toBe('MAP_FIXED at the window address: ok\n');
    // The shell's own syscalls are patched (its address space has the window); the
    // program it execs starts without one.
    const r = await runSandbox(['/bin/sh', '-c', `${guest}; ${guest}`], { env: on });
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toBe('MAP_FIXED at the window address: ok\n'.repeat(2));
  });

  it('strace inside the sandbox shows every syscall of a patched loop, as with patching off and on Linux', async () => {
    if (!fs.existsSync('/usr/bin/strace')) return;
    const guest = compileGuest('patch_stress', 'dynamic', { srcDir: SRC, flags: ['-pthread'] });
    // The child mode: 1000 getppid from the patched site (and one from glibc), then exit 7.
    const count = (out: string) => out.split('\n').filter((l) => /^getppid\(\)\s+= \d+$/.test(l)).length;
    const native = await runNative(['/usr/bin/strace', '-qq', '-e', 'trace=getppid', guest, 'child'], { timeoutMs: 60_000 });
    expect(count(native.stderr), explain(native)).toBe(1001);
    for (const env of [off, on]) {
      const r = await runSandbox(['/usr/bin/strace', '-qq', '-e', 'trace=getppid', guest, 'child'], { env, timeoutMs: 120_000 });
      expect(r.code, explain(r)).toBe(7);
      expect(count(r.stderr), `TSSANDBOX_SYSTRAP_PATCH=${env.TSSANDBOX_SYSTRAP_PATCH}`).toBe(1001);
    }
  });
});
