/**
 * Network namespaces for the sandbox-mode tests: each test makes its own (unique names,
 * addresses only from 198.51.100.0/24 and 2001:db8::/32) and removes them afterwards,
 * even on failure. Nothing here touches the host's own interfaces.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { BIN } from '../helpers/paths';

let seq = 0;
const made: string[] = [];

export function sh(args: string[], input?: string): string {
  return execFileSync(args[0], args.slice(1), { encoding: 'utf8', input, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
}

export function canMakeNetns(): boolean {
  try {
    const n = uniq('probe');
    sh(['ip', 'netns', 'add', n]);
    sh(['ip', 'netns', 'del', n]);
    return true;
  } catch {
    return false;
  }
}

function uniq(tag: string): string {
  return `tss${process.pid % 100000}${tag}${seq++}`;
}

export function addNetns(tag: string): string {
  const n = uniq(tag);
  sh(['ip', 'netns', 'add', n]);
  made.push(n);
  sh(['ip', '-n', n, 'link', 'set', 'lo', 'up']);
  return n;
}

export function cleanupNetns(): void {
  for (const n of made.splice(0)) {
    try {
      sh(['ip', 'netns', 'del', n]);
    } catch {
      /* already gone */
    }
  }
}

export interface Pair {
  /** The namespace the sandbox takes over, and its interface. */
  sandboxNs: string;
  sandboxIf: string;
  /** The peer namespace (Linux's own stack), its interface. */
  peerNs: string;
  peerIf: string;
}

export const SANDBOX_V4 = '198.51.100.1';
export const PEER_V4 = '198.51.100.2';
export const SANDBOX_V6 = '2001:db8::1';
export const PEER_V6 = '2001:db8::2';

/** Two namespaces joined by a veth pair, addressed v4 and v6 (no DAD wait). */
export function vethPair(): Pair {
  const a = addNetns('s');
  const b = addNetns('p');
  const ia = `${a}v`.slice(-15);
  const ib = `${b}v`.slice(-15);
  sh(['ip', 'link', 'add', ia, 'netns', a, 'type', 'veth', 'peer', 'name', ib, 'netns', b]);
  address(a, ia, SANDBOX_V4, SANDBOX_V6);
  address(b, ib, PEER_V4, PEER_V6);
  return { sandboxNs: a, sandboxIf: ia, peerNs: b, peerIf: ib };
}

export function address(ns: string, dev: string, v4: string, v6: string): void {
  sh(['ip', '-n', ns, 'addr', 'add', `${v4}/24`, 'dev', dev]);
  sh(['ip', '-n', ns, 'addr', 'add', `${v6}/64`, 'dev', dev, 'nodad']);
  sh(['ip', '-n', ns, 'link', 'set', dev, 'up']);
}

export function nsPath(ns: string): string {
  return `/var/run/netns/${ns}`;
}

export interface Proc {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  /** Resolves with the exit code once the process ended. */
  done: Promise<number | null>;
  /** Resolves once stdout contains s. */
  waitFor: (s: string, ms?: number) => Promise<void>;
  kill: () => void;
}

function track(child: ChildProcess): Proc {
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (err += d));
  const done = new Promise<number | null>((res) => child.on('close', (c) => res(c)));
  const waitFor = (s: string, ms = 60_000) =>
    new Promise<void>((res, rej) => {
      const t0 = Date.now();
      const tick = () => {
        if (out.includes(s)) return res();
        if (child.exitCode !== null || Date.now() - t0 > ms) return rej(new Error(`never printed '${s}'; stdout: ${out}\nstderr: ${err}`));
        setTimeout(tick, 50);
      };
      tick();
    });
  return {
    child,
    out: () => out,
    err: () => err,
    done,
    waitFor,
    kill: () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    },
  };
}

/** Runs argv inside namespace ns (Linux's own stack). */
export function inNs(ns: string, argv: string[]): Proc {
  return track(spawn('ip', ['netns', 'exec', ns, ...argv], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** Runs argv in a sandbox that takes over ns's interfaces. */
export function sandboxed(ns: string, argv: string[], extra: string[] = []): Proc {
  return track(spawn(process.execPath, [BIN, 'run', '--netns', nsPath(ns), ...extra, '--', ...argv], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** Runs to completion in ns, returning stdout (throws on failure). */
export async function runIn(ns: string, argv: string[], ms = 120_000): Promise<string> {
  const p = inNs(ns, argv);
  const timer = setTimeout(() => p.kill(), ms);
  const code = await p.done;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${argv.join(' ')} in ${ns} exited ${code}: ${p.err()}`);
  return p.out();
}
