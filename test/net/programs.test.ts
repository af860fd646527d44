/**
 * Real programs on the network, and load: 10 000 short connections (modes none and
 * sandbox, IPv4 and IPv6), a node HTTP server and client and Python asyncio streams in
 * one sandbox (loopback fast path and the stack), and across a veth to Linux's stack in
 * a peer namespace: `git clone` from a `git daemon` there, and busybox nc both ways.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { compileGuest } from '../helpers/build';
import { runSandbox, explain, status } from '../helpers/run';
import { canMakeNetns, cleanupNetns, vethPair, inNs, sandboxed, runIn, PEER_V4, SANDBOX_V4, type Proc } from './netns';

const root = process.getuid?.() === 0 && canMakeNetns();
const SRC = path.join(__dirname, 'guests');
const PY = '/usr/bin/python3';
const procs: Proc[] = [];
const track = (p: Proc) => (procs.push(p), p);
const dirs: string[] = [];

afterEach(() => {
  for (const p of procs.splice(0)) p.kill();
  cleanupNetns();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
afterAll(() => cleanupNetns());

describe('many connections', () => {
  for (const mode of ['none', 'sandbox']) {
    for (const fam of ['v4', 'v6']) {
      it(`10 000 short connections, --network=${mode}, ${fam}`, async () => {
        const churn = compileGuest('net_churn', 'static', { srcDir: SRC });
        const r = await runSandbox(['--network', mode, '--', churn, '10000', fam], { timeoutMs: 240_000 });
        expect(status(r), explain(r)).toBe(0);
        expect(r.stdout).toBe('ok 10000\n');
      }, 300_000);
    }
  }
});

const NODE_HTTP = `
const http = require('http');
const srv = http.createServer((q, r) => { let b = ''; q.on('data', (d) => (b += d)); q.on('end', () => r.end(q.method + ' ' + q.url + ' ' + b.length)); });
srv.listen(0, '127.0.0.1', async () => {
  const port = srv.address().port;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const get = (p, body, a) => new Promise((res, rej) => {
    const q = http.request({ port, path: p, method: body ? 'POST' : 'GET', agent: a }, (r) => { let d = ''; r.on('data', (c) => (d += c)); r.on('end', () => res(r.statusCode + ' ' + d)); });
    q.on('error', rej); q.end(body);
  });
  const out = [];
  for (let i = 0; i < 20; i++) out.push(await get('/new/' + i, null, false));
  out.push(...(await Promise.all(Array.from({ length: 40 }, (_, i) => get('/kept/' + i, 'x'.repeat(i * 1000), agent)))));
  console.log(out.join('\\n'));
  agent.destroy(); srv.close();
});
`;
const nodeWant = [...Array.from({ length: 20 }, (_, i) => `200 GET /new/${i} 0`), ...Array.from({ length: 40 }, (_, i) => `200 ${i === 0 ? 'GET' : 'POST'} /kept/${i} ${i * 1000}`)].join('\n') + '\n';

const ASYNCIO = `
import asyncio
async def handle(r, w):
    while True:
        line = await r.readline()
        if not line: break
        w.write(line.upper()); await w.drain()
    w.close(); await w.wait_closed()
async def client(port, i):
    r, w = await asyncio.open_connection('127.0.0.1', port)
    got = []
    for j in range(5):
        w.write(('c%d line %d\\n' % (i, j)).encode()); await w.drain(); got.append((await r.readline()).decode().strip())
    w.write_eof(); rest = await r.read(); w.close(); await w.wait_closed()
    return got[-1] + ' ' + repr(rest)
async def main():
    srv = await asyncio.start_server(handle, '127.0.0.1', 0)
    port = srv.sockets[0].getsockname()[1]
    res = await asyncio.gather(*(client(port, i) for i in range(50)))
    print('\\n'.join(res)); srv.close(); await srv.wait_closed()
asyncio.run(main())
`;
const asyncioWant = Array.from({ length: 50 }, (_, i) => `C${i} LINE 4 b''`).join('\n') + '\n';

describe('real programs in one sandbox', () => {
  for (const mode of ['none', 'sandbox']) {
    it(`node: an HTTP server and client (new and kept-alive connections, bodies), --network=${mode}`, async () => {
      const r = await runSandbox(['--network', mode, '--', process.execPath, '-e', NODE_HTTP], { timeoutMs: 120_000 });
      expect(status(r), explain(r)).toBe(0);
      expect(r.stdout).toBe(nodeWant);
    }, 180_000);
    it.skipIf(!fs.existsSync(PY))(`python asyncio streams: a server and 50 clients, --network=${mode}`, async () => {
      const r = await runSandbox(['--network', mode, '--', PY, '-c', ASYNCIO], { timeoutMs: 120_000 });
      expect(status(r), explain(r)).toBe(0);
      expect(r.stdout).toBe(asyncioWant);
    }, 180_000);
  }
});

const hasGitDaemon = fs.existsSync('/usr/lib/git-core/git-daemon');

describe.skipIf(!root)('real programs across a veth (mode sandbox)', () => {
  it.skipIf(!hasGitDaemon)('git clone from a git daemon in the peer namespace', async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-gitd-'));
    dirs.push(base);
    const work = path.join(base, 'work');
    const git = (...a: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...a], { stdio: 'ignore' });
    fs.mkdirSync(work);
    git('-C', work, 'init', '-q');
    for (let i = 0; i < 30; i++) fs.writeFileSync(path.join(work, `f${i}.txt`), `file ${i}\n`.repeat(200 * (i + 1)));
    git('-C', work, 'add', '.');
    git('-C', work, 'commit', '-q', '-m', 'first');
    fs.appendFileSync(path.join(work, 'f0.txt'), 'second\n');
    git('-C', work, 'commit', '-q', '-am', 'second');
    git('clone', '-q', '--bare', work, path.join(base, 'repo.git'));
    const p = vethPair();
    const d = track(inNs(p.peerNs, ['git', 'daemon', '--export-all', `--base-path=${base}`, `--listen=${PEER_V4}`, '--port=9418', '--reuseaddr', '--verbose', base]));
    // Ready once it accepts a connection (it prints nothing when it starts listening).
    for (let i = 0; i < 100; i++) {
      try {
        await runIn(p.sandboxNs, ['git', 'ls-remote', `git://${PEER_V4}/repo.git`], 5_000);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const s = track(sandboxed(p.sandboxNs, ['/bin/sh', '-c',
      `git clone -q git://${PEER_V4}/repo.git /tmp/c && git -C /tmp/c log --format=%s && tail -n 1 /tmp/c/f0.txt && cat /tmp/c/f*.txt | wc -c && git -C /tmp/c fsck --strict 2>&1 | wc -l`]));
    expect(await s.done, s.err()).toBe(0);
    let bytes = 0;
    for (let i = 0; i < 30; i++) bytes += `file ${i}\n`.length * 200 * (i + 1);
    expect(s.out()).toBe(`second\nfirst\nsecond\n${bytes + 7}\n0\n`);
    d.kill();
  }, 180_000);

  it('busybox nc: the guest sends to a listener in the peer namespace, and serves one', async () => {
    const p = vethPair();
    const l = track(inNs(p.peerNs, ['busybox', 'nc', '-l', '-p', '7300']));
    // Until it listens (a fixed 300 ms could end first on a loaded machine).
    for (let i = 0; i < 400; i++) {
      if ((await runIn(p.peerNs, ['ss', '-Hltn', 'sport = :7300'], 5_000)).includes('7300')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const s = track(sandboxed(p.sandboxNs, ['/bin/sh', '-c',
      `echo from-the-guest | busybox nc -w 5 ${PEER_V4} 7300; echo served-by-the-guest | busybox nc -l -p 7301`]));
    expect(await l.done).toBe(0);
    expect(l.out()).toBe('from-the-guest\n');
    let got = '';
    for (let i = 0; i < 100 && got === ''; i++) {
      try {
        got = await runIn(p.peerNs, ['busybox', 'nc', '-w', '2', SANDBOX_V4, '7301'], 5_000);
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    expect(got).toBe('served-by-the-guest\n');
    expect(await s.done).toBe(0);
  }, 120_000);
});
