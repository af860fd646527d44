/**
 * OCI hooks (config.json "hooks"): each runs on the host with the container's state
 * JSON on its stdin, as the runtime spec says; a non-zero exit or a timeout fails the
 * lifecycle step that ran it (poststart/poststop failures are only logged).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn, spawnSync } from 'child_process';
import { ociNative } from './native';
import type { Hook } from './spec-types';

const ETIMEDOUT = 110;

/** Why path cannot be executed (spawn only says so asynchronously). */
function whyNot(p: string): string {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return 'EACCES';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? 'ENOENT';
  }
}

function hookEnv(h: Hook): Record<string, string> {
  const env: Record<string, string> = {};
  for (const kv of h.env ?? []) {
    const i = kv.indexOf('=');
    if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return env;
}

function failed(kind: string, h: Hook, how: string, stderr: string): string {
  const msg = stderr.trim().split('\n').pop() ?? '';
  return `${kind} hook ${h.path} failed (${how})${msg ? `: ${msg}` : ''}`;
}

/** Runs the hooks in order; returns an error line for the first that failed, or null. */
export function runHooks(kind: string, hooks: Hook[] | undefined, state: unknown): string | null {
  for (const h of hooks ?? []) {
    const env = hookEnv(h);
    const args = h.args && h.args.length ? h.args : [h.path];
    const r = spawnSync(h.path, args.slice(1), {
      argv0: args[0],
      input: JSON.stringify(state),
      env,
      stdio: ['pipe', 'ignore', 'pipe'],
      timeout: h.timeout ? h.timeout * 1000 : undefined,
      killSignal: 'SIGKILL',
    });
    if (r.error) {
      const code = (r.error as NodeJS.ErrnoException).code;
      return `${kind} hook ${h.path}: ${code === 'ETIMEDOUT' ? 'timed out' : `cannot run it (${code ?? r.error.message})`}`;
    }
    if (r.status !== 0) return failed(kind, h, r.signal ? `signal ${r.signal}` : `exit status ${r.status}`, r.stderr?.toString() ?? '');
  }
  return null;
}

/** A hook started in the background (`startHook`): wait for it, or kill it. */
export interface RunningHook {
  /** Blocks until it exits (or its timeout: then SIGKILL); an error line, or null. */
  wait(): string | null;
  kill(): void;
}

/**
 * Starts one hook without waiting, so the caller can work meanwhile: the pool member
 * builds the sandbox while Docker's prestart hook (its own binary starting, ~0.1 s)
 * runs. The state goes in through a file of `dir` (unlinked at once), stderr the same
 * way: the caller's thread does not return to Node's event loop, which would feed pipes.
 */
export function startHook(kind: string, h: Hook, state: unknown, dir: string): RunningHook {
  const base = path.join(dir, `hook-${process.pid}-${kind}`);
  fs.writeFileSync(`${base}.in`, JSON.stringify(state));
  const input = fs.openSync(`${base}.in`, 'r');
  const errFd = fs.openSync(`${base}.err`, 'w+');
  fs.unlinkSync(`${base}.in`);
  fs.unlinkSync(`${base}.err`);
  const args = h.args && h.args.length ? h.args : [h.path];
  let pid = -1;
  let spawnError: string | null = null;
  try {
    const child = spawn(h.path, args.slice(1), { argv0: args[0], env: hookEnv(h), stdio: [input, 'ignore', errFd] });
    child.on('error', () => undefined);
    child.unref();
    pid = child.pid ?? -1;
    if (pid < 0) spawnError = `cannot run it (${whyNot(h.path)})`;
  } catch (e) {
    spawnError = `cannot run it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
  fs.closeSync(input);
  const stderr = (): string => {
    const b = Buffer.alloc(4096);
    const n = fs.readSync(errFd, b, 0, b.length, 0);
    return b.subarray(0, n).toString();
  };
  let done: string | null | undefined;
  return {
    wait(): string | null {
      if (done !== undefined) return done;
      if (spawnError !== null) done = `${kind} hook ${h.path}: ${spawnError}`;
      else {
        const n = ociNative();
        let st = n.ociWaitPid(pid, h.timeout ? h.timeout * 1000 : -1);
        if (st === -ETIMEDOUT) {
          process.kill(pid, 'SIGKILL');
          n.ociWaitPid(pid, -1);
          done = `${kind} hook ${h.path}: timed out`;
        } else if (st < 0) done = `${kind} hook ${h.path}: cannot wait for it (errno ${-st})`;
        else {
          const sig = st & 0x7f;
          st = (st >> 8) & 0xff;
          const name = Object.entries(os.constants.signals).find(([, v]) => v === sig)?.[0] ?? String(sig);
          done = sig || st ? failed(kind, h, sig ? `signal ${name}` : `exit status ${st}`, stderr()) : null;
        }
      }
      fs.closeSync(errFd);
      return done;
    },
    kill(): void {
      if (done !== undefined) return;
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      this.wait();
    },
  };
}
