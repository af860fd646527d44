/**
 * The CLI contract: bad input gives one line `tssandbox: <message>` on stderr and
 * the documented exit code, never a stack trace; flags (--env, --cwd, --mount,
 * --tmpfs, --root, --strace) do what they say.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildFile, compileGuest, patchedElf } from './helpers/build';
import { REPO, SCRATCH_DIR } from './helpers/paths';
import { explain, hasStackTrace, runCli, runSandbox, status, type RunResult } from './helpers/run';

/** Asserts a CLI error: exit code, exactly one stderr line `tssandbox: ...`, no stack trace, no stdout. */
function expectCliError(r: RunResult, code: number, mention?: RegExp) {
  expect(r.timedOut, explain(r)).toBe(false);
  expect(status(r), explain(r)).toBe(code);
  expect(hasStackTrace(r.stderr), `stack trace in stderr\n${explain(r)}`).toBe(false);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines.length, `expected one stderr line\n${explain(r)}`).toBe(1);
  expect(lines[0], explain(r)).toMatch(/^tssandbox: \S/);
  if (mention) expect(lines[0], explain(r)).toMatch(mention);
  expect(r.stdout, explain(r)).toBe('');
}

describe('bad input', () => {
  it('missing program path -> 127', async () => {
    const r = await runSandbox(['/nonexistent-tss/prog']);
    expectCliError(r, 127, /nonexistent-tss\/prog/);
  });

  it('program name not found in PATH -> 127', async () => {
    const r = await runSandbox(['no-such-command-tss']);
    expectCliError(r, 127, /no-such-command-tss/);
  });

  it('text file without #! -> 126', async () => {
    const p = buildFile('text-no-shebang', 'just some text\nnot a program\n', 0o755);
    expectCliError(await runSandbox([p]), 126);
  });

  it('file without execute permission -> 126', async () => {
    const p = buildFile('not-executable', '#!/bin/sh\necho hi\n', 0o644);
    expectCliError(await runSandbox([p]), 126);
  });

  it('directory -> 126', async () => {
    expectCliError(await runSandbox(['/tmp']), 126);
  });

  it('AArch64 ELF (patched e_machine) -> 126', async () => {
    const p = patchedElf('/bin/true', 'aarch64-true', 0xb7);
    expectCliError(await runSandbox([p]), 126);
  });

  it('i386 ELF (patched class and e_machine) -> 126', async () => {
    const p = patchedElf('/bin/true', 'i386-true', 0x03, 1);
    expectCliError(await runSandbox([p]), 126);
  });

  it('truncated ELF -> 126', async () => {
    const p = buildFile('truncated-elf', fs.readFileSync('/bin/true').subarray(0, 40), 0o755);
    expectCliError(await runSandbox([p]), 126);
  });

  it('missing ELF interpreter -> 126', async () => {
    const buf = Buffer.from(fs.readFileSync('/bin/true'));
    const from = Buffer.from('/lib64/ld-linux-x86-64.so.2\0');
    const at = buf.indexOf(from);
    expect(at).toBeGreaterThan(0);
    Buffer.from('/lib64/ld-missing-tss.so.9\0\0').copy(buf, at, 0, from.length);
    const p = buildFile('missing-interp', buf, 0o755);
    expectCliError(await runSandbox([p]), 126, /interp|ld-missing-tss/i);
  });

  it('script whose interpreter is missing -> 126', async () => {
    const p = buildFile('bad-shebang', '#!/nonexistent-tss/interp\n', 0o755);
    // Linux execve gives ENOENT here; the CLI reports a missing interpreter as 126.
    expectCliError(await runSandbox([p]), 126);
  });

  it('unknown flag -> 2', async () => {
    expectCliError(await runSandbox(['--no-such-flag-tss', '/bin/true']), 2, /no-such-flag-tss/);
  });

  it('unknown top-level flag -> 2', async () => {
    expectCliError(await runCli(['--no-such-flag-tss']), 2);
  });

  it('run without a program -> 2', async () => {
    expectCliError(await runCli(['run']), 2);
  });

  it('flag missing its value -> 2', async () => {
    expectCliError(await runCli(['run', '--cwd']), 2);
  });

  it('malformed --mount -> 2', async () => {
    expectCliError(await runSandbox(['--mount', 'nocolon', '/bin/true']), 2);
  });

  it('relative --tmpfs -> 2', async () => {
    expectCliError(await runSandbox(['--tmpfs', 'scratch', '/bin/true']), 2, /absolute/);
  });

  it('missing --mount source -> 125, naming the error', async () => {
    expectCliError(await runSandbox(['--mount', '/no/such/dir:/mnt/x', '/bin/true']), 125, /No such file or directory \(ENOENT\)/);
  });

  it('--root that is a file -> 125, naming the error', async () => {
    expectCliError(await runSandbox(['--root', '/etc/hostname', '/bin/true']), 125, /Not a directory \(ENOTDIR\)/);
  });

  it('a file --mount onto a directory -> 125, naming the error', async () => {
    const f = path.join(SCRATCH_DIR, 'cli-bind-file.txt');
    fs.mkdirSync(SCRATCH_DIR, { recursive: true });
    fs.writeFileSync(f, 'x');
    expectCliError(await runSandbox(['--mount', `${f}:/etc:ro`, '/bin/true']), 125, /Not a directory/);
  });

  it('unknown subcommand -> non-zero, one line, no stack trace', async () => {
    const r = await runCli(['frobnicate-tss']);
    expect(r.code, explain(r)).not.toBe(0);
    expect(hasStackTrace(r.stderr), explain(r)).toBe(false);
    expect(r.stderr.trim().split('\n').length, explain(r)).toBe(1);
  });
});

