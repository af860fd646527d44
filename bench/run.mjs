#!/usr/bin/env node
// tssandbox benchmark: the same workloads natively, under tssandbox, under gVisor
// (runsc, ptrace platform) and under proot, side by side.
//
//   npm run bench                 all rows
//   npm run bench -- --quick      fewer repetitions
//   npm run bench -- --json       machine-readable results on stdout
//   npm run bench -- --only getppid,true
//   npm run bench -- --only net   the network rows (issue 9)
//   npm run bench -- --only pool  the warm pool rows alone (density: those and the rest of bench/density.mjs)
//   npm run bench -- --pin-peers  run runsc and proot under `taskset -c 0` as well
//                                 (tssandbox's ptrace platform pins itself to one CPU)
//   npm run bench -- --platforms ptrace,systrap   which tssandbox platforms get a column (default: ptrace, systrap, kvm; kvm only KVM_ROWS's, or --kvm-rows ID,...)
//   npm run bench -- --userns-off a column for runs with TSSANDBOX_USERNS=off (the Sentry in the host's user namespace)
//
// tssandbox and runsc get one column per platform (tss ptrace, tss systrap, runsc
// ptrace, runsc systrap); ratios compare tssandbox's fastest column with native and
// with runsc's fastest.
//
// Adding a benchmark is one entry in ROWS below. A row is either
//   kind 'per-op': a guest that prints "<ns> ns/iter" (timed inside the guest), or
//   kind 'wall':   a command whose whole wall time is measured from outside, or
//   kind 'docker': `docker run --rm` of one container through each runtime (bench/docker.mjs).
//   kind 'oci':    one container's create + start + wait + delete through the runtime's
//                  OCI command line (the native column is runc's; proot has none).
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { scratchStdio } from './scratch-stdio.mjs';
import { fileURLToPath } from 'node:url';
import { netRows } from './net.mjs';
import { measureDocker, stopDocker } from './docker.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..');
const BUILD = path.join(HERE, '.build');
const BIN = path.join(REPO, 'bin', 'tssandbox');
// What users run: the native front (the Sentry in its own user namespace), else Node on BIN.
const FRONT = path.join(REPO, 'build', 'Release', 'tssandbox');
const TSS_CMD = fs.existsSync(FRONT) ? [FRONT] : [process.execPath, BIN];

const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const JSON_OUT = args.includes('--json');
const onlyIdx = args.indexOf('--only');
// `--only net`: the network rows (loopback stream and connect, HTTP, the mode rows of bench/net.mjs).
const NET_ROWS = ['tcp-stream', 'tcp-connect', 'http', ...['host', 'user', 'veth'].flatMap((m) => [`net-${m}-send`, `net-${m}-recv`])];
const ONLY = onlyIdx >= 0 ? new Set(args[onlyIdx + 1].split(',').flatMap((r) => (r === 'net' ? NET_ROWS : [r]))) : null;
const PIN_PEERS = args.includes('--pin-peers');
const platIdx = args.indexOf('--platforms');
// kvm gets the syscall-light rows only (KVM_ROWS; --kvm-rows ID,... for others): at ~200 us a
// syscall on a nested host the rest take minutes.
const TSS_PLATFORMS = platIdx >= 0 ? args[platIdx + 1].split(',') : ['ptrace', 'systrap', 'kvm'];
const kvmIdx = args.indexOf('--kvm-rows');
const KVM_ROWS = new Set(kvmIdx >= 0 ? args[kvmIdx + 1].split(',') : ['getppid', 'getppid-libc', 'clock', 'cpu1', 'cpu2']);
const pin = (argv) => (PIN_PEERS ? ['taskset', '-c', '0', ...argv] : argv);
const ENV = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  LANG: 'C',
  // TSSANDBOX_USERNS=off npm run bench: the tss columns without the Sentry's user namespace.
  ...(process.env.TSSANDBOX_USERNS ? { TSSANDBOX_USERNS: process.env.TSSANDBOX_USERNS } : {}),
};

