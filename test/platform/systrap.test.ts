// The platforms themselves (src/platform, native/): what guest code can do to the
// machinery it runs on, checked on every platform that works here. The escape tests
// (test/escape/) run per platform through TSSANDBOX_PLATFORM.
import { describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { execFileSync, spawn } from 'child_process';
import { compileGuest } from '../helpers/build';
import { BASE_ENV, explain, runCli, runSandbox, TEST_PLATFORMS } from '../helpers/run';
import { BIN } from '../helpers/paths';
import { stdoutShows, stubsOf } from '../escape/stubs';

const SRC = path.join(__dirname, 'guests');
const PLATFORMS = TEST_PLATFORMS;

describe.each(PLATFORMS)('platform %s', (platform) => {
  it('a guest jumping to the stub\'s syscall instructions with its own registers reaches no host syscall', async () => {
    const guest = compileGuest('stub_jumps', 'static', { srcDir: SRC });
    const host = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-jump-'));
    try {
      const r = await runSandbox([`--platform=${platform}`, guest, host]);
      expect(r.code, explain(r)).toBe(0);
      const lines = ['gadget', 'handler', 'restorer', 'entry-sigaltstack', 'entry-seccomp', 'batch'].flatMap((s) => [
        // The guest's own pid (the Sentry answered), never a host pid.
        `${s} getpid -> 1`,
        // Served by the Sentry: the file is in the sandbox's overlay only.
        `${s} open(O_CREAT) -> fd, visible in the sandbox: yes`,
      ]);
      expect(r.stdout).toBe([...lines, 'batch mmap over frames: ENOMEM',
        'mmap over frames: ENOMEM', 'munmap frames: EINVAL', 'mprotect frames: ENOMEM',
        'mremap onto frames: EINVAL', 'write(pipe, frames): EFAULT', 'done', ''].join('\n'));
      expect(fs.readdirSync(host)).toEqual([]);
    } finally {
      fs.rmSync(host, { recursive: true, force: true });
    }
  });

  it('a thread scribbling over the shared frames harms only its own process', async () => {
    const guest = compileGuest('frame_scribble', 'static', { srcDir: SRC, flags: ['-pthread'] });
    const r = await runSandbox([`--platform=${platform}`, guest], { timeoutMs: 60_000 });
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toBe('round 0: child reaped: yes\nround 1: child reaped: yes\nround 2: child reaped: yes\nround 3: child reaped: yes\nparent pid 1, ppid 0\n');
    expect(r.stderr).not.toMatch(/internal error|BUG/);
  });

  it('threads in their first moments: short-lived, signalled at once, ended with their process, FP state inherited (as on Linux)', async () => {
    const guest = compileGuest('thread_start', 'static', { srcDir: SRC, flags: ['-pthread'] });
    const expected = '64 threads joined, sum 2016\n16 signals to new threads taken\nexits while threads start: 8 of 8\n' +
      'new thread rounds upward: yes\nfork child rounds upward: yes\n';
    expect(execFileSync(guest, { encoding: 'utf8' })).toBe(expected);
    const r = await runSandbox([`--platform=${platform}`, guest], { timeoutMs: 60_000 });
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toBe(expected);
  });

  // Podman inside the sandbox hung here in about half its systrap runs: its shm locks'
  // unlock (another process, the page mapped elsewhere) woke nobody.
  it('a futex word in a shared file mapping: a wake from another process\'s mapping of it finds the waiter', async () => {
    const guest = compileGuest('futex_shared_file', 'static', { srcDir: SRC, flags: ['-pthread'] });
    const expected = 'child: wait woken\nparent: wake found the waiter: yes; child status 0\n' +
      'parent: robust lock after its owner died: EOWNERDEAD\ndone\n';
    expect(execFileSync(guest, { encoding: 'utf8' })).toBe(expected);
    const r = await runSandbox([`--platform=${platform}`, guest], { timeoutMs: 60_000 });
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toBe(expected);
  }, 90_000);
});

describe('platform selection', () => {
  it('kvm runs a guest or says why in one line, an unknown name is refused in one line', async () => {
    const kvm = await runCli(['run', '--platform=kvm', '/bin/true']);
    if (kvm.code !== 0) expect(kvm.stderr).toMatch(/^tssandbox: (--platform: )?platform kvm: \S.*\n$/);
    else expect(kvm.stderr).toBe('');
    const bad = await runSandbox(['/bin/true'], { env: { TSSANDBOX_PLATFORM: 'nope' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('tssandbox: TSSANDBOX_PLATFORM: unknown platform \'nope\' (available: kvm, systrap, ptrace)\n');
  });

  it('tssandbox platforms lists each platform, whether it works here and why not', async () => {
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-cache-'));
    let r: Awaited<ReturnType<typeof runCli>>;
    try {
      r = await runCli(['platforms'], { env: { XDG_CACHE_HOME: cache } });
    } finally {
      fs.rmSync(cache, { recursive: true, force: true });
    }
    expect(r.code, explain(r)).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.map((l) => l.split(/\s+/)[0])).toEqual(['kvm', 'systrap', 'ptrace']);
    expect(lines[0]).toMatch(/^kvm\s+(works \(.+\)|unavailable: .+)$/);
    expect(lines[2]).toMatch(/^ptrace\s+works/);
    expect(lines[1]).toMatch(/^systrap\s+(works|unavailable: .+)/);
    expect(lines.filter((l) => l.endsWith('(default)'))).toHaveLength(1);
  });
});

describe('multi-core', () => {
  it('systrap runs CPU-bound guest threads on every CPU; ptrace pins the sandbox to one', async () => {
    const guest = compileGuest('spin_threads', 'dynamic', { srcDir: SRC });
    const all = fs.readFileSync('/proc/self/status', 'utf8').match(/^Cpus_allowed_list:\s+(.*)$/m)![1];
    for (const platform of PLATFORMS) {
      const child = spawn(process.execPath, [BIN, 'run', `--platform=${platform}`, guest], { stdio: ['pipe', 'pipe', 'pipe'], env: BASE_ENV });
      try {
        await stdoutShows(child, 'spinning');
        const stubs = stubsOf(child.pid!);
        expect(stubs.length).toBeGreaterThan(1);
        // ptrace: every stub thread on the Sentry's one CPU. systrap: the injectors (each
        // stub's leader) there; the two spinning threads not confined to it (the waiting
        // main thread may be: a thread that keeps waiting moves beside the Sentry).
        const allowed = (pid: number, task: string) =>
          fs.readFileSync(`/proc/${pid}/task/${task}/status`, 'utf8').match(/^Cpus_allowed_list:\s+(.*)$/m)![1];
        let free = 0;
        for (const pid of stubs) {
          for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
            const cpus = allowed(pid, task);
            if (platform === 'systrap' && task !== String(pid)) {
              if (cpus !== allowed(pid, String(pid))) free++;
            } else if (os.availableParallelism() > 1) {
              expect(cpus, `stub thread ${task}`).not.toBe(all);
            }
          }
        }
        if (platform === 'systrap' && os.availableParallelism() > 1) expect(free).toBeGreaterThanOrEqual(2);
      } finally {
        child.stdin.end('x');
        await new Promise((r) => child.on('exit', r));
      }
    }
  });

  // Threads that waited first (eight 2 ms sleeps each: systrap moves a thread that keeps
  // waiting beside the Sentry) and then compute without a syscall must get every CPU
  // back: they used to stay on the Sentry's one until their next trap, which a CPU-bound
  // loop never makes. Polled (the move comes within milliseconds of their spinning;
  // the bound is only there so that a regression fails instead of hanging).
  it.runIf(PLATFORMS.includes('systrap') && os.availableParallelism() > 1)(
    'systrap: CPU-bound threads that waited first leave the Sentry\'s CPU', async () => {
      const guest = compileGuest('spin_threads', 'dynamic', { srcDir: SRC });
      const child = spawn(process.execPath, [BIN, 'run', '--platform=systrap', guest, 'wait'], { stdio: ['pipe', 'pipe', 'pipe'], env: BASE_ENV });
      const cpus = (pid: number, task: string) => {
        try {
          return fs.readFileSync(`/proc/${pid}/task/${task}/status`, 'utf8').match(/^Cpus_allowed_list:\s+(.*)$/m)![1];
        } catch {
          return '';
        }
      };
      try {
        await stdoutShows(child, 'spinning');
        let confined: string[] = [];
        for (let i = 0; i < 100; i++) {
          // Guest threads of the process beside its injector (the leader): the main
          // thread waits in read and may stay there; the two spinners may not.
          const stub = stubsOf(child.pid!).find((pid) => fs.readdirSync(`/proc/${pid}/task`).length >= 4);
          if (stub !== undefined) {
            const leader = cpus(stub, String(stub));
            const tasks = fs.readdirSync(`/proc/${stub}/task`).filter((t) => t !== String(stub));
            confined = tasks.filter((t) => cpus(stub, t) === leader);
            if (tasks.length >= 3 && confined.length <= 1) break;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
        expect(confined.length, `guest threads still on the Sentry's CPU: ${confined.join(' ')}`).toBeLessThanOrEqual(1);
      } finally {
        child.stdin.end('x');
        await new Promise((r) => child.on('exit', r));
      }
    },
  );
});
