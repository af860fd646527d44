/**
 * --allow-net / --deny-net: where the guest may connect or send, in every mode. A rule is
 * CIDR[:PORT] (IPv6 in brackets: [2001:db8::/32]:443). With an allow list, only matching
 * destinations pass; a deny rule wins over an allow rule. Loopback is always allowed.
 * A refused destination gets ECONNREFUSED at once, logged once per destination with --debug.
 */
import { parse, inPrefix, isLoopback, isV4, fmt, type Addr } from './stack/addr';

interface Rule {
  net: Addr;
  prefix: number;
  port: number;
}

export class NetPolicy {
  private readonly allow: Rule[];
  private readonly deny: Rule[];
  private readonly logged = new Set<string>();
  constructor(allow: string[], deny: string[], private readonly log: ((m: string) => void) | null = null) {
    this.allow = allow.map(parseRule);
    this.deny = deny.map(parseRule);
  }

  get empty(): boolean {
    return this.allow.length === 0 && this.deny.length === 0;
  }

  /** `hostLoopback`: loopback is the host's (mode "host"), checked like any address. */
  permits(ip: Addr, port: number, hostLoopback = false): boolean {
    if (isLoopback(ip) && !hostLoopback) return true;
    const hit = (r: Rule) => inPrefix(r.net, ip, r.prefix) && (r.port === 0 || r.port === port);
    const ok = !this.deny.some(hit) && (this.allow.length === 0 || this.allow.some(hit));
    if (!ok && this.log !== null) {
      const k = `${fmt(ip)}:${port}`;
      if (!this.logged.has(k)) {
        this.logged.add(k);
        this.log(`net: connection to ${k} refused by policy`);
      }
    }
    return ok;
  }
}

export function parseRule(s: string): Rule {
  let addr = s;
  let port = 0;
  const m6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (m6) {
    addr = m6[1];
    port = m6[2] ? Number(m6[2]) : 0;
  } else if (!s.includes('::') && s.split(':').length === 2) {
    [addr] = s.split(':');
    port = Number(s.split(':')[1]);
  }
  const [a, p] = addr.split('/');
  const net = parse(a);
  if (net === null || !(port >= 0 && port <= 65535)) throw new Error(`bad network rule '${s}' (want CIDR[:PORT])`);
  const width = isV4(net) ? 32 : 128;
  const prefix = p === undefined ? width : Number(p);
  if (!(prefix >= 0 && prefix <= width)) throw new Error(`bad prefix in '${s}'`);
  return { net, prefix, port };
}

let current: NetPolicy | null = null;
const byKernel = new WeakMap<object, NetPolicy>();

export function setPolicy(kernel: object, p: NetPolicy): void {
  byKernel.set(kernel, p);
  current = p;
}

/** The sandbox's policy, or null when it has no rules. */
export function policyOf(kernel: object): NetPolicy | null {
  const p = byKernel.get(kernel) ?? null;
  return p === null || p.empty ? null : p;
}
void current;
