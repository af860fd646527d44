/**
 * The commands around a running container: `list`, `ps`, `features`, `pause`/`resume`,
 * `update` (memory/pids) and `events` (stats).
 */
import * as fs from 'fs';
import { limitsOf, updateSandboxCgroup } from './resources';
import type { Resources } from './spec-types';
import { fail } from './errors';
import { OCI_VERSION, currentStatus, publicState, listContainers } from './state';
import { call } from './control';
import { OCI_PLATFORMS, PLATFORM_ANNOTATION } from './platform';
import { parseFlags, oneId, existing, VERSION, type Globals } from './flags';

export function cmdList(g: Globals, args: string[]): number {
  const { values: o, rest } = parseFlags(args, { format: { type: 'string', short: 'f' }, quiet: { type: 'boolean', short: 'q' } });
  if (rest.length) fail(`list: unexpected argument '${rest[0]}'`, 2);
  const all = listContainers(g.root).map(publicState);
  if (o.quiet) {
    for (const s of all) process.stdout.write(`${s.id}\n`);
    return 0;
  }
  const fmt = o.format ?? 'table';
  if (fmt === 'json') {
    process.stdout.write(JSON.stringify(all) + '\n');
    return 0;
  }
  if (fmt !== 'table') fail(`invalid format '${fmt}' (table or json)`, 2);
  const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'],
    ...all.map((s) => [s.id, s.pid, s.status, s.bundle, s.created, s.owner || 'root'].map(String))];
  process.stdout.write(table(rows));
  return 0;
}

function table(rows: string[][]): string {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i] + 3))).join('') + '\n').join('');
}

export function cmdPs(g: Globals, args: string[]): number {
  const { values: o, rest } = parseFlags(args, { format: { type: 'string', short: 'f' } });
  const id = oneId(rest, 'ps');
  const st = existing(g, id);
  const s = st.read();
  if (currentStatus(s) === 'stopped') fail(`container ${id} is not running`);
  const r = call(st.sockPath, s.pid, { op: 'ps' });
  if (!r.ok) fail(r.error ?? 'ps failed');
  if ((o.format ?? 'table') === 'json') {
    process.stdout.write(JSON.stringify(r.hostPids) + '\n');
    return 0;
  }
  const procs = r.procs as Array<{ uid: number; pid: number; ppid: number; cmd: string }>;
  process.stdout.write(table([['UID', 'PID', 'PPID', 'CMD'], ...procs.map((p) => [String(p.uid), String(p.pid), String(p.ppid), p.cmd])]));
  return 0;
}

export function cmdFeatures(args: string[]): number {
  parseFlags(args, {});
  const { CAP_NAMES } = require('./caps') as typeof import('./caps');
  const features = {
    ociVersionMin: '1.0.0',
    ociVersionMax: OCI_VERSION,
    hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
    mountOptions: ['ro', 'rw', 'bind', 'rbind', 'nosuid', 'nodev', 'noexec', 'mode', 'size'],
    linux: {
      namespaces: ['cgroup', 'ipc', 'mount', 'network', 'pid', 'user', 'uts'],
      capabilities: CAP_NAMES,
      cgroup: { v1: true, v2: false, systemd: false, systemdUser: false },
      seccomp: { enabled: false },
      apparmor: { enabled: false },
      selinux: { enabled: false },
    },
    annotations: { 'org.tssandbox.version': VERSION, [PLATFORM_ANNOTATION]: OCI_PLATFORMS.join(',') },
  };
  process.stdout.write(JSON.stringify(features, null, '    ') + '\n');
  return 0;
}

// ---- pause / resume / update / events ----

export function cmdPause(g: Globals, args: string[], op: 'pause' | 'resume'): number {
  const { rest } = parseFlags(args, {});
  const id = oneId(rest, op);
  const st = existing(g, id);
  st.lock();
  const s = st.read();
  const status = currentStatus(s);
  if (op === 'pause' && status !== 'running') fail(`cannot pause a container that is ${status}`);
  if (op === 'resume' && status !== 'paused') fail(`cannot resume a container that is ${status}`);
  const r = call(st.sockPath, s.pid, { op });
  if (!r.ok) fail(r.error ?? `${op} failed`);
  st.write({ ...s, status: op === 'pause' ? 'paused' : 'running' });
  return 0;
}

