/**
 * The library's options, as the caller writes them, turned into `tssandbox run` flags.
 * Durations are strings ("30s", "500ms") or seconds; sizes strings ("64m") or bytes.
 */
import type { PolicyDoc } from '../policy/schema';

export interface Mount {
  src: string;
  dst: string;
  readonly?: boolean;
}

export interface Limits {
  timeout?: string | number;
  cpuTime?: string | number;
  memory?: string | number;
  pids?: number;
  nofile?: number;
  output?: string | number;
  disk?: string | number;
}

/** A hook's answer: allow (undefined/true), deny (false: the call's usual errno; or an errno name), or rewrite ({ path } for open, { address, port } for connect). */
export type HookResult = void | undefined | boolean | string | { deny: string } | { path: string } | { address?: string; port?: number } | { allow: true };

export interface OpenRequest { pid: number; path: string; flags: number }
export interface ExecRequest { pid: number; path: string; argv: string[] }
export interface ConnectRequest { pid: number; family: 'ipv4' | 'ipv6' | 'unix'; address: string; port: number }

export interface SandboxOptions {
  /** The guest's whole environment (nothing else of the caller's is passed). Default: the caller's. */
  env?: Record<string, string>;
  cwd?: string;
  /** Host directories to show inside (read-write unless readonly). */
  mounts?: Mount[];
  limits?: Limits;
  /** A policy document (the keys of a --policy file), checked before the sandbox starts. */
  policy?: PolicyDoc;
  policyMode?: 'enforce' | 'warn';
  network?: 'none' | 'sandbox' | 'host' | 'user';
  /** Decided in the caller's process, while the guest's call waits (may be async). */
  onOpen?: (req: OpenRequest) => HookResult | Promise<HookResult>;
  onExec?: (req: ExecRequest) => HookResult | Promise<HookResult>;
  onConnect?: (req: ConnectRequest) => HookResult | Promise<HookResult>;
  /** Deterministic mode (--deterministic=SEED): virtual clock, seeded randomness, one thread at a time. */
  deterministic?: string | number;
  /** Extra `tssandbox run` flags, placed before the program. */
  extraFlags?: string[];
  /**
   * The socket of a warm pool (`tssandbox serve --socket PATH`): the sandbox runs in one
   * of its ready Sentries instead of a new process (src/server), with the same options.
   */
  via?: string;
}

const LIMIT_FLAGS: Array<[keyof Limits, string]> = [
  ['timeout', '--timeout'], ['cpuTime', '--cpu-time'], ['memory', '--memory'], ['pids', '--pids-limit'],
  ['nofile', '--nofile'], ['output', '--output-limit'], ['disk', '--disk'],
];

/** The flags for these options (the policy goes in a file the caller writes: policyFile). */
export function runFlags(o: SandboxOptions, policyFile: string | null): string[] {
  const f: string[] = [];
  if (o.env !== undefined) {
    f.push('--clear-env');
    for (const [k, v] of Object.entries(o.env)) f.push('--env', `${k}=${v}`);
  }
  if (o.cwd !== undefined) f.push('--cwd', o.cwd);
  for (const m of o.mounts ?? []) f.push('--mount', `${m.src}:${m.dst}:${m.readonly ? 'ro' : 'rw'}`);
  for (const [k, flag] of LIMIT_FLAGS) {
    const v = o.limits?.[k];
    if (v !== undefined) f.push(flag, typeof v === 'number' && (k === 'memory' || k === 'output' || k === 'disk') ? String(Math.floor(v)) : String(v));
  }
  if (policyFile !== null) f.push('--policy', policyFile);
  if (o.policyMode !== undefined) f.push('--policy-mode', o.policyMode);
  if (o.network !== undefined) f.push('--network', o.network);
  if (o.deterministic !== undefined) f.push(`--deterministic=${o.deterministic}`);
  f.push(...(o.extraFlags ?? []));
  return f;
}
