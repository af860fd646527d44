/**
 * The `run` flags of the CI mode (limits, policy, report), parsed for src/cli/args.ts:
 * parseCiFlag takes a flag the generic parser does not know.
 */
import { LimitSyntaxError, parseBytes, parseCount, parseDuration, type LimitSet } from './limits';

export interface CiFlags {
  limits: LimitSet;
  /** --policy FILE (YAML or JSON). */
  policyFile: string | null;
  /** --policy-mode: enforce (default) or warn (record what would be denied, deny nothing). */
  policyMode: 'enforce' | 'warn';
  /** --report FILE: the JSON audit report. */
  report: string | null;
  /** --summary[=FILE]: the Markdown summary, to FILE or ('-') stderr. */
  summary: string | null;
  /** --api-fd N: the library API's channel (src/api): events out, hook decisions in. */
  apiFd: number;
  /** --api-hooks open,exec,connect: which calls wait for the API caller's decision. */
  apiHooks: string[];
  /** --ci: CI mode even without another CI flag (then --memory and --pids-limit end the run too). */
  ci: boolean;
}

export function emptyCiFlags(): CiFlags {
  return { limits: {}, policyFile: null, policyMode: 'enforce', report: null, summary: null, apiFd: -1, apiHooks: [], ci: false };
}

/**
 * True when any CI feature is asked for (otherwise the Sentry runs with no hooks at all).
 * --memory and --pids-limit alone do not make a CI run: they keep the Linux behaviour of
 * issue 7 (the OOM killer ends one process, fork gets EAGAIN, tmpfs ENOSPC); in a CI
 * run, reaching them ends the whole sandbox like every other limit.
 */
export function ciActive(f: CiFlags): boolean {
  const ciLimits = Object.keys(f.limits).filter((k) => k !== 'memory' && k !== 'pids');
  return f.ci || ciLimits.length > 0 || f.policyFile !== null || f.report !== null || f.summary !== null || f.apiFd >= 0;
}

/**
 * Takes one flag (name without '=value') if it is a CI flag; `value()` fetches its value.
 * Returns false for a flag that is not ours. Throws Error(message) on a bad value.
 */
export function parseCiFlag(f: CiFlags, flag: string, value: () => string, inline: string | undefined): boolean {
  try {
    switch (flag) {
      case '--timeout': f.limits.timeout = parseDuration(value(), flag); return true;
      case '--cpu-time': f.limits.cpuTime = parseDuration(value(), flag); return true;
      case '--nofile': f.limits.nofile = parseCount(value(), flag); return true;
      case '--output-limit': f.limits.output = parseBytes(value(), flag); return true;
      case '--disk': f.limits.disk = parseBytes(value(), flag); return true;
      case '--policy': f.policyFile = value(); return true;
      case '--policy-mode': {
        const v = value();
        if (v !== 'enforce' && v !== 'warn') throw new Error(`--policy-mode wants enforce or warn, got '${v}'`);
        f.policyMode = v;
        return true;
      }
      case '--report': f.report = value(); return true;
      case '--ci': f.ci = true; return true;
      case '--summary': f.summary = inline ?? '-'; return true;
      case '--api-fd': f.apiFd = parseCount(value(), flag); return true;
      case '--api-hooks': f.apiHooks = value().split(',').filter(Boolean); return true;
      default: return false;
    }
  } catch (e) {
    if (e instanceof LimitSyntaxError) throw new Error(e.message);
    throw e;
  }
}