// ---------------------------------------------------------------------------
// Benchmarks. `iters` is per peer class: sandboxes trap every syscall, so they
// get fewer iterations to keep the run short.
const ROWS = [
  {
    id: 'getppid',
    label: 'getppid() syscall',
    kind: 'per-op',
    guest: 'getppid_loop', // bench/guests/getppid_loop.c, built -static
    iters: { native: 2_000_000, sandbox: 20_000 },
    reps: 3,
  },
  {
    id: 'getppid-libc',
    label: 'getppid() through the libc wrapper (a patchable site)',
    kind: 'per-op',
    guest: 'getppid_loop',
    guestArgs: ['libc'],
    iters: { native: 2_000_000, sandbox: 20_000 },
    reps: 3,
  },
  {
    id: 'clock',
    label: 'clock_gettime() (vDSO)',
    kind: 'per-op',
    guest: 'clock_loop', // bench/guests/clock_loop.c, built -static
    iters: { native: 2_000_000, sandbox: 2_000_000 },
    reps: 3,
  },
  {
    id: 'true',
    label: 'run /bin/true',
    kind: 'wall',
    argv: ['/bin/true'],
    reps: 10,
  },
  {
    id: 'python',
    label: 'run python3 -c pass',
    kind: 'wall',
    argv: ['/usr/bin/python3', '-c', 'pass'],
    reps: 10,
  },
  {
    id: 'forkexec',
    label: 'fork+exec /bin/true+wait',
    kind: 'per-op',
    guest: 'fork_exec_wait', // bench/guests/fork_exec_wait.c, built -static
    iters: { native: 2_000, sandbox: 100 },
    reps: 3,
  },
  {
    id: 'cpu1',
    label: 'CPU-bound work, 1 thread (per unit)',
    kind: 'per-op',
    guest: 'cpu_threads', // bench/guests/cpu_threads.c, built -static
    guestArgs: ['1'],
    // 2000 units (~0.2 s a thread natively): long against a busy machine's scheduling;
    // the guest times from all threads released to the last one done (start-up excluded).
    iters: { native: 2_000, sandbox: 2_000 },
    reps: 3,
  },
  {
    id: 'cpu2',
    label: 'same work, 2 threads (per unit)',
    kind: 'per-op',
    guest: 'cpu_threads',
    guestArgs: ['2'],
    iters: { native: 2_000, sandbox: 2_000 },
    reps: 3,
  },
  {
    id: 'pingpong',
    label: 'mutex/condvar ping-pong (2 threads)',
    kind: 'per-op',
    guest: 'mutex_pingpong', // bench/guests/mutex_pingpong.c, built -static
    iters: { native: 100_000, sandbox: 5_000 },
    reps: 3,
  },
  {
    id: 'cat200',
    label: 'cat a 200 MB host file to /dev/null',
    kind: 'wall',
    argv: ['/bin/sh', '-c', `cat ${bigFile()} > /dev/null`],
    reps: 5,
  },
  {
    id: 'find',
    label: 'find /usr | wc -l',
    kind: 'wall',
    argv: ['/bin/sh', '-c', 'find /usr | wc -l > /dev/null'],
    reps: 3,
  },
  // File-system rows (issue 13). Fixtures are made once under /var/tmp, lazily (argv
  // and mounts may be functions); `mounts` are host dirs given to tssandbox as rw binds
  // (runsc `do` has no binds: it gets -force-overlay=false, host writes through its Gofer).
  {
    id: 'git-status',
    label: 'git status, 20 000-file repo on a rw bind',
    kind: 'wall',
    argv: () => ['/usr/bin/git', '-C', gitRepo(), 'status', '--porcelain'],
    mounts: () => [gitRepo()],
    reps: 3,
  },
  {
    id: 'tar',
    label: 'tar cf /dev/null /usr/share',
    kind: 'wall',
    argv: ['/bin/sh', '-c', 'tar cf /dev/null /usr/share 2>/dev/null; true'],
    reps: 3,
  },
  {
    // What tar x (and cp -a) does to each file: create, write, set times, owner, mode.
    id: 'tar-x',
    label: 'tar xf of 2 000 files into a rw bind',
    kind: 'wall',
    argv: () => ["/bin/sh", "-c", `cd ${rwDir()} && tar xf ${tarball2k()} -C "$(mktemp -d -p .)"`],
    mounts: () => [rwDir()],
    reps: 3,
  },
  {
    id: 'cc200',
    label: 'gcc -c of a file including 200 headers',
    kind: 'wall',
    argv: () => ['/usr/bin/gcc', '-c', '-o', '/dev/null', path.join(headers200(), 'main.c')],
    reps: 5,
  },
  {
    id: 'create-delete',
    label: 'create then delete 10 000 files, rw bind',
    kind: 'wall',
    // A fresh directory per run, for every column alike: ext4 puts a directory's files in
    // its inode group, and a create there walks past every inode of that group freed in the
    // last ~30 s (`recently_deleted`), so a directory reused across runs timed the previous
    // run's deletes (rwDir's +T spreads each run's directory over the groups).
    argv: () => ['/bin/sh', '-c', `cd ${rwDir()} && d=$(mktemp -d -p .) && cd "$d" && seq 10000 | xargs touch && cd .. && rm -rf "$d"`],
    mounts: () => [rwDir()],
    reps: 3,
  },
  {
    id: 'meta',
    label: 'tmpfs create+write+stat+unlink',
    kind: 'per-op',
    guest: 'meta_loop', // bench/guests/meta_loop.c, built -static
    // As many as native: at 2 000 the JIT's warm-up of the audit's paths was a third of the row.
    iters: { native: 20_000, sandbox: 20_000 },
    reps: 3,
  },
  {
    id: 'oci',
    label: 'OCI create+start+wait+delete (native = runc)',
    kind: 'oci',
    reps: 5,
  },
  {
    id: 'docker',
    label: 'docker run --rm IMAGE true (native = runc)',
    kind: 'docker', // bench/docker.mjs
    reps: 5,
  },
  {
    id: 'tcp-stream',
    label: 'loopback TCP, one stream (per MiB; 1 GiB)',
    kind: 'per-op',
    guest: 'tcp_stream', // bench/guests/tcp_stream.c, built -static
    iters: { native: 1024, sandbox: 1024 },
    reps: 3,
  },
  {
    id: 'tcp-connect',
    label: 'loopback TCP connect+accept+1 byte each way+close',
    kind: 'per-op',
    guest: 'tcp_connect', // bench/guests/tcp_connect.c, built -static
    iters: { native: 20_000, sandbox: 2_000 },
    reps: 3,
  },
];

