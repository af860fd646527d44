// Containment of the platform itself (issue 7): what guest code can do to the Sentry's
// own machinery in the stub (the fd hand-over's scratch page, the vsyscall page,
// 32-bit syscalls) and whether the Sentry still hears the host while a guest spins.
import { describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';
import { spawn, type ChildProcess } from 'child_process';
import { compileGuest, LINKAGES } from '../helpers/build';
import { BASE_ENV, explain, GUEST_STUBS, runSandbox, spawnCollect, TEST_PLATFORMS } from '../helpers/run';
import { BIN } from '../helpers/paths';
import { commOf, descendantsOf, expectedStubFds, processAlive, stubsOf } from './stubs';
import { tmpDirs } from '../helpers/tmp';

const SRC = path.join(__dirname, 'guests');

/** Starts `tssandbox run guest args`, resolving once stdout has shown `marker`. */
function startUntil(argv: string[], marker: string): Promise<{ child: ChildProcess; out: () => string }> {
  const child = spawn(process.execPath, [BIN, 'run', ...argv], { stdio: ['pipe', 'pipe', 'pipe'], env: BASE_ENV });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  return new Promise((resolve, reject) => {
    const check = () => {
      if (out.includes(marker)) resolve({ child, out: () => out });
    };
    child.stdout!.on('data', check);
    child.on('exit', (code, sig) => reject(new Error(`exited (${code ?? sig}) before '${marker}': ${out}${err}`)));
  });
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
}

/** Waits (bounded) until none of the processes is alive any more; returns those still alive. */
async function allGone(procs: { pid: number; comm: string }[]): Promise<string[]> {
  const alive = () => procs.filter((p) => processAlive(p.pid, p.comm)).map((p) => `${p.pid} (${p.comm})`);
  for (let i = 0; i < 200 && alive().length; i++) await new Promise((r) => setTimeout(r, 50));
  return alive();
}

// The fd hand-over is injected into stubs (ptrace, systrap); kvm maps host fds in the Sentry.
describe.skipIf(!GUEST_STUBS)('the fd hand-over does not trust guest-writable memory', () => {
  it('a thread rewriting the scratch page steers no injected mmap or close', async () => {
    const guest = compileGuest('scratch_race', 'static', { srcDir: SRC });
    const { child, out } = await startUntil([guest], 'with the file');
    try {
      expect(out()).toBe('mapped 400/400 with the file\'s bytes\n');
      const stubs = stubsOf(child.pid!);
      expect(stubs.length).toBeGreaterThan(1);
      for (const pid of stubs) {
        // The host fds handed over were closed again; the socket is still the stub's.
        const fds = fs.readdirSync(`/proc/${pid}/fd`);
        expect(fds, `fds of stub ${pid}`).toEqual(expectedStubFds(pid));
        if (fds.includes('1001')) expect(fs.readlinkSync(`/proc/${pid}/fd/1001`)).toBe('anon_inode:[eventfd]');
        expect(fs.readlinkSync(`/proc/${pid}/fd/1000`)).toMatch(/^socket:/);
      }
    } finally {
      child.stdin!.end('x');
    }
    expect((await exited(child)).code).toBe(0);
  });
});

const BY_PLATFORM = LINKAGES.flatMap((l) => TEST_PLATFORMS.map((p) => [l, p] as const));

describe.each(BY_PLATFORM)('legacy entry points (%s, %s)', (linkage, platform) => {
  const pf = `--platform=${platform}`;
  const mkTmp = tmpDirs();
  const scratch = () => mkTmp('tss-core-');
  // The Sentry's own core limit is raised: only the stub's own settings keep cores away.
  const unlimited = (cwd: string, args: string[]) =>
    spawnCollect(['/bin/sh', '-c', 'ulimit -c unlimited && exec "$@"', 'sh', process.execPath, BIN, 'run', ...args], BASE_ENV, { cwd });
  const corePattern = fs.readFileSync('/proc/sys/kernel/core_pattern', 'utf8').trim();

  it('calls into the vsyscall page are answered as Linux does, and leave no core file', async () => {
    const guest = compileGuest('vsyscall', linkage, { srcDir: SRC });
    const cwd = scratch();
    const r = await unlimited(cwd, [pf, guest]);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toBe([
      'vsyscall gettimeofday: 0, in order',
      'vsyscall time: result == *arg, in order',
      'vsyscall time(NULL): ok',
      'vsyscall getcpu: 0, cpu same, node same',
      '',
    ].join('\n'));
    if (!corePattern.startsWith('|')) expect(fs.readdirSync(cwd)).toEqual([]);
  });

  it('a jump elsewhere in the vsyscall page is SIGSEGV, without a host core file', async () => {
    const guest = compileGuest('vsyscall', linkage, { srcDir: SRC });
    const cwd = scratch();
    const r = await unlimited(cwd, [pf, guest, 'bad']);
    expect(r.code, explain(r)).toBe(128 + 11);
    expect(r.stdout).toBe('calling 0xffffffffff600100\n');
    if (!corePattern.startsWith('|')) expect(fs.readdirSync(cwd)).toEqual([]);
  });

  it('a bad pointer to a vsyscall is SIGSEGV at the entry, as in Linux', async () => {
    const guest = compileGuest('vsyscall', linkage, { srcDir: SRC });
    const r = await runSandbox([pf, guest, 'fault']);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toBe('SIGSEGV si_code 128, si_addr (nil), rip at the time entry\n');
  });

  it('int $0x80 is refused as on Linux without IA32 emulation (SIGSEGV), never run as a 64-bit call', async () => {
    const guest = compileGuest('int80', linkage, { srcDir: SRC });
    const r = await runSandbox([pf, guest]);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toBe('int $0x80: SIGSEGV si_code 128, rip at the instruction, rax 4, rbx 1\n'.repeat(2));
    const k = await runSandbox([pf, guest, 'nohandler']);
    expect(k.code, explain(k)).toBe(128 + 11);
    expect(k.stdout).toBe('int $0x80 without a handler\n');
  });
});

describe.each(TEST_PLATFORMS)('host signals reach the Sentry whatever the guest does (%s)', (platform) => {
  for (const [sig, status] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
    it(`${sig} ends a guest spinning on getppid(), and its stubs with it`, async () => {
      const guest = compileGuest('spin_getppid', 'static', { srcDir: SRC });
      const { child } = await startUntil([`--platform=${platform}`, guest], 'spinning');
      const stubs = stubsOf(child.pid!);
      expect(stubs.length > 1).toBe(platform !== 'kvm'); // kvm: vCPU threads, no stub
      // Everything the Sentry started: the stubs, the gofer.
      const procs = descendantsOf(child.pid!).map((pid) => ({ pid, comm: commOf(pid) }));
      // Bounded so that a deaf Sentry fails here rather than hanging the suite.
      const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.kill(sig);
      const r = await exited(child);
      clearTimeout(kill);
      expect(r.code, `exit ${r.code} signal ${r.signal}`).toBe(status);
      expect(await allGone(procs)).toEqual([]);
    });
  }
});
