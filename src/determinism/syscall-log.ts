/**
 * The syscall log of --record / --replay: a header line, then one line per finished
 * syscall in the order the deterministic schedule finished them:
 *   INDEX TID NAME(A0,A1,A2,A3,A4,A5) = RESULT      (arguments in hex, result decimal)
 * Replay compares each finished syscall with the next line; the first difference (or
 * a log that ends too soon or too late) is the divergence.
 */
export const LOG_MAGIC = '# tssandbox syscall log v1';

export interface LogHeader {
  seed: string;
  argv: string[];
}

export interface SyscallRecord {
  tid: number;
  name: string;
  args: ArrayLike<number>;
  result: number;
}

const hex = (v: number): string => (v < 0 ? '-0x' + (-v).toString(16) : '0x' + v.toString(16));

export function headerLine(h: LogHeader): string {
  return `${LOG_MAGIC} ${JSON.stringify(h)}\n`;
}

export function recordLine(index: number, r: SyscallRecord): string {
  const a: string[] = [];
  for (let i = 0; i < 6; i++) a.push(hex(r.args[i] ?? 0));
  return `${index} ${r.tid} ${r.name}(${a.join(',')}) = ${r.result}`;
}

export class LogFormatError extends Error {}

export interface ParsedLog {
  header: LogHeader;
  /** Lines after the header, each as recordLine wrote it. */
  lines: string[];
}

export function parseLog(text: string, file: string): ParsedLog {
  const nl = text.indexOf('\n');
  const first = nl < 0 ? text : text.slice(0, nl);
  if (!first.startsWith(LOG_MAGIC + ' ')) throw new LogFormatError(`${file}: not a tssandbox syscall log (no '${LOG_MAGIC}' line)`);
  let header: LogHeader;
  try {
    const h = JSON.parse(first.slice(LOG_MAGIC.length + 1)) as Partial<LogHeader>;
    if (typeof h.seed !== 'string' || !Array.isArray(h.argv)) throw new Error('bad header');
    header = { seed: h.seed, argv: h.argv.map(String) };
  } catch {
    throw new LogFormatError(`${file}: line 1: bad header`);
  }
  const lines = nl < 0 ? [] : text.slice(nl + 1).split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  return { header, lines };
}

/** Compares the run's syscalls with a log, one at a time. */
export class ReplayChecker {
  private next = 0;
  divergence: string | null = null;

  constructor(private readonly log: ParsedLog) {}

  /** The run finished syscall `line` (recordLine's text): false at the first divergence. */
  check(line: string): boolean {
    if (this.divergence !== null) return false;
    const i = this.next++;
    const want = this.log.lines[i];
    if (want === line) return true;
    this.divergence = want === undefined
      ? `replay diverged at syscall #${i}: the log ends there, the run went on with ${line.slice(line.indexOf(' ') + 1)}`
      : `replay diverged at syscall #${i}: expected ${describe(want)}, got ${describe(line)}`;
    return false;
  }

  /** The run ended: a log with more lines diverges too. */
  finish(): string | null {
    if (this.divergence === null && this.next < this.log.lines.length) {
      this.divergence = `replay diverged at syscall #${this.next}: the run ended, the log expected ${describe(this.log.lines[this.next])}`;
    }
    return this.divergence;
  }
}

/** "12 3 write(...) = 5" as "task 3: write(...) = 5". */
function describe(line: string): string {
  const m = /^(\S+) (\S+) (.*)$/.exec(line);
  return m ? `task ${m[2]}: ${m[3]}` : `'${line}'`;
}
