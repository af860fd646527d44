// Issue 7, defence in depth: the Sentry of `tssandbox run` (the command: the native front
// build/Release/tssandbox, native/sentry_launch.cc, before Node starts) lives in a user
// and mount namespace of its own, so a compromised Sentry is not host root: seen from
// the host, its uids are
// not 0 (as root: an unprivileged uid, one per Sentry by default; as a user: that user), it has
// no capabilities and any it had would hold only in its own namespace; it is chrooted
// into an empty directory, also when run unprivileged (CAP_SYS_CHROOT in its own
// namespace is enough). The gofer stays outside as the invoking user (root keeps its
// file access to the host trees it serves), and guests run as before.
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BASE_ENV, GUEST_STUBS, PLATFORM_UNPRIVILEGED, hasStackTrace, runSandbox, spawnCollect } from '../helpers/run';
import { BIN, FRONT, REPO } from '../helpers/paths';
import { Sandbox } from '../../src/index';
import { commOf, stdoutShows } from './stubs';

const isRoot = process.getuid?.() === 0;
const haveSetpriv = spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status === 0;
const userNs = spawnSync('unshare', ['--user', '--map-root-user', 'true'], { stdio: 'ignore' }).status === 0;
const UNPRIV = ['setpriv', '--reuid=1000', '--regid=1000', '--clear-groups', '--'];

interface Seen {
  /** The Sentry's host pid. */
  pid: number;
  uids: number[];
  gids: number[];
  groups: string;
  capEff: bigint;
  userNs: string;
  root: string[];
  gofer: { uids: number[]; userNs: string; ps: string } | null;
  /** `ps -o euid=,comm=` of the Sentry. */
  ps: string;
  /** comm of every child of the Sentry (an unused gofer-to-be would be the front's: tssandbox). */
  children: string[];
}

