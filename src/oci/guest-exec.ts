/**
 * `exec` inside the container's Sentry: a new guest process in the same kernel,
 * filesystem and network, with the stdio the client sent over the control socket
 * (src/oci/exec.ts is the client). Its exit goes back on that connection; later lines
 * on it are signals for the process.
 */
import { FdTable } from '../../fs/vfs/fdtable';
import { consoleTty } from '../../fs/fsimpl/host/host-file';
import type { FsContext } from '../../fs/vfs/context';
import type { createVfs } from '../../fs/rootfs/create';
import type { Kernel } from '../kernel/kernel';
import type { Sentry } from '../kernel/sentry';
import { execInto } from '../kernel/process-lifecycle';
import type { ExecRequest } from '../loader/exec-image';
import { attach as attachTty } from '../kernel/tty';
import { Task } from '../kernel/task';
import { ThreadGroup } from '../kernel/thread-group';
import { SignalHandlers, SignalState } from '../kernel/signals';
import { sendToGroup } from '../kernel/signal-delivery';
import type { AddressSpace } from '../mm/address-space';
import { installFilter } from '../kernel/seccomp/install';
import { installStdio, installTerminal, sentryNull } from './stdio';
import { credsFor, applyRlimits, buildEnv, findProgram } from './process-setup';
import type { CompiledProfile } from './seccomp-profile';
import { type ServerConn, closeFd } from './control';
import type { ProcessSpec } from './spec-types';

/** What of the container's Sentry an exec needs. */
export interface ExecHost {
  s: Sentry;
  vfs: ReturnType<typeof createVfs>;
  init: Task;
  kernel: Kernel;
  seccomp: CompiledProfile | null;
  /** Host pids of exec clients (ps --format json), by guest pid. */
  execClients: Map<number, number>;
  onSignalLine: Map<ServerConn, ThreadGroup>;
  conns: Set<ServerConn>;
}

/** `exec`: a new guest process (not a child of pid 1, as in runc) with the stdio sent; true while its connection stays open. */
export function execGuest(h: ExecHost, c: ServerConn, msg: Record<string, unknown>, fds: number[]): boolean {
  const fail = (e: string): boolean => {
    for (const f of fds) closeFd(f);
    c.send({ ok: false, error: e });
    return false;
  };
  const proc = msg.process as ProcessSpec;
  if (!proc || !Array.isArray(proc.args) || proc.args.length === 0) return fail('exec: process.args must not be empty');
  const fdTable = new FdTable();
  const nulls = Array.isArray(msg.nullStdio) ? (msg.nullStdio as unknown[]).filter((i): i is number => i === 0 || i === 1 || i === 2) : [];
  const given = msg.tty ? 1 : 3 - nulls.length;
  if (msg.tty) installTerminal(fdTable, fds[0], true);
  else installStdio(fdTable, fds.slice(0, given), nulls, true, (fd) => sentryNull(h.vfs, h.init, fd));
  for (const extra of fds.slice(given)) closeFd(extra);
  const s = h.s;
  const creds = credsFor(proc);
  const fsCtx: FsContext = h.init.fsCtx.fork();
  if (proc.user?.umask !== undefined) fsCtx.umask = proc.user.umask & 0o777;
  const tid = h.kernel.allocPid();
  if (tid < 0) return fail('exec: no pid left');
  const tg = new ThreadGroup(h.kernel, tid, new SignalHandlers());
  const t = new Task(h.kernel, tid, 0, tg, null as unknown as AddressSpace, fdTable, fsCtx, creds, new SignalState(), s.wake);
  if (proc.noNewPrivileges) t.noNewPrivs = true;
  // As runc's exec: the container's seccomp profile holds for it too.
  if (h.seccomp) installFilter(t, h.seccomp.prog, { log: h.seccomp.log });
  tg.startTimeNs = h.kernel.nowNs();
  h.kernel.threadGroups.set(tid, tg);
  applyRlimits(tg, proc);
  if (msg.tty) attachTty(consoleTty, tg);
  const gone = () => {
    h.kernel.threadGroups.delete(tid);
    fdTable.closeAll(tg);
  };
  const cwd = proc.cwd || '/';
  const d = h.vfs.lookup(t, -100, cwd, true);
  if (typeof d === 'number') {
    gone();
    return fail(`exec: cwd ${cwd}: no such directory`);
  }
  fsCtx.cwd = d;
  const envp = buildEnv(proc.env ?? []);
  let program: string;
  try {
    program = findProgram(h.vfs, t, proc.args[0], envp);
  } catch (e) {
    gone();
    return fail((e as Error).message);
  }
  const req: ExecRequest = { path: program, argv: proc.args, envp, uid: creds.uid, euid: creds.euid, gid: creds.gid, egid: creds.egid };
  const r = execInto(s, t, req, true);
  if (typeof r !== 'number') {
    gone();
    return fail(`exec ${proc.args[0]}: ${r.reason}`);
  }
  if (typeof msg.clientPid === 'number') h.execClients.set(tid, msg.clientPid);
  tg.exitEvents.add(0xffffffff, () => {
    h.execClients.delete(tid);
    c.send({ exit: tg.waitStatus });
    c.onClose = null;
    h.onSignalLine.delete(c);
    c.close();
    h.conns.delete(c);
  });
  // The client gone (killed) takes its process with it.
  c.onClose = () => {
    if (!tg.zombie) sendToGroup(s, tg, { signo: 9, code: 0, pid: 0, uid: 0, force: true });
  };
  c.send({ ok: true, pid: tid });
  // Later lines on this connection: signals for the process.
  h.onSignalLine.set(c, tg);
  return true;
}
