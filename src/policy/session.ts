/**
 * One CI run (`tssandbox run` with limits, a policy, a report or the library API's
 * channel): set up from the flags before the sandbox is built, attached to its kernel
 * before the first guest instruction, finished when the run loop returns. The CLI calls
 * it at four points (src/cli/run.ts); without any CI flag there is no session and the
 * kernel has no hooks.
 */
import * as nfs from 'fs';
import { launchedFile, launchedInOwnUserNs } from '../platform/launched-files';
import type { Kernel } from '../kernel/kernel';
import type { Sentry } from '../kernel/sentry';
import type { Task } from '../kernel/task';
import { limitsOf, RLIMIT_NOFILE } from '../kernel/limits';
import { tmpfsBudget } from '../../fs/vfs/space-budget';
import { OverlayInode } from '../../fs/fsimpl/overlay/overlay';
import { HostFile } from '../../fs/fsimpl/host/host-file';
import type { FileDescription } from '../../fs/vfs/file';
import { syscallName } from '../../syscalls/table';
import { buildReport, type AuditReport } from '../audit/report';
import { summaryMarkdown } from '../audit/summary';
import { guestText } from '../audit/recorder';
import { ciActive, type CiFlags } from './flags';
import { LIMIT_EXIT, LIMIT_KEY, LimitSyntaxError, type LimitName, type LimitSet } from './limits';
import { loadPolicyFile, PolicyError } from './load';
import { PolicyRules } from './rules';
import { LimitEnforcer } from './enforcer';
import { MeteredHostFile, OutputMeter } from './output-meter';
import { Watcher } from './watcher';
import { ApiChannel } from './channel';
import { errnoMessage } from '../abi/errno';
import { virtualClock } from '../determinism/virtual-clock';
import { detRun } from '../determinism/run-state';

/** What the session reads and adjusts of the run's options (src/cli/args.ts RunOptions). */
export interface CiRunOptions {
  program: string;
  args: string[];
  ci: CiFlags;
  mounts: Array<{ src: string; dst: string; readonly: boolean }>;
  network: 'none' | 'sandbox' | 'host' | 'user';
  allowNet: string[];
  denyNet: string[];
  memoryLimit: number;
  tmpfsLimit: number;
  pidsLimit: number;
}

export class CiSetupError extends Error {}

export class CiSession {
  readonly limits: LimitSet;
  private readonly meter: OutputMeter | null;
  private enforcer!: LimitEnforcer;
  private watcher!: Watcher;
  private readonly reportFd: number;
  private readonly summaryFd: number;
  private startMs = Date.now();
  /** kernel.nowNs() at attach: the wall time of a --deterministic run is virtual. */
  private startNs = 0;
  private kernel: Kernel | null = null;
  private tmpfsPeak = 0;

  private constructor(private readonly o: CiRunOptions, private readonly rules: PolicyRules | null, private readonly api: ApiChannel | null) {
    this.limits = { ...(rules?.limits ?? {}), ...o.ci.limits };
    const l = this.limits;
    if (l.memory !== undefined) o.memoryLimit = l.memory;
    if (l.memory !== undefined) o.tmpfsLimit = Math.min(o.tmpfsLimit, l.memory);
    if (l.disk !== undefined) o.tmpfsLimit = Math.min(o.tmpfsLimit, l.disk);
    if (l.pids !== undefined) o.pidsLimit = l.pids;
    if (rules !== null) {
      const exists = (key: string, p: string): void => {
        try {
          nfs.statSync(p);
        } catch (e) {
          // In its own user namespace the Sentry may not search the invoking user's
          // directories: the gofer, outside as that user, opens the source or refuses it.
          if ((e as { code?: string }).code === 'EACCES' && launchedInOwnUserNs()) return;
          throw new CiSetupError(`policy: ${key} ${p}: No such file or directory (ENOENT)`);
        }
      };
      for (const p of rules.readonly) {
        exists('filesystem.readonly', p);
        o.mounts.push({ src: p, dst: p, readonly: true });
      }
      for (const b of rules.readwrite) {
        exists('filesystem.readwrite', b.src);
        o.mounts.push({ src: b.src, dst: b.dst, readonly: false });
      }
      if (rules.networkMode !== null) o.network = rules.networkMode;
      if (o.ci.policyMode === 'enforce') {
        o.allowNet.push(...rules.netAllow);
        o.denyNet.push(...rules.netDeny);
      }
    }
    this.meter = l.output !== undefined ? new OutputMeter(l.output, () => this.enforcer.reached('output')) : null;
    // Opened now: once confined, the Sentry opens no host path.
    const openOut = (flag: string, file: string | null): number => {
      if (file === null) return -1;
      if (file === '-') return 2;
      if (/^\/dev\/fd\/[0-9]+$/.test(file)) return Number(file.slice(8)); // handed over open (a warm pool's request: src/server)
      try {
        return launchedFile(file) ?? nfs.openSync(file, 'w');
      } catch (e) {
        throw new CiSetupError(`${flag} ${file}: ${(e as Error).message.replace(/^[A-Z]+: /, '')}`);
      }
    };
    this.reportFd = openOut('--report', o.ci.report);
    this.summaryFd = openOut('--summary', o.ci.summary);
  }