// Network rows (issue 9): HTTP in one sandbox, TCP streams in modes host/user/sandbox (bench/net.mjs).
ROWS.push(...netRows({ compileGuest }));

// The audit's cost (issue 12): these rows again with --report (every syscall counted,
// every exec hashed, every open and write recorded), right below each; target: within 10%.
for (const id of ['forkexec', 'meta', 'cat200']) {
  const i = ROWS.findIndex((r) => r.id === id);
  const base = ROWS[i];
  ROWS.splice(i + 1, 0, { ...base, id: `${id}-audit`, label: `${base.label}, --report`, tssFlags: ['--report', '/dev/null'] });
}

// Deterministic mode's cost (issue 12): the fork+exec and file rows with --deterministic.
// Its guests read a virtual clock, so a per-op row is timed from outside instead: the
// wall time of N iterations less that of N/5, over 4N/5 (start-up cancels out).
for (const id of ['forkexec', 'meta', 'cat200']) {
  const i = ROWS.findIndex((r) => r.id === `${id}-audit`);
  const base = ROWS.find((r) => r.id === id);
  ROWS.splice(i + 1, 0, {
    ...base, id: `${id}-det`, label: `${base.label}, --deterministic${base.kind === 'per-op' ? ' (wall)' : ''}`,
    tssFlags: ['--deterministic'], wallPerOp: base.kind === 'per-op',
  });
}

/** The 200 MB host file the cat row reads (made once, outside the repository). */
function bigFile() {
  const f = '/var/tmp/tssandbox-bench-200M.bin';
  if (!fs.existsSync(f) || fs.statSync(f).size !== 200 * 1024 * 1024) {
    const chunk = Buffer.alloc(1 << 20, 0x5a);
    const fd = fs.openSync(f, 'w');
    for (let i = 0; i < 200; i++) fs.writeSync(fd, chunk);
    fs.closeSync(fd);
  }
  return f;
}

