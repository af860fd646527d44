/**
 * Setting up a guest process from config.json's \`process\` (pid 1 and exec'd ones): the
 * console, credentials with capabilities, rlimits, env, the program looked up in PATH.
 * A failure is a SetupError: one line back to \`create\` (or to \`exec\`'s client).
 */
import * as path from 'path';
import type { createVfs } from '../../fs/rootfs/create';
import { Credentials } from '../auth/credentials';
import { CAP_FULL, setCaps } from '../auth/capabilities';
import type { Task } from '../kernel/task';
import type { ThreadGroup } from '../kernel/thread-group';
import { limitsOf, RLIM_INFINITY } from '../kernel/limits';
import { EACCES, ENOEXEC } from '../abi/errno';
import { ociNative } from './native';
import { closeFd } from './control';
import { capMask } from './caps';
import type { ProcessSpec } from './spec-types';

type Vfs = ReturnType<typeof createVfs>;

export class SetupError extends Error {}

export function setupFail(msg: string): never {
  throw new SetupError(msg);
}

const RLIMITS: Record<string, number> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5, RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10, RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};

/** Connects to the engine's console socket and sends it the master of a new host pty; returns the slave. */
export function sendConsole(sockPath: string, size: { height: number; width: number } | undefined): number {
  const n = ociNative();
  const pty = n.ociOpenPty(size?.height ?? 0, size?.width ?? 0);
  if (typeof pty === 'number') setupFail(`cannot open a pty (errno ${-pty})`);
  const [master, slave] = pty;
  const sock = n.ociConnect(sockPath);
  if (sock < 0) setupFail(`cannot connect to the console socket ${sockPath} (errno ${-sock})`);
  const name = new TextEncoder().encode('/dev/ptmx');
  const r = n.ociSend(sock, name, name.length, Int32Array.of(master), 1);
  closeFd(sock);
  closeFd(master);
  if (r < 0) setupFail(`cannot send the console to ${sockPath} (errno ${-r})`);
  return slave;
}

export function credsFor(proc: ProcessSpec): Credentials {
  const uid = proc.user?.uid ?? 0;
  const gid = proc.user?.gid ?? 0;
  const creds = new Credentials(uid, gid);
  creds.groups = [...(proc.user?.additionalGids ?? [])];
  const caps = proc.capabilities;
  if (caps) {
    const eff = capMask(caps.effective, 'process.capabilities.effective');
    const perm = capMask(caps.permitted, 'process.capabilities.permitted');
    const inh = capMask(caps.inheritable, 'process.capabilities.inheritable');
    const amb = capMask(caps.ambient, 'process.capabilities.ambient');
    // No bounding list: nothing bounded (runc keeps the full set then too).
    const bnd = caps.bounding === undefined ? CAP_FULL : capMask(caps.bounding, 'process.capabilities.bounding');
    for (const m of [eff, perm, inh, amb, bnd]) if (typeof m === 'string') setupFail(m);
    setCaps(creds, { effective: eff as bigint, permitted: perm as bigint, inheritable: inh as bigint, ambient: amb as bigint, bounding: bnd as bigint });
  }
  return creds;
}

export function applyRlimits(tg: ThreadGroup, proc: ProcessSpec): void {
  if (!proc.rlimits?.length) return;
  const lims = limitsOf(tg);
  const big = (v: number) => (v >= 2 ** 63 ? RLIM_INFINITY : BigInt(Math.floor(v)));
  for (const r of proc.rlimits) {
    const res = RLIMITS[r.type];
    if (res === undefined) setupFail(`process.rlimits: unknown type ${r.type}`);
    const e = lims.set(res, { cur: big(r.soft), max: big(r.hard) }, true);
    if (e < 0) setupFail(`process.rlimits: ${r.type}: soft ${r.soft} / hard ${r.hard} refused (errno ${-e})`);
  }
}

export function buildEnv(list: string[]): string[] {
  const env = list.filter((kv) => kv.includes('='));
  if (!env.some((kv) => kv.startsWith('PATH='))) env.push('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  return env;
}

export function mkdirp(vfs: Vfs, t: Task, dir: string): void {
  let cur = '';
  for (const part of dir.split('/').filter(Boolean)) {
    cur += '/' + part;
    vfs.mkdir(t, -100, cur, 0o755);
  }
}

/** A program name without '/' is looked up in the guest's PATH, like execvp. */
export function findProgram(vfs: Vfs, t: Task, name: string, envp: string[]): string {
  if (name.includes('/')) return name;
  const pathVar = envp.find((e) => e.startsWith('PATH='))?.slice(5) ?? '/usr/bin:/bin';
  let denied = false;
  for (const dir of pathVar.split(':')) {
    const cand = path.posix.join(dir || '.', name);
    const r = vfs.openExec(t, cand);
    if (typeof r !== 'number') return cand;
    if (r === -EACCES || r === -ENOEXEC) denied = true;
  }
  setupFail(`exec: "${name}": ${denied ? 'permission denied' : 'executable file not found in $PATH'}`);
}

