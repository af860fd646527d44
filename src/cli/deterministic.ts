/**
 * --deterministic / --record / --replay for `tssandbox run` (src/determinism): seeds the
 * entropy, switches every clock to the virtual one, drops the vDSO (its clock reads the
 * TSC; without it libc traps its clock calls), puts the serial platform in front of the
 * real one, and keeps or checks the syscall log.
 */
import * as nfs from 'node:fs';
import { launchedFile, launchedText } from '../platform/launched-files';
import type { Platform } from '../platform/platform';
import type { Sentry, SyscallTracer } from '../kernel/sentry';
import type { Task } from '../kernel/task';
import { endSandbox } from '../kernel/sandbox-hooks';
import { useVirtualClock } from '../kernel/time/clocks';
import { chargeVirtualCpu, hostThreadCpuNs } from '../kernel/time/cputime';
import { disableVdso } from '../loader/vdso';
import { seedEntropy } from '../determinism/entropy';
import { detRun } from '../determinism/run-state';
import { detActive, type DetFlags } from '../determinism/flags';
import { useStableIds } from '../determinism/stable-ids';
import { cpuidTrapSupported, emulateCpuInsn } from '../determinism/cpu-insn';
import { SerialPlatform } from '../determinism/serial-platform';
import { SYSCALL_STEP_NS } from '../determinism/virtual-clock';
import { headerLine, parseLog, recordLine, LogFormatError, ReplayChecker } from '../determinism/syscall-log';
import { SYSCALL_TABLE } from '../../syscalls/table';

/** Exit status of a replay that diverged from its log. */
export const REPLAY_DIVERGED_EXIT = 117;

export class DetSetupError extends Error {}

export class Determinism {
  readonly platform: SerialPlatform;
  private readonly recordFd: number;
  private readonly checker: ReplayChecker | null;
  private buf: string[] = [];
  private bufLen = 0;
  private index = 0;
  private sentry: Sentry | null = null;

  /** RDTSC (always) and CPUID (RDRAND/RDSEED masked, with --mask-cpuid where the host can) answered by the Sentry. */
  readonly trapsTsc: boolean;
  readonly trapsCpuid: boolean;

  private constructor(f: DetFlags, inner: Platform & { trapTsc?: boolean; trapCpuid?: boolean }, argv: string[]) {
    let seed = f.seed;
    this.checker = null;
    if (f.replay !== null) {
      let text: string;
      try {
        text = launchedText(f.replay, 'latin1') ?? nfs.readFileSync(f.replay, 'latin1');
      } catch (e) {
        throw new DetSetupError(`--replay ${f.replay}: ${(e as Error).message.replace(/^[A-Z]+: /, '')}`);
      }
      try {
        const log = parseLog(text, f.replay);
        seed ??= log.header.seed;
        this.checker = new ReplayChecker(log);
      } catch (e) {
        if (e instanceof LogFormatError) throw new DetSetupError(`--replay ${e.message}`);
        throw e;
      }
    }
    seed ??= '0';
    this.recordFd = -1;
    if (f.record !== null) {
      try {
        this.recordFd = launchedFile(f.record) ?? nfs.openSync(f.record, 'w');
      } catch (e) {
        throw new DetSetupError(`--record ${f.record}: ${(e as Error).message.replace(/^[A-Z]+: /, '')}`);
      }
      this.write(headerLine({ seed, argv }));
    }
    seedEntropy(seed);
    detRun.seed = seed;
    useVirtualClock();
    disableVdso();
    useStableIds();
    this.platform = new SerialPlatform(inner);
    this.trapsTsc = 'trapTsc' in inner;
    if (this.trapsTsc) inner.trapTsc = true;
    this.trapsCpuid = f.maskCpuid && 'trapCpuid' in inner && cpuidTrapSupported();
    if (this.trapsCpuid) inner.trapCpuid = true;
    detRun.cpuidMasked = this.trapsCpuid;
    if (f.maskCpuid && !this.trapsCpuid) throw new DetSetupError('--mask-cpuid: this CPU cannot make CPUID fault (ARCH_SET_CPUID)');
  }

  /** Null unless a deterministic flag was given. Throws DetSetupError (a one-line message). */
  static create(f: DetFlags, inner: Platform & { trapTsc?: boolean; trapCpuid?: boolean }, argv: string[]): Determinism | null {
    return detActive(f) ? new Determinism(f, inner, argv) : null;
  }

  /** Before the first task runs: the log and the virtual CPU time ride on the tracer. */
  attach(s: Sentry): void {
    this.sentry = s;
    this.platform.deadlinesPending = () => s.hasDeadlines();
    this.platform.cpuNsOf = (tid) => {
      const t = s.byHost.get(tid);
      return t === undefined ? -1 : hostThreadCpuNs(t);
    };
    if (this.trapsTsc || this.trapsCpuid) s.faultHook = (t) => emulateCpuInsn(this.platform, t.mm.asPid, t.hostTid);
    if (!this.trapsCpuid) s.kernel.log('deterministic mode: CPUID runs natively (RDRAND/RDSEED visible); --mask-cpuid traps it');
    const prev = s.tracer;
    const tracer: SyscallTracer = {
      enter: (t) => {
        chargeVirtualCpu(t, SYSCALL_STEP_NS);
        prev?.enter(t);
      },
      block: (t) => prev?.block(t),
      exit: (t, r) => {
        this.finished(t, r);
        prev?.exit(t, r);
      },
    };
    s.tracer = tracer;
  }

  private finished(t: Task, r: number): void {
    if (this.recordFd < 0 && this.checker === null) return;
    const line = recordLine(this.index++, { tid: t.tid, name: SYSCALL_TABLE.name(t.sysno), args: t.args, result: r });
    if (this.recordFd >= 0) this.write(line + '\n');
    if (this.checker !== null && !this.checker.check(line) && this.sentry !== null) {
      process.stderr.write(`tssandbox: ${this.checker.divergence}\n`);
      endSandbox(this.sentry);
    }
  }

  private write(s: string): void {
    this.buf.push(s);
    this.bufLen += s.length;
    if (this.bufLen >= 1 << 16) this.flush();
  }

  private flush(): void {
    if (this.recordFd < 0 || this.buf.length === 0) return;
    const b = Buffer.from(this.buf.join(''), 'latin1');
    this.buf = [];
    this.bufLen = 0;
    let off = 0;
    while (off < b.length) off += nfs.writeSync(this.recordFd, b, off);
  }

  /** The run ended with exit status `code`: closes the log, reports a divergence; returns the status to exit with. */
  finish(code: number): number {
    this.flush();
    if (this.recordFd >= 0) nfs.closeSync(this.recordFd);
    const n = this.platform.wallPreemptions;
    if (n > 0) {
      process.stderr.write(`tssandbox: deterministic mode: ${n} preemption${n === 1 ? '' : 's'} by the wall clock (a thread ran ${'>'}200 ms without a syscall); the schedule may differ between runs\n`);
    }
    if (this.checker !== null) {
      const wasDiverged = this.checker.divergence !== null;
      const d = this.checker.finish();
      if (d !== null) {
        if (!wasDiverged) process.stderr.write(`tssandbox: ${d}\n`);
        return REPLAY_DIVERGED_EXIT;
      }
    }
    return code;
  }
}
