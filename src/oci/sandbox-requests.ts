/**
 * The container's Sentry's control requests (sandbox.ts serves the socket; control.ts
 * is the protocol): one JSON line each, one reply, only an exec's connection stays.
 */
import { tmpfsBudget } from '../../fs/vfs/space-budget';
import type { ThreadGroup } from '../kernel/thread-group';
import { sendToGroup } from '../kernel/signal-delivery';
import { closeFd, type ServerConn } from './control';
import { execGuest, type ExecHost } from './guest-exec';
import { serveCheckpoint, checkpointRunFlags } from './checkpoint';
import type { Freezer } from './freezer';
import type { SandboxParts } from './sandbox-build';

/** Signals whose default action is to ignore (a created container survives them). */
const DEFAULT_IGNORED = new Set([17, 18, 23, 28]);

/** What the requests need of the container's Sentry. */
export interface RequestHost {
  readonly p: SandboxParts;
  readonly freezer: Freezer;
  readonly started: boolean;
  readonly execHost: ExecHost;
  /** Exec connections whose later lines signal their process. */
  readonly onSignalLine: Map<ServerConn, ThreadGroup>;
  /** The host pids of the container itself (ps): the Sentry's, and a pool member's front. */
  ownPids(): number[];
  settle(): string | null;
  start(): string | null;
  /** pid 1's first instruction runs (loaded at create). */
  runInit(): void;
}

/** Serves one request; true when the connection stays open (a running exec, a checkpoint under way). */
export function handleRequest(h: RequestHost, c: ServerConn, msg: Record<string, unknown>, fds: number[]): boolean {
  const { p } = h;
  const refuse = (error: string): boolean => {
    for (const f of fds) closeFd(f);
    c.send({ ok: false, error });
    return false;
  };
  switch (msg.op) {
    case 'state':
      c.send({ ok: true, status: h.started ? 'running' : 'created' });
      return false;
    case 'created': {
      // create's hooks have run (the Node command line's create; a pool member calls settle itself).
      const err = h.settle();
      c.send(err ? { ok: false, error: err } : { ok: true });
      return false;
    }
    case 'start': {
      const err = h.start();
      c.send(err ? { ok: false, error: err } : { ok: true });
      c.close();
      if (err) {
        if (!h.started) process.exit(127);
        return false;
      }
      h.runInit();
      return false;
    }
    case 'checkpoint': // checkpoint.ts; a paused container too (freezer.ts)
      if (!h.started) return refuse('cannot checkpoint a container that has not been started');
      return serveCheckpoint(p.s, c, msg, fds, checkpointRunFlags({ ...p.cfg, tmpfsLimit: tmpfsBudget.limit, pidsLimit: p.kernel.pidsLimit, hostname: p.kernel.hostname, consoleHostFd: p.ptySlave }), h.freezer);
    case 'kill': {
      const sig = Number(msg.signal);
      if (!(sig >= 0 && sig < 65)) return refuse(`invalid signal ${msg.signal}`);
      c.send({ ok: true });
      if (sig === 0) return false;
      if (!h.started) {
        if (DEFAULT_IGNORED.has(sig)) return false;
        c.close();
        process.exit(128 + sig);
      }
      const targets = msg.all ? [...p.kernel.threadGroups.values()] : [p.init.tg];
      for (const tg of targets) sendToGroup(p.s, tg, { signo: sig, code: 0, pid: 0, uid: 0, force: true });
      return false;
    }
    case 'ps': {
      const procs = [...p.kernel.threadGroups.values()].filter((tg) => !tg.zombie).map((tg) => ({
        pid: tg.pid, ppid: tg.parent?.pid ?? 0, uid: [...tg.tasks][0]?.creds.uid ?? 0, cmd: (tg.argv ?? []).join(' '),
      }));
      c.send({ ok: true, hostPids: [...h.ownPids(), ...h.execHost.execClients.values()], procs });
      return false;
    }
    case 'exec':
      if (!h.started) return refuse('cannot exec in a container that has not been started');
      return execGuest(h.execHost, c, msg, fds);
    case 'pause':
    case 'resume': {
      if (!h.started) return refuse(`cannot ${msg.op} a container that has not been started`);
      const want = msg.op === 'pause';
      if (h.freezer.paused === want) return refuse(want ? 'container already paused' : 'container not paused');
      if (want) h.freezer.pause();
      else h.freezer.resume();
      c.send({ ok: true });
      return false;
    }
    case 'update': {
      const pidsLimit = Number(msg.pids);
      if (msg.pids !== undefined && pidsLimit > 0) p.kernel.pidsLimit = pidsLimit;
      else if (msg.pids !== undefined && pidsLimit <= 0) p.kernel.pidsLimit = 16384;
      const mem = Number(msg.memory);
      if (msg.memory !== undefined) tmpfsBudget.limit = mem > 0 ? mem : Infinity;
      c.send({ ok: true });
      return false;
    }
    case 'stats': {
      const lim = (v: number) => (Number.isFinite(v) ? v : 0);
      c.send({
        ok: true, pids: p.kernel.tasks.size, pidsLimit: p.kernel.pidsLimit, memory: tmpfsBudget.used,
        memoryLimit: lim(tmpfsBudget.limit), processes: [...p.kernel.threadGroups.values()].filter((tg) => !tg.zombie).length,
      });
      return false;
    }
    case 'signal': {
      const tg = h.onSignalLine.get(c);
      const sig = Number(msg.signal);
      if (tg && !tg.zombie && sig > 0 && sig < 65) sendToGroup(p.s, tg, { signo: sig, code: 0, pid: 0, uid: 0, force: true });
      return !!tg;
    }
    default:
      return refuse(`unknown request ${String(msg.op)}`);
  }
}
