/**
 * A checked policy document compiled into what the sandbox asks at run time: hidden
 * paths, binds, the environment, network rules (host names resolved once, at start),
 * exec globs, denied syscalls and limits.
 */
import * as os from 'os';
import * as path from 'path';
import { execFileSync } from 'child_process';
import * as E from '../abi/errno';
import { parseRule } from '../net/policy';
import { syscallName } from '../../syscalls/table';
import { parseBytes, parseCount, parseDuration, type LimitSet } from './limits';
import { PolicyError } from './load';
import type { PolicyDoc } from './schema';

export type NetworkMode = 'none' | 'host' | 'sandbox' | 'user';

/** A path glob: `*` within one component, `**` across components, `?` one character. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** `~` and `~/x` are the invoking user's home (where a CI runner keeps its secrets). */
function expandHome(p: string): string {
  if (p === '~') return os.homedir();
  if (p.startsWith('~/')) return path.join(os.homedir(), p.slice(2));
  return p;
}

function absolute(p: string, key: string): string {
  const e = expandHome(p);
  if (!e.startsWith('/')) throw new PolicyError(`policy: ${key} '${p}' must be an absolute path (or start with ~/)`);
  return path.posix.normalize(e).replace(/(.)\/$/, '$1');
}

const ERRNO = E as unknown as Record<string, number>;

function errnoByName(name: string, key: string): number {
  const n = ERRNO[name];
  if (typeof n !== 'number' || !/^E[A-Z0-9]+$/.test(name)) throw new PolicyError(`policy: ${key}: unknown errno '${name}'`);
  return n;
}

let syscallNumbers: Map<string, number> | null = null;
function syscallNumber(name: string): number | undefined {
  if (syscallNumbers === null) {
    syscallNumbers = new Map();
    for (let nr = 0; nr < 512; nr++) {
      const n = syscallName(nr);
      if (!n.startsWith('syscall_')) syscallNumbers.set(n, nr);
    }
  }
  return syscallNumbers.get(name);
}

/** Resolves host names to addresses, once, before the sandbox starts (a child Node: the CLI is synchronous). */
export function resolveHosts(names: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (names.length === 0) return out;
  const script = `const dns=require('dns');const n=JSON.parse(process.argv[1]);Promise.all(n.map((h)=>dns.promises.lookup(h,{all:true}).then((a)=>a.map((x)=>x.address),()=>[]))).then((r)=>process.stdout.write(JSON.stringify(r)))`;
  let res: string[][];
  try {
    res = JSON.parse(execFileSync(process.execPath, ['-e', script, JSON.stringify(names)], { encoding: 'utf8', timeout: 15_000 }));
  } catch {
    res = names.map(() => []);
  }
  names.forEach((n, i) => out.set(n, res[i] ?? []));
  return out;
}

