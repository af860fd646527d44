/**
 * What the guest did, as the audit report lists it: processes, files (one entry per
 * path and operation, with the bytes and the sha256 of what was written or executed),
 * connections, denials, limits reached and syscall counts. Fed by the watcher
 * (src/policy/watcher.ts) from the kernel's hooks; turned into the report by report.ts.
 */
export type FileOp = 'read' | 'write' | 'create' | 'delete' | 'exec';

export interface ProcessRecord {
  pid: number;
  ppid: number;
  argv: string[];
  exe: string;
  /** Exit code, or null if killed by a signal (or still running when the report was made). */
  exitCode: number | null;
  signal: number | null;
  cpuMs: number;
  startMs: number;
  endMs: number | null;
}

export interface FileRecord {
  path: string;
  op: FileOp;
  /** Bytes read (read), written (write), the file's size (exec), 0 otherwise. */
  bytes: number;
  /**
   * sha256 of the file's content after the guest last wrote it (write: hashed when the
   * run ends, or just before the file is removed or replaced), or of the executed file.
   */
  sha256?: string;
  /** How many times (opens, execs, removals). */
  count: number;
}

export interface ConnectionRecord {
  pid: number;
  family: 'ipv4' | 'ipv6' | 'unix';
  address: string;
  port: number;
  outcome: 'allowed' | 'denied' | 'failed';
  errno?: string;
  /** Bytes the guest wrote to the connected socket with write/writev. */
  bytesSent: number;
}

export interface DenialRecord {
  pid: number;
  kind: 'open' | 'exec' | 'connect' | 'syscall' | 'env';
  target: string;
  errno: string;
  /** warn: --policy-mode=warn recorded it and let it through. */
  action: 'denied' | 'warned';
}

export interface LimitRecord {
  name: string;
  value: number;
  message: string;
  atMs: number;
}

/** Guest strings are bytes kept as latin1 (fs/README.md); the report is UTF-8 text. */
export function guestText(s: string): string {
  return Buffer.from(s, 'latin1').toString('utf8');
}

export class AuditRecorder {
  readonly processes = new Map<number, ProcessRecord>();
  /** By op, then path (and, for exec, the file's variant): no key string built per call. */
  private readonly files: Record<FileOp, Map<string, FileRecord>> = {
    read: new Map(), write: new Map(), create: new Map(), delete: new Map(), exec: new Map(),
  };
  /** Every file entry in first-seen order (the report's order). */
  private readonly order: FileRecord[] = [];
  readonly connections: ConnectionRecord[] = [];
  readonly denials: DenialRecord[] = [];
  readonly limits: LimitRecord[] = [];
  /** Syscall entries by number. */
  readonly syscalls = new Float64Array(512);
  private readonly deniedSeen = new Set<string>();

  /** The entry for path and op (`variant` keeps apart what must not merge: two different files exec'd at one path). */
  file(path: string, op: FileOp, variant = ''): FileRecord {
    const key = variant === '' ? path : `${path}\0${variant}`;
    const m = this.files[op];
    let r = m.get(key);
    if (r === undefined) {
      r = { path: guestText(path), op, bytes: 0, count: 0 };
      m.set(key, r);
      this.order.push(r);
    }
    return r;
  }

  /** The write entry of a path, if the guest wrote it. */
  written(path: string): FileRecord | undefined {
    return this.files.write.get(path);
  }

  /** Denials are recorded once per (kind, target, pid). */
  deny(d: DenialRecord): void {
    const k = `${d.kind}\0${d.target}\0${d.pid}`;
    if (this.deniedSeen.has(k)) return;
    this.deniedSeen.add(k);
    this.denials.push(d);
  }

  fileList(): FileRecord[] {
    return this.order.map((r) => ({ ...r }));
  }
}
