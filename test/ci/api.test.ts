// Issue 12: the library API. Sandbox.run collects the output and the report;
// Sandbox.spawn gives streams, events and kill(); onOpen/onExec/onConnect are decided
// here, in the caller's process, while the guest's call waits.
import { afterAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Sandbox } from '../../src/index';
import { compileGuest } from '../helpers/build';
import { GUESTS, schemaErrors, scratch } from './ci-helpers';

const dir = scratch('api');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const ENV = { PATH: '/usr/bin:/bin', LANG: 'C' };

describe('Sandbox.run', () => {
  it('status, stdout, stderr as Buffers, and the report', async () => {
    const r = await Sandbox.run(['/bin/sh', '-c', 'echo out; echo err >&2; exit 4'], { env: ENV });
    expect(r.status).toBe(4);
    expect(r.signal).toBeNull();
    expect(Buffer.isBuffer(r.stdout) && Buffer.isBuffer(r.stderr)).toBe(true);
    expect(r.stdout.toString()).toBe('out\n');
    expect(r.stderr.toString()).toBe('err\n');
    expect(schemaErrors(r.report)).toBeNull();
    expect(r.report!.processes[0]).toMatchObject({ pid: 1, exe: '/usr/bin/dash', exitCode: 4 });
  }, 60_000);

  it('options: env (nothing else passed), cwd, mounts, input, limits, policy objects', async () => {
    fs.writeFileSync(path.join(dir, 'in.txt'), 'from the host\n');
    const r = await Sandbox.run(['/bin/sh', '-c', 'pwd; echo "$A/$HOME"; cat /data/in.txt; cat; echo w > /data/out.txt'], {
      env: { ...ENV, A: 'a' }, cwd: '/tmp', mounts: [{ src: dir, dst: '/data' }], input: 'stdin text\n',
    });
    expect(r.stdout.toString()).toBe('/tmp\na/\nfrom the host\nstdin text\n');
    expect(fs.readFileSync(path.join(dir, 'out.txt'), 'utf8')).toBe('w\n');
    const lim = await Sandbox.run(['/bin/sleep', '10'], { env: ENV, limits: { timeout: '1s' } });
    expect(lim.status).toBe(124);
    expect(lim.signal).toBe('SIGKILL');
    expect(lim.report!.limits.reached[0].name).toBe('timeout');
    const pol = await Sandbox.run(['/bin/cat', '/etc/shadow'], { env: ENV, policy: { filesystem: { hide: ['/etc/shadow'] } } });
    expect(pol.status).toBe(1);
    expect(pol.stderr.toString()).toContain('No such file or directory');
    expect(pol.report!.denials).toContainEqual(expect.objectContaining({ kind: 'open', target: '/etc/shadow', action: 'denied' }));
  }, 60_000);

  it('a bad policy object throws before anything starts, naming the key', async () => {
    await expect(Sandbox.run(['/bin/true'], { policy: { exec: { deny: [3 as unknown as string] } } })).rejects.toThrow(/exec\.deny\[0\] must be string/);
    expect(() => Sandbox.spawn([])).toThrow(/argv/);
  });
});

describe('policy hooks in TypeScript', () => {
  it('onOpen: allow, deny with an errno, rewrite the path', async () => {
    fs.writeFileSync(path.join(dir, 'real.txt'), 'REAL\n');
    fs.writeFileSync(path.join(dir, 'decoy.txt'), 'DECOY\n');
    const seen: string[] = [];
    const r = await Sandbox.run(['/bin/sh', '-c', `cat ${dir}/real.txt; cat ${dir}/secret.txt; echo rc=$?`], {
      env: ENV,
      onOpen: async (q) => {
        if (q.path.startsWith(dir)) seen.push(path.basename(q.path));
        if (q.path === path.join(dir, 'secret.txt')) return 'EPERM';
        if (q.path === path.join(dir, 'real.txt')) return { path: path.join(dir, 'decoy.txt') };
        return undefined;
      },
    });
    expect(r.stdout.toString()).toBe('DECOY\nrc=1\n');
    expect(r.stderr.toString()).toContain('Operation not permitted');
    expect(seen).toEqual(['real.txt', 'secret.txt']);
    expect(r.report!.denials).toContainEqual(expect.objectContaining({ kind: 'open', target: path.join(dir, 'secret.txt'), errno: 'EPERM' }));
  }, 60_000);

  it('onExec: deny (EACCES) by path; a throwing hook denies', async () => {
    const r = await Sandbox.run(['/bin/sh', '-c', '/usr/bin/id; echo rc=$?; /bin/echo ok'], { env: ENV, onExec: (q) => q.path !== '/usr/bin/id' });
    expect(r.stdout.toString()).toBe('rc=126\nok\n');
    const t = await Sandbox.run(['/bin/sh', '-c', '/bin/echo x; echo rc=$?'], {
      env: ENV, onExec: (q) => { if (q.path === '/usr/bin/echo') throw new Error('no'); },
    });
    expect(t.stdout.toString()).toBe('rc=126\n');
  }, 60_000);

  it('onConnect: a refused connect', async () => {
    const probe = compileGuest('ci_policy', 'static', { srcDir: GUESTS });
    const asked: string[] = [];
    const r = await Sandbox.run([probe, 'connect', '127.0.0.1', '9'], {
      env: ENV, onConnect: (q) => { asked.push(`${q.family} ${q.address}:${q.port}`); return false; },
    });
    expect(r.stdout.toString()).toBe('connect ECONNREFUSED\n');
    expect(asked).toEqual(['ipv4 127.0.0.1:9']);
    expect(r.report!.connections).toEqual([expect.objectContaining({ address: '127.0.0.1', port: 9, outcome: 'denied' })]);
  }, 60_000);
});

