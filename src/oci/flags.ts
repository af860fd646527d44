/**
 * The runtime's global flags and the flag parser every command uses: node:util.parseArgs,
 * flags stopping at the first positional as urfave/cli's do (`-bundle` accepted for
 * `--bundle`); the --log line writer; the id checks commands share.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import { fail } from './errors';
import { StateDir, DEFAULT_ROOT, validateId } from './state';
import { checkPlatformFlag } from './platform';

export const VERSION = '0.1.0';

export interface Globals {
  root: string;
  log: string | null;
  logFormat: 'text' | 'json';
  debug: boolean;
  systemdCgroup: boolean;
  rootless: string;
  /** --platform as given ('' when not: platform.ts decides at create). */
  platform: string;
  network: string;
  /** The global flags as given, for a child process of ours. */
  raw: string[];
}

export type OptSpec = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

/** Global flags a runtime takes before the command. */
export const GLOBAL_FLAGS: OptSpec = {
  root: { type: 'string' },
  log: { type: 'string' },
  'log-format': { type: 'string' },
  debug: { type: 'boolean' },
  'systemd-cgroup': { type: 'boolean' },
  rootless: { type: 'string' },
  criu: { type: 'string' },
  platform: { type: 'string' },
  network: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
};

/**
 * Splits args into flags (up to the first positional or `--`) and the rest, then
 * parses the flags strictly. `--rootless` alone means true.
 */
export function parseFlags(args: string[], options: OptSpec): { values: Record<string, any>; rest: string[] } {
  const flags: string[] = [];
  let i = 0;
  for (; i < args.length; i++) {
    let a = args[i];
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    // urfave/cli accepts -bundle for --bundle.
    if (!a.startsWith('--') && a.length > 2) {
      const name = a.slice(1).split('=')[0];
      if (options[name]) a = '-' + a;
    }
    const name = a.startsWith('--') ? a.slice(2).split('=')[0] : null;
    flags.push(a);
    if (name === 'rootless' && options.rootless?.type === 'string' && !a.includes('=')) {
      const next = args[i + 1];
      if (next === 'true' || next === 'false' || next === 'auto') flags.push(args[++i]);
      else flags.push('true');
      continue;
    }
    const spec = name !== null ? options[name] : Object.values(options).find((o) => o.short === a.slice(1));
    if (spec?.type === 'string' && !a.includes('=')) {
      if (i + 1 >= args.length) fail(`flag ${a} needs a value`, 2);
      flags.push(args[++i]);
    }
  }
  try {
    const { values } = parseArgs({ args: flags, options, strict: true, allowPositionals: false });
    return { values, rest: args.slice(i) };
  } catch (e) {
    const m = /'([^']+)'/.exec((e as Error).message);
    fail(m ? `unknown flag '${m[1]}' (try --help)` : (e as Error).message.split('\n')[0], 2);
  }
}

export function parseGlobals(argv: string[]): { g: Globals; rest: string[] } {
  const { values: v, rest } = parseFlags(argv, GLOBAL_FLAGS);
  const raw = argv.slice(0, argv.length - rest.length);
  const fmt = (v['log-format'] ?? 'text') as string;
  if (fmt !== 'text' && fmt !== 'json') fail(`--log-format must be text or json, got '${fmt}'`, 2);
  const platform = checkPlatformFlag((v.platform ?? '') as string);
  // 'auto' (no flag): sandbox when the container has a network namespace (network.ts).
  const network = (v.network ?? 'auto') as string;
  if (network !== 'none' && network !== 'sandbox' && network !== 'auto') fail(`unknown network '${network}' (none, sandbox)`, 2);
  if (v.help) rest.unshift('--help');
  if (v.version) rest.unshift('--version');
  return {
    g: {
      root: path.resolve((v.root as string) ?? DEFAULT_ROOT), log: (v.log as string) ?? null, logFormat: fmt,
      debug: !!v.debug, systemdCgroup: !!v['systemd-cgroup'], rootless: (v.rootless as string) ?? 'false', platform, network, raw,
    },
    rest,
  };
}

let globals: Globals | null = null;

/** The globals of this invocation, for logLine (set once the command line is parsed). */
export function setGlobals(g: Globals): void {
  globals = g;
}

export function logLine(level: string, msg: string): void {
  const g = globals;
  if (!g?.log) return;
  const line = g.logFormat === 'json'
    ? JSON.stringify({ level, msg, time: new Date().toISOString() })
    : `time="${new Date().toISOString()}" level=${level} msg="${msg.replace(/"/g, '\\"')}"`;
  try {
    fs.appendFileSync(g.log, line + '\n');
  } catch {
    // an unwritable log must not hide the error itself
  }
}

export function oneId(rest: string[], cmd: string): string {
  if (rest.length < 1) fail(`${cmd}: a container id is required`, 2);
  return validateId(rest[0]);
}

/** The state directory of an existing container (one clear line when there is none). */
export function existing(g: Globals, id: string): StateDir {
  const st = new StateDir(g.root, id);
  if (!st.exists) fail(`container "${id}" does not exist`);
  return st;
}
