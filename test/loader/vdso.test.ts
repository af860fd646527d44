// The vDSO the Sentry maps into every image: clocks answered in guest user space from
// the Sentry's own clock page, consistent with the trapped syscalls, not writable.
import { describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { BUILD_DIR } from '../helpers/paths';
import { explain, runSandbox } from '../helpers/run';

const SRC = path.join(__dirname, 'guests', 'vdso.c');

function build(kind: 'static' | 'dynamic'): string {
  fs.mkdirSync(BUILD_DIR, { recursive: true });
  const out = path.join(BUILD_DIR, `vdso.${kind}`);
  if (!fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(SRC).mtimeMs) {
    execFileSync('gcc', ['-O1', ...(kind === 'static' ? ['-static'] : []), '-o', `${out}.tmp${process.pid}`, SRC]);
    fs.renameSync(`${out}.tmp${process.pid}`, out);
  }
  return out;
}

describe.each(['static', 'dynamic'] as const)('vDSO, %s guest', (kind) => {
  it('answers clocks without a trap, agrees with the syscalls, and its page is read-only', async () => {
    const r = await runSandbox(['--strace', build(kind)], { timeoutMs: 60_000 });
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toBe([
      'AT_SYSINFO_EHDR is an ELF image: yes',
      'clock page enabled: yes',
      'monotonic across vDSO and syscall: yes',
      'realtime agrees (syscall, gettimeofday, time): yes',
      'coarse clock is not ahead: yes',
      'mprotect(clock page, PROT_WRITE): EACCES',
      'a write to the clock page: SIGSEGV',
      'clock page still enabled: yes',
      '',
    ].join('\n'));
    // Between the markers: no clock syscall reached the Sentry.
    const trace = r.stderr.split('\n');
    const begin = trace.findIndex((l) => l.includes('getppid('));
    const end = trace.findIndex((l, i) => i > begin && l.includes('getppid('));
    expect(begin, r.stderr.slice(0, 4000)).toBeGreaterThan(0);
    expect(end).toBeGreaterThan(begin);
    const trapped = trace.slice(begin + 1, end).filter((l) => /clock_gettime|gettimeofday|\btime\(/.test(l));
    expect(trapped).toEqual([]);
  });
});

describe('/proc/self/maps', () => {
  it('names the vDSO and its clock page as Linux does', async () => {
    const r = await runSandbox(['/bin/sh', '-c', 'grep -o "\\[v[a-z]*\\]" /proc/self/maps']);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual(['[vvar]', '[vdso]']);
  });
});
