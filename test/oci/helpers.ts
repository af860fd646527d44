/**
 * Shared by the OCI tests: a busybox-static rootfs, bundles made with `tssandbox spec`,
 * the CLI run with its own --root, image tarballs for the engines, and polling waits
 * (bounded in count, never a timing assert).
 *
 * Every program a test runs goes through `spawnAsync`/`spawnOk` (async): vitest's worker answers
 * its RPC (onTaskUpdate, 60 s fixed) from its event loop, and back-to-back spawnSync
 * calls on a loaded machine kept that loop blocked past it. Only the quick probes run
 * while the test file is collected (`have`, `staticBusybox`) stay synchronous.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BIN } from '../helpers/paths';

export { BIN };

/** The native entry (what `tssandbox install` registers), when built. */
export const FAST = path.join(path.dirname(BIN), '..', 'build', 'Release', 'tssandbox-oci');
/** What engines are given here: the native entry if built (it creates through the pool), else the Node command line. */
export const RUNTIME = fs.existsSync(FAST) ? FAST : BIN;

let busybox: string | null | undefined;

/** A static busybox on the host (the tests need one that runs without a loader); looked for once. */
export function staticBusybox(): string | null {
  if (busybox !== undefined) return busybox;
  busybox = null;
  for (const p of ['/bin/busybox', '/usr/bin/busybox']) {
    try {
      const out = execFileSync('file', ['-L', p], { encoding: 'utf8' });
      if (/statically linked|static-pie/.test(out)) return (busybox = p);
    } catch {
      // no such file, or no `file`
    }
  }
  return busybox;
}

/** What a program run by `spawnAsync` left: the fields of spawnSync's result the tests read. */
export interface Ran {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  error?: Error;
}

export interface SpawnOpts {
  input?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** ms; then SIGKILL (the timeout only ends a hang) */
  timeout?: number;
  /** stdio other than pipes (e.g. files): those not piped give '' */
  stdio?: StdioOptions;
}

/**
 * Runs a program to its end without blocking the event loop. Resolves once it exited
 * and its piped stdout/stderr closed, as spawnSync returns; never rejects (a program
 * that cannot start gives `error` and status null, as spawnSync).
 */
export function spawnAsync(cmd: string, args: string[], opts: SpawnOpts = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let error: Error | undefined;
    const c = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: opts.stdio ?? ['pipe', 'pipe', 'pipe'] });
    c.stdout?.on('data', (d: Buffer) => out.push(d));
    c.stderr?.on('data', (d: Buffer) => err.push(d));
    c.stdin?.on('error', () => undefined); // a program that exits without reading its input
    c.stdin?.end(opts.input ?? '');
    const timer = setTimeout(() => {
      error = new Error(`${cmd} ${args.join(' ')}: timed out`);
      c.kill('SIGKILL');
      // A pipe a descendant still holds would keep 'close' away.
      c.stdout?.destroy();
      c.stderr?.destroy();
    }, opts.timeout ?? 120_000);
    let failed = false;
    c.on('error', (e) => {
      error = e;
      failed = true;
    });
    c.on('close', (status, signal) => {
      clearTimeout(timer);
      // A program that never started: status null, as spawnSync's (close gives -errno).
      resolve({ status: failed ? null : status, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), error });
    });
  });
}

