/**
 * Per-syscall time breakdown of the Sentry (TSSANDBOX_SYSCALL_PROFILE=1; off by
 * default, and then nothing of this runs: the loop tests one field for null).
 *
 * Two clocks per event, read around the loop's two halves:
 * - platform: from handing a result back to the next stop (the native wait: the
 *   guest's own run, the ptrace/systrap round trip, and any time the Sentry's CPU was
 *   taken by someone else);
 * - sentry: from that stop until the loop waits again (decoding the event, the
 *   handler, its guest-memory copies and Gofer calls).
 * Both are charged to the syscall the stop was for, with the Gofer round trips made
 * inside the sentry part (their count, and their time: part of the sentry column), and
 * the Sentry process's CPU time (user + system, all its threads) over the sentry part:
 * unlike the wall clock, that one does not grow when other work shares the CPU.
 * Printed to stderr at exit, dearest first.
 */
import { writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { goferCalls } from '../gofer/client';

export class SyscallProfile {
  /** By syscall number: calls, ns in the Sentry, ns in the platform wait before it. */
  private readonly calls = new Float64Array(1024);
  private readonly sentryNs = new Float64Array(1024);
  private readonly platformNs = new Float64Array(1024);
  private readonly goferN = new Float64Array(1024);
  private readonly goferNs = new Float64Array(1024);
  private readonly cpuNs = new Float64Array(1024);
  private cpu0 = 0;
  /** Stops that were no syscall (signals, exits, polls). */
  private otherSentryNs = 0;
  private otherPlatformNs = 0;
  private others = 0;
  private waitStart = 0;
  private stopAt = 0;
  private goferN0 = 0;
  private goferMs0 = 0;

  constructor(private readonly name: (nr: number) => string) {
    goferCalls.timed = true;
  }

  /** The loop is about to wait on the platform. */
  beforeWait(): void {
    this.waitStart = performance.now();
  }

  /** The platform returned a stop. */
  afterWait(): void {
    this.stopAt = performance.now();
    this.goferN0 = goferCalls.n;
    this.goferMs0 = goferCalls.ms;
    this.cpu0 = cpuUs();
  }

  /** The stop was served; sysno < 0: not a syscall. */
  served(sysno: number): void {
    const end = performance.now();
    const cpu = (cpuUs() - this.cpu0) * 1e3;
    const s = (end - this.stopAt) * 1e6;
    const p = this.waitStart > 0 ? (this.stopAt - this.waitStart) * 1e6 : 0;
    if (sysno >= 0 && sysno < 1024) {
      this.calls[sysno]++;
      this.sentryNs[sysno] += s;
      this.platformNs[sysno] += p;
      this.goferN[sysno] += goferCalls.n - this.goferN0;
      this.goferNs[sysno] += (goferCalls.ms - this.goferMs0) * 1e6;
      this.cpuNs[sysno] += cpu;
    } else {
      this.others++;
      this.otherSentryNs += s;
      this.otherPlatformNs += p;
    }
  }

  /** The table, dearest first (total of both clocks). */
  report(): string {
    const rows: Array<[string, number, number, number, number, number, number]> = [];
    let n = 0, ts = 0, tp = 0, tg = 0, tc = 0;
    for (let i = 0; i < 1024; i++) {
      if (this.calls[i] === 0) continue;
      rows.push([this.name(i), this.calls[i], this.sentryNs[i], this.platformNs[i], this.goferN[i], this.goferNs[i], this.cpuNs[i]]);
      n += this.calls[i];
      ts += this.sentryNs[i];
      tp += this.platformNs[i];
      tg += this.goferNs[i];
      tc += this.cpuNs[i];
    }
    rows.sort((a, b) => b[2] + b[3] - (a[2] + a[3]));
    if (this.others) rows.push(['(other stops)', this.others, this.otherSentryNs, this.otherPlatformNs, 0, 0, 0]);
    const ns = (x: number): string => x.toFixed(0).padStart(9);
    const ms = (x: number): string => (x / 1e6).toFixed(1).padStart(9);
    const lines = [
      `tssandbox: syscall profile: ${n} syscalls, sentry ${(ts / 1e6).toFixed(1)} ms (${(ts / Math.max(n, 1)).toFixed(0)} ns/call), platform ${(tp / 1e6).toFixed(1)} ms (${(tp / Math.max(n, 1)).toFixed(0)} ns/call), of the sentry's: gofer ${(tg / 1e6).toFixed(1)} ms, Sentry CPU ${(tc / 1e6).toFixed(1)} ms (${(tc / Math.max(n, 1)).toFixed(0)} ns/call)`,
      `${'syscall'.padEnd(20)}${'calls'.padStart(9)}${'sentry ns'.padStart(10)}${'(gofer)'.padStart(10)}${'plat ns'.padStart(10)}${'sentry ms'.padStart(10)}${'plat ms'.padStart(10)}${'gofer/call'.padStart(11)}${'cpu ns'.padStart(9)}`,
    ];
    for (const [name, c, s, p, gn, g, cpu] of rows) {
      lines.push(`${name.padEnd(20)}${String(c).padStart(9)} ${ns(s / c)} ${ns(g / c)} ${ns(p / c)} ${ms(s)} ${ms(p)} ${(gn / c).toFixed(2).padStart(10)} ${(cpu / c).toFixed(0).padStart(8)}`);
    }
    return `${lines.join('\n')}\n`;
  }
}

/** The Sentry process's CPU time so far (user + system, µs). */
function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** The profile when TSSANDBOX_SYSCALL_PROFILE=1 (printed at exit), else null. */
export function syscallProfileFromEnv(name: (nr: number) => string): SyscallProfile | null {
  if (process.env.TSSANDBOX_SYSCALL_PROFILE !== '1') return null;
  const p = new SyscallProfile(name);
  process.on('exit', () => {
    try {
      writeSync(2, p.report());
    } catch {
      /* stderr gone */
    }
  });
  return p;
}