/** "64m", "1g", plain bytes; -1 for unlimited. */
function parseBytes(v: string, flag: string): number {
  if (v === '-1') return -1;
  const m = /^(\d+)([kmgKMG]?)[bB]?$/.exec(v);
  if (!m) fail(`${flag} wants a size like 64m, got '${v}'`, 2);
  return Number(m[1]) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[m[2].toLowerCase()];
}

export function cmdUpdate(g: Globals, args: string[]): number {
  const { values: o, rest } = parseFlags(args, {
    resources: { type: 'string', short: 'r' }, memory: { type: 'string', short: 'm' }, 'pids-limit': { type: 'string' },
    'memory-swap': { type: 'string' }, 'memory-reservation': { type: 'string' }, 'kernel-memory': { type: 'string' },
    'cpu-shares': { type: 'string' }, 'cpu-quota': { type: 'string' }, 'cpu-period': { type: 'string' },
    'cpuset-cpus': { type: 'string' }, 'cpuset-mems': { type: 'string' }, 'blkio-weight': { type: 'string' },
  });
  const id = oneId(rest, 'update');
  const st = existing(g, id);
  st.lock();
  const s = st.read();
  if (currentStatus(s) === 'stopped') fail(`container ${id} is not running`);
  const req: Record<string, unknown> = { op: 'update' };
  let cpu: NonNullable<Resources['cpu']> = {};
  if (o.resources) {
    let text: string;
    try {
      text = fs.readFileSync(o.resources === '-' ? 0 : o.resources, 'utf8');
    } catch {
      fail(`--resources ${o.resources}: cannot read it`);
    }
    let res: any;
    try {
      res = JSON.parse(text);
    } catch (e) {
      fail(`--resources: bad JSON: ${(e as Error).message}`);
    }
    if (res?.memory?.limit !== undefined) req.memory = res.memory.limit;
    if (res?.pids?.limit !== undefined) req.pids = res.pids.limit;
    cpu = { ...cpu, ...(res?.cpu ?? {}) };
  }
  for (const k of ['shares', 'quota', 'period'] as const) {
    const v = o[`cpu-${k}`];
    if (v === undefined) continue;
    const n = Number(v);
    if (!Number.isInteger(n)) fail(`--cpu-${k} wants a number, got '${v}'`, 2);
    cpu[k] = n;
  }
  if (o.memory !== undefined) req.memory = parseBytes(o.memory, '--memory');
  if (o['pids-limit'] !== undefined) {
    const n = Number(o['pids-limit']);
    if (!Number.isInteger(n)) fail(`--pids-limit wants a number, got '${o['pids-limit']}'`, 2);
    req.pids = n;
  }
  // The host cgroup's limits first (the Sentry's own count is the finer one, below them).
  if (s.cgroup) {
    const l = limitsOf({ memory: { limit: req.memory as number | undefined }, pids: { limit: req.pids as number }, cpu });
    const err = updateSandboxCgroup(s.cgroup, l);
    if (err) fail(err);
  }
  const r = call(st.sockPath, s.pid, req);
  if (!r.ok) fail(r.error ?? 'update failed');
  return 0;
}

function statsEvent(id: string, r: Record<string, any>): string {
  return JSON.stringify({
    type: 'stats', id,
    data: {
      pids: { current: r.pids, limit: r.pidsLimit },
      memory: { usage: { usage: r.memory, limit: r.memoryLimit } },
    },
  });
}

export function cmdEvents(g: Globals, args: string[]): number {
  const { values: o, rest } = parseFlags(args, { stats: { type: 'boolean' }, interval: { type: 'string' } });
  const id = oneId(rest, 'events');
  const st = existing(g, id);
  const iv = /^(\d+)(ms|s)?$/.exec(o.interval ?? '5s');
  if (!iv) fail(`--interval wants a duration like 5s, got '${o.interval}'`, 2);
  const ms = Number(iv[1]) * (iv[2] === 'ms' ? 1 : 1000);
  const sab = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    const s = st.exists ? st.read() : null;
    if (!s || currentStatus(s) === 'stopped') {
      if (o.stats) fail(`container ${id} is not running`);
      return 0;
    }
    const r = call(st.sockPath, s.pid, { op: 'stats' });
    if (!r.ok) fail(r.error ?? 'events failed');
    process.stdout.write(statsEvent(id, r) + '\n');
    if (o.stats) return 0;
    Atomics.wait(sab, 0, 0, ms);
  }
}
