/**
 * The CI limits (`--timeout`, `--cpu-time`, `--memory`, `--pids-limit`, `--nofile`,
 * `--output-limit`, `--disk`): their values, how they are written, and the exit status
 * and one-line message a run ends with when one is reached.
 */
import type { LimitName } from '../kernel/sandbox-hooks';

export type { LimitName };

/** Every limit, bytes / ms / counts; undefined: not set. */
export interface LimitSet {
  /** Wall time, ms. */
  timeout?: number;
  /** CPU time of all guest processes together, ms. */
  cpuTime?: number;
  /** Bytes of guest memory (touched pages and tmpfs). */
  memory?: number;
  /** Guest tasks at once (threads included). */
  pids?: number;
  /** Open files per process. */
  nofile?: number;
  /** Bytes on stdout + stderr. */
  output?: number;
  /** Bytes in the writable overlay and tmpfs mounts. */
  disk?: number;
}

/** The exit status a run ends with when the limit is reached (README, --help). */
export const LIMIT_EXIT: Record<LimitName, number> = {
  'timeout': 124,
  'cpu-time': 152,
  'memory': 118,
  'pids': 119,
  'nofile': 120,
  'output': 121,
  'disk': 122,
};

/** The flag that sets each limit (the one-line message names it). */
export const LIMIT_FLAG: Record<LimitName, string> = {
  'timeout': '--timeout',
  'cpu-time': '--cpu-time',
  'memory': '--memory',
  'pids': '--pids-limit',
  'nofile': '--nofile',
  'output': '--output-limit',
  'disk': '--disk',
};

/** LimitSet key of each limit. */
export const LIMIT_KEY: Record<LimitName, keyof LimitSet> = {
  'timeout': 'timeout', 'cpu-time': 'cpuTime', 'memory': 'memory', 'pids': 'pids', 'nofile': 'nofile',
  'output': 'output', 'disk': 'disk',
};

export class LimitSyntaxError extends Error {}

/** "512k", "64m", "1g", "10mb" or plain bytes. */
export function parseBytes(v: string | number, what: string): number {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  const m = /^(\d+)\s*([kmgt]?)i?b?$/i.exec(String(v).trim());
  if (!m) throw new LimitSyntaxError(`${what} wants a size like 64m or 1g, got '${v}'`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Number(m[1]) * mult;
}

/** "30s", "500ms", "2m", "1h", "1.5s" or plain seconds; returns ms. */
export function parseDuration(v: string | number, what: string): number {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) return Math.round(v * 1000);
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(String(v).trim());
  if (!m || Number(m[1]) <= 0) throw new LimitSyntaxError(`${what} wants a duration like 30s, 500ms or 2m, got '${v}'`);
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * mult);
}

export function parseCount(v: string | number, what: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(String(v).trim()) || !(n >= 1) || !Number.isSafeInteger(n)) throw new LimitSyntaxError(`${what} wants a positive number, got '${v}'`);
  return n;
}

/** How a limit's value reads in its message, e.g. "2s of wall time". */
export function describeLimit(name: LimitName, set: LimitSet): string {
  const v = set[LIMIT_KEY[name]];
  if (v === undefined) return '';
  switch (name) {
    case 'timeout': return `${v / 1000}s of wall time`;
    case 'cpu-time': return `${v / 1000}s of CPU time`;
    case 'memory': return `${v} bytes of guest memory`;
    case 'output': return `${v} bytes on stdout+stderr`;
    case 'disk': return `${v} bytes in the writable overlay and tmpfs`;
    case 'pids': return `${v} tasks at once`;
    case 'nofile': return `${v} open files per process`;
  }
}

/** The one line a run ends with, e.g. "limit reached: --timeout (2s of wall time), exit status 124". */
export function limitMessage(name: LimitName, set: LimitSet): string {
  return `limit reached: ${LIMIT_FLAG[name]} (${describeLimit(name, set)}), exit status ${LIMIT_EXIT[name]}`;
}