/** A tar archive of 2 000 small files in 20 directories (made once). */
function tarball2k() {
  const f = '/var/tmp/tssandbox-bench-2k.tar';
  if (!fs.existsSync(f)) {
    const src = fs.mkdtempSync('/var/tmp/tssandbox-bench-2k-');
    for (let i = 0; i < 20; i++) {
      const sub = path.join(src, 'tree', `dir${i}`);
      fs.mkdirSync(sub, { recursive: true });
      for (let j = 0; j < 100; j++) fs.writeFileSync(path.join(sub, `file${j}.txt`), `${i} ${j}\n`.repeat(64));
    }
    execFileSync('tar', ['cf', `${f}.tmp`, '-C', src, 'tree']);
    fs.renameSync(`${f}.tmp`, f);
    fs.rmSync(src, { recursive: true, force: true });
  }
  return f;
}

/** A git repository of 20 000 files in 200 directories, committed (made once). */
function gitRepo() {
  const d = '/var/tmp/tssandbox-bench-git20k';
  if (!fs.existsSync(path.join(d, '.git', 'bench-done'))) {
    fs.rmSync(d, { recursive: true, force: true });
    for (let i = 0; i < 200; i++) {
      const sub = path.join(d, `dir${i}`);
      fs.mkdirSync(sub, { recursive: true });
      for (let j = 0; j < 100; j++) fs.writeFileSync(path.join(sub, `file${j}.txt`), `${i} ${j}\n`);
    }
    const git = (...a) => execFileSync('git', ['-C', d, '-c', 'user.name=bench', '-c', 'user.email=bench@example.com', ...a], { stdio: 'ignore' });
    git('init', '-q');
    git('add', '.');
    git('commit', '-q', '-m', 'bench');
    fs.writeFileSync(path.join(d, '.git', 'bench-done'), '');
  }
  return d;
}

/** 200 headers and a main.c that includes them all (made once). */
function headers200() {
  const d = '/var/tmp/tssandbox-bench-hdr200';
  const main = path.join(d, 'main.c');
  if (!fs.existsSync(main)) {
    fs.mkdirSync(d, { recursive: true });
    let src = '#include <stdio.h>\n';
    for (let i = 0; i < 200; i++) {
      fs.writeFileSync(path.join(d, `h${i}.h`), `#pragma once\nstruct s${i} { int a, b; };\nstatic inline int f${i}(struct s${i} x) { return x.a + x.b + ${i}; }\n`);
      src += `#include "h${i}.h"\n`;
    }
    fs.writeFileSync(`${main}.tmp`, `${src}int main(void) { struct s0 v = {1, 2}; printf("%d\\n", f0(v)); return 0; }\n`);
    fs.renameSync(`${main}.tmp`, main);
  }
  return d;
}

/**
 * An empty host directory the create/delete and tar x rows work in (bound rw into
 * tssandbox): one per bench run (two runs on one machine would race in a shared one),
 * removed at exit. Marked as a top of a directory hierarchy (ext4's +T, best effort):
 * ext4 then places each directory made in it in an inode group of its own choosing
 * (Orlov) rather than its parent's, so one run's directory does not share a group with
 * the inodes the run before freed.
 */
let rwDirPath = null;
function rwDir() {
  if (rwDirPath === null) {
    rwDirPath = fs.mkdtempSync('/var/tmp/tssandbox-bench-rw-');
    process.on('exit', () => fs.rmSync(rwDirPath, { recursive: true, force: true }));
    spawnSync('chattr', ['+T', rwDirPath], { stdio: 'ignore' });
  }
  return rwDirPath;
}