describe('informational commands', () => {
  it('--help', async () => {
    const r = await runCli(['--help']);
    expect(status(r), explain(r)).toBe(0);
    expect(r.stdout, explain(r)).toMatch(/run/);
    expect(r.stdout, explain(r)).toMatch(/--strace/);
  });

  it('--version prints the package version', async () => {
    const r = await runCli(['--version']);
    const { version } = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'));
    expect(status(r), explain(r)).toBe(0);
    expect(r.stdout, explain(r)).toContain(version);
  });

  it('syscalls prints the support table', async () => {
    const r = await runCli(['syscalls']);
    expect(status(r), explain(r)).toBe(0);
    for (const name of ['read', 'write', 'getppid', 'mmap', 'execve', 'clone']) {
      expect(r.stdout, explain(r)).toMatch(new RegExp(`\\b${name}\\b`));
    }
    expect(r.stdout.split('\n').length).toBeGreaterThan(300);
  });
});

describe('run flags', () => {
  let loop: string;
  beforeAll(() => {
    loop = compileGuest('getppid_loop', 'static', { srcDir: path.join(REPO, 'bench', 'guests') });
  });

  it('--strace prints each syscall with its result, on stderr', async () => {
    const r = await runSandbox(['--strace', loop, '3']);
    expect(status(r), explain(r)).toBe(0);
    expect(r.stdout, explain(r)).toMatch(/ns\/iter/);
    const calls = r.stderr.split('\n').filter((l) => /getppid\(\)\s*=\s*0\b/.test(l));
    expect(calls.length, explain(r)).toBeGreaterThanOrEqual(3);
    // name(args) = result <duration>
    expect(calls[0], explain(r)).toMatch(/getppid\(\)\s*=\s*0\s*<[^>]+>/);
    expect(r.stderr, explain(r)).toMatch(/write\(1,.*\)\s*=\s*\d+/);
    expect(r.stderr, explain(r)).toMatch(/exit_group\(0\)/);
  });

  it('--debug names an unsupported syscall once; without it stderr stays clean', async () => {
    const bin = compileGuest('enosys', 'static');
    const quiet = await runSandbox([bin]);
    expect(status(quiet), explain(quiet)).toBe(0);
    expect(quiet.stderr, explain(quiet)).toBe('');
    const r = await runSandbox(['--debug', bin]);
    expect(status(r), explain(r)).toBe(0);
    expect(r.stdout).toBe(quiet.stdout);
    const mentions = r.stderr.split('\n').filter((l) => /\b999\b/.test(l));
    expect(mentions.length, explain(r)).toBe(1);
  });

  it('--env sets guest variables', async () => {
    const r = await runSandbox(['--env', 'TSS_PROBE=hello world', '/usr/bin/env']);
    expect(status(r), explain(r)).toBe(0);
    expect(r.stdout.split('\n'), explain(r)).toContain('TSS_PROBE=hello world');
  });

  it('--cwd sets the working directory', async () => {
    const r = await runSandbox(['--cwd', '/usr/share', '/bin/pwd']);
    expect(status(r), explain(r)).toBe(0);
    expect(r.stdout, explain(r)).toBe('/usr/share\n');
  });

  it('--tmpfs mounts a writable empty directory', async () => {
    const f = `/mnt/tss-tmpfs-${process.pid}-${Date.now()}`;
    try {
      const r = await runSandbox(['--tmpfs', '/mnt', '/bin/sh', '-c', `ls -A /mnt; echo data > ${f} && cat ${f}`]);
      expect(status(r), explain(r)).toBe(0);
      expect(r.stdout, explain(r)).toBe('data\n');
      expect(fs.existsSync(f), 'tmpfs write reached the host').toBe(false);
    } finally {
      fs.rmSync(f, { force: true });
    }
  });

  it('--mount SRC:DST:rw writes through to the host', async () => {
    const dir = path.join(SCRATCH_DIR, `mnt-rw-${process.pid}-${Date.now()}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'in.txt'), 'from host\n');
    try {
      const r = await runSandbox(['--mount', `${dir}:/data:rw`, '/bin/sh', '-c', 'cat /data/in.txt; echo from guest > /data/out.txt']);
      expect(status(r), explain(r)).toBe(0);
      expect(r.stdout, explain(r)).toBe('from host\n');
      expect(fs.readFileSync(path.join(dir, 'out.txt'), 'utf8')).toBe('from guest\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--mount SRC:DST:ro refuses writes (EROFS) and the host is untouched', async () => {
    const dir = path.join(SCRATCH_DIR, `mnt-ro-${process.pid}-${Date.now()}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'in.txt'), 'ro\n');
    try {
      const r = await runSandbox(['--mount', `${dir}:/data:ro`, '/bin/sh', '-c', 'cat /data/in.txt; echo x > /data/out.txt; echo rc=$?']);
      expect(r.stdout, explain(r)).toBe('ro\nrc=2\n');
      expect(r.stderr, explain(r)).toMatch(/Read-only file system/);
      expect(fs.existsSync(path.join(dir, 'out.txt'))).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--root runs inside another root directory', async () => {
    const root = path.join(SCRATCH_DIR, 'root-busybox');
    fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
    fs.mkdirSync(path.join(root, 'tmp'), { recursive: true });
    fs.copyFileSync(fs.realpathSync('/bin/busybox'), path.join(root, 'bin', 'busybox'));
    fs.chmodSync(path.join(root, 'bin', 'busybox'), 0o755);
    const r = await runSandbox(['--root', root, '/bin/busybox', 'ls', '/']);
    expect(status(r), explain(r)).toBe(0);
    const names = r.stdout.split(/\s+/).filter(Boolean);
    expect(names, explain(r)).toContain('bin');
    expect(names, explain(r)).toContain('tmp');
    expect(names, explain(r)).not.toContain('etc');
  });

  it('--mount of a single file: read-only, or written through to the host with rw', async () => {
    const f = path.join(SCRATCH_DIR, 'cli-bind-one.txt');
    fs.mkdirSync(SCRATCH_DIR, { recursive: true });
    fs.writeFileSync(f, 'one\n');
    let r = await runSandbox(['--mount', `${f}:/etc/hostname:ro`, '/bin/sh', '-c', 'cat /etc/hostname; echo x > /etc/hostname || echo refused']);
    expect(r.stdout, explain(r)).toBe('one\nrefused\n');
    r = await runSandbox(['--mount', `${f}:/opt/made/one.txt:rw`, '/bin/sh', '-c', 'echo two >> /opt/made/one.txt; ls /opt/made']);
    expect(r.stdout, explain(r)).toBe('one.txt\n');
    expect(fs.readFileSync(f, 'utf8')).toBe('one\ntwo\n');
  });

  it('--strace prints 64-bit arguments whole and strings with C escapes', async () => {
    const s = await runSandbox(['--strace', '/bin/cat', '/nonexistent-\u00e9']);
    expect(s.stderr, explain(s)).toMatch(/openat\(AT_FDCWD, "\/nonexistent-\\xc3\\xa9", /);
    const m = await runSandbox(['--strace', '/bin/dd', 'if=/dev/zero', 'of=/dev/null', 'bs=1', 'count=1', 'skip=4294967297', 'iflag=skip_bytes'], { timeoutMs: 20_000 });
    expect(m.stderr, explain(m)).toMatch(/lseek\(0, 4294967297, 1\)|lseek\(0, 4294967297, SEEK_CUR\)/);
  });

  it('--platform ptrace is accepted', async () => {
    const r = await runSandbox(['--platform', 'ptrace', '/bin/echo', 'ok']);
    expect(status(r), explain(r)).toBe(0);
    expect(r.stdout).toBe('ok\n');
  });

  it('--platform with an unknown name -> 2', async () => {
    expectCliError(await runSandbox(['--platform', 'no-such-platform', '/bin/true']), 2);
  });
});
