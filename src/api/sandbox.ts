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
import type { ViaRun } from '../server/index';
import { startSandboxVia, viaPolicyFile } from './via';

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

/**
 * How to start `tssandbox run`: through the native front beside bin/tssandbox when it is
 * built (native/sentry_launch.cc: the Sentry in a user namespace of its own, as the
 * `tssandbox` command does), on this Node (TSSANDBOX_NODE, which the front does not pass
 * on to the guest); else this Node on bin/tssandbox.
 */
function command(bin: string): { file: string; head: string[]; env?: NodeJS.ProcessEnv } {
  const front = path.join(path.dirname(bin), '..', 'build', 'Release', 'tssandbox');
  if (fs.existsSync(front)) return { file: front, head: [], env: { ...process.env, TSSANDBOX_NODE: process.execPath } };
  return { file: process.execPath, head: [bin] };
}

const SIGNALS = os.constants.signals as Record<string, number>;
function signalName(n: number | null): NodeJS.Signals | null {
  if (n === null) return null;
  for (const [k, v] of Object.entries(SIGNALS)) if (v === n) return k as NodeJS.Signals;
  return null;
}

/** What `exited` resolves to: the status a cold `run` exits with (128+N for a signal), the report's signal. */
function exitedOf(code: number | null, sig: NodeJS.Signals | null, report: AuditReport | null): Exited {
  const status = code ?? 128 + (sig ? SIGNALS[sig] ?? 0 : 0);
  return { status, signal: report !== null ? signalName(report.signal) : sig, report };
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
  /** The `run` process (null through a pool: `via`). */
  private readonly child: ChildProcess | null = null;
  /** The request in a pool's Sentry (`via`), else null. */
  private readonly viaRun: ViaRun | null = null;

  /**
   * `events`: false for Sandbox.run without hooks, whose events no one can listen to: the
   * Sentry then gets no channel (`--api-fd`) and sends none.
   */
  private constructor(argv: string[], private readonly o: SandboxOptions, events = true) {
    super();
    if (!Array.isArray(argv) || argv.length === 0 || argv.some((a) => typeof a !== 'string')) {
      throw new TypeError('Sandbox: argv must be a non-empty array of strings');
    }
    const hooks = [o.onOpen && 'open', o.onExec && 'exec', o.onConnect && 'connect'].filter(Boolean) as string[];
    const flagsFor = (policyFile: string | null) => [...(hooks.length ? ['--api-hooks', hooks.join(',')] : []), ...runFlags(o, policyFile), '--', ...argv];
    const channel = events || hooks.length > 0;
    if (o.policy !== undefined) checkPolicy(o.policy, 'policy');
    if (o.via !== undefined) {
      const policyFile = o.policy !== undefined ? viaPolicyFile(o.policy) : null;
      const v = startSandboxVia(o.via, flagsFor(policyFile), () => this.aborted, channel);
      this.stdin = v.stdin;
      this.stdout = v.stdout;
      this.stderr = v.stderr;
      this.stdin.on('error', () => { /* the guest did not read its stdin */ });
      if (v.channel) this.listen(v.channel);
      this.pid = undefined;
      this.viaRun = v.run;
      this.exited = v.done.then(({ code, sig, report }) => {
        if (policyFile !== null) fs.rmSync(policyFile, { force: true });
        return exitedOf(code, sig, report);
      });
      return;
    }
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tssandbox-api-'));
    let policyFile: string | null = null;
    if (o.policy !== undefined) {
      policyFile = path.join(tmp, 'policy.json');
      fs.writeFileSync(policyFile, JSON.stringify(o.policy));
    }
    const report = path.join(tmp, 'report.json');
    const flags = flagsFor(policyFile);
    const finish = (resolve: (e: Exited) => void, code: number | null, sig: NodeJS.Signals | null) => {
      let rep: AuditReport | null = null;
      try {
        rep = JSON.parse(fs.readFileSync(report, 'utf8')) as AuditReport;
      } catch { /* it did not start, or was killed before writing it */ }
      fs.rmSync(tmp, { recursive: true, force: true });
      resolve(exitedOf(code, sig, rep));
    };
    const cmd = command(binPath());
    this.child = spawn(cmd.file, [...cmd.head, 'run', '--report', report, ...(channel ? ['--api-fd', '3'] : []), ...flags],
      { stdio: channel ? ['pipe', 'pipe', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe'], ...(cmd.env ? { env: cmd.env } : {}) });
    const child = this.child;
    this.pid = child.pid;
    this.stdin = child.stdin!;
    this.stdout = child.stdout!;
    this.stderr = child.stderr!;
    this.stdin.on('error', () => { /* the guest did not read its stdin */ });
    if (channel) this.listen(child.stdio[3] as Duplex);
    this.exited = new Promise((resolve) => {
      child.on('error', () => finish(resolve, 127, null));
      child.on('close', (code, sig) => finish(resolve, code, sig));
    });
  }

  /** Through a pool: set once kill('SIGKILL') abandoned the request. */
  private aborted = false;

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
    if (this.viaRun === null) {
      this.child?.kill(signal);
      return;
    }
    // A pool's Sentry takes the signals a terminal sends; SIGKILL is leaving: the server kills it.
    if (signal !== 'SIGKILL') return this.viaRun.kill(signal);
    this.aborted = true;
    this.viaRun.abort();
  }

  /** Starts argv in a new sandbox; stdio are streams. */
  static spawn(argv: string[], options: SandboxOptions = {}): Sandbox {
    return new Sandbox(argv, options);
  }

  /** Runs argv to the end; stdout and stderr collected. */
  static async run(argv: string[], options: SandboxOptions & { input?: string | Buffer } = {}): Promise<RunResult> {
    const sb = new Sandbox(argv, options, false);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    sb.stdout.on('data', (d: Buffer) => out.push(d));
    sb.stderr.on('data', (d: Buffer) => err.push(d));
    sb.stdin.end(options.input);
    const r = await sb.exited;
    return { status: r.status, signal: r.signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err), report: r.report };
  }
}