// ---------------------------------------------------------------------------
// Peers: how to wrap a command line. `probe` decides availability once.
const RUNSC_BASE = ['--rootless', '--network=none'];
const PEERS = [
  {
    id: 'native',
    label: 'native',
    sandbox: false,
    wrap: (argv) => argv,
    probe: () => null,
  },
  // A platform may carry systrap's patching switch: --platforms ptrace,systrap:patch=0,systrap:patch=1
  ...TSS_PLATFORMS.map((spec) => [spec, ...spec.split(':patch=')]).map(([spec, plat, patch, pre = patch === undefined ? [] : ['env', `TSSANDBOX_SYSTRAP_PATCH=${patch}`]]) => ({
    id: `tss-${spec}`,
    label: `tss ${spec}`,
    sandbox: true,
    tss: true,
    // row.tssFlags: flags of the row's tssandbox run only (the audit rows' --report); row.mounts: rw binds.
    // The default path, as the `tssandbox` command starts.
    wrap: (argv, row) => [...pre, ...TSS_CMD, 'run', `--platform=${plat}`, ...(row?.mounts?.() ?? []).flatMap((m) => ['--mount', `${m}:${m}:rw`]), ...(row?.tssFlags ?? []), ...argv],
    probe() {
      if (!fs.existsSync(path.join(REPO, 'dist'))) return 'not built (run npm install)';
      return tryRun(this.wrap(['/bin/true']));
    },
  })),
  // --userns-off: a column for the path without the Sentry's own user namespace (what the
  // front does with TSSANDBOX_USERNS=off), ptrace; not in the ratios.
  ...(args.includes('--userns-off') ? [{
    id: 'tss-userns-off',
    label: 'tss userns off',
    sandbox: true,
    wrap: (argv, row) => ['env', 'TSSANDBOX_USERNS=off', ...TSS_CMD, 'run', '--platform=ptrace', ...(row?.mounts?.() ?? []).flatMap((m) => ['--mount', `${m}:${m}:rw`]), ...(row?.tssFlags ?? []), ...argv],
    probe() {
      return tryRun(this.wrap(['/bin/true']));
    },
  }] : []),
  ...['ptrace', 'systrap'].map((plat) => ({
    id: `runsc-${plat}`,
    label: `runsc ${plat}`,
    sandbox: true,
    runsc: true,
    extra: [],
    wrap(argv, row) {
      // row.runscWrap: the row's own runsc command line (the veth row's bundle in its netns).
      if (row?.runscWrap) return pin(row.runscWrap(plat, argv));
      const mounts = row?.mounts?.() ?? [];
      const base = row?.runscNet ? RUNSC_BASE.map((a) => (a === '--network=none' ? `--network=${row.runscNet}` : a)).filter((a) => row.runscNet !== 'sandbox' || a !== '--rootless') : RUNSC_BASE;
      if (row?.runscNet === 'sandbox' && !this.extra.includes('--ignore-cgroups')) base.push('--ignore-cgroups'); // not rootless: no cgroup v1 set-up
      return pin(['runsc', ...base, `--platform=${plat}`, ...this.extra, 'do', ...(mounts.length ? ['-force-overlay=false'] : []), ...argv]);
    },
    probe() {
      if (!which('runsc')) return 'runsc not installed';
      const first = tryRun(this.wrap(['/bin/true']));
      if (first === null) return null;
      this.extra = ['--ignore-cgroups'];
      const second = tryRun(this.wrap(['/bin/true']));
      return second === null ? null : first;
    },
  })),
  {
    id: 'proot',
    label: 'proot',
    sandbox: true,
    wrap: (argv) => pin(['proot', ...argv]),
    probe() {
      if (!which('proot')) return 'proot not installed';
      return tryRun(this.wrap(['/bin/true']));
    },
  },
];

// ---------------------------------------------------------------------------
function which(cmd) {
  return ENV.PATH.split(':').some((d) => {
    try { fs.accessSync(path.join(d, cmd), fs.constants.X_OK); return true; } catch { return false; }
  });
}

