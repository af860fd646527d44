/**
 * Checkpoint and restore (src/snapshot): a running guest is saved on a signal to the CLI
 * (`run --checkpoint-on USR1 --image-path DIR`), restored by `tssandbox restore` in a
 * fresh Sentry that never ran it, and what the two runs print together is what an
 * uninterrupted run prints. Guests: a C counting loop, threads, a Python loop, two shell
 * pipelines (data in flight in pipes, a shell parked in wait4). One image restored twice
 * at once gives two independent, identical runs. Bad images and a changed host file are
 * each one clear line. The moment of the checkpoint is chosen by the guest's output
 * (after N lines), never by time.
 */
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileGuest } from '../helpers/build';
import { BIN } from '../helpers/paths';
import { BASE_ENV, explain, hasStackTrace, runCli, runNative, status, type RunResult } from '../helpers/run';
import { startServer, stopServer } from '../server/pool-helpers';
import { IMAGE_VERSION } from '../../src/snapshot/format';

const GUESTS = path.join(path.dirname(new URL(import.meta.url).pathname), 'guests');
let scratch: string;
let count: string;

beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-snapshot-test-'));
  count = compileGuest('count', 'dynamic', { srcDir: GUESTS });
});
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

interface Checkpointed {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** Runs args under --checkpoint-on USR1, signals the CLI once stdout has `lines` lines, waits for it to end. */
function runAndCheckpoint(args: string[], image: string, lines: number): Promise<Checkpointed> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'run', '--checkpoint-on', 'USR1', '--image-path', image, ...args], {
      // stdin a pipe that stays open and empty: a guest reading it waits there (no EOF race).
      env: BASE_ENV, cwd: scratch, stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '', err = '', sent = false;
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`timed out\n${out}\n${err}`)); }, 120_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (!sent && out.split('\n').length > lines) {
        sent = true;
        child.kill('SIGUSR1');
      }
    });
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    child.stdin!.on('error', () => { /* gone */ });
    child.on('close', (code) => { clearTimeout(timer); resolve({ stdout: out, stderr: err, code }); });
  });
}

function restore(image: string, opts: { input?: string } = {}): Promise<RunResult> {
  return runCli(['restore', '--image-path', image], { timeoutMs: 120_000, ...opts });
}

async function expectResumes(name: string, args: string[], lines: number): Promise<void> {
  const image = path.join(scratch, name);
  const native = await runNative(args, { timeoutMs: 120_000 });
  const first = await runAndCheckpoint(args, image, lines);
  expect(first.code, first.stderr).toBe(0);
  expect(first.stderr).toBe('');
  // It stopped part way: the checkpoint came before the end.
  expect(native.stdout.startsWith(first.stdout), first.stdout).toBe(true);
  expect(first.stdout.length).toBeLessThan(native.stdout.length);
  const rest = await restore(image);
  expect(rest.stderr, explain(rest)).toBe('');
  expect(first.stdout + rest.stdout, explain(rest)).toBe(native.stdout);
  expect(status(rest), explain(rest)).toBe(status(native));
}

