/**
 * The Sentry's hidden test hook (src/cli/confine.ts): TSSANDBOX_TEST_FORBIDDEN_SYSCALL
 * makes a sandbox's confined Sentry attempt one host call and report its result.
 */
import { BASE_ENV, spawnCollect, type RunResult } from '../helpers/run';
import { BIN } from '../helpers/paths';

/** Runs /bin/true with the hook set to spec, the confinement `confine` (on, off, log). */
export function attempt(spec: string, confine = 'on'): Promise<RunResult> {
  return spawnCollect([process.execPath, BIN, 'run', '/bin/true'], {
    ...BASE_ENV,
    TSSANDBOX_TEST_FORBIDDEN_SYSCALL: spec,
    TSSANDBOX_CONFINE: confine,
  }, { timeoutMs: 30_000 });
}

/** What the hook reported for kind: "allowed", "errno N", or undefined (killed). */
export function reported(r: RunResult, kind: string): string | undefined {
  return new RegExp(`^tssandbox: forbidden ${kind}: (.*)$`, 'm').exec(r.stderr)?.[1];
}
