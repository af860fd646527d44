/**
 * A reusing pool's shared socket (src/server/README.md): a client's requests after its
 * first go straight to whichever worker is ready, the server told only by the request's
 * token. What a request gets that way is what it gets named a worker: its output and
 * status, its signals, and the end of its sandbox when its client goes away. No
 * assertion on timing.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runVia, sharedSocketOf, startVia } from '../../src/server/index';
import { REPO } from '../helpers/paths';
import { BASE_ENV, runSandbox, status } from '../helpers/run';
import { alive, descendants, startServer, stopServer, until, type Server, removeOwnViaDirs } from './pool-helpers';

afterAll(removeOwnViaDirs);

describe('serve --reuse: straight to the shared socket', () => {
  let s: Server;
  let dir = '';
  beforeAll(async () => {
    s = await startServer(2, ['--reuse', '100']);
    await until('two ready workers', () => s.workers().length === 2 && s.workers().every((p) => descendants(p).length >= 2));
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-shared-test-'));
  }, 60_000);
  afterAll(async () => {
    if (s) await stopServer(s);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** runVia with stdout and stderr to files: what the guest wrote, and its status. */
  async function viaFiles(argv: string[], tag: string): Promise<{ status: number; stdout: string; stderr: string }> {
    const out = path.join(dir, `${tag}.out`), err = path.join(dir, `${tag}.err`);
    const fds = [fs.openSync('/dev/null', 'r'), fs.openSync(out, 'w'), fs.openSync(err, 'w')] as [number, number, number];
    try {
      const status = await runVia(s.socket, argv, { env: BASE_ENV, stdio: fds });
      return { status, stdout: fs.readFileSync(out, 'utf8'), stderr: fs.readFileSync(err, 'utf8') };
    } finally {
      for (const fd of fds) fs.closeSync(fd);
    }
  }

  it('after the first request the server names the shared socket; the next ones give what a cold run gives', async () => {
    const argv = ['/bin/sh', '-c', 'echo out $$; echo err >&2; exit 5'];
    const cold = await runSandbox(argv);
    expect(sharedSocketOf(s.socket)).toBe(null);
    const first = await viaFiles(argv, 'first');
    expect(sharedSocketOf(s.socket)).toMatch(/any\.sock$/);
    for (let i = 0; i < 6; i++) {
      const r = await viaFiles(argv, `next${i}`);
      expect(r).toEqual(first);
      expect(r).toEqual({ status: status(cold), stdout: cold.stdout, stderr: cold.stderr });
    }
  }, 120_000);

  it('many at once, more than the pool holds: each its own status', async () => {
    await viaFiles(['/bin/true'], 'warm');
    const codes = await Promise.all(Array.from({ length: 12 }, (_, i) => viaFiles(['/bin/sh', '-c', `exit ${i}`], `many${i}`)));
    expect(codes.map((c) => c.status)).toEqual(Array.from({ length: 12 }, (_, i) => i));
  }, 120_000);

  it('a signal reaches a guest that came straight to a worker', async () => {
    await viaFiles(['/bin/true'], 'warm2');
    expect(sharedSocketOf(s.socket)).not.toBe(null);
    const out = path.join(dir, 'sig.out');
    const fds = [fs.openSync('/dev/null', 'r'), fs.openSync(out, 'w'), fs.openSync('/dev/null', 'w')] as [number, number, number];
    try {
      const r = startVia(s.socket, ['/bin/sh', '-c', 'trap "echo got TERM; exit 3" TERM; echo ready; while :; do sleep 0.1; done'], { env: BASE_ENV, stdio: fds });
      await until('the guest to start', () => fs.readFileSync(out, 'utf8').includes('ready'));
      r.kill('SIGTERM');
      expect(await r.exited).toBe(3);
      expect(fs.readFileSync(out, 'utf8')).toBe('ready\ngot TERM\n');
    } finally {
      for (const fd of fds) fs.closeSync(fd);
    }
  }, 60_000);

  it('a client that goes away takes its sandbox with it', async () => {
    // A client process whose second request (straight to a worker) sleeps until it is killed.
    const script = [
      `const { runVia } = require(${JSON.stringify(path.join(REPO, 'dist', 'src', 'server', 'index.js'))});`,
      `(async () => { await runVia(${JSON.stringify(s.socket)}, ['/bin/true']); process.stdout.write('first\\n');`,
      `  await runVia(${JSON.stringify(s.socket)}, ['/bin/sh', '-c', 'echo started; exec sleep 60']); })();`,
    ].join('\n');
    const child = spawn(process.execPath, ['-e', script], { env: BASE_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    await until('the second guest to start', () => out.includes('started'));
    // An idle reused worker holds as many processes as a busy one (its next sandbox's
    // address space is made ahead): the busy one is the one that ends, the other stays.
    const trees = s.workers().map((p) => [p, ...descendants(p)]);
    expect(trees).toHaveLength(2);
    child.kill('SIGKILL');
    await until('a worker to end', () => trees.some((t) => !alive(t[0])));
    const gone = trees.filter((t) => !alive(t[0]));
    expect(gone).toHaveLength(1);
    await until('its sandbox\'s processes to end', () => gone[0].every((p) => !alive(p)));
    expect(alive(trees.find((t) => t !== gone[0])![0])).toBe(true);
    await until('the pool to be whole again', () => s.workers().length === 2);
  }, 60_000);
});