describe('checkpoint, then restore: the output goes on as in an uninterrupted run', () => {
  it('a counting loop in C', async () => {
    await expectResumes('count', [count, '1500'], 5);
  }, 240_000);

  // C guests of test/snapshot/guests: name, arguments, lines to wait for before the signal.
  const guests: Array<[string, string, string[], number]> = [
    ['threads taking turns under a mutex and condvar (futex waits)', 'threads', ['1000'], 5],
    ['a periodic ITIMER_REAL goes on ticking', 'alarm', [], 3],
    ['an eventfd keeps its count', 'count_eventfd', ['800'], 3],
    ['timerfds: a periodic one read in a loop, one far ahead, one expired and unread', 'timerfd', [], 3],
    ['timer_create timers: a periodic signal with its value, a SIGEV_NONE one, the next id', 'posix_timer', [], 3],
    ['unix sockets: pairs of each type and listeners with data queued, a connection not yet accepted, a closed peer', 'unix_sockets', ['300'], 5],
    ['loopback TCP and UDP: connections with data queued, the backlog, a half close, datagrams, ports kept', 'inet_sockets', ['300'], 5],
    ['prctl state: not dumpable, its timer slack, THP disabled', 'kept_state', ['400'], 3],
    ['fds in flight (SCM_RIGHTS): a pipe end with its data and a file at an offset in one message, an eventfd in a datagram', 'scm_rights', ['300'], 5],
    ['memory mapped lazily from the image: dropped, freed, grown, forked and never-touched pages as on Linux', 'lazy_memory', ['300'], 5],
  ];
  for (const [title, name, args, lines] of guests) {
    it(title, async () => {
      await expectResumes(name, [compileGuest(name, 'dynamic', { srcDir: GUESTS }), ...args], lines);
    }, 240_000);
  }

  it('a Python loop', async () => {
    if (!fs.existsSync('/usr/bin/python3')) return;
    await expectResumes('python', ['/usr/bin/python3', path.join(GUESTS, 'loop.py')], 3);
  }, 240_000);

  it('an epoll set (a pipe, an eventfd edge-triggered) waited on across the checkpoint', async () => {
    if (!fs.existsSync('/usr/bin/python3')) return;
    await expectResumes('epoll', ['/usr/bin/python3', path.join(GUESTS, 'epoll_ticks.py')], 3);
  }, 240_000);

  it('an HTTP server inside keeps serving (a thread on loopback, its listener in an epoll set)', async () => {
    if (!fs.existsSync('/usr/bin/python3')) return;
    await expectResumes('http', ['/usr/bin/python3', path.join(GUESTS, 'http_serve.py')], 5);
  }, 240_000);

  it('a checkpoint into the file a running sandbox was restored from leaves its memory alone', async () => {
    // The restored guest maps its pages from DIR/checkpoint.img (memory.ts); another
    // checkpoint into DIR must not write over them (format.ts: a new generation).
    const lazy = compileGuest('lazy_memory', 'dynamic', { srcDir: GUESTS });
    const args = [lazy, '200', 'wait'];
    const image = path.join(scratch, 'regen');
    const native = await runNative(args, { input: 'go\n', timeoutMs: 120_000 });
    const first = await runAndCheckpoint(args, image, 5);
    expect(first.code, first.stderr).toBe(0);
    const child = spawn(process.execPath, [BIN, 'restore', '--image-path', image], { env: BASE_ENV, cwd: scratch, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '', err = '';
    const halfWay = new Promise<void>((resolve) => {
      child.stdout!.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('\n100 ok\n')) resolve(); });
    });
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await halfWay; // it waits on its stdin now, its image mapped
    const other = await runAndCheckpoint([count, '400'], image, 3);
    expect(other.code, other.stderr).toBe(0);
    child.stdin!.end('go\n');
    expect(await closed, err).toBe(0);
    expect(err).toBe('');
    expect(first.stdout + out).toBe(native.stdout);
    // And the file is now the second image.
    const rest = await restore(image);
    expect(rest.stderr, explain(rest)).toBe('');
    expect(other.stdout + rest.stdout).toBe((await runNative([count, '400'])).stdout);
  }, 240_000);

  it('a pipeline with a shell waiting for it', async () => {
    await expectResumes('pipeline', ['/bin/sh', '-c', `${count} 1200 | cat -n; echo "end $?"`], 5);
  }, 240_000);

  it('yes | head -c | md5sum: pipes full of data', async () => {
    await expectResumes('yes', ['/bin/sh', '-c', 'echo go; yes abcdefgh | head -c 600000000 | md5sum'], 1);
  }, 240_000);
});

describe('tmpfs mounts', () => {
  it('a --tmpfs mount and /dev/shm keep what the guest wrote there', async () => {
    const image = path.join(scratch, 'tmpfs');
    const script = 'echo one > /scratch/a; mkdir /scratch/d; echo two > /scratch/d/b; ln -s a /scratch/l; echo shm > /dev/shm/s; '
      + 'echo ready; read x; cat /scratch/a /scratch/d/b /scratch/l /dev/shm/s; ls /scratch; readlink /scratch/l';
    const first = await runAndCheckpoint(['--tmpfs', '/scratch', '/bin/sh', '-c', script], image, 1);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe('ready\n');
    const rest = await restore(image);
    expect(rest.stderr, explain(rest)).toBe('');
    expect(rest.stdout, explain(rest)).toBe('one\ntwo\none\nshm\na\nd\nl\na\n');
    expect(status(rest), explain(rest)).toBe(0);
  }, 240_000);
});