  /** The session for these options, or null when no CI feature is asked for. Throws CiSetupError. */
  static create(o: CiRunOptions): CiSession | null {
    if (!ciActive(o.ci)) return null;
    let rules: PolicyRules | null = null;
    if (o.ci.policyFile !== null) {
      try {
        rules = new PolicyRules(loadPolicyFile(o.ci.policyFile));
      } catch (e) {
        if (e instanceof PolicyError) throw new CiSetupError(e.message);
        if (e instanceof LimitSyntaxError) throw new CiSetupError(`${o.ci.policyFile}: ${e.message}`);
        throw e;
      }
    }
    const api = o.ci.apiFd >= 0 ? new ApiChannel(o.ci.apiFd, new Set(o.ci.apiHooks)) : null;
    return new CiSession(o, rules, api);
  }

  /** The guest's environment under the policy's env rules (dropped names are recorded). */
  env(envp: string[]): string[] {
    if (this.rules === null) return envp;
    const dropped = this.rules.droppedEnv(envp);
    const warn = this.o.ci.policyMode === 'warn';
    this.pendingEnvDenials = dropped;
    let out = warn ? envp : this.rules.filterEnv(envp);
    if (warn) for (const [k, v] of this.rules.envSet) out = [...out.filter((kv) => !kv.startsWith(k + '=')), `${k}=${v}`];
    if (!out.some((kv) => kv.startsWith('PATH='))) out.push('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    return out;
  }
  private pendingEnvDenials: string[] = [];

  /** A stdio file for host fd 1 or 2 (metered under --output-limit). */
  stdio(fd: number, flags: number): FileDescription {
    return this.meter !== null && (fd === 1 || fd === 2) ? new MeteredHostFile(fd, flags, this.meter) : new HostFile(fd, flags);
  }

  /** Attaches to the sandbox before its first instruction: hooks, timers, hidden paths, init's limits. */
  attach(s: Sentry, init: Task): void {
    const k = s.kernel;
    this.kernel = k;
    const startNs = k.nowNs();
    this.startNs = startNs;
    this.startMs = Date.now();
    this.enforcer = new LimitEnforcer(this.limits, startNs);
    this.watcher = new Watcher(this.rules, this.o.ci.policyMode, this.enforcer, this.api, startNs);
    for (const name of this.pendingEnvDenials) {
      this.watcher.rec.deny({ pid: 1, kind: 'env', target: name, errno: 'ENOENT', action: this.o.ci.policyMode === 'warn' ? 'warned' : 'denied' });
    }
    this.enforcer.onHit = (h) => {
      this.watcher.rec.limits.push({ name: h.name, value: this.limits[LIMIT_KEY[h.name]] ?? 0, message: h.message, atMs: h.atMs });
      this.api?.send({ ev: 'limit', name: h.name, message: h.message });
    };
    k.hooks = this.watcher;
    if (this.limits.nofile !== undefined) {
      const n = BigInt(this.limits.nofile);
      k.nofileLimit = this.limits.nofile;
      limitsOf(init.tg).set(RLIMIT_NOFILE, { cur: n, max: n }, true);
    }
    const disk = this.limits.disk;
    const mem = this.limits.memory;
    tmpfsBudget.onFull = (want) => {
      this.tmpfsPeak = Math.max(this.tmpfsPeak, tmpfsBudget.used);
      if (disk !== undefined && want > disk) this.enforcer.reached('disk');
      else if (mem !== undefined) this.enforcer.reached('memory');
    };
    this.enforcer.attach(s);
    if (this.rules !== null && this.o.ci.policyMode === 'enforce') this.hidePaths(init);
  }

  /** filesystem.hide: each path is whited out in the root overlay, so it does not exist inside. */
  private hidePaths(init: Task): void {
    const vfs = init.kernel.vfs;
    for (const h of this.rules!.hide) {
      const p = Buffer.from(h, 'utf8').toString('latin1');
      if (p === '/') throw new CiSetupError('policy: filesystem.hide cannot hide /');
      const par = vfs.lookupParent(init, -100, p);
      if (typeof par === 'number') continue; // its directory does not exist: nothing to hide
      if (typeof par.dir.child(par.name) === 'number') continue;
      if (!(par.dir.inode instanceof OverlayInode)) {
        throw new CiSetupError(`policy: filesystem.hide ${h}: not in the root filesystem's overlay (under a mount)`);
      }
      const r = par.dir.inode.hide(par.name);
      if (r < 0) throw new CiSetupError(`policy: filesystem.hide ${h}: ${errnoMessage(-r)}`);
      par.dir.removed(par.name);
    }
  }

  /** The run ended (init's wait status): report, summary, the limit's line; returns the exit status. */
  finish(status: number, exitStatus: number): number {
    const hit = this.enforcer?.hit ?? null;
    const code = hit !== null ? LIMIT_EXIT[hit.name as LimitName] : exitStatus;
    if (hit !== null) process.stderr.write(`tssandbox: ${hit.message}\n`);
    if (this.reportFd >= 0 || this.summaryFd >= 0) {
      const r = this.report(status, code);
      if (this.reportFd >= 0) writeAll(this.reportFd, JSON.stringify(r, null, 2) + '\n');
      if (this.summaryFd >= 0) writeAll(this.summaryFd, summaryMarkdown(r));
    }
    return code;
  }

  /** The first program did not start (not found, not runnable, its exec denied): the report still says so. */
  startFailed(exitStatus: number): void {
    if (this.reportFd < 0 && this.summaryFd < 0) return;
    const r = this.report(null, exitStatus);
    if (this.reportFd >= 0) writeAll(this.reportFd, JSON.stringify(r, null, 2) + '\n');
    if (this.summaryFd >= 0) writeAll(this.summaryFd, summaryMarkdown(r));
  }

  /**
   * Peak memory: under --memory the Sentry's count (resident pages of every address
   * space plus tmpfs, sampled: src/kernel/memory-account.ts), else the largest process's
   * peak RSS plus tmpfs. Host figures vary by run: a --deterministic report has tmpfs only.
   */
  private peakMemory(): number {
    if (virtualClock.active) return this.tmpfsPeak;
    const acct = this.kernel?.memAcct ?? null;
    if (acct !== null) acct.sample(false);
    return Math.max(acct?.peak ?? 0, this.watcher.peakRssBytes + this.tmpfsPeak);
  }

  private report(status: number | null, code: number): AuditReport {
    const sig = status === null ? 0 : status & 0x7f;
    const w = this.watcher;
    const set: Record<string, number> = {};
    for (const [name, key] of Object.entries(LIMIT_KEY)) {
      const v = this.limits[key];
      if (v !== undefined) set[name] = v;
    }
    this.tmpfsPeak = Math.max(this.tmpfsPeak, tmpfsBudget.used);
    w.hashWritten();
    return buildReport(w.rec, {
      command: [this.o.program, ...this.o.args],
      exitCode: status === null ? null : sig === 0 ? (status >> 8) & 0xff : null,
      signal: sig === 0 ? null : sig,
      exitStatus: code,
      wallMs: virtualClock.active && this.kernel !== null ? Math.round((this.kernel.nowNs() - this.startNs) / 1e6) : Date.now() - this.startMs,
      cpuMs: Math.round(this.enforcer.cpuNs() / 1e6),
      peakMemoryBytes: this.peakMemory(),
      policy: this.rules !== null ? { source: this.o.ci.policyFile !== null ? guestText(Buffer.from(this.o.ci.policyFile).toString('latin1')) : null, mode: this.o.ci.policyMode } : null,
      limitsSet: set,
      deterministic: detRun.seed !== null ? { seed: detRun.seed, wallPreemptions: detRun.wallPreemptions } : undefined,
    }, syscallName);
  }
}

function writeAll(fd: number, text: string): void {
  const b = Buffer.from(text);
  let off = 0;
  while (off < b.length) off += nfs.writeSync(fd, b, off);
}

