// Containment: what a guest can reach of the stub and the host. Each escape we thought
// of is a case here.
import { describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';
import { spawn } from 'child_process';
import { compileGuest, LINKAGES } from '../helpers/build';
import { GUEST_STUBS, runSandbox, TEST_PLATFORMS } from '../helpers/run';
import { BIN } from '../helpers/paths';
import { expectedStubFds, stdoutShows, stubsOf } from './stubs';

const SRC = path.join(__dirname, 'guests');

const BY_PLATFORM = LINKAGES.flatMap((l) => TEST_PLATFORMS.map((p) => [l, p] as const));

describe.each(BY_PLATFORM)('stub escape attempts (%s, %s)', (linkage, platform) => {
  it('gadget, stub mappings and the stub socket are out of reach', async () => {
    const r = await runSandbox([`--platform=${platform}`, compileGuest('stub_escape', linkage, { srcDir: SRC })]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe([
      // kvm has no stub: nothing is at its address, so the jump faults before any syscall.
      platform === 'kvm' ? 'gadget getpid -> 39 (guest pid 1)' : 'gadget getpid -> 1 (guest pid 1)',
      'munmap stub: EINVAL',
      'mprotect stub: ENOMEM',
      'mmap over stub: ENOMEM',
      'write to stub: SIGSEGV',
      'write to stub scratch: SIGSEGV',
      'write(pipe, stub): EFAULT',
      'read(pipe, scratch): EFAULT',
      'write(1000): EBADF',
      'close(1000): EBADF',
      'stub in /proc/self/maps: no',
      '',
    ].join('\n'));
  });
});

// Stub processes' own confinement: kvm has none (its vCPUs are the Sentry's threads,
// test/escape/kvm-confinement.test.ts checks that Sentry).
describe.skipIf(!GUEST_STUBS)('the stub process, seen from the host', () => {
  it('holds no host fd but its socket, runs under seccomp with no_new_privs, in its own namespaces', async () => {
    const guest = compileGuest('hold_mapping', 'dynamic', { srcDir: SRC });
    const child = spawn(process.execPath, [BIN, 'run', guest], { stdio: ['pipe', 'pipe', 'pipe'] });
    try {
      await stdoutShows(child, 'mapped');
      const stubs = stubsOf(child.pid!);
      expect(stubs.length).toBeGreaterThan(1); // the template and the guest's own
      for (const pid of stubs) {
        // All stubs descend from the template, which the Sentry forked: check every one.
        const fds = fs.readdirSync(`/proc/${pid}/fd`);
        expect(fds, `fds of stub ${pid}`).toEqual(expectedStubFds(pid));
        if (fds.includes('1001')) expect(fs.readlinkSync(`/proc/${pid}/fd/1001`)).toBe('anon_inode:[eventfd]');
        const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
        expect(status).toMatch(/^Seccomp:\s+2$/m);
        expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
        expect(fs.readlinkSync(`/proc/${pid}/ns/net`)).not.toBe(fs.readlinkSync('/proc/self/ns/net'));
        expect(fs.readlinkSync(`/proc/${pid}/ns/mnt`)).not.toBe(fs.readlinkSync('/proc/self/ns/mnt'));
        // Its own pid namespace: no host pid is visible from a stub.
        expect(fs.readlinkSync(`/proc/${pid}/ns/pid`)).not.toBe(fs.readlinkSync('/proc/self/ns/pid'));
        // No core file of guest memory, whatever the Sentry's own limit.
        expect(fs.readFileSync(`/proc/${pid}/limits`, 'utf8')).toMatch(/^Max core file size\s+0\s+0\s/m);
      }
    } finally {
      child.stdin.end('x');
      await new Promise((r) => child.on('exit', r));
    }
  });
});