function run(argv, timeoutMs = 120_000) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { env: ENV, encoding: 'utf8', timeout: timeoutMs, stdio: [scratchStdio(), 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { ...r, ms };
}

/** null if argv runs and exits 0, else a one-line reason. */
function tryRun(argv) {
  const r = run(argv, 60_000);
  if (r.error) return r.error.code === 'ETIMEDOUT' ? 'timed out' : String(r.error.message);
  if (r.status === 0) return null;
  return failure(r);
}

function compileGuest(name) {
  fs.mkdirSync(BUILD, { recursive: true });
  const src = path.join(HERE, 'guests', `${name}.c`);
  const out = path.join(BUILD, name);
  const stale = !fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(src).mtimeMs;
  if (stale) execFileSync('gcc', ['-O2', '-static', '-pthread', '-o', out, src], { stdio: 'inherit' });
  return out;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** A busybox bundle whose process is `true` (made once under bench/.build). */
function ociBundle() {
  const dir = path.join(BUILD, 'oci-bundle');
  const rootfs = path.join(dir, 'rootfs');
  if (!fs.existsSync(path.join(dir, 'config.json'))) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
    for (const d of ['proc', 'sys', 'dev', 'tmp', 'etc']) fs.mkdirSync(path.join(rootfs, d));
    fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin', 'busybox'));
    fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
    for (const a of ['true', 'sh']) fs.symlinkSync('busybox', path.join(rootfs, 'bin', a));
    execFileSync(BIN, ['spec', '--bundle', dir]);
    const c = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    c.process.terminal = false;
    c.process.args = ['true'];
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(c));
  }
  return dir;
}

const OCI_RUNTIMES = {
  native: () => (which('runc') ? ['runc'] : null),
  // The native entry engines are given (`tssandbox install`), else the Node command line.
  'tss-ptrace': () => (fs.existsSync(path.join(REPO, 'build', 'Release', 'tssandbox-oci')) ? [path.join(REPO, 'build', 'Release', 'tssandbox-oci')] : [process.execPath, BIN]),
  'runsc-ptrace': () => (which('runsc') ? ['runsc', '--network=none', '--platform=ptrace', '--ignore-cgroups'] : null),
  proot: () => null,
};

/** One create + start + wait (for the container's pid) + delete, timed from outside. */
function ociCycle(rt, bundle, root, id) {
  const pidFile = path.join(root, `${id}.pid`);
  const t0 = process.hrtime.bigint();
  // No pipes: the container's process (runc's init, our Sentry) keeps create's stdio.
  // Nor the host's /dev/null ('ignore'): `runsc create` fchowns its stdio to 65534:65534
  // (its sandbox runs as nobody), which chowned the host's /dev/null. A scratch file.
  const out = fs.openSync(path.join(root, `${id}.stdio`), 'w+');
  const c = spawnSync(rt[0], [...rt.slice(1), '--root', root, 'create', '--bundle', bundle, '--pid-file', pidFile, id],
    { env: ENV, stdio: [out, out, out], timeout: 60_000 });
  fs.closeSync(out);
  if (c.status !== 0) return { error: `create: exit ${c.status ?? c.signal}` };
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  const s = run([...rt, '--root', root, 'start', id]);
  if (s.status !== 0) return { error: failure(s) };
  const sab = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 60_000; i++) {
    let st = '';
    try { st = fs.readFileSync(`/proc/${pid}/stat`, 'latin1'); } catch { break; }
    const state = st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') break;
    Atomics.wait(sab, 0, 0, 1);
  }
  const d = run([...rt, '--root', root, 'delete', '--force', id]);
  if (d.status !== 0) return { error: failure(d) };
  return { ns: Number(process.hrtime.bigint() - t0) };
}

/** Until `<root>/.pool` holds a ready member (at most 10 s; the first cycle has none). */
function waitPool(root) {
  const dir = path.join(root, '.pool');
  const sab = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 1000; i++) {
    try {
      if (fs.readdirSync(dir).some((f) => f.endsWith('.sock'))) return;
    } catch {
      if (i === 0) return; // no pool yet: the first create starts one
    }
    Atomics.wait(sab, 0, 0, 10);
  }
}

