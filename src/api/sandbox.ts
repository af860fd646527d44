/**
 * The library API: `Sandbox.run(argv, options)` and `Sandbox.spawn(argv, options)`.
 * Each sandbox is its own Sentry process (`tssandbox run`, started with this package's
 * bin/tssandbox); its audit report comes back through a temporary file, its events and
 * the hooks' questions over a socket on its fd 3 (src/policy/channel.ts), one JSON line
 * each. Hooks run here, in the caller's process; the guest's call waits for the answer.
 */
import { spawn, type ChildProcess } from 'child_process';
import { EventEmitter } from 'events';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Readable, Writable, Duplex } from 'stream';
import type { AuditReport } from '../audit/report';
import { checkPolicy } from '../policy/load';
import { runFlags, type HookResult, type SandboxOptions } from './options';

export type { AuditReport };

export interface RunResult {
  /** Exit status: the guest's, 128+N for a death by signal N, a limit's (124, 118..122, 152), or 125..127. */
  status: number;
  /** The signal that ended the guest (e.g. 'SIGKILL'), or null. */
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
  /** The audit report (null if the sandbox could not start). */
  report: AuditReport | null;
}

export interface Exited {
  status: number;
  signal: NodeJS.Signals | null;
  report: AuditReport | null;
}

/** Where bin/tssandbox is, from dist/src/api/ (built) or src/api/ (sources run by a test runner). */
function binPath(): string {
  for (const up of [['..', '..', '..'], ['..', '..']]) {
    const p = path.join(__dirname, ...up, 'bin', 'tssandbox');
    if (fs.existsSync(p)) return p;
  }
  throw new Error('tssandbox: bin/tssandbox not found beside the library');
}

const SIGNALS = os.constants.signals as Record<string, number>;
function signalName(n: number | null): NodeJS.Signals | null {
  if (n === null) return null;
  for (const [k, v] of Object.entries(SIGNALS)) if (v === n) return k as NodeJS.Signals;
  return null;
}

function toDecision(r: HookResult, kind: 'open' | 'exec' | 'connect'): Record<string, unknown> {
  if (r === undefined || r === true || r === null) return { allow: true };
  if (r === false) return { deny: kind === 'connect' ? 'ECONNREFUSED' : kind === 'open' ? 'EACCES' : 'EACCES' };
  if (typeof r === 'string') return { deny: r };
  return r as Record<string, unknown>;
}

export class Sandbox extends EventEmitter {
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Resolves when the sandbox has ended (never rejects: a start failure is status 125..127). */
  readonly exited: Promise<Exited>;
  readonly pid: number | undefined;
  private readonly child: ChildProcess;
  private readonly tmp: string;

  private constructor(argv: string[], private readonly o: SandboxOptions) {
    super();
    if (!Array.isArray(argv) || argv.length === 0 || argv.some((a) => typeof a !== 'string')) {
      throw new TypeError('Sandbox: argv must be a non-empty array of strings');
    }
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tssandbox-api-'));
    let policyFile: string | null = null;
    if (o.policy !== undefined) {
      checkPolicy(o.policy, 'policy');
      policyFile = path.join(this.tmp, 'policy.json');
      fs.writeFileSync(policyFile, JSON.stringify(o.policy));
    }
    const report = path.join(this.tmp, 'report.json');
    const hooks = [o.onOpen && 'open', o.onExec && 'exec', o.onConnect && 'connect'].filter(Boolean) as string[];
    const args = [binPath(), 'run', '--report', report, '--api-fd', '3', ...(hooks.length ? ['--api-hooks', hooks.join(',')] : []),
      ...runFlags(o, policyFile), '--', ...argv];
    this.child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
    this.pid = this.child.pid;
    this.stdin = this.child.stdin!;
    this.stdout = this.child.stdout!;
    this.stderr = this.child.stderr!;
    this.stdin.on('error', () => { /* the guest did not read its stdin */ });
    const chan = this.child.stdio[3] as Duplex;
    this.listen(chan);
    this.exited = new Promise((resolve) => {
      const finish = (code: number | null, sig: NodeJS.Signals | null) => {
        let rep: AuditReport | null = null;
        try {
          rep = JSON.parse(fs.readFileSync(report, 'utf8')) as AuditReport;
        } catch { /* it did not start, or was killed before writing it */ }
        fs.rmSync(this.tmp, { recursive: true, force: true });
        const status = code ?? 128 + (sig ? SIGNALS[sig] ?? 0 : 0);
        const signal = rep !== null ? signalName(rep.signal) : sig;
        resolve({ status, signal, report: rep });
      };
      this.child.on('error', () => finish(127, null));
      this.child.on('close', finish);
    });
  }

  /** Events and hook questions, one JSON line each. */
  private listen(chan: Duplex): void {
    let buf = '';
    chan.setEncoding('utf8');
    chan.on('error', () => { /* the Sentry is gone */ });
    chan.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line);
        } catch {
          continue;
        }
        this.onMessage(chan, msg);
      }
    });
  }

  private onMessage(chan: Duplex, msg: Record<string, unknown>): void {
    const ev = String(msg.ev);
    const { ev: _e, wait, ...data } = msg;
    if (wait) {
      const hook = ev === 'open' ? this.o.onOpen : ev === 'exec' ? this.o.onExec : ev === 'connect' ? this.o.onConnect : undefined;
      const reply = (r: HookResult): void => {
        const d = toDecision(r, ev as 'open' | 'exec' | 'connect');
        chan.write(JSON.stringify(d) + '\n');
        this.emit(ev, { ...data, decision: d });
      };
      Promise.resolve()
        .then(() => (hook ? (hook as (x: unknown) => HookResult | Promise<HookResult>)(data) : undefined))
        .then(reply, () => reply(false)); // a hook that throws denies: fail closed
      return;
    }
    this.emit(ev, data);
  }

  /** Ends the sandbox (all its processes: the Sentry's death takes the stubs and the Gofer). */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.child.kill(signal);
  }

  /** Starts argv in a new sandbox; stdio are streams. */
  static spawn(argv: string[], options: SandboxOptions = {}): Sandbox {
    return new Sandbox(argv, options);
  }

  /** Runs argv to the end; stdout and stderr collected. */
  static async run(argv: string[], options: SandboxOptions & { input?: string | Buffer } = {}): Promise<RunResult> {
    const sb = new Sandbox(argv, options);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    sb.stdout.on('data', (d: Buffer) => out.push(d));
    sb.stderr.on('data', (d: Buffer) => err.push(d));
    sb.stdin.end(options.input);
    const r = await sb.exited;
    return { status: r.status, signal: r.signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err), report: r.report };
  }
}
