/**
 * OCI hooks (config.json "hooks"): each runs on the host with the container's state
 * JSON on its stdin, as the runtime spec says; a non-zero exit or a timeout fails the
 * lifecycle step that ran it (poststart/poststop failures are only logged).
 */
import { spawnSync } from 'child_process';
import type { Hook } from './spec-types';

/** Runs the hooks in order; returns an error line for the first that failed, or null. */
export function runHooks(kind: string, hooks: Hook[] | undefined, state: unknown): string | null {
  for (const h of hooks ?? []) {
    const env: Record<string, string> = {};
    for (const kv of h.env ?? []) {
      const i = kv.indexOf('=');
      if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
    }
    const args = h.args && h.args.length ? h.args : [h.path];
    const r = spawnSync(h.path, args.slice(1), {
      argv0: args[0],
      input: JSON.stringify(state),
      env,
      stdio: ['pipe', 'ignore', 'pipe'],
      timeout: h.timeout ? h.timeout * 1000 : undefined,
      killSignal: 'SIGKILL',
    });
    if (r.error) return `${kind} hook ${h.path}: ${(r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT' ? 'timed out' : r.error.message}`;
    if (r.status !== 0) {
      const msg = r.stderr?.toString().trim().split('\n').pop() ?? '';
      return `${kind} hook ${h.path} failed (${r.signal ? `signal ${r.signal}` : `exit status ${r.status}`})${msg ? `: ${msg}` : ''}`;
    }
  }
  return null;
}
