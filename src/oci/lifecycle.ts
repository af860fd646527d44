/**
 * `start`, `state`, `kill` and `delete` (the native entry, native/oci_fast.c, serves the
 * common cases of start/kill/delete itself and hands the rest here).
 */
import * as fs from 'fs';
import * as path from 'path';
import { OciError, fail } from './errors';
import { StateDir, currentStatus, publicState, procStart, sentryAlive, type SavedState } from './state';
import { runHooks } from './hooks';
import { call } from './control';
import { parseFlags, logLine, oneId, existing, type Globals } from './flags';
import type { Spec } from './spec-types';
import { removeSandboxCgroup } from './resources';

export function cmdStart(g: Globals, args: string[]): number {
  const { rest } = parseFlags(args, {});
  const id = oneId(rest, 'start');
  const st = existing(g, id);
  st.lock();
  const s = st.read();
  const status = currentStatus(s);
  if (status !== 'created') fail(`cannot start a container that is ${status}`);
  const config = readConfig(s);
  const err = runHooks('startContainer', config?.hooks?.startContainer, publicState(s));
  if (err) fail(err);
  const r = call(st.sockPath, s.pid, { op: 'start' });
  if (!r.ok) fail(r.error ?? 'start failed');
  // Recorded here, under the lock: the started Sentry is confined (writes no host path).
  st.write({ ...s, status: 'running' });
  const perr = runHooks('poststart', config?.hooks?.poststart, publicState(st.read()));
  if (perr) logLine('warning', perr);
  return 0;
}

function readConfig(s: SavedState): Spec | null {
  try {
    return (JSON.parse(fs.readFileSync(path.join(s.bundle, 'config.json'), 'utf8')) as Spec);
  } catch {
    return null;
  }
}

export function cmdState(g: Globals, args: string[]): number {
  const { rest } = parseFlags(args, {});
  const id = oneId(rest, 'state');
  const st = existing(g, id);
  process.stdout.write(JSON.stringify(publicState(st.read()), null, '  ') + '\n');
  return 0;
}

export function parseSignal(v: string | undefined): number {
  if (v === undefined || v === '') return 15;
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n < 0 || n > 64) fail(`invalid signal '${v}'`, 2);
    return n;
  }
  const name = v.toUpperCase().replace(/^SIG/, '');
  const n = (require('os').constants.signals as Record<string, number>)[`SIG${name}`];
  if (n === undefined) fail(`unknown signal '${v}'`, 2);
  return n;
}

export function cmdKill(g: Globals, args: string[]): number {
  const { values: o, rest } = parseFlags(args, { all: { type: 'boolean', short: 'a' }, pid: { type: 'string' } });
  const id = oneId(rest, 'kill');
  const sig = parseSignal(rest[1]);
  const st = existing(g, id);
  st.lock();
  const s = st.read();
  const status = currentStatus(s);
  if (status === 'stopped' || status === 'creating') fail('container not running');
  let r: { ok: boolean; error?: string } | null = null;
  try {
    r = call(st.sockPath, s.pid, { op: 'kill', signal: sig, all: !!o.all });
  } catch (e) {
    if (!(e instanceof OciError)) throw e;
  }
  if (r === null || !r.ok) {
    // The Sentry did not answer: SIGKILL still ends it (and its Gofer and stubs with it).
    if (sig === 9 && sentryAlive(s)) {
      process.kill(s.pid, 'SIGKILL');
      return 0;
    }
    fail(r?.error ?? 'container not running');
  }
  return 0;
}

function waitGone(pid: number, start: string): void {
  const sab = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 2000 && procStart(pid) === start; i++) Atomics.wait(sab, 0, 0, 5);
}

export function cmdDelete(g: Globals, args: string[]): number {
  const { values: o, rest } = parseFlags(args, { force: { type: 'boolean', short: 'f' } });
  const id = oneId(rest, 'delete');
  const st = new StateDir(g.root, id);
  if (!st.exists) {
    // As runc: --force on a container that is gone (or half made) is not an error.
    if (o.force) {
      if (fs.existsSync(st.dir)) st.remove();
      return 0;
    }
    fail(`container "${id}" does not exist`);
  }
  st.lock();
  const s = st.read();
  const status = currentStatus(s);
  if ((status === 'running' || status === 'paused') && !o.force) fail(`cannot delete container ${id} that is not stopped: ${status}`);
  if (sentryAlive(s)) {
    process.kill(s.pid, 'SIGKILL');
    waitGone(s.pid, s.pidStart);
  }
  // A pool Sentry behind a front (pool.ts) follows its front at once; waited for all the same.
  if (s.sentryPid && procStart(s.sentryPid) === s.sentryStart) {
    try {
      process.kill(s.sentryPid, 'SIGKILL');
    } catch {
      // gone
    }
    waitGone(s.sentryPid, s.sentryStart ?? '');
  }
  // As runc: the cgroup gone before delete returns, and with it the Gofer and stubs left in it.
  if (s.cgroup) {
    const cerr = removeSandboxCgroup(s.cgroup);
    if (cerr) logLine('warning', cerr);
  }
  const config = readConfig(s);
  const err = runHooks('poststop', config?.hooks?.poststop, { ...publicState(s), status: 'stopped', pid: 0 });
  if (err) logLine('warning', err);
  st.remove();
  return 0;
}
