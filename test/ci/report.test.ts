// Issue 12: the audit report shows what the guest was made to do (files with known
// hashes, a known process tree, a known loopback connection), follows its published
// schema, and is complete when a limit ends the run; --summary is a Markdown table.
import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileGuest } from '../helpers/build';
import { explain, runSandbox } from '../helpers/run';
import { GUESTS, readReport, schemaErrors, scratch, type Report } from './ci-helpers';

const dir = scratch('report');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

describe('audit report', () => {
  it('files, processes, connections and syscalls of a known guest', async () => {
    const bin = compileGuest('ci_actions', 'static', { srcDir: GUESTS });
    const rep = path.join(dir, 'actions.json');
    const r = await runSandbox(['--report', rep, bin], { timeoutMs: 60_000 });
    expect(r.code, explain(r)).toBe(3);
    expect(r.stdout).toBe('child\ndone\n');
    const report: Report = readReport(rep);
    expect(schemaErrors(report)).toBeNull();
    expect(report.exitCode).toBe(3);
    expect(report.exitStatus).toBe(3);
    expect(report.signal).toBeNull();
    expect(report.command).toEqual([bin]);

    const file = (p: string, op: string) => report.files.find((f: Report) => f.path === p && f.op === op);
    expect(file('/tss-report-test/a.txt', 'create')).toMatchObject({ count: 1 });
    expect(file('/tss-report-test/a.txt', 'write')).toEqual({ path: '/tss-report-test/a.txt', op: 'write', bytes: 12, count: 1, sha256: sha('hello world\n') });
    expect(file('/tss-report-test/a.txt', 'read')).toBeUndefined(); // opened O_WRONLY
    expect(file('/tss-report-test/b.bin', 'write')).toMatchObject({ bytes: 3, sha256: sha(Buffer.from([1, 2, 3])) });
    expect(file('/tss-report-test/b.bin', 'delete')).toMatchObject({ count: 1 });
    expect(file(bin, 'exec')).toMatchObject({ count: 1, bytes: fs.statSync(bin).size, sha256: sha(fs.readFileSync(bin)) });
    const echo = fs.realpathSync('/bin/echo');
    expect(file('/bin/echo', 'exec') ?? file(echo, 'exec')).toMatchObject({ sha256: sha(fs.readFileSync('/bin/echo')) });

    // pid 1 the guest; pid 2 its child, which exec'd echo; pid 3 the grandchild, exit 7.
    const procs = report.processes.map((p: Report) => [p.pid, p.ppid, p.argv, p.exitCode, p.signal]);
    expect(procs).toEqual([
      [1, 0, [bin], 3, null],
      [2, 1, ['echo', 'child'], 0, null],
      [3, 2, [bin], 7, null],
    ]);
    for (const p of report.processes) {
      expect(p.endMs).toBeGreaterThanOrEqual(p.startMs);
      expect(p.cpuMs).toBeGreaterThanOrEqual(0);
    }
    expect(report.connections).toEqual([{ pid: 1, family: 'ipv4', address: '127.0.0.1', port: 40123, outcome: 'allowed', bytesSent: 5 }]);
    expect(report.denials).toEqual([]);
    expect(report.limits).toEqual({ set: {}, reached: [] });
    // Two fork()s (clone), one execve per process that ran a program (1 and 2's), the writes.
    expect(report.syscalls.execve).toBe(1);
    expect(report.syscalls.clone ?? report.syscalls.fork).toBe(2);
    expect(report.syscalls.write).toBeGreaterThanOrEqual(5);
    expect(report.syscalls.connect).toBe(1);
    expect(report.wallMs).toBeGreaterThan(0);
    expect(report.peakMemoryBytes).toBeGreaterThan(0);
  }, 90_000);

  it('an executable replaced between two execs of one path: two entries, two hashes', async () => {
    const rep = path.join(dir, 'replace.json');
    // A name no host file has: the guest's /tmp shows the host's through the overlay.
    const x = `/tmp/${path.basename(dir)}-x`;
    const r = await runSandbox(['--report', rep, '/bin/sh', '-c',
      `cp /bin/true ${x}; ${x}; cp /bin/false ${x}; ${x}; cp /bin/true ${x}; ${x}; cat /etc/passwd >/dev/null; echo done`], { timeoutMs: 60_000 });
    expect(r.stdout, explain(r)).toBe('done\n');
    const report = readReport(rep);
    // Bytes read are counted too.
    expect(report.files).toContainEqual({ path: '/etc/passwd', op: 'read', bytes: fs.statSync('/etc/passwd').size, count: 1 });
    const execs = report.files.filter((f: Report) => f.path === x && f.op === 'exec');
    expect(execs.map((f: Report) => [f.sha256, f.count])).toEqual([
      [sha(fs.readFileSync('/bin/true')), 2],
      [sha(fs.readFileSync('/bin/false')), 1],
    ]);
  }, 60_000);

  it('a #! script is recorded as executed with its own hash, beside its interpreter', async () => {
    const script = path.join(dir, 'hello.sh');
    fs.writeFileSync(script, '#!/bin/sh\necho script ran\n', { mode: 0o755 });
    const rep = path.join(dir, 'script.json');
    const r = await runSandbox(['--report', rep, script], { timeoutMs: 60_000 });
    expect(r.stdout, explain(r)).toBe('script ran\n');
    const execs = readReport(rep).files.filter((f: Report) => f.op === 'exec');
    expect(execs).toContainEqual({ path: script, op: 'exec', bytes: fs.statSync(script).size, count: 1, sha256: sha(fs.readFileSync(script)) });
    expect(execs).toContainEqual(expect.objectContaining({ path: fs.realpathSync('/bin/sh'), sha256: sha(fs.readFileSync('/bin/sh')) }));
  }, 60_000);

  it('is complete when a limit ends the run', async () => {
    const rep = path.join(dir, 'limit.json');
    const r = await runSandbox(['--timeout', '1500ms', '--report', rep, '/bin/sh', '-c', 'echo x > /tmp/out; sleep 30 & sleep 30; echo never'], { timeoutMs: 60_000 });
    expect(r.code, explain(r)).toBe(124);
    const report: Report = readReport(rep);
    expect(schemaErrors(report)).toBeNull();
    expect(report.exitStatus).toBe(124);
    expect(report.signal).toBe(9);
    expect(report.limits.set).toEqual({ timeout: 1500 });
    expect(report.limits.reached).toEqual([{ name: 'timeout', value: 1500, message: expect.stringContaining('--timeout'), atMs: expect.any(Number) }]);
    expect(report.limits.reached[0].atMs).toBeGreaterThanOrEqual(1400);
    // Every process ended, by the limit's SIGKILL.
    expect(report.processes.length).toBe(3);
    for (const p of report.processes) expect(p.signal, JSON.stringify(p)).toBe(9);
    expect(report.files).toContainEqual(expect.objectContaining({ path: '/tmp/out', op: 'write', bytes: 2, sha256: sha('x\n') }));
  }, 60_000);

  it('--summary: Markdown tables, to a file or stderr', async () => {
    const md = path.join(dir, 'summary.md');
    const pol = path.join(dir, 'p.yaml');
    fs.writeFileSync(pol, 'exec:\n  deny: [/usr/bin/id]\n');
    const r = await runSandbox(['--policy', pol, `--summary=${md}`, '/bin/sh', '-c', 'id; echo hi > /tmp/f'], { timeoutMs: 60_000 });
    expect(r.code, explain(r)).toBe(0);
    const text = fs.readFileSync(md, 'utf8');
    expect(text).toContain('### tssandbox run\n\n| command |\n|---|\n| /bin/sh -c id; echo hi &gt; /tmp/f |\n');
    expect(text).toMatch(/\| result \| wall \| cpu \| peak memory \| processes \| files \| connections \| denials \|\n\|---\|/);
    expect(text).toContain('| 2 | exec | /usr/bin/id | EACCES | denied |');
    expect(text).toMatch(/\| write \| \/tmp\/f \| 3 \| [0-9a-f]{16}… \|/);
    // A guest's names cannot restyle the page or break the table.
    const evil = path.join(dir, 'evil.md');
    const v = await runSandbox([`--summary=${evil}`, '/bin/sh', '-c', "echo > '/tmp/a|b<img src=x>`*\n'"], { timeoutMs: 60_000 });
    expect(v.code, explain(v)).toBe(0);
    const et = fs.readFileSync(evil, 'utf8');
    expect(et).toContain('| write | /tmp/a\\|b&lt;img src=x&gt;\\`\\*? | 1 |'); // the newline shown as ?
    expect(et).not.toContain('<img');
    const e = await runSandbox(['--summary', '/bin/true'], { timeoutMs: 60_000 });
    expect(e.code).toBe(0);
    expect(e.stderr).toContain('| exit 0 |');
  }, 60_000);

  it('the published report schema is the one the report follows', async () => {
    const { REPORT_SCHEMA } = await import('../../src/audit/report');
    const published = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'schemas', 'audit-report.schema.json'), 'utf8'));
    expect(published).toEqual(JSON.parse(JSON.stringify(REPORT_SCHEMA)));
    // And it rejects what it must: a file entry with a bad op.
    expect(schemaErrors({ ...readReport(path.join(dir, 'actions.json')), files: [{ path: '/x', op: 'chmod', bytes: 0, count: 1 }] })).not.toBeNull();
  });
});
