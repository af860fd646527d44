/**
 * The audit report (`--report FILE`, the library's `report`): the recorder's lists and
 * the run's totals as one JSON document, following REPORT_SCHEMA (published as
 * docs/schemas/audit-report.schema.json).
 */
import type { AuditRecorder, ConnectionRecord, DenialRecord, FileRecord, LimitRecord, ProcessRecord } from './recorder';

export interface AuditReport {
  version: 1;
  command: string[];
  exitCode: number | null;
  signal: number | null;
  /** The sandbox's own exit status (a limit's, 125..127 for set-up errors, else the guest's). */
  exitStatus: number;
  wallMs: number;
  cpuMs: number;
  peakMemoryBytes: number;
  policy: { source: string | null; mode: 'enforce' | 'warn' } | null;
  processes: ProcessRecord[];
  files: FileRecord[];
  connections: ConnectionRecord[];
  denials: DenialRecord[];
  limits: { set: Record<string, number>; reached: LimitRecord[] };
  syscalls: Record<string, number>;
  /** --deterministic: its seed, and the preemptions by the wall clock (0: the schedule was fixed). */
  deterministic?: { seed: string; wallPreemptions: number };
}

/** What the run, not the recorder, knows. */
export type ReportTotals = Pick<AuditReport, 'command' | 'exitCode' | 'signal' | 'exitStatus' | 'wallMs' | 'cpuMs' | 'peakMemoryBytes' | 'policy' | 'deterministic'>
  & { limitsSet: Record<string, number> };

export function buildReport(rec: AuditRecorder, totals: ReportTotals, syscallName: (nr: number) => string): AuditReport {
  const syscalls: Record<string, number> = {};
  rec.syscalls.forEach((n, nr) => {
    if (n > 0) syscalls[syscallName(nr)] = n;
  });
  return {
    version: 1,
    command: totals.command,
    exitCode: totals.exitCode,
    signal: totals.signal,
    exitStatus: totals.exitStatus,
    wallMs: totals.wallMs,
    cpuMs: totals.cpuMs,
    peakMemoryBytes: totals.peakMemoryBytes,
    policy: totals.policy,
    processes: [...rec.processes.values()].sort((a, b) => a.startMs - b.startMs || a.pid - b.pid),
    files: rec.fileList(),
    connections: rec.connections,
    denials: rec.denials,
    limits: { set: totals.limitsSet, reached: rec.limits },
    syscalls,
    ...(totals.deterministic !== undefined ? { deterministic: totals.deterministic } : {}),
  };
}

const int = { type: 'integer', minimum: 0 };
const intOrNull = { type: ['integer', 'null'] };
const str = { type: 'string' };

export const REPORT_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://tssandbox.dev/schemas/audit-report.schema.json',
  title: 'tssandbox audit report',
  type: 'object',
  additionalProperties: false,
  required: ['version', 'command', 'exitCode', 'signal', 'exitStatus', 'wallMs', 'cpuMs', 'peakMemoryBytes', 'policy',
    'processes', 'files', 'connections', 'denials', 'limits', 'syscalls'],
  properties: {
    version: { const: 1 },
    command: { type: 'array', items: str },
    exitCode: intOrNull,
    signal: intOrNull,
    exitStatus: int,
    wallMs: int,
    cpuMs: int,
    peakMemoryBytes: int,
    policy: {
      oneOf: [{ type: 'null' }, {
        type: 'object', additionalProperties: false, required: ['source', 'mode'],
        properties: { source: { type: ['string', 'null'] }, mode: { enum: ['enforce', 'warn'] } },
      }],
    },
    processes: {
      type: 'array',
      items: {
        type: 'object', additionalProperties: false,
        required: ['pid', 'ppid', 'argv', 'exe', 'exitCode', 'signal', 'cpuMs', 'startMs', 'endMs'],
        properties: {
          pid: int, ppid: int, argv: { type: 'array', items: str }, exe: str, exitCode: intOrNull, signal: intOrNull,
          cpuMs: int, startMs: int, endMs: intOrNull,
        },
      },
    },
    files: {
      type: 'array',
      items: {
        type: 'object', additionalProperties: false, required: ['path', 'op', 'bytes', 'count'],
        properties: {
          path: str, op: { enum: ['read', 'write', 'create', 'delete', 'exec'] }, bytes: int,
          sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' }, count: int,
        },
      },
    },
    connections: {
      type: 'array',
      items: {
        type: 'object', additionalProperties: false, required: ['pid', 'family', 'address', 'port', 'outcome', 'bytesSent'],
        properties: {
          pid: int, family: { enum: ['ipv4', 'ipv6', 'unix'] }, address: str, port: int,
          outcome: { enum: ['allowed', 'denied', 'failed'] }, errno: str, bytesSent: int,
        },
      },
    },
    denials: {
      type: 'array',
      items: {
        type: 'object', additionalProperties: false, required: ['pid', 'kind', 'target', 'errno', 'action'],
        properties: {
          pid: int, kind: { enum: ['open', 'exec', 'connect', 'syscall', 'env'] }, target: str, errno: str,
          action: { enum: ['denied', 'warned'] },
        },
      },
    },
    limits: {
      type: 'object', additionalProperties: false, required: ['set', 'reached'],
      properties: {
        set: { type: 'object', additionalProperties: int },
        reached: {
          type: 'array',
          items: {
            type: 'object', additionalProperties: false, required: ['name', 'value', 'message', 'atMs'],
            properties: { name: str, value: int, message: str, atMs: int },
          },
        },
      },
    },
    syscalls: { type: 'object', additionalProperties: int },
    deterministic: {
      type: 'object', additionalProperties: false, required: ['seed', 'wallPreemptions'],
      properties: { seed: str, wallPreemptions: int },
    },
  },
} as const;