describe('connect rewrite and bytes sent', () => {
  it('onConnect { port } sends the guest elsewhere; send() bytes are counted', async () => {
    const py = [
      'import socket',
      'l = socket.socket(); l.bind(("127.0.0.1", 40124)); l.listen(1)',
      'c = socket.socket(); c.connect(("127.0.0.1", 40999))',
      'c.send(b"abcdefg"); p, _ = l.accept(); print(p.recv(16).decode())',
    ].join('\n');
    const r = await Sandbox.run(['/usr/bin/python3', '-c', py], {
      env: ENV, onConnect: (q) => (q.port === 40999 ? { port: 40124 } : undefined),
    });
    expect(r.stdout.toString(), r.stderr.toString()).toBe('abcdefg\n');
    // (python's start-up tries unix sockets too: only the TCP one is ours)
    expect(r.report!.connections.filter((c) => c.family === 'ipv4')).toEqual([
      expect.objectContaining({ address: '127.0.0.1', port: 40124, outcome: 'allowed', bytesSent: 7 })]); // where it really went
  }, 60_000);
});

describe('Sandbox.spawn', () => {
  it('streams, events, exited, kill()', async () => {
    const sb = Sandbox.spawn(['/bin/sh', '-c', 'read line; echo "got $line"; exec /bin/sleep 60'], { env: ENV });
    const execs: string[] = [];
    const opens: string[] = [];
    sb.on('exec', (e: { path: string }) => execs.push(e.path));
    sb.on('open', (e: { path: string }) => opens.push(e.path));
    let out = '';
    const got = new Promise<void>((resolve) => sb.stdout.on('data', (d: Buffer) => {
      out += d;
      if (out.includes('got')) resolve();
    }));
    sb.stdin.write('hello\n');
    await got;
    expect(out).toBe('got hello\n');
    // The exec of sleep is announced before it runs; then kill ends the whole sandbox.
    // Bounded at 40 s, not 5: a loaded machine can take that long to get there.
    for (let i = 0; i < 800 && !execs.includes('/usr/bin/sleep'); i++) await new Promise((r) => setTimeout(r, 50));
    sb.kill();
    const e = await sb.exited;
    expect(e.signal).toBe('SIGKILL');
    expect(execs).toEqual(['/usr/bin/dash', '/usr/bin/sleep']);
    expect(opens).toContain('/etc/ld.so.cache');
  }, 60_000);

  it('a connect event (no hook: the call goes on, the event tells its outcome)', async () => {
    const probe = compileGuest('ci_policy', 'static', { srcDir: GUESTS });
    const sb = Sandbox.spawn([probe, 'connect', '127.0.0.1', '9'], { env: ENV });
    const conns: Array<Record<string, unknown>> = [];
    sb.on('connect', (c: Record<string, unknown>) => conns.push(c));
    let out = '';
    sb.stdout.on('data', (d: Buffer) => { out += d; });
    const e = await sb.exited;
    expect(e.status).toBe(0);
    expect(out).toBe('connect ECONNREFUSED\n');
    expect(conns).toEqual([expect.objectContaining({ family: 'ipv4', address: '127.0.0.1', port: 9, result: -111 })]);
  }, 60_000);

  it('a limit event', async () => {
    const sb = Sandbox.spawn(['/bin/sleep', '20'], { env: ENV, limits: { timeout: 0.5 } });
    const limits: Array<{ name: string }> = [];
    sb.on('limit', (l: { name: string }) => limits.push(l));
    const e = await sb.exited;
    expect(e.status).toBe(124);
    expect(limits).toEqual([expect.objectContaining({ name: 'timeout' })]);
  }, 60_000);
});
