// The `docker run --rm IMAGE true` row (bench/run.mjs): one dockerd of the bench's own
// (data, exec root and socket in a temp dir; `--iptables=false --bridge=none
// --storage-driver=vfs`, as this machine needs) with tssandbox (the native entry, as
// `tssandbox install` registers it) and runsc registered beside runc, a busybox image
// imported from a tarball (no registry), and each runtime timed on the same container.
// Started at the row's first measure, stopped when the bench exits.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const IMAGE = 'tssandbox-bench-busybox:latest';
let daemon = null;

export function docker(d, args, timeout = 120_000) {
  return spawnSync('docker', ['-H', d.host, ...args], { encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The bench's dockerd (one per process); `extra`: more runtimes for daemon.json (bench/docker-timeline.mjs). */
export function startDaemon(repo, env, extra = {}) {
  if (daemon) return daemon;
  const have = (c) => spawnSync('sh', ['-c', `command -v ${c}`], { env }).status === 0;
  if (!have('dockerd') || !have('docker')) return (daemon = { error: 'docker not installed' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-bench-docker-'));
  const host = `unix://${dir}/docker.sock`;
  const runtimes = { tssandbox: { path: path.join(repo, 'build', 'Release', 'tssandbox-oci') } };
  Object.assign(runtimes, extra);
  if (have('runsc')) runtimes.runsc = { path: 'runsc', runtimeArgs: ['--platform=ptrace', '--network=none', '--ignore-cgroups'] };
  // bench/docker-timeline.mjs: dockerd's debug log (its API calls, timed) and an execve trace of the engine.
  fs.writeFileSync(path.join(dir, 'daemon.json'), JSON.stringify({ 'log-level': env.TSS_DOCKERD_DEBUG ? 'debug' : 'warn', runtimes }));
  const log = fs.openSync(path.join(dir, 'dockerd.log'), 'w');
  const trace = env.TSS_DOCKERD_STRACE ? ['strace', '-f', '-tt', '-e', 'trace=execve', '-o', env.TSS_DOCKERD_STRACE, '--'] : [];
  const child = spawn(trace.length ? 'strace' : 'dockerd', [...trace.slice(1), ...(trace.length ? ['dockerd'] : []), '--config-file', path.join(dir, 'daemon.json'), '--iptables=false', '--ip6tables=false',
    '--ip-forward=false', '--ip-masq=false', '--bridge=none', '--storage-driver=vfs', '--data-root', path.join(dir, 'data'),
    '--exec-root', path.join(dir, 'exec'), '-H', host, '--pidfile', path.join(dir, 'docker.pid'), '--userland-proxy=false'],
  { stdio: ['ignore', log, log], env });
  const d = { dir, host, child, pools: path.join(dir, 'exec') };
  daemon = d;
  process.on('exit', () => stopDaemon(d));
  const sab = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 600 && docker(d, ['version']).status !== 0; i++) Atomics.wait(sab, 0, 0, 50);
  if (docker(d, ['version']).status !== 0) return (daemon = { error: 'dockerd did not start' });
  // A busybox rootfs, as the OCI row's.
  const rootfs = path.join(dir, 'rootfs');
  fs.mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
  for (const sub of ['proc', 'sys', 'dev', 'tmp', 'etc']) fs.mkdirSync(path.join(rootfs, sub));
  fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin', 'busybox'));
  fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
  for (const a of ['true', 'sh']) fs.symlinkSync('busybox', path.join(rootfs, 'bin', a));
  spawnSync('tar', ['-C', rootfs, '-cf', path.join(dir, 'rootfs.tar'), '.']);
  const imp = docker(d, ['import', '--change', 'CMD ["true"]', path.join(dir, 'rootfs.tar'), IMAGE]);
  if (imp.status !== 0) return (daemon = { error: `docker import: ${imp.stderr.trim().split('\n').pop()}` });
  return d;
}

function stopDaemon(d) {
  if (!d.child?.pid) return;
  spawnSync('docker', ['-H', d.host, 'rm', '-f', ...docker(d, ['ps', '-aq']).stdout.split('\n').filter(Boolean)], { stdio: 'ignore' });
  try {
    process.kill(d.child.pid, 'SIGTERM');
  } catch {
    // gone
  }
  const sab = new Int32Array(new SharedArrayBuffer(4));
  const gone = () => spawnSync('sh', ['-c', `kill -0 ${d.child.pid} 2>/dev/null`]).status !== 0 || d.child.exitCode !== null;
  for (let i = 0; i < 600 && !gone(); i++) Atomics.wait(sab, 0, 0, 50);
  if (!gone()) spawnSync('sh', ['-c', `pkill -KILL -P ${d.child.pid}; kill -KILL ${d.child.pid}`], { stdio: 'ignore' });
  d.child = null;
  spawnSync('sh', ['-c', `grep " ${d.dir}" /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r -n1 umount -l`], { stdio: 'ignore' });
  spawnSync('rm', ['-rf', d.dir], { stdio: 'ignore' });
}

/** Stops the row's dockerd, if one was started (the bench, after its rows). */
export function stopDocker() {
  if (daemon && !daemon.error) stopDaemon(daemon);
  daemon = null;
}

/** The tssandbox pool directories under dockerd's exec root (runtime-NAME/NAMESPACE/.pool). */
function poolDirs(d) {
  const out = [];
  const ls = (p) => {
    try {
      return fs.readdirSync(p);
    } catch {
      return [];
    }
  };
  for (const a of ls(d.pools)) for (const b of ls(path.join(d.pools, a))) if (ls(path.join(d.pools, a, b)).includes('.pool')) out.push(path.join(d.pools, a, b, '.pool'));
  return out;
}

/** Until a tssandbox pool member is ready (untimed; at most 10 s; none before the first run). */
export function waitPool(d) {
  const dirs = poolDirs(d);
  if (dirs.length === 0) return;
  const sab = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 1000; i++) {
    if (dirs.some((p) => fs.readdirSync(p).some((f) => f.endsWith('.sock')))) return;
    Atomics.wait(sab, 0, 0, 10);
  }
}

const RUNTIME_OF = { native: 'runc', 'tss-ptrace': 'tssandbox', 'runsc-ptrace': 'runsc' };

/** One peer's `docker run --rm --network=none IMAGE true`: { value (ns), samples } or { error }. */
export function measureDocker(row, peer, { repo, env, reps, median }) {
  const rt = RUNTIME_OF[peer.id];
  if (!rt) return { error: 'not a Docker runtime' };
  const d = startDaemon(repo, env);
  if (d.error) return { error: d.error };
  const vals = [];
  for (let i = 0; i <= reps; i++) {
    if (rt === 'tssandbox') waitPool(d);
    const t0 = process.hrtime.bigint();
    // -i: the container's stdin is the shim's fifo. Without it the shim gives the
    // runtime the host's /dev/null, which `runsc create` fchowns to 65534 (its sandbox
    // runs as nobody): the host's /dev/null was found owned by nobody after this row.
    const r = docker(d, ['run', '-i', '--rm', '--network=none', `--runtime=${rt}`, IMAGE, 'true']);
    const ns = Number(process.hrtime.bigint() - t0);
    if (r.status !== 0) return { error: `docker run: ${(r.stderr || '').trim().split('\n').pop()}` };
    if (i > 0) vals.push(ns); // the first is a warm-up
  }
  return { value: median(vals), samples: vals };
}
