/**
 * `exec`: a new guest process in a running container's Sentry. The CLI sends the
 * process spec and its stdio fds (or a pty slave: the master went to --console-socket)
 * over the control socket, then waits for the exit line and exits with that status,
 * forwarding the signals it gets. With --detach a child of ours does the waiting (its
 * pid is the one in --pid-file, the one engines signal and reap), and the CLI returns
 * once the process has started.
 */
import * as fs from 'fs';
import * as path from 'path';
import { spawn } from 'child_process';
import { fail } from './errors';
import { StateDir, currentStatus, validateId } from './state';
import { connect, sendLine, LineReader, closeFd, ring } from './control';
import { ociNative, EINTR } from './native';
import { isHostNull } from './stdio';
import type { Globals } from './flags';
import { parseFlags } from './flags';
import type { ProcessSpec, Spec } from './spec-types';

const EXEC_FLAGS = {
  process: { type: 'string', short: 'p' },
  detach: { type: 'boolean', short: 'd' },
  'pid-file': { type: 'string' },
  tty: { type: 'boolean', short: 't' },
  'console-socket': { type: 'string' },
  env: { type: 'string', short: 'e', multiple: true },
  cwd: { type: 'string' },
  user: { type: 'string', short: 'u' },
  'additional-gids': { type: 'string', short: 'g', multiple: true },
  cap: { type: 'string', short: 'c', multiple: true },
  'no-new-privs': { type: 'boolean' },
  'preserve-fds': { type: 'string' },
  'process-label': { type: 'string' },
  apparmor: { type: 'string' },
  ignore_paused: { type: 'boolean' },
  'cgroup': { type: 'string', multiple: true },
} as const;

function buildProcess(o: Record<string, any>, rest: string[], base: ProcessSpec | undefined): ProcessSpec {
  let proc: ProcessSpec;
  if (o.process) {
    let text: string;
    try {
      text = fs.readFileSync(o.process, 'utf8');
    } catch {
      fail(`--process ${o.process}: cannot read it`);
    }
    try {
      proc = JSON.parse(text) as ProcessSpec;
    } catch (e) {
      fail(`--process ${o.process}: bad JSON: ${(e as Error).message}`);
    }
    if (!proc.args?.length) fail(`--process ${o.process}: args: must not be empty`);
  } else {
    if (rest.length === 0) fail('exec: a command is required (or --process FILE)', 2);
    proc = {
      ...(base ?? { cwd: '/' }), args: rest, terminal: !!o.tty,
      env: [...(base?.env ?? [])], user: { ...(base?.user ?? {}) },
    };
  }
  if (o.env) proc.env = [...(proc.env ?? []), ...(o.env as string[])];
  if (o.cwd) proc.cwd = o.cwd;
  if (o.user) {
    const m = /^(\d+)(?::(\d+))?$/.exec(o.user);
    if (!m) fail(`--user wants UID[:GID], got '${o.user}'`, 2);
    proc.user = { ...(proc.user ?? {}), uid: Number(m[1]), gid: m[2] !== undefined ? Number(m[2]) : 0 };
  }
  if (o['additional-gids']) proc.user = { ...(proc.user ?? {}), additionalGids: (o['additional-gids'] as string[]).map(Number) };
  if (o.tty) proc.terminal = true;
  proc.cwd = proc.cwd || '/';
  return proc;
}

/** A host pty whose master goes to the console socket; returns the slave. */
function ptyForConsole(sock: string, size?: { height: number; width: number }): number {
  const n = ociNative();
  const pty = n.ociOpenPty(size?.height ?? 0, size?.width ?? 0);
  if (typeof pty === 'number') fail(`cannot open a pty (errno ${-pty})`);
  const c = n.ociConnect(sock);
  if (c < 0) fail(`cannot connect to the console socket ${sock} (errno ${-c})`);
  const name = new TextEncoder().encode('/dev/ptmx');
  const r = n.ociSend(c, name, name.length, Int32Array.of(pty[0]), 1);
  closeFd(c);
  closeFd(pty[0]);
  if (r < 0) fail(`cannot send the console (errno ${-r})`);
  return pty[1];
}

