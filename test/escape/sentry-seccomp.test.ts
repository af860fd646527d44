// Issue 7, defence in depth: the Sentry confines itself once the sandbox is set up
// (native/sentry_confine.cc). A hidden test hook (TSSANDBOX_TEST_FORBIDDEN_SYSCALL)
// makes the confined Sentry attempt one host call a Sentry taken over by the guest
// would make; each is also run with the confinement off (TSSANDBOX_CONFINE=off), where
// the same call must come out differently, so these tests could fail.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'child_process';
import * as nfs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BASE_ENV } from '../helpers/run';
import { attempt, reported } from './confine-hook';
import { BIN } from '../helpers/paths';

const isRoot = process.getuid?.() === 0;

describe("the Sentry's own seccomp filter", () => {
  let victim: ChildProcess;
  let dir: string;
  beforeAll(() => {
    // A host process of the test's own, unrelated to the sandbox.
    victim = spawn('sleep', ['120'], { stdio: 'ignore' });
    dir = nfs.mkdtempSync(path.join(os.tmpdir(), 'tss-confine-'));
  });
  afterAll(() => {
    victim.kill('SIGKILL');
    nfs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses ptrace(PTRACE_ATTACH) of a host process with EPERM', async () => {
    const r = await attempt(`ptrace-attach:${victim.pid}`);
    expect(r.code, r.stderr).toBe(0);
    expect(reported(r, 'ptrace-attach')).toBe('errno 1');
    if (isRoot) {
      const off = await attempt(`ptrace-attach:${victim.pid}`, 'off');
      expect(reported(off, 'ptrace-attach'), off.stderr).toBe('allowed');
    }
    // The victim was left as it was.
    expect(nfs.readFileSync(`/proc/${victim.pid}/status`, 'utf8')).toMatch(/^TracerPid:\s+0$/m);
  });

  it('refuses to open a host file for writing when the gofer serves the host', async () => {
    const f = path.join(dir, 'target');
    nfs.writeFileSync(f, 'unchanged');
    const r = await attempt(`open-write:${f}`);
    expect(r.code, r.stderr).toBe(0);
    expect(reported(r, 'open-write')).toBe('errno 1');
    const off = await attempt(`open-write:${f}`, 'off');
    expect(reported(off, 'open-write'), off.stderr).toBe('allowed');
    expect(nfs.readFileSync(f, 'utf8')).toBe('unchanged');
  });

  it('refuses unshare (the host namespaces stay as they are)', async () => {
    const r = await attempt('unshare');
    expect(reported(r, 'unshare')).toBe('errno 1');
    const off = await attempt('unshare', 'off');
    expect(reported(off, 'unshare'), off.stderr).toBe('allowed');
  });

  it('refuses ioctl requests outside its list with EPERM (TIOCSTI, FIOASYNC, KVM_* off kvm); its own pass', async () => {
    // Each on a pipe of the Sentry's own: allowed, FIOASYNC 0 succeeds and the tty's and
    // KVM's requests get ENOTTY (25); refused, EPERM (1) before the driver is reached.
    const kvm = process.env.TSSANDBOX_PLATFORM === 'kvm';
    const cases: Array<[string, string, string]> = [
      ['0x5452', 'errno 1', 'allowed'], // FIOASYNC: not one the Sentry makes
      ['0x5412', 'errno 1', 'errno 25'], // TIOCSTI: input pushed into the host terminal
      ['0x540e', 'errno 1', 'errno 25'], // TIOCSCTTY: the host terminal taken over
      ['0xae00', kvm ? 'errno 25' : 'errno 1', 'errno 25'], // KVM_GET_API_VERSION: kvm's only
      ['0x5421', 'allowed', 'allowed'], // FIONBIO: libuv's own
      ['0x5401', 'errno 25', 'errno 25'], // TCGETS: isatty's, allowed (a pipe is no tty)
    ];
    for (const [req, confined, off] of cases) {
      const r = await attempt(`ioctl:${req}`);
      expect(r.code, r.stderr).toBe(0);
      expect(reported(r, 'ioctl'), `ioctl ${req} confined`).toBe(confined);
      const o = await attempt(`ioctl:${req}`, 'off');
      expect(reported(o, 'ioctl'), `ioctl ${req} unconfined`).toBe(off);
    }
  }, 120_000);

  it('kills the Sentry (and so the sandbox) on kexec_load', async () => {
    const r = await attempt('kexec');
    expect(r.signal, r.stderr).toBe('SIGSYS');
    expect(reported(r, 'kexec')).toBeUndefined();
    // Unconfined, the call returns (flags no kernel accepts: nothing is ever loaded)
    const off = await attempt('kexec', 'off');
    expect(off.code, off.stderr).toBe(0);
    expect(reported(off, 'kexec')).toMatch(/^errno \d+$/); // EINVAL, or ENOSYS/EPERM where kexec is off
  });

  it('runs with Seccomp: 2, no_new_privs and no capabilities left', async () => {
    const child = spawn(process.execPath, [BIN, 'run', '/bin/sh', '-c', 'echo ready; read x'], { env: BASE_ENV, stdio: ['pipe', 'pipe', 'pipe'] });
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('sandbox did not start')), 30_000);
        child.stdout!.on('data', (d: Buffer) => {
          if (d.toString().includes('ready')) {
            clearTimeout(t);
            resolve();
          }
        });
      });
      const status = nfs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const field = (k: string) => new RegExp(`^${k}:\\s*(\\S+)`, 'm').exec(status)?.[1];
      expect(field('Seccomp')).toBe('2');
      expect(field('NoNewPrivs')).toBe('1');
      expect(field('CapEff')).toBe('0000000000000000');
      expect(field('CapBnd')).toBe('0000000000000000');
      // Every thread (V8's and libuv's too) is under the filter.
      for (const tid of nfs.readdirSync(`/proc/${child.pid}/task`))
        expect(nfs.readFileSync(`/proc/${child.pid}/task/${tid}/status`, 'utf8'), `thread ${tid}`).toMatch(/^Seccomp:\s+2$/m);
      child.stdin!.end('\n');
      const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      expect(code).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a Sentry stuck in JavaScript still ends on the host\'s SIGTERM (the watchdog, 10 s)', async () => {
    const child = spawn(process.execPath, [BIN, 'run', '/bin/true'], {
      env: { ...BASE_ENV, TSSANDBOX_TEST_FORBIDDEN_SYSCALL: 'spin' }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`did not start spinning: ${err}`)), 30_000);
      child.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        if (err.includes('spinning')) { clearTimeout(t); resolve(); }
      });
    });
    child.kill('SIGTERM');
    const backstop = setTimeout(() => child.kill('SIGKILL'), 40_000);
    const r = await new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })));
    clearTimeout(backstop);
    expect(r.signal, `only the test's SIGKILL ended it: ${err}`).toBeNull();
    expect(r.code).toBe(143);
    expect(err).toMatch(/did not act on a host signal in time/);
  }, 60_000);
});