/** "HOST-OR-CIDR[:PORT]" -> CIDR[:PORT] rules of src/net/policy.ts (host names resolved). */
function netRules(list: string[], key: string, resolve: (names: string[]) => Map<string, string[]>): string[] {
  const out: string[] = [];
  const hosts: Array<{ host: string; port: string }> = [];
  for (const [i, r] of list.entries()) {
    try {
      parseRule(r);
      out.push(r);
      continue;
    } catch { /* a host name */ }
    const m = /^([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*)(?::(\d{1,5}))?$/.exec(r);
    if (!m || (m[5] !== undefined && Number(m[5]) > 65535)) throw new PolicyError(`policy: ${key}[${i}] '${r}' is neither HOST[:PORT] nor CIDR[:PORT]`);
    hosts.push({ host: m[1], port: m[5] ?? '' });
  }
  const resolved = resolve([...new Set(hosts.map((h) => h.host))]);
  for (const h of hosts) {
    const addrs = resolved.get(h.host) ?? [];
    if (addrs.length === 0) throw new PolicyError(`policy: ${key}: cannot resolve host name '${h.host}'`);
    for (const a of addrs) {
      const base = a.includes(':') ? `[${a}/128]` : `${a}/32`;
      out.push(h.port ? `${base}:${h.port}` : base);
    }
  }
  return out;
}

export class PolicyRules {
  readonly hide: string[];
  readonly readonly: string[];
  readonly readwrite: Array<{ src: string; dst: string }>;
  readonly envAllow: RegExp[] | null;
  readonly envSet: Array<[string, string]>;
  readonly networkMode: NetworkMode | null;
  readonly netAllow: string[];
  readonly netDeny: string[];
  private readonly execAllow: RegExp[] | null;
  private readonly execDeny: RegExp[];
  /** -errno by syscall number (0: not denied). */
  readonly syscallDeny = new Int32Array(512);
  readonly denySyscalls: boolean;
  readonly limits: LimitSet = {};

  constructor(doc: PolicyDoc, resolve: (names: string[]) => Map<string, string[]> = resolveHosts) {
    const fsd = doc.filesystem ?? {};
    this.hide = (fsd.hide ?? []).map((p, i) => absolute(p, `filesystem.hide[${i}]`));
    this.readonly = (fsd.readonly ?? []).map((p, i) => absolute(p, `filesystem.readonly[${i}]`));
    this.readwrite = (fsd.readwrite ?? []).map((s, i) => {
      const [src, dst] = s.split(':');
      return { src: absolute(src, `filesystem.readwrite[${i}]`), dst: absolute(dst, `filesystem.readwrite[${i}]`) };
    });
    this.envAllow = doc.env?.allow ? doc.env.allow.map(globToRegExp) : null;
    this.envSet = Object.entries(doc.env?.set ?? {}).map(([k, v]) => [k, String(v)]);
    this.networkMode = doc.network?.mode ?? null;
    this.netAllow = netRules(doc.network?.allow ?? [], 'network.allow', resolve);
    this.netDeny = netRules(doc.network?.deny ?? [], 'network.deny', resolve);
    this.execAllow = doc.exec?.allow ? doc.exec.allow.map((g) => globToRegExp(expandHome(g))) : null;
    this.execDeny = (doc.exec?.deny ?? []).map((g) => globToRegExp(expandHome(g)));
    const dflt = doc.syscalls?.errno ? errnoByName(doc.syscalls.errno, 'syscalls.errno') : E.EPERM;
    let any = false;
    for (const [i, s] of (doc.syscalls?.deny ?? []).entries()) {
      const [name, en] = s.split(':');
      const nr = syscallNumber(name);
      if (nr === undefined) throw new PolicyError(`policy: syscalls.deny[${i}]: unknown syscall '${name}'`);
      this.syscallDeny[nr] = -(en ? errnoByName(en, `syscalls.deny[${i}]`) : dflt);
      any = true;
    }
    this.denySyscalls = any;
    const l = doc.limits ?? {};
    if (l.timeout !== undefined) this.limits.timeout = parseDuration(l.timeout, 'limits.timeout');
    if (l['cpu-time'] !== undefined) this.limits.cpuTime = parseDuration(l['cpu-time'], 'limits.cpu-time');
    if (l.memory !== undefined) this.limits.memory = parseBytes(l.memory, 'limits.memory');
    if (l.pids !== undefined) this.limits.pids = parseCount(l.pids, 'limits.pids');
    if (l.nofile !== undefined) this.limits.nofile = parseCount(l.nofile, 'limits.nofile');
    if (l.output !== undefined) this.limits.output = parseBytes(l.output, 'limits.output');
    if (l.disk !== undefined) this.limits.disk = parseBytes(l.disk, 'limits.disk');
  }

  /** 0, or -EACCES when the policy does not let `exe` (an absolute guest path) run. */
  execErrno(exe: string): number {
    if (this.execDeny.some((r) => r.test(exe))) return -E.EACCES;
    if (this.execAllow !== null && !this.execAllow.some((r) => r.test(exe))) return -E.EACCES;
    return 0;
  }

  /** Is this absolute, normalised path hidden (or under a hidden directory)? */
  hidden(p: string): boolean {
    for (const h of this.hide) if (p === h || p.startsWith(h === '/' ? '/' : h + '/')) return true;
    return false;
  }

  /** The environment the guest gets: the allowlist applied, then `set`. */
  filterEnv(env: string[]): string[] {
    const out = new Map<string, string>();
    for (const kv of env) {
      const k = kv.slice(0, kv.indexOf('='));
      if (this.envAllow === null || this.envAllow.some((r) => r.test(k))) out.set(k, kv.slice(kv.indexOf('=') + 1));
    }
    for (const [k, v] of this.envSet) out.set(k, v);
    return [...out].map(([k, v]) => `${k}=${v}`);
  }

  /** Names the allowlist drops (for the report's denials). */
  droppedEnv(env: string[]): string[] {
    if (this.envAllow === null) return [];
    return env.map((kv) => kv.slice(0, kv.indexOf('='))).filter((k) => !this.envAllow!.some((r) => r.test(k)));
  }
}
