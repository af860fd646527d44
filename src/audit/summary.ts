/** `--summary`: the report as Markdown tables, fit for a CI job summary ($GITHUB_STEP_SUMMARY). */
import type { AuditReport } from './report';

/**
 * Guest-chosen text (argv, paths) in a table cell: Markdown and HTML characters escaped and
 * control characters shown as '?', so a guest cannot restyle the job page or break the table.
 */
const esc = (s: string): string =>
  s.replace(/[\x00-\x1f\x7f]/g, '?').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/[\\`*_[\]|#!~]/g, (c) => `\\${c}`);
const MAX_ROWS = 50;

function table(head: string[], rows: string[][]): string {
  const out = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows.slice(0, MAX_ROWS)) out.push(`| ${r.map(esc).join(' | ')} |`);
  if (rows.length > MAX_ROWS) out.push(`| … ${rows.length - MAX_ROWS} more | ${head.slice(1).map(() => '').join(' | ')} |`);
  return out.join('\n');
}

export function summaryMarkdown(r: AuditReport): string {
  const status = r.limits.reached.length > 0 ? `stopped: ${r.limits.reached[0].message}`
    : r.signal !== null ? `killed by signal ${r.signal}` : r.exitCode === null ? `did not start (${r.exitStatus})` : `exit ${r.exitCode}`;
  const parts = [
    '### tssandbox run',
    '',
    table(['command'], [[r.command.join(' ')]]),
    '',
    table(['result', 'wall', 'cpu', 'peak memory', 'processes', 'files', 'connections', 'denials'], [[
      status, `${(r.wallMs / 1000).toFixed(2)}s`, `${(r.cpuMs / 1000).toFixed(2)}s`, `${Math.round(r.peakMemoryBytes / 1024 / 1024)} MiB`,
      String(r.processes.length), String(r.files.length), String(r.connections.length), String(r.denials.length),
    ]]),
  ];
  if (r.denials.length > 0) {
    parts.push('', '#### Denials', '', table(['pid', 'kind', 'target', 'errno', 'action'],
      r.denials.map((d) => [String(d.pid), d.kind, d.target, d.errno, d.action])));
  }
  if (r.limits.reached.length > 0) {
    parts.push('', '#### Limits reached', '', table(['limit', 'value', 'at'],
      r.limits.reached.map((l) => [l.name, String(l.value), `${l.atMs} ms`])));
  }
  parts.push('', '#### Processes', '', table(['pid', 'ppid', 'command', 'exit', 'cpu'],
    r.processes.map((p) => [String(p.pid), String(p.ppid), p.argv.join(' '), p.signal !== null ? `signal ${p.signal}` : String(p.exitCode ?? 'running'), `${p.cpuMs} ms`])));
  const written = r.files.filter((f) => f.op !== 'read');
  if (written.length > 0) {
    parts.push('', '#### Files written, created, removed, executed', '', table(['op', 'path', 'bytes', 'sha256'],
      written.map((f) => [f.op, f.path, String(f.bytes), f.sha256 ? f.sha256.slice(0, 16) + '…' : ''])));
  }
  if (r.connections.length > 0) {
    parts.push('', '#### Connections', '', table(['pid', 'address', 'port', 'outcome', 'bytes sent'],
      r.connections.map((c) => [String(c.pid), c.address, String(c.port), c.outcome + (c.errno ? ` (${c.errno})` : ''), String(c.bytesSent)])));
  }
  const top = Object.entries(r.syscalls).sort((a, b) => b[1] - a[1]).slice(0, 10);
  parts.push('', '<details><summary>Top syscalls</summary>', '', table(['syscall', 'count'], top.map(([n, c]) => [n, String(c)])), '', '</details>', '');
  return parts.join('\n');
}