function status(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

const ids = (s: string) => s.split(/\s+/).map(Number);

/** `ps`'s view of one process: effective uid and command name. */
function ps(pid: number): string {
  return spawnSync('ps', ['-o', 'euid=,comm=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim().replace(/\s+/g, ' ');
}

/** The Sentry of a running sandbox (and its gofer) as the host sees them. */
function look(pid: number): Seen {
  const st = status(pid);
  let gofer: Seen['gofer'] = null;
  const children: string[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== pid) continue;
      children.push(commOf(Number(d)));
      if (commOf(Number(d)) !== 'tssandbox-gofer') continue;
      gofer = { uids: ids(status(Number(d)).Uid), userNs: fs.readlinkSync(`/proc/${d}/ns/user`), ps: ps(Number(d)) };
    } catch {
      // gone meanwhile
    }
  }
  return {
    pid, uids: ids(st.Uid), gids: ids(st.Gid), groups: st.Groups ?? '', capEff: BigInt(`0x${st.CapEff}`),
    userNs: fs.readlinkSync(`/proc/${pid}/ns/user`), root: fs.readdirSync(`/proc/${pid}/root`), gofer, children, ps: ps(pid),
  };
}

/** Starts `[prefix...] tssandbox run [flags] sh -c 'echo ready; read x'`, waits for ready, looks, ends it. */
async function seen(prefix: string[], env: Record<string, string> = {}, flags: string[] = []): Promise<Seen> {
  const argv = [...prefix, FRONT, 'run', ...flags, '/bin/sh', '-c', 'echo ready; read x; echo done'];
  const child: ChildProcess = spawn(argv[0], argv.slice(1), {
    env: { ...BASE_ENV, TSSANDBOX_NODE: process.execPath, ...env }, stdio: ['pipe', 'pipe', 'inherit'],
  });
  try {
    await stdoutShows(child, 'ready', 30_000);
    // setpriv and the front exec in place: the child's pid is the Sentry's.
    return look(child.pid!);
  } finally {
    child.stdin!.end('\n');
    await new Promise((r) => child.on('exit', r));
  }
}

const hostUserNs = fs.readlinkSync('/proc/self/ns/user');
/** A root-started Sentry's host uid and gid (native/sentry_launch.cc), real to filesystem. */
const own = (pid: number) => [0, 1, 2, 3].map(() => 0x70000000 + pid); // one per Sentry

describe.skipIf(!userNs || !fs.existsSync(FRONT))('the Sentry in its own user namespace (the default for run)', () => {
  it.skipIf(!isRoot)('run as root: not root outside, no capabilities, chrooted; the gofer stays outside as root', async () => {
    const s = await seen([]);
    expect(s.userNs).not.toBe(hostUserNs);
    expect(s.uids).toEqual(own(s.pid));
    expect(s.gids).toEqual(own(s.pid));
    expect(s.groups).toBe(''); // root's supplementary groups dropped
    expect(s.capEff).toBe(0n);
    expect(s.root).toEqual([]);
    expect(s.gofer).toEqual({ uids: [0, 0, 0, 0], userNs: hostUserNs, ps: '0 tssandbox-gofer' });
    expect(s.ps).toBe(`${0x70000000 + s.pid} node`);
    // No gofer-to-be left waiting (comm is cut to 15 bytes), only the gofer and the stub.
    expect(s.children.filter((c) => c === 'tssandbox')).toEqual([]);
    expect(s.children.includes('tssandbox-stub')).toBe(GUEST_STUBS); // kvm: vCPU threads, no stub
  });

  it.skipIf(!isRoot)('TSSANDBOX_SENTRY_UID picks the host uid; TSSANDBOX_USERNS=off keeps the old path (the check can fail)', async () => {
    const s = await seen([], { TSSANDBOX_SENTRY_UID: '4242' });
    expect(s.uids).toEqual([4242, 4242, 4242, 4242]);
    const off = await seen([], { TSSANDBOX_USERNS: 'off' });
    expect(off.userNs).toBe(hostUserNs);
    expect(off.uids).toEqual([0, 0, 0, 0]);
  });

  // Skipped where the platform under test cannot run for uid 1000 (kvm with a root-only /dev/kvm).
  it.skipIf(!isRoot || !haveSetpriv || !PLATFORM_UNPRIVILEGED)('run unprivileged: its own user namespace, and the empty root too', async () => {
    const s = await seen(UNPRIV);
    expect(s.userNs).not.toBe(hostUserNs);
    expect(s.uids).toEqual([1000, 1000, 1000, 1000]);
    expect(s.capEff).toBe(0n);
    expect(s.root).toEqual([]);
    expect(s.gofer?.uids).toEqual([1000, 1000, 1000, 1000]);
    // A user who never had the host root's network privileges keeps the namespace with them.
    expect((await seen(UNPRIV, {}, ['--network', 'host'])).userNs).not.toBe(hostUserNs);
    const off = await seen(UNPRIV, { TSSANDBOX_USERNS: 'off' });
    expect(off.userNs).toBe(hostUserNs);
    expect(off.root.length).toBeGreaterThan(0); // no chroot without the namespace
  });

  it('guests see the same sandbox: root inside, host files through the gofer', async () => {
    const r = await runSandbox(['/bin/sh', '-c', 'id -u; head -c 4 /etc/passwd; echo; test -r /etc/shadow && echo shadow-readable']);
    expect(r.stdout).toBe(`0\nroot\n${isRoot ? 'shadow-readable\n' : ''}`);
    expect(r.code, r.stderr).toBe(0);
  });

  it.skipIf(!isRoot)('--checkpoint-on: the image opened by the front (native/launch_flags.h), the Sentry in its own namespace, and works as before', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-userns-ckpt-'));
    try {
      const flags = ['--checkpoint-on', 'SIGUSR2', '--image-path', path.join(dir, 'img')];
      const s = await seen([], {}, flags);
      expect(s.userNs).not.toBe(hostUserNs);
      expect(s.uids).toEqual(own(s.pid));
      // Nothing odd said; the guest runs as before.
      const r = await runSandbox([...flags, '/bin/echo', 'hi']);
      expect(r.stdout).toBe('hi\n');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    // --memory and, as root, --network host keep the namespace now: test/escape/userns-flags.test.ts.
  });

  it.skipIf(!isRoot)('--report, --summary=FILE, --record, --pcap: opened by the front as the invoking user, the Sentry still unprivileged', async () => {
    // A root-only directory: the Sentry's uid could neither create nor open files in it.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-userns-files-'));
    try {
      const f = (n: string) => path.join(dir, n);
      const s = await seen([], {}, ['--report', f('r.json'), `--summary=${f('s.md')}`, '--record', f('rec.log'), '--network', 'user', '--pcap', f('p.pcap')]);
      expect(s.userNs).not.toBe(hostUserNs);
      expect(s.uids).toEqual(own(s.pid));
      expect((JSON.parse(fs.readFileSync(f('r.json'), 'utf8')) as { exitCode: number }).exitCode).toBe(0);
      expect(fs.readFileSync(f('s.md'), 'utf8')).toMatch(/tssandbox run/);
      expect(fs.readFileSync(f('rec.log'), 'latin1')).toMatch(/^# tssandbox syscall log/);
      expect(fs.statSync(f('p.pcap')).size).toBeGreaterThanOrEqual(24); // the libpcap header
      for (const n of ['r.json', 's.md', 'rec.log', 'p.pcap']) expect(fs.statSync(f(n)).uid).toBe(0);
      expect(fs.statSync(f('p.pcap')).mode & 0o777).toBe(0o644 & ~process.umask());
      // --replay reads one the same way (with the recorded run's flags).
      const again = await seen([], {}, ['--replay', f('rec.log'), '--network', 'user']);
      expect(again.uids).toEqual(own(again.pid));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!isRoot)('--mount sources in a root-only directory: served by the gofer outside; a missing one named as before', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-userns-mount-'));
    try {
      fs.mkdirSync(path.join(dir, 'proj'));
      fs.writeFileSync(path.join(dir, 'proj', 'f'), 'secret\n', { mode: 0o600 });
      const m = `${dir}/proj:/p`;
      const sm = await seen([], {}, ['--mount', m]);
      expect(sm.uids).toEqual(own(sm.pid));
      const r = await runSandbox(['--mount', m, '/bin/cat', '/p/f']);
      expect(r.stdout, r.stderr).toBe('secret\n');
      const missing = await runSandbox(['--mount', `${dir}/nope:/p`, '/bin/true']);
      expect(missing.stderr).toBe(`tssandbox: --mount ${dir}/nope: No such file or directory (ENOENT)\n`);
      expect(missing.code).toBe(125);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!isRoot)('the library API runs through the front too: Sandbox.spawn\'s Sentry is unprivileged outside', async () => {
    const sb = Sandbox.spawn(['/bin/sh', '-c', 'echo ready; read x; echo done'], { env: { PATH: '/bin:/usr/bin' } });
    let out = '';
    await new Promise<void>((resolve) => sb.stdout.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('ready')) resolve(); }));
    try {
      const s = look(sb.pid!);
      expect(s.userNs).not.toBe(hostUserNs);
      expect(s.uids).toEqual(own(s.pid));
      expect(s.gofer?.uids).toEqual([0, 0, 0, 0]);
    } finally {
      sb.stdin.end('\n');
    }
    const e = await sb.exited;
    expect(e.status).toBe(0);
    expect(e.report?.exitCode).toBe(0);
  });
});

describe.skipIf(!fs.existsSync(FRONT))('the native front (the tssandbox command)', () => {
  it('passes the environment on byte for byte: the guest sees what a native run sees', async () => {
    // Not sorted, an empty value, '=' and spaces in a value, one of ours; no TSSANDBOX_NODE
    // (node is found in PATH as `#!/usr/bin/env node` finds it).
    const env: Record<string, string> = { ZED: 'first', ...BASE_ENV, A_EMPTY: '', 'B.2': 'x=y z', TSSANDBOX_USERNS: 'on', MIDDLE: 'é' };
    const native = await spawnCollect(['/usr/bin/env'], env);
    const sandbox = await spawnCollect([FRONT, 'run', '/usr/bin/env'], env);
    expect(native.code).toBe(0);
    expect(sandbox.stderr).toBe('');
    expect(sandbox.stdout).toBe(native.stdout);
    expect(native.stdout.split('\n')[0]).toBe('ZED=first');
    expect(sandbox.code).toBe(0);
  });

  /** One line on stderr, no stack trace, the exit code given. */
  function oneLine(r: { stderr: string; code: number | null }, code: number, pattern: RegExp): void {
    expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr).toMatch(pattern);
    expect(hasStackTrace(r.stderr)).toBe(false);
    expect(r.code).toBe(code);
  }

  it('bad input gets one clear line and a non-zero exit', async () => {
    oneLine(await spawnCollect([FRONT], BASE_ENV), 2, /^usage: tssandbox COMMAND/);
    oneLine(await spawnCollect([FRONT, 'run', '--bogus', '/bin/true'], BASE_ENV), 2, /unknown flag '--bogus'/);
    oneLine(await spawnCollect([FRONT, 'run'], BASE_ENV), 2, /no program given/);
    // Engaged (safe flags), then refused by the CLI in the Sentry's namespace.
    oneLine(await spawnCollect([FRONT, 'run', '--mount', '/nonexistent-tss:/x', '/bin/true'], BASE_ENV), 125, /--mount \/nonexistent-tss: No such file/);
    oneLine(await spawnCollect([FRONT, 'run', '/bin/true'], { ...BASE_ENV, TSSANDBOX_NODE: '/nonexistent/node' }), 127, /cannot run \/nonexistent\/node: No such file/);
  });

  it('finds Node without PATH (the Node that built it), and its package from its own path', async () => {
    const r = await spawnCollect([FRONT, 'run', '/bin/echo', 'fallback'], { PATH: '/nonexistent' });
    expect(r.stdout, r.stderr).toBe('fallback\n');
    expect(r.code).toBe(0);
    // Through a symlink (as npm links the command): still the package it belongs to.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-front-'));
    try {
      fs.symlinkSync(FRONT, path.join(dir, 'tssandbox'));
      const l = await spawnCollect([path.join(dir, 'tssandbox'), 'run', '/bin/echo', 'linked'], BASE_ENV);
      expect(l.stdout, l.stderr).toBe('linked\n');
      // A copy away from its package: one line.
      fs.copyFileSync(FRONT, path.join(dir, 'copy'));
      fs.chmodSync(path.join(dir, 'copy'), 0o755);
      oneLine(await spawnCollect([path.join(dir, 'copy'), 'run', '/bin/true'], BASE_ENV), 125, /cannot find bin\/tssandbox beside this program/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a missing build (native addon, CLI) gets one line, not a stack trace', async () => {
    // A copy of the package without build/, then without dist/ too.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-unbuilt-'));
    try {
      for (const f of ['bin', 'dist', 'package.json']) fs.cpSync(path.join(REPO, f), path.join(dir, f), { recursive: true });
      fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
      const bin = path.join(dir, 'bin', path.basename(BIN));
      oneLine(await spawnCollect([process.execPath, bin, 'run', '/bin/true'], BASE_ENV), 125, /native addon is not built: run npm install/);
      fs.rmSync(path.join(dir, 'dist'), { recursive: true });
      oneLine(await spawnCollect([process.execPath, bin, 'run', '/bin/true'], BASE_ENV), 125, /CLI .* is not built: run npm install/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