describe('the clock', () => {
  it('CLOCK_MONOTONIC goes on from where it stood, never back', async () => {
    if (!fs.existsSync('/usr/bin/python3')) return;
    const args = ['/usr/bin/python3', path.join(GUESTS, 'clock.py')];
    const image = path.join(scratch, 'clock');
    const first = await runAndCheckpoint(args, image, 5);
    expect(first.code, first.stderr).toBe(0);
    const rest = await restore(image);
    expect(status(rest), explain(rest)).toBe(0);
    const lines = (first.stdout + rest.stdout).trim().split('\n').map((l) => l.split(' '));
    expect(lines.map((l) => Number(l[0])), explain(rest)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    const t = lines.map((l) => Number(l[1]));
    for (let i = 1; i < t.length; i++) expect(t[i], `line ${i}\n${first.stdout}${rest.stdout}`).toBeGreaterThanOrEqual(t[i - 1]);
  }, 120_000);
});

describe('the overlay upper layer goes with the image', () => {
  it('files written, linked, deleted and held open before the checkpoint are there after it', async () => {
    // Compared with an uninterrupted sandbox run (natively this would delete /etc/hostname).
    const script = [
      'mkdir -p /tss-ckpt-w/d; echo hello > /tss-ckpt-w/a; ln /tss-ckpt-w/a /tss-ckpt-w/b; ln -s a /tss-ckpt-w/s; rm -f /etc/hostname',
      'exec 3>/tss-ckpt-w/open; echo first >&3; echo ready',
      `i=0; while [ $i -lt 400 ]; do ${count} 1 >/dev/null; i=$((i+1)); done`,
      'echo second >&3; cat /tss-ckpt-w/open; ls -l /tss-ckpt-w | sed 1d | awk "{print \\$1, \\$2, \\$NF}"',
      'cat /tss-ckpt-w/b; readlink /tss-ckpt-w/s; ls /etc/hostname 2>&1; echo done',
    ].join('; ');
    const args = ['/bin/sh', '-c', script];
    const cold = await runCli(['run', ...args], { timeoutMs: 120_000 });
    expect(cold.stdout).toContain('hello\na\n');
    const image = path.join(scratch, 'upper');
    const first = await runAndCheckpoint(args, image, 1);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe('ready\n');
    const rest = await restore(image);
    expect(first.stdout + rest.stdout, explain(rest)).toBe(cold.stdout);
    expect(status(rest)).toBe(status(cold));
  }, 240_000);
});

describe('one image, many restores', () => {
  it('two restores at once from one image run independently to the same end', async () => {
    const image = path.join(scratch, 'template');
    const args = [count, '800'];
    const native = await runNative(args);
    const first = await runAndCheckpoint(args, image, 3);
    expect(first.code, first.stderr).toBe(0);
    const [a, b] = await Promise.all([restore(image), restore(image)]);
    for (const r of [a, b]) {
      expect(first.stdout + r.stdout, explain(r)).toBe(native.stdout);
      expect(status(r), explain(r)).toBe(status(native));
    }
    // The image is a template: it is still there, unchanged, for a third.
    const c = await restore(image);
    expect(first.stdout + c.stdout, explain(c)).toBe(native.stdout);
  }, 240_000);

  it('restored through the warm pool (restore --via) as by a cold restore', async () => {
    const image = path.join(scratch, 'template');
    const cold = await restore(image);
    const server = await startServer(1);
    try {
      const viaPool = await runCli(['restore', '--via', server.socket, '--image-path', image], { timeoutMs: 120_000 });
      expect(viaPool.stdout, explain(viaPool)).toBe(cold.stdout);
      expect(status(viaPool), explain(viaPool)).toBe(status(cold));
      const bad = await runCli(['restore', '--via', server.socket, '--image-path', path.join(scratch, 'nowhere')]);
      expect(status(bad), explain(bad)).toBe(125);
      expect(bad.stderr, explain(bad)).toMatch(/^tssandbox: restore: .*no checkpoint image there\n$/);
    } finally {
      await stopServer(server);
    }
  }, 240_000);
});

describe('a template held restored in the warm pool (serve --template)', () => {
  it('each request resumes its own copy, as a cold restore does', async () => {
    if (!fs.existsSync('/usr/bin/python3')) return;
    // Python with modules imported, checkpointed while it waits for a line on stdin.
    const image = path.join(scratch, 'pytemplate');
    const args = ['/usr/bin/python3', '-c', 'import json, re, asyncio, sys\nprint("ready", flush=True)\nline = sys.stdin.readline()\nprint("got", line.strip(), json.dumps({"n": len(line)}), flush=True)'];
    const first = await runAndCheckpoint(args, image, 1);
    expect(first.code, first.stderr).toBe(0);
    const cold = await restore(image, { input: 'one\n' });
    expect(cold.stdout, explain(cold)).toBe('got one {"n": 4}\n');
    const server = await startServer(2, ['--template', image]);
    try {
      const rs = await Promise.all(['two', 'three', 'four'].map((w) => runCli(['restore', '--via', server.socket, '--image-path', image], { input: `${w}\n`, timeoutMs: 120_000 })));
      expect(rs.map((r) => r.stdout)).toEqual(['got two {"n": 4}\n', 'got three {"n": 6}\n', 'got four {"n": 5}\n']);
      for (const r of rs) expect(status(r), explain(r)).toBe(0);
      // A plain run through a template pool still works (the worker builds its own sandbox).
      const plain = await runCli(['run', '--via', server.socket, '/bin/echo', 'plain'], { timeoutMs: 120_000 });
      expect(plain.stdout, explain(plain)).toBe('plain\n');
    } finally {
      await stopServer(server);
    }
  }, 240_000);
});

describe('a template restored again and again in one reused worker (serve --template --reuse)', () => {
  it('each copy starts from the template\'s state (copy-on-write copies, none sees another\'s writes)', async () => {
    if (!fs.existsSync('/usr/bin/python3')) return;
    const image = path.join(scratch, 'pystate');
    // State changed by each request after the resume: a copy sharing pages with another would see it.
    const args = ['/usr/bin/python3', '-c', 'import json, re, asyncio, sys\nstate = {"n": 100}\nblob = bytearray(8 << 20)\nprint("ready", flush=True)\nline = sys.stdin.readline()\nstate["n"] += len(line)\nblob[0] = (blob[0] + len(line)) % 256\nprint("got", line.strip(), state["n"], blob[0], flush=True)'];
    const first = await runAndCheckpoint(args, image, 1);
    expect(first.code, first.stderr).toBe(0);
    const server = await startServer(1, ['--template', image, '--reuse', '10']);
    try {
      const words = ['a', 'bb', 'ccc', 'dddd'];
      const pids = new Set<number>();
      for (const w of words) {
        const r = await runCli(['restore', '--via', server.socket, '--image-path', image], { input: `${w}\n`, timeoutMs: 120_000 });
        expect(status(r), explain(r)).toBe(0);
        expect(r.stdout, explain(r)).toBe(`got ${w} ${100 + w.length + 1} ${w.length + 1}\n`);
        for (const p of server.workers()) pids.add(p);
      }
      // One worker served them all (a fresh one per request would show as several).
      expect(pids.size).toBe(1);
      // A plain run through the template pool still works (a fresh worker builds it).
      const plain = await runCli(['run', '--via', server.socket, '/bin/echo', 'plain'], { timeoutMs: 120_000 });
      expect(plain.stdout, explain(plain)).toBe('plain\n');
    } finally {
      await stopServer(server);
    }
  }, 240_000);
});

describe('refused and bad images: one line, exit 125', () => {
  let image: string;
  let good: Buffer;
  beforeAll(async () => {
    image = path.join(scratch, 'base');
    const r = await runAndCheckpoint([count, '400'], image, 2);
    expect(r.code, r.stderr).toBe(0);
    good = fs.readFileSync(path.join(image, 'checkpoint.img'));
  }, 120_000);

  function oneLine(r: RunResult, re: RegExp): void {
    expect(status(r), explain(r)).toBe(125);
    expect(hasStackTrace(r.stderr), explain(r)).toBe(false);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    expect(lines, explain(r)).toHaveLength(1);
    expect(lines[0], explain(r)).toMatch(re);
    expect(r.stdout, explain(r)).toBe('');
  }

  function variant(name: string, bytes: Buffer): string {
    const dir = path.join(scratch, name);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'checkpoint.img'), bytes);
    return dir;
  }

  it('a wrong version', async () => {
    const b = Buffer.from(good);
    b.writeUInt32LE(99, 8);
    oneLine(await restore(variant('v99', b)), new RegExp(`^tssandbox: restore: .*image version 99, this tssandbox reads version ${IMAGE_VERSION}$`));
  });

  it('a truncated image', async () => {
    oneLine(await restore(variant('short', good.subarray(0, Math.floor(good.length / 2)))), /^tssandbox: restore: .*image truncated/);
    oneLine(await restore(variant('tiny', good.subarray(0, 20))), /^tssandbox: restore: .*image truncated/);
  });

  it('a corrupted image', async () => {
    const b = Buffer.from(good);
    b[b.length - 100] ^= 0x55;
    oneLine(await restore(variant('flipped', b)), /^tssandbox: restore: .*image corrupted \(checksum mismatch\)$/);
  });

  /** The image with its meta changed and its checksum made right again (a forger can do as much). */
  function forged(edit: (meta: Record<string, any>) => void): Buffer {
    // src/snapshot/format.ts: head (sha256 at 20 over the fields from 52 on), meta and payload at the generation, pages.
    const mlen = good.readUInt32LE(12), zlen = good.readUInt32LE(16);
    const gen = Number(good.readBigUInt64LE(52)), pagesOff = Number(good.readBigUInt64LE(60)), pagesLen = Number(good.readBigUInt64LE(68));
    const meta = JSON.parse(good.subarray(gen, gen + mlen).toString('utf8'));
    edit(meta);
    const m = Buffer.from(JSON.stringify(meta), 'utf8');
    const z = good.subarray(gen + mlen, gen + mlen + zlen);
    const head = Buffer.from(good.subarray(0, 80));
    const at = Math.ceil((80 + m.length + z.length) / 4096) * 4096;
    head.writeUInt32LE(m.length, 12);
    head.writeBigUInt64LE(80n, 52);
    head.writeBigUInt64LE(BigInt(at), 60);
    crypto.createHash('sha256').update(head.subarray(52)).update(m).update(z).digest().copy(head, 20);
    return Buffer.concat([head, m, z, Buffer.alloc(at - 80 - m.length - z.length), good.subarray(pagesOff, pagesOff + pagesLen)]);
  }

  it('a forged image naming a Sentry fd, or bad run flags, is refused', async () => {
    const fd7 = forged((meta) => { for (const f of meta.files) if (f.kind === 'stdio') f.hostFd = 7; });
    oneLine(await restore(variant('fd7', fd7)), /image corrupted \(a host fd other than stdio\)$/);
    const rel = forged((meta) => { meta.run.mounts = [{ src: 'relative', dst: '/x', readonly: false }]; });
    oneLine(await restore(variant('relmount', rel)), /image corrupted \(its run flags\)$/);
  });

  it('not an image, no image', async () => {
    oneLine(await restore(variant('text', Buffer.from('hello, not an image\n'))), /not a tssandbox checkpoint image$/);
    oneLine(await restore(path.join(scratch, 'nowhere')), /no checkpoint image there$/);
  });

  it('a host file that changed since the checkpoint', async () => {
    const dir = path.join(scratch, 'bin');
    fs.mkdirSync(dir, { recursive: true });
    const prog = path.join(dir, 'count-copy');
    fs.copyFileSync(count, prog);
    fs.chmodSync(prog, 0o755);
    const img = path.join(scratch, 'changed');
    const r = await runAndCheckpoint([prog, '400'], img, 2);
    expect(r.code, r.stderr).toBe(0);
    fs.appendFileSync(prog, Buffer.from([0]));
    oneLine(await restore(img), new RegExp(`^tssandbox: restore: ${prog} changed since the checkpoint`));
    fs.unlinkSync(prog);
    oneLine(await restore(img), new RegExp(`^tssandbox: restore: ${prog}: .*it was there at the checkpoint`));
  }, 120_000);

  it('bad flags: one line, exit 2', async () => {
    for (const argv of [['run', '--checkpoint-on', 'USR1', count], ['run', '--checkpoint-on', 'BOGUS', '--image-path', scratch, count], ['restore', '--image-path']]) {
      const r = await runCli(argv);
      expect(status(r), explain(r)).toBe(2);
      expect(r.stderr.split('\n').filter((l) => l !== ''), explain(r)).toHaveLength(1);
    }
  });
});

describe('a state the image cannot hold yet', () => {
  it('is refused by name, and the sandbox goes on', async () => {
    const prog = compileGuest('count_refused', 'dynamic', { srcDir: GUESTS });
    const native = await runNative([prog, '300']);
    const r = await runAndCheckpoint([prog, '300'], path.join(scratch, 'refused'), 2);
    expect(r.stderr).toMatch(/^tssandbox: checkpoint failed: cannot checkpoint: fd 3 of pid 1 is a \w+ \(not supported yet\); the sandbox goes on\n$/);
    expect(r.stdout).toBe(native.stdout);
    expect(r.code).toBe(native.code);
  }, 120_000);
});