export async function cmdExec(g: Globals, args: string[]): Promise<number> {
  const { values: o, rest } = parseFlags(args, EXEC_FLAGS as never);
  if (rest.length < 1) fail('exec: a container id is required', 2);
  const id = validateId(rest[0]);
  const st = new StateDir(g.root, id);
  if (!st.exists) fail(`container "${id}" does not exist`);
  const s = st.read();
  const status = currentStatus(s);
  if (status !== 'running') fail(`cannot exec in a container that is ${status}`);
  let base: ProcessSpec | undefined;
  try {
    base = (JSON.parse(fs.readFileSync(path.join(s.bundle, 'config.json'), 'utf8')) as Spec).process;
  } catch {
    base = undefined;
  }
  const proc = buildProcess(o, rest.slice(1), base);
  const tty = !!proc.terminal;
  if (tty && !o['console-socket'] && o.detach) fail('cannot allocate a tty for a detached exec without --console-socket');
  const slave = tty && o['console-socket'] ? ptyForConsole(path.resolve(o['console-socket']), proc.consoleSize) : -1;
  const req = { sock: st.sockPath, pid: s.pid, process: proc, tty: slave >= 0 };
  if (!o.detach) {
    const fds = slave >= 0 ? [slave] : [0, 1, 2];
    return runExec(req, fds, null);
  }
  // Detached: a child waits for the process; its pid goes to --pid-file.
  const reqFile = path.join(st.dir, `exec-${process.pid}-${Date.now()}.json`);
  fs.writeFileSync(reqFile, JSON.stringify(req));
  const stdio: Array<'inherit' | 'pipe' | number> = slave >= 0 ? [slave, slave, slave, 'pipe'] : ['inherit', 'inherit', 'inherit', 'pipe'];
  const child = spawn(process.execPath, [process.argv[1], '__oci-exec', reqFile], { detached: true, stdio });
  if (slave >= 0) closeFd(slave);
  const line = await new Promise<string>((resolve) => {
    let buf = '';
    const sync = child.stdio[3]!;
    sync.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\n')) resolve(buf.slice(0, buf.indexOf('\n')));
    });
    sync.on('error', () => undefined);
    child.on('exit', (code) => resolve(`error: exec ended before it started (status ${code})`));
  });
  try {
    fs.unlinkSync(reqFile);
  } catch {
    // the child removed it
  }
  (child.stdio[3] as NodeJS.ReadableStream & { destroy(): void }).destroy();
  if (line !== 'ok') fail(line.replace(/^error: /, ''));
  if (o['pid-file']) {
    const abs = path.resolve(o['pid-file']);
    fs.writeFileSync(`${abs}.tmp`, String(child.pid));
    fs.renameSync(`${abs}.tmp`, abs);
  }
  child.unref();
  return 0;
}

/** `__oci-exec FILE`: the detached exec's waiting process (stdio as given, sync pipe on fd 3). */
export async function execChildMain(args: string[]): Promise<number> {
  const req = JSON.parse(fs.readFileSync(args[0], 'utf8')) as { sock: string; pid: number; process: ProcessSpec; tty: boolean };
  const fds = req.tty ? [0] : [0, 1, 2];
  return runExec(req, fds, 3);
}

/**
 * Sends the exec request and waits for its exit line. The wait polls the socket with
 * the Sentry's signal handlers installed, so SIGTERM, SIGINT... reach the process.
 */
function runExec(req: { sock: string; pid: number; process: ProcessSpec; tty: boolean }, fds: number[], syncFd: number | null): number {
  const n = ociNative();
  const report = (line: string) => {
    if (syncFd === null) return;
    try {
      fs.writeSync(syncFd, line + '\n');
      fs.closeSync(syncFd);
    } catch {
      // the parent is gone
    }
  };
  const sock = connect(req.sock);
  if (sock === null) {
    report('error: the container\'s sandbox is not answering');
    fail('the container\'s sandbox is not answering (it has exited)');
  }
  // The host's /dev/null is not sent: the Sentry would hold it (stdio.ts).
  const nulls = req.tty ? [] : fds.filter((fd) => isHostNull(fd));
  const sent = fds.filter((fd) => !nulls.includes(fd));
  if (sendLine(sock, { op: 'exec', process: req.process, tty: req.tty, clientPid: process.pid, nullStdio: nulls }, sent) < 0) {
    report('error: cannot talk to the container\'s sandbox');
    fail('cannot talk to the container\'s sandbox');
  }
  ring(req.pid);
  const rd = new LineReader(sock);
  const first = rd.next();
  if (!first || !first.ok) {
    const msg = String(first?.error ?? 'the sandbox closed the connection');
    report(`error: ${msg}`);
    fail(msg);
  }
  report('ok');
  n.installSignalHandlers();
  const pf = Int32Array.of(sock), pe = Int32Array.of(1), pr = new Int32Array(1);
  for (;;) {
    const r = n.hostPoll(pf, pe, pr, 1, -1);
    const sigs = n.takeHostSignals();
    for (let sig = 1; sig < 32; sig++) {
      if (sigs & (1 << sig) && sig !== 28 /* SIGWINCH */) sendLine(sock, { op: 'signal', signal: sig });
    }
    if (r === -EINTR || r === 0) continue;
    const line = rd.next();
    if (line === null) return 137; // the sandbox went away with the process
    if (typeof line.exit === 'number') {
      const st = line.exit;
      const sig = st & 0x7f;
      return sig ? 128 + sig : (st >> 8) & 0xff;
    }
  }
}