/** `spawnAsync`, for programs that must succeed: their stdout, or an error with their stderr. */
export async function spawnOk(cmd: string, args: string[], opts: SpawnOpts = {}): Promise<string> {
  const r = await spawnAsync(cmd, args, opts);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.error?.message ?? `exit ${r.status ?? r.signal}`}: ${r.stderr.trim()}`);
  return r.stdout;
}

export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export function tmp(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `tss-oci-${prefix}-`));
}

/** A rootfs: busybox and its applets in /bin, /etc/passwd and /etc/group, empty /tmp. */
export async function makeRootfs(dir: string): Promise<string> {
  const bb = staticBusybox();
  if (!bb) throw new Error('no static busybox (scripts/install-deps.sh installs busybox-static)');
  fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
  fs.copyFileSync(bb, path.join(dir, 'bin', 'busybox'));
  fs.chmodSync(path.join(dir, 'bin', 'busybox'), 0o755);
  const applets = (await spawnOk(bb, ['--list'])).split('\n').filter((a) => a && a !== 'busybox');
  for (const a of applets) fs.symlinkSync('busybox', path.join(dir, 'bin', a));
  for (const d of ['etc', 'tmp', 'root', 'proc', 'sys', 'dev']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  fs.chmodSync(path.join(dir, 'tmp'), 0o1777);
  fs.writeFileSync(path.join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n');
  fs.writeFileSync(path.join(dir, 'etc', 'group'), 'root:x:0:\nnobody:x:65534:\n');
  return dir;
}

export interface Cli {
  root: string;
  run(args: string[], opts?: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv }): Promise<Ran>;
  /** For commands that start a container: its stdio goes to files (a pipe would stay open with the Sentry). */
  detached(args: string[], outDir: string, opts?: { env?: NodeJS.ProcessEnv }): Promise<{ status: number | null; stderr: string; out: string; err: string }>;
}

export function cli(root: string, bin = BIN): Cli {
  return {
    root,
    run(args, opts = {}) {
      return spawnAsync(bin, ['--root', root, ...args], { input: opts.input, cwd: opts.cwd, env: opts.env, timeout: 60_000 });
    },
    async detached(args, outDir, opts = {}) {
      const out = path.join(outDir, 'stdout.txt');
      const err = path.join(outDir, 'stderr.txt');
      const o = fs.openSync(out, 'w');
      const e = fs.openSync(err, 'w');
      try {
        const r = await spawnAsync(bin, ['--root', root, ...args], { stdio: ['ignore', o, e], env: opts.env, timeout: 60_000 });
        return { status: r.status, stderr: fs.readFileSync(err, 'utf8'), out, err };
      } finally {
        fs.closeSync(o);
        fs.closeSync(e);
      }
    },
  };
}

/** A bundle with a fresh rootfs and `tssandbox spec`'s config, changed by `edit`. */
export async function makeBundle(dir: string, edit: (c: any) => void = () => undefined, rootfs?: string): Promise<string> {
  fs.mkdirSync(dir, { recursive: true });
  if (rootfs) fs.symlinkSync(rootfs, path.join(dir, 'rootfs'));
  else await makeRootfs(path.join(dir, 'rootfs'));
  const r = await spawnAsync(BIN, ['spec', '--bundle', dir]);
  if (r.status !== 0) throw new Error(`spec failed: ${r.stderr}`);
  const p = path.join(dir, 'config.json');
  const c = JSON.parse(fs.readFileSync(p, 'utf8'));
  c.process.terminal = false;
  edit(c);
  fs.writeFileSync(p, JSON.stringify(c, null, 2));
  return dir;
}

/** Polls fn (every 20 ms, at most `tries` times) until it returns a truthy value. */
export async function waitFor<T>(fn: () => T | null | undefined | false | Promise<T | null | undefined | false>, tries = 1500): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('condition not reached');
}

/** A shell script printing 1..n a tenth of a second apart, and its whole output. */
export function counter(n: number): { script: string; full: string } {
  return {
    script: `i=0; while [ $i -lt ${n} ]; do i=$((i+1)); echo $i; sleep 0.1; done`,
    full: Array.from({ length: n }, (_, i) => `${i + 1}\n`).join(''),
  };
}

/** A bundle whose process is `/bin/sh -c script`, its root writable. */
export const shellBundle = (dir: string, script: string): Promise<string> =>
  makeBundle(dir, (c) => {
    c.process.args = ['/bin/sh', '-c', script];
    c.root.readonly = false;
  });

/** A file's text, '' while it does not exist. */
export function textOf(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Lines a file holds so far (an output being written). */
export const linesOf = (file: string): number => textOf(file).split('\n').length - 1;

export function alive(pid: number): boolean {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** /proc/PID/status as key/value pairs (Seccomp, CapEff, TracerPid, SigCgt...). */
export function procStatus(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const m = /^(\w+):\s*(.*)$/.exec(l);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

/** Host processes whose command line mentions `needle` (to prove nothing was left behind). */
export function processesWith(needle: string): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'latin1');
      if (cmd.includes(needle) && alive(Number(d))) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

/** The host cgroup directories of a process that are a sandbox's (tssandbox-PID, v1 or v2). */
export function sandboxCgroupDirs(pid: number): string[] {
  return fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').filter((l) => l.includes('/tssandbox-')).map((l) => {
    const [, ctrls, p] = l.split(':');
    return ctrls === '' ? `/sys/fs/cgroup${fs.existsSync('/sys/fs/cgroup/cgroup.controllers') ? '' : '/unified'}${p}` : `/sys/fs/cgroup/${ctrls}${p}`;
  });
}

/** Live descendants of pid (by /proc/PID/stat ppid). */
export function descendants(pid: number): number[] {
  const kids = new Map<number, number[]>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = fs.readFileSync(`/proc/${d}/stat`, 'latin1');
      const rest = st.slice(st.lastIndexOf(')') + 2).split(' ');
      if (rest[0] === 'Z') continue;
      const ppid = Number(rest[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid)!.push(Number(d));
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const k of kids.get(p) ?? []) {
      out.push(k);
      walk(k);
    }
  };
  walk(pid);
  return out;
}

/** A plain rootfs tarball (for `docker import`, `podman import`). */
export async function rootfsTar(rootfs: string, out: string): Promise<string> {
  await spawnOk('tar', ['-C', rootfs, '--numeric-owner', '-cf', out, '.']);
  return out;
}

const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

/** An OCI image layout tarball with one layer (for `ctr image import`). */
export async function ociImageTar(rootfs: string, out: string, name: string, cmd: string[] = ['sh']): Promise<string> {
  const work = tmp('img');
  try {
    const blobs = path.join(work, 'blobs', 'sha256');
    fs.mkdirSync(blobs, { recursive: true });
    const layerPath = path.join(work, 'layer.tar');
    await rootfsTar(rootfs, layerPath);
    const layer = fs.readFileSync(layerPath);
    fs.rmSync(layerPath);
    const put = (b: Buffer) => {
      const d = sha(b);
      fs.writeFileSync(path.join(blobs, d), b);
      return { digest: `sha256:${d}`, size: b.length };
    };
    const l = put(layer);
    const config = Buffer.from(JSON.stringify({
      architecture: 'amd64', os: 'linux',
      config: { Cmd: cmd, Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], WorkingDir: '/' },
      rootfs: { type: 'layers', diff_ids: [l.digest] },
    }));
    const c = put(config);
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...c },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...l }],
    }));
    const m = put(manifest);
    fs.writeFileSync(path.join(work, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    fs.writeFileSync(path.join(work, 'index.json'), JSON.stringify({
      schemaVersion: 2,
      manifests: [{
        mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m,
        annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': name.split(':').pop() },
        platform: { architecture: 'amd64', os: 'linux' },
      }],
    }));
    await spawnOk('tar', ['-C', work, '-cf', out, 'oci-layout', 'index.json', 'blobs']);
    return out;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

export function killTree(pid: number): void {
  for (const p of [pid, ...descendants(pid)].reverse()) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** Stops a dockerd of a test's own (its containers first), then unmounts and removes its directory. */
export async function stopDockerd(
  daemon: { pid?: number; kill(sig: NodeJS.Signals): boolean } | null, docker: (args: string[]) => Promise<Ran>, dir: string,
): Promise<void> {
  if (daemon?.pid) {
    const ids = (await docker(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
    if (ids.length) await docker(['rm', '-f', ...ids]);
    daemon.kill('SIGTERM');
    const pid = daemon.pid;
    await waitFor(() => !alive(pid), 1500).catch(() => killTree(pid));
    killTree(pid);
  }
  if (dir) {
    await spawnAsync('sh', ['-c', `grep " ${dir}" /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r -n1 umount -l`]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A config.toml for a containerd of a test's own: root, state and sockets under dir
 * (the host's containerd is left alone), the snapshotters this machine lacks off, the
 * listed plugins off too, then the test's own lines.
 */
export function containerdConfig(dir: string, sock: string, disabled: string[], extra: string[] = []): string {
  const off = [...disabled, ...['aufs', 'btrfs', 'zfs', 'devmapper'].map((s) => `io.containerd.snapshotter.v1.${s}`)];
  const file = path.join(dir, 'config.toml');
  fs.writeFileSync(file, [
    'version = 2',
    `root = "${dir}/root"`,
    `state = "${dir}/state"`,
    `disabled_plugins = [${off.map((o) => `"${o}"`).join(', ')}]`,
    '[grpc]', `  address = "${sock}"`,
    '[ttrpc]', `  address = "${sock}.ttrpc"`,
    '[debug]', `  address = "${dir}/debug.sock"`,
    ...extra,
    '',
  ].join('\n'));
  return file;
}

/** The docker client (docker.io's, else the one on PATH). */
export const DOCKER = fs.existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';

/**
 * A dockerd of a test's own, answering: tssandbox installed into its daemon.json (with
 * `settings` merged), data, exec root, socket and pid file under dir (`--iptables=false
 * --bridge=none --storage-driver=vfs`, as this machine needs), the busybox rootfs imported
 * as `image` (no registry here).
 */
export async function startDockerd(dir: string, image: string, settings: Record<string, unknown> = {}): Promise<{ host: string; daemon: ChildProcess }> {
  const host = `unix://${dir}/docker.sock`;
  const conf = path.join(dir, 'daemon.json');
  fs.writeFileSync(conf, JSON.stringify({ 'log-level': 'warn', ...settings }));
  const inst = await spawnAsync(BIN, ['install', '--config', conf]);
  if (inst.status !== 0) throw new Error(`tssandbox install: ${inst.stderr}`);
  const log = fs.openSync(path.join(dir, 'dockerd.log'), 'w');
  const daemon = spawn('dockerd', [
    '--config-file', conf, '--iptables=false', '--ip6tables=false', '--ip-forward=false', '--ip-masq=false', '--bridge=none', '--storage-driver=vfs',
    '--data-root', path.join(dir, 'data'), '--exec-root', path.join(dir, 'exec'), '-H', host,
    '--pidfile', path.join(dir, 'docker.pid'), '--userland-proxy=false',
  ], { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const docker = (args: string[]) => spawnAsync(DOCKER, ['-H', host, ...args], { timeout: 120_000, input: '' });
  await waitFor(async () => (await docker(['version'])).status === 0, 3000);
  const rootfs = await makeRootfs(path.join(dir, 'rootfs'));
  const tar = await rootfsTar(rootfs, path.join(dir, 'rootfs.tar'));
  const r = await docker(['import', '--change', 'CMD ["sh"]', tar, image]);
  if (r.status !== 0) throw new Error(`docker import: ${r.stderr}`);
  return { host, daemon };
}

/**
 * A console socket: a python3 helper receives the pty master over SCM_RIGHTS (Node cannot),
 * types `input` into it, and copies the terminal's output to `out`.
 */
export function consoleReceiver(sock: string, out: string, input = ''): ChildProcess {
  return spawn('python3', ['-c', `
import socket, os, array
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(${JSON.stringify(sock)}); s.listen(1)
c, _ = s.accept()
fds = array.array('i')
msg, anc, flags, addr = c.recvmsg(64, socket.CMSG_LEN(4))
for level, typ, data in anc:
    fds.frombytes(data[:4])
m = fds[0]
if ${JSON.stringify(input)}: os.write(m, ${JSON.stringify(input)}.encode())
out = open(${JSON.stringify(out)}, 'wb')
while True:
    try:
        d = os.read(m, 4096)
    except OSError:
        break
    if not d: break
    out.write(d); out.flush()
`], { stdio: 'ignore' });
}
