import * as fs from 'fs';
import { execFileSync, spawn, type ChildProcess } from 'child_process';
import { BIN } from '../helpers/paths';

/** Host pids of the stub processes under a Sentry process: the template and its descendants. */
export function stubsOf(sentryPid: number): number[] {
  const parent = new Map<number, number>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      if (!stat.includes('(tssandbox-stub)')) continue;
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const under = (pid: number): boolean => {
    for (let p = parent.get(pid); p !== undefined; p = parent.get(p)) if (p === sentryPid) return true;
    return parent.get(pid) === sentryPid;
  };
  for (const pid of parent.keys()) if (under(pid)) out.push(pid);
  return out;
}

/** Host pids of every process under a Sentry process (stubs, the gofer, anything else). */
export function descendantsOf(rootPid: number): number[] {
  const parent = new Map<number, number>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  for (const pid of parent.keys()) {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) {
      if (p === rootPid) {
        out.push(pid);
        break;
      }
    }
  }
  return out;
}

/** True while pid is alive and not a zombie, and still has the command name it had. */
export function processAlive(pid: number, comm: string): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (!stat.includes(`(${comm})`)) return false; // the pid was reused
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The command name of pid ('' if gone). */
export function commOf(pid: number): string {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  } catch {
    return '';
  }
}

/**
 * The host fds a stub may hold: its fd-passing socket (1000), and on systrap the
 * Sentry's doorbell eventfd (1001), which guest code can only ring. Under an explicit
 * TSSANDBOX_PLATFORM=ptrace only the socket; otherwise 1001 only if it is an eventfd.
 */
export function expectedStubFds(pid: number): string[] {
  if (process.env.TSSANDBOX_PLATFORM === 'ptrace') return ['1000'];
  let bell = '';
  try {
    bell = fs.readlinkSync(`/proc/${pid}/fd/1001`);
  } catch {
    // none
  }
  return bell === 'anon_inode:[eventfd]' ? ['1000', '1001'] : ['1000'];
}

/** Resolves once `child` has written `marker` to stdout (rejects after `ms`). */
export function stdoutShows(child: { stdout: NodeJS.ReadableStream | null }, marker: string, ms = 15_000): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no '${marker}' within ${ms} ms`)), ms);
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes(marker)) {
        clearTimeout(t);
        resolve();
      }
    });
  });
}

/** A sandbox the test talks to as it runs: its stdout and stderr, interleaved, in out(). */
export type Started = ChildProcess & { out: () => string };

/** Spawns argv (a run through the front), kept in `children` to be killed after the file; resolves once it printed `ready`. */
export async function startReady(argv: string[], env: Record<string, string>, children: ChildProcess[], ms = 45_000): Promise<Started> {
  const child = spawn(argv[0], argv.slice(1), { env, stdio: ['pipe', 'pipe', 'pipe'] }) as Started;
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  child.out = () => out;
  await stdoutShows(child, 'ready', ms);
  return child;
}

/** Waits (bounded) for a condition the host reaches by itself, e.g. a reaper's rmdir. */
export async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); ) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `tssandbox platforms`' kvm line: works (with its cost) or why not (as test/platform/kvm.test.ts). */
export function kvmLine(): string {
  const out = execFileSync(process.execPath, [BIN, 'platforms'], { encoding: 'utf8', timeout: 120_000 });
  return out.split('\n').find((l) => l.startsWith('kvm ')) ?? 'kvm      (no line)';
}
