// Issue 12: every policy rule is enforced with the errno Linux would give, and recorded
// in the report; --policy-mode=warn records the same and denies nothing.
import { afterAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileGuest } from '../helpers/build';
import { explain, runSandbox } from '../helpers/run';
import { GUESTS, readReport, schemaErrors, scratch, type Report } from './ci-helpers';

const dir = scratch('policy');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const probe = () => compileGuest('ci_policy', 'static', { srcDir: GUESTS });

let n = 0;
/** Runs probe ARGS under a policy (YAML text); returns stdout, the report and the run. */
async function underPolicy(yaml: string, args: string[], extra: string[] = []) {
  const id = n++;
  const pol = path.join(dir, `p${id}.yaml`);
  const rep = path.join(dir, `r${id}.json`);
  fs.writeFileSync(pol, yaml);
  const r = await runSandbox(['--policy', pol, '--report', rep, ...extra, probe(), ...args], { timeoutMs: 60_000 });
  expect(r.code, explain(r)).toBe(0);
  const report: Report = readReport(rep);
  expect(schemaErrors(report)).toBeNull();
  return { out: r.stdout, report, r };
}

describe('policy rules', () => {
  const secretDir = path.join(dir, 'secrets');
  fs.mkdirSync(secretDir);
  fs.writeFileSync(path.join(secretDir, 'id_rsa'), 'PRIVATE');

  it('filesystem.hide: hidden paths do not exist inside (ENOENT), recorded', async () => {
    const plain = await runSandbox([probe(), 'read', path.join(secretDir, 'id_rsa')]);
    expect(plain.stdout).toBe('read OK\n');
    const { out, report } = await underPolicy(`filesystem:\n  hide: [${secretDir}, /etc/shadow]\n`, ['read', path.join(secretDir, 'id_rsa')]);
    expect(out).toBe('read ENOENT\n');
    expect(report.denials).toContainEqual({ pid: 1, kind: 'open', target: path.join(secretDir, 'id_rsa'), errno: 'ENOENT', action: 'denied' });
    // Whole tree gone: not listed, not stat-able, however it is reached.
    const sh = await runSandbox(['--policy', path.join(dir, 'p0.yaml'), '/bin/sh', '-c',
      `ls ${dir}; cd ${dir} && cat secrets/../secrets/id_rsa; ls -la /etc/shadow`]);
    expect(sh.stdout).not.toContain('secrets');
    expect(sh.stderr).toContain('No such file or directory');
    expect(sh.stdout + sh.stderr).not.toContain('PRIVATE');
  }, 60_000);

  it('filesystem.readonly and readwrite binds', async () => {
    const ro = path.join(dir, 'ro');
    const rw = path.join(dir, 'rw');
    fs.mkdirSync(ro);
    fs.mkdirSync(rw);
    const pol = path.join(dir, 'binds.yaml');
    fs.writeFileSync(pol, `filesystem:\n  readonly: [${ro}]\n  readwrite: ["${rw}:/work-out"]\n`);
    const r = await runSandbox(['--policy', pol, '/bin/sh', '-c', `echo x > ${ro}/f; echo made > /work-out/f && echo wrote`]);
    expect(r.stderr).toContain('Read-only file system');
    expect(r.stdout).toBe('wrote\n');
    expect(fs.existsSync(path.join(ro, 'f'))).toBe(false);
    expect(fs.readFileSync(path.join(rw, 'f'), 'utf8')).toBe('made\n');
  }, 60_000);

  it('env.allow / env.set: other variables are not passed', async () => {
    const { out, report } = await underPolicy('env:\n  allow: [PATH, CI_*]\n  set: { GREETING: hi }\n', ['env', 'SECRET_TOKEN'],
      ['--env', 'SECRET_TOKEN=abc', '--env', 'CI_JOB=1']);
    expect(out).toBe('env SECRET_TOKEN=(unset)\n');
    expect(report.denials).toContainEqual({ pid: 1, kind: 'env', target: 'SECRET_TOKEN', errno: 'ENOENT', action: 'denied' });
    expect((await underPolicy('env:\n  allow: [PATH, CI_*]\n', ['env', 'CI_JOB'], ['--env', 'CI_JOB=1'])).out).toBe('env CI_JOB=1\n');
    expect((await underPolicy('env:\n  allow: [PATH]\n  set: { GREETING: hi }\n', ['env', 'GREETING'])).out).toBe('env GREETING=hi\n');
  }, 60_000);

  it('network.allow: a connect elsewhere is refused (ECONNREFUSED) and recorded', async () => {
    // Without a policy the loopback-only sandbox has no route there.
    const plain = await runSandbox([probe(), 'connect', '198.51.100.7', '80']);
    expect(plain.stdout).toBe('connect ENETUNREACH\n');
    const { out, report } = await underPolicy('network:\n  mode: none\n  allow: ["127.0.0.1:80", "localhost"]\n', ['connect', '198.51.100.7', '80']);
    expect(out).toBe('connect ECONNREFUSED\n');
    expect(report.denials).toContainEqual({ pid: 1, kind: 'connect', target: '198.51.100.7:80', errno: 'ECONNREFUSED', action: 'denied' });
    expect(report.connections).toEqual([{ pid: 1, family: 'ipv4', address: '198.51.100.7', port: 80, outcome: 'denied', errno: 'ECONNREFUSED', bytesSent: 0 }]);
  }, 60_000);

  it('network.allow: host names are resolved once, at start; an unresolvable one stops the run', async () => {
    const { PolicyRules, resolveHosts } = await import('../../src/policy/rules');
    // Resolved by the host's resolver (here: /etc/hosts), into the rules the stack applies.
    expect(resolveHosts(['localhost']).get('localhost')).toContain('127.0.0.1');
    const asked: string[][] = [];
    const rules = new PolicyRules({ network: { allow: ['ci.example:443', '198.51.100.0/24', 'ci.example'] } }, (names) => {
      asked.push(names);
      return new Map([['ci.example', ['198.51.100.9', '2001:db8::9']]]);
    });
    expect(asked.flat()).toEqual(['ci.example']); // once, each name once
    expect(rules.netAllow).toEqual(['198.51.100.0/24', '198.51.100.9/32:443', '[2001:db8::9/128]:443', '198.51.100.9/32', '[2001:db8::9/128]']);
    // End to end: a name that resolves lets the run start and a connect elsewhere is still refused.
    const { out, report } = await underPolicy('network:\n  allow: ["localhost:81"]\n', ['connect', '198.51.100.7', '81']);
    expect(out).toBe('connect ECONNREFUSED\n');
    expect(report.denials).toEqual([{ pid: 1, kind: 'connect', target: '198.51.100.7:81', errno: 'ECONNREFUSED', action: 'denied' }]);
    const bad = path.join(dir, 'badhost.yaml');
    fs.writeFileSync(bad, 'network:\n  allow: ["no-such-host.invalid"]\n');
    const r = await runSandbox(['--policy', bad, '/bin/true']);
    expect(r.code).toBe(125);
    expect(r.stderr.trim()).toBe("tssandbox: policy: network.allow: cannot resolve host name 'no-such-host.invalid'");
  }, 60_000);

  it('exec.deny / exec.allow: EACCES', async () => {
    const pol = path.join(dir, 'exec.yaml');
    fs.writeFileSync(pol, 'exec:\n  deny: ["/usr/bin/cu*", /usr/bin/wget]\n');
    const rep = path.join(dir, 'exec.json');
    const r = await runSandbox(['--policy', pol, '--report', rep, '/bin/sh', '-c', '/usr/bin/curl --version; echo rc=$?; /bin/echo fine']);
    expect(r.stdout).toBe('rc=126\nfine\n');
    expect(r.stderr).toContain('Permission denied');
    const report = readReport(rep);
    expect(report.denials).toContainEqual(expect.objectContaining({ kind: 'exec', target: '/usr/bin/curl', errno: 'EACCES', action: 'denied' }));
    fs.writeFileSync(pol, 'exec:\n  allow: ["/usr/bin/dash", "/usr/bin/e*"]\n');
    const a = await runSandbox(['--policy', pol, '/bin/sh', '-c', 'echo builtin; /bin/echo allowed; /bin/true; echo rc=$?']);
    expect(a.stdout).toBe('builtin\nallowed\nrc=126\n');
    // A #! script is an executable too: denied by its own path although its interpreter is allowed.
    const script = path.join(dir, 'denied.sh');
    fs.writeFileSync(script, '#!/bin/sh\necho ran\n', { mode: 0o755 });
    fs.writeFileSync(pol, `exec:\n  deny: ["${dir}/denied*"]\n`);
    const s = await runSandbox(['--policy', pol, '--report', rep, '/bin/sh', '-c', `${script}; echo rc=$?`]);
    expect(s.stdout, explain(s)).toBe('rc=126\n');
    expect(readReport(rep).denials).toContainEqual(expect.objectContaining({ kind: 'exec', target: script, errno: 'EACCES' }));
    fs.writeFileSync(pol, 'exec:\n  allow: ["/usr/bin/dash", "/usr/bin/e*"]\n');
    // The first program too: not runnable (126) with one line.
    const first = await runSandbox(['--policy', pol, '--report', rep, '/bin/true']);
    expect(first.code).toBe(126);
    expect(first.stderr.trim().split('\n')).toHaveLength(1);
    const fr = readReport(rep);
    expect(schemaErrors(fr)).toBeNull();
    expect(fr).toMatchObject({ exitCode: null, signal: null, exitStatus: 126 });
    expect(fr.denials).toEqual([expect.objectContaining({ kind: 'exec', target: '/usr/bin/true', errno: 'EACCES' })]);
  }, 60_000);

  it('syscalls.deny: the errno given (EPERM by default)', async () => {
    expect((await runSandbox([probe(), 'personality'])).stdout).not.toBe('personality EPERM\n');
    const { out, report } = await underPolicy('syscalls:\n  deny: [personality]\n', ['personality']);
    expect(out).toBe('personality EPERM\n');
    expect(report.denials).toContainEqual({ pid: 1, kind: 'syscall', target: 'personality', errno: 'EPERM', action: 'denied' });
    expect((await underPolicy('syscalls:\n  deny: ["personality:ENOSYS"]\n', ['personality'])).out).toBe('personality ENOSYS\n');
  }, 60_000);

  it('--policy-mode=warn records every rule and denies nothing', async () => {
    const yaml = `filesystem:\n  hide: [${secretDir}]\nsyscalls:\n  deny: [personality]\nnetwork:\n  allow: ["127.0.0.1"]\n`;
    const a = await underPolicy(yaml, ['read', path.join(secretDir, 'id_rsa')], ['--policy-mode', 'warn']);
    expect(a.out).toBe('read OK\n');
    expect(a.report.policy).toEqual({ source: expect.any(String), mode: 'warn' });
    expect(a.report.denials).toContainEqual({ pid: 1, kind: 'open', target: path.join(secretDir, 'id_rsa'), errno: 'ENOENT', action: 'warned' });
    const b = await underPolicy(yaml, ['personality'], ['--policy-mode=warn']);
    expect(b.out).not.toBe('personality EPERM\n');
    expect(b.report.denials).toContainEqual({ pid: 1, kind: 'syscall', target: 'personality', errno: 'EPERM', action: 'warned' });
    const c = await underPolicy(yaml, ['connect', '198.51.100.7', '80'], ['--policy-mode=warn']);
    expect(c.out).toBe('connect ENETUNREACH\n');
    expect(c.report.denials).toContainEqual({ pid: 1, kind: 'connect', target: '198.51.100.7:80', errno: 'ECONNREFUSED', action: 'warned' });
  }, 90_000);

  it('limits in the policy; the command line wins', async () => {
    const pol = path.join(dir, 'lim.yaml');
    fs.writeFileSync(pol, 'limits: { timeout: 1s, output: 1m }\n');
    const r = await runSandbox(['--policy', pol, '/bin/sleep', '10'], { timeoutMs: 30_000 });
    expect(r.code, explain(r)).toBe(124);
    const r2 = await runSandbox(['--policy', pol, '--timeout', '20s', '/bin/sleep', '2'], { timeoutMs: 30_000 });
    expect(r2.code, explain(r2)).toBe(0);
  }, 60_000);

  it('a bad policy: one line naming the key and its line, exit 125', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['bad1.yaml', 'filesystem:\n  hide: [/x]\n  bogus: 1\n', /bad1\.yaml:3: filesystem\.bogus is not a known key/],
      ['bad2.json', '{\n  "exec": {\n    "deny": [3]\n  }\n}\n', /bad2\.json:3: exec\.deny\[0\] must be string/],
      ['bad3.yaml', 'network:\n  mode: wide\n', /bad3\.yaml:2: network\.mode must be one of none, host, sandbox, user/],
      ['bad4.yaml', 'syscalls:\n  deny: [nosuchcall]\n', /unknown syscall 'nosuchcall'/],
      ['bad5.yaml', 'limits:\n  timeout: soon\n', /limits\.timeout wants a duration/],
      ['bad6.yaml', 'filesystem: [\n', /bad6\.yaml:\d+: /],
      ['bad7.yaml', 'filesystem:\n  readonly: [/nope/x]\n', /policy: filesystem\.readonly \/nope\/x: No such file or directory/],
    ];
    for (const [name, text, re] of cases) {
      const f = path.join(dir, name);
      fs.writeFileSync(f, text);
      const r = await runSandbox(['--policy', f, '/bin/true']);
      expect(r.code, explain(r)).toBe(125);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    }
    const missing = await runSandbox(['--policy', path.join(dir, 'nope.yaml'), '/bin/true']);
    expect(missing.code).toBe(125);
    expect(missing.stderr).toMatch(/nope\.yaml: no such file/);
  }, 60_000);

  it('the published policy schema is the one the loader uses', async () => {
    const { POLICY_SCHEMA } = await import('../../src/policy/schema');
    const published = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'schemas', 'policy.schema.json'), 'utf8'));
    expect(published).toEqual(JSON.parse(JSON.stringify(POLICY_SCHEMA)));
  });
});