function measureOci(row, peer) {
  const rt = OCI_RUNTIMES[peer.id]?.();
  if (!rt && peer.id === 'tss-systrap') return { error: 'OCI mode: TSSANDBOX_PLATFORM (not run here)' };
  if (!rt) return { error: peer.id === 'native' ? 'runc not installed' : 'no OCI mode' };
  const bundle = ociBundle();
  const root = fs.mkdtempSync(path.join('/tmp', `tss-bench-oci-${peer.id}-`));
  try {
    const reps = QUICK ? Math.max(2, Math.ceil(row.reps / 3)) : row.reps;
    const vals = [];
    for (let i = 0; i <= reps; i++) {
      // Start latency, as an engine sees it: tssandbox's native entry hands create to a
      // pre-started Sentry (src/oci/pool.ts), which the previous create started; wait
      // (untimed) until it is ready, as one would between containers started by people.
      if (peer.id.startsWith('tss')) waitPool(root);
      const r = ociCycle(rt, bundle, root, `bench-${i}`);
      if (r.error) return { error: r.error };
      if (i > 0) vals.push(r.ns); // the first is a warm-up
    }
    return { value: median(vals), samples: vals };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** Measures one row under one peer: { value (ns), note } or { error }. */
function measure(row, outer) {
  if (row.kind === 'oci') return measureOci(row, outer);
  if (row.kind === 'docker') return measureDocker(row, outer, { repo: REPO, env: ENV, reps: QUICK ? 2 : row.reps, median });
  const why = row.skip?.(outer) ?? (outer.id === 'tss-kvm' && !KVM_ROWS.has(row.id) ? 'kvm: not in KVM_ROWS (--kvm-rows)' : null);
  if (why) return { error: why };
  // row.around: every peer's command wrapped (e.g. run inside a network namespace).
  const peer = row.around ? { ...outer, wrap: (argv, r) => row.around(outer.wrap(argv, r)) } : outer;
  const reps = QUICK ? Math.max(2, Math.ceil(row.reps / 3)) : row.reps;
  if (row.kind === 'per-op') {
    const bin = compileGuest(row.guest);
    const iters = peer.sandbox ? row.iters.sandbox : row.iters.native;
    const vals = [];
    if (row.wallPerOp) {
      const n = QUICK ? Math.ceil(iters / 4) : iters;
      const small = Math.max(1, Math.floor(n / 5));
      for (let i = 0; i < reps; i++) {
        const big = run(peer.wrap([bin, String(n)], row));
        const little = run(peer.wrap([bin, String(small)], row));
        if (big.status !== 0) return { error: failure(big) };
        if (little.status !== 0) return { error: failure(little) };
        vals.push(Math.max(0, ((big.ms - little.ms) * 1e6) / (n - small)));
      }
      return { value: median(vals), samples: vals };
    }
    for (let i = 0; i < reps; i++) {
      const guestArgs = typeof row.guestArgs === 'function' ? row.guestArgs(outer) : row.guestArgs ?? [];
      const r = run(peer.wrap([bin, ...guestArgs, String(QUICK ? Math.ceil(iters / 4) : iters)], row));
      const m = /([\d.]+) ns\/iter/.exec(r.stdout ?? '');
      if (r.status !== 0 || !m) return { error: failure(r) };
      vals.push(Number(m[1]));
    }
    return { value: median(vals), samples: vals };
  }
  // wall: one warm-up, then reps timed runs
  const argv = peer.wrap(typeof row.argv === 'function' ? row.argv() : row.argv, row);
  const warm = run(argv);
  if (warm.status !== 0) return { error: failure(warm) };
  const vals = [];
  for (let i = 0; i < reps; i++) {
    const r = run(argv);
    if (r.status !== 0) return { error: failure(r) };
    vals.push(r.ms * 1e6);
  }
  return { value: median(vals), samples: vals };
}

function failure(r) {
  if (r.error) return r.error.code === 'ETIMEDOUT' ? 'timed out' : r.error.message;
  const lines = (r.stderr || r.stdout || '').split('\n').map((s) => s.trim()).filter(Boolean);
  // Prefer the CLI's own message or a JS error over the first line of a stack dump.
  const line = lines.find((l) => /^tssandbox:|Error\b/.test(l)) ?? lines[0] ?? '';
  return `exit ${r.status ?? r.signal}${line ? `: ${line.slice(0, 100)}` : ''}`;
}

function fmtTime(ns) {
  if (ns < 1e3) return `${ns.toFixed(0)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(ns < 1e4 ? 2 : 1)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toFixed(ns < 1e7 ? 2 : 1)} ms`;
  return `${(ns / 1e9).toFixed(2)} s`;
}
const fmtRatio = (a, b) => (a == null || b == null ? 'n/a' : `${(a / b).toFixed(a / b < 10 ? 2 : 1)}×`);

function table(header, rows) {
  const all = [header, ...rows];
  const w = header.map((_, i) => Math.max(...all.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => (i === 0 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join('  ');
  return [line(header), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------------------
const log = (s) => (JSON_OUT ? process.stderr : process.stdout).write(`${s}\n`);

const unavailable = {};
for (const p of PEERS) {
  const why = p.probe();
  if (why) unavailable[p.id] = why;
}
log(`tssandbox benchmark on ${process.platform}/${process.arch}, node ${process.version}${QUICK ? ' (quick)' : ''}${PIN_PEERS ? ' (peers pinned to CPU 0)' : ''}`);
for (const p of PEERS) log(`  ${p.label.padEnd(13)} ${unavailable[p.id] ? `n/a: ${unavailable[p.id]}` : 'ok'}`);
log('');

const results = {};
for (const row of ROWS) {
  if (ONLY && !ONLY.has(row.id)) continue;
  results[row.id] = {};
  await row.setup?.();
  for (const p of PEERS) {
    if (unavailable[p.id]) { results[row.id][p.id] = { error: unavailable[p.id] }; continue; }
    results[row.id][p.id] = measure(row, p);
    if (process.stderr.isTTY) process.stderr.write('.');
  }
  await row.teardown?.();
}
if (process.stderr.isTTY) process.stderr.write('\n');
stopDocker();

const val = (rid, pid) => results[rid][pid]?.value ?? null;
/** The fastest value among the peers matching `pick` (tssandbox's platforms, runsc's). */
const best = (rid, pick) => {
  const vs = PEERS.filter(pick).map((p) => val(rid, p.id)).filter((v) => v != null);
  return vs.length ? Math.min(...vs) : null;
};
const header = ['benchmark', ...PEERS.map((p) => p.label), 'tss/native', 'tss/runsc', 'tss/proot'];
const body = ROWS.filter((r) => results[r.id]).map((row) => [
  row.label + (row.kind === 'per-op' ? ' (per call)' : ' (median wall)'),
  ...PEERS.map((p) => (val(row.id, p.id) == null ? 'n/a' : fmtTime(val(row.id, p.id)))),
  fmtRatio(best(row.id, (p) => p.tss), val(row.id, 'native')),
  fmtRatio(best(row.id, (p) => p.tss), best(row.id, (p) => p.runsc)),
  fmtRatio(best(row.id, (p) => p.tss), val(row.id, 'proot')),
]);
log(table(header, body));

const errors = [];
for (const row of ROWS) {
  for (const p of PEERS) {
    const e = results[row.id]?.[p.id]?.error;
    if (e && !unavailable[p.id]) errors.push(`  ${row.id} under ${p.label}: ${e}`);
  }
}
if (errors.length) log(`\nn/a cells:\n${errors.join('\n')}`);
log('\nRatios below 1× mean tssandbox is faster (its fastest platform against runsc\'s fastest). per call: timed inside the guest; wall: whole command, median.');

// The warm pool, checkpoint/restore and density rows (bench/density.mjs).
let density = null;
// `--only pool`: the warm pool's rows alone (run /bin/true through it, sandboxes a second).
if (!ONLY || ONLY.has('density') || ONLY.has('pool')) {
  const { densityRows, formatDensity } = await import('./density.mjs');
  const runscPeer = PEERS.find((p) => p.id === 'runsc-ptrace');
  density = await densityRows({ BIN, REPO, ENV, QUICK, runscArgv: unavailable['runsc-ptrace'] ? null : runscPeer.wrap([]), poolOnly: ONLY !== null && !ONLY.has('density') });
  log(`\n${formatDensity(density)}`);
}

if (JSON_OUT) {
  process.stdout.write(`${JSON.stringify({ unavailable, results, density }, null, 2)}\n`);
}
