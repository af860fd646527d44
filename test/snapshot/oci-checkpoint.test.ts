/**
 * OCI `checkpoint` (src/oci/checkpoint.ts), driven as an engine drives runc: a counting
 * busybox container started with `run --detach`, `checkpoint --image-path DIR ID` after N
 * lines of its output (never after a time), then the image resumed by a plain `restore
 * --image-path DIR`: the two outputs together are an uninterrupted container's, its
 * capability sets included. `--leave-running` saves and lets the container go on. A
 * container's seccomp profile is saved with it: the restored guest is refused what the
 * uninterrupted one is. Bad requests are one line each.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, makeBundle, staticBusybox, tmp, waitFor, type Cli } from '../oci/helpers';
import { explain, hasStackTrace, runCli } from '../helpers/run';

// Prints 1..N, a tenth of a second apart (10 s: room for a checkpoint's command on a
// crowded machine), then its effective capabilities and whether it may make a directory
// (the bundle's root is writable here: a plain restore has no read-only root).
const N = 100;
const COUNT = `i=0; while [ $i -lt ${N} ]; do i=$((i+1)); echo $i; sleep 0.1; done; grep CapEff /proc/self/status; mkdir /tmp/d 2>&1 && echo made`;

const hasBusybox = staticBusybox() !== null;
let dir: string;
let t: Cli;
let bundle: string;
let full: string;

/** The whole output of an uninterrupted container of bundle b. */
async function wholeRun(id: string, b: string): Promise<string> {
  const out = await start(id, b);
  await waitFor(async () => (await status(id)) === 'stopped', 6000);
  await t.run(['delete', id]);
  return fs.readFileSync(out, 'utf8');
}

function lines(file: string): number {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').length - 1;
  } catch {
    return 0;
  }
}

async function status(id: string): Promise<string> {
  const r = await t.run(['state', id]);
  return r.status === 0 ? (JSON.parse(r.stdout) as { status: string }).status : 'gone';
}

/** Starts a container of bundle b; its stdout file. */
async function start(id: string, b = bundle): Promise<string> {
  const out = path.join(dir, id);
  fs.mkdirSync(out);
  const r = await t.detached(['run', '--detach', '--bundle', b, id], out);
  expect(r.status, r.stderr).toBe(0);
  return r.out;
}

describe.skipIf(!hasBusybox)('OCI checkpoint', () => {
  beforeAll(async () => {
    dir = tmp('ckpt');
    t = cli(path.join(dir, 'state'));
    bundle = await makeBundle(path.join(dir, 'bundle'), (c) => {
      c.process.args = ['/bin/sh', '-c', COUNT];
      c.root.readonly = false;
    });
    // What the container prints when nothing interrupts it.
    full = await wholeRun('whole', bundle);
    expect(full.split('\n').slice(0, N).join('\n')).toBe(Array.from({ length: N }, (_, i) => String(i + 1)).join('\n'));
    expect(full).toMatch(/\nCapEff:\s+[0-9a-f]+\nmade\n$/);
  }, 180_000);
  afterAll(async () => {
    for (const id of ['whole', 'whole-filter', 'c-stop', 'c-leave', 'c-filter']) await t?.run(['delete', '--force', id]);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('saves the container and stops it; a plain restore prints the rest', async () => {
    const out = await start('c-stop');
    await waitFor(() => lines(out) >= 5, 6000);
    const image = path.join(dir, 'img-stop');
    const ck = await t.run(['checkpoint', '--image-path', image, '--work-path', path.join(dir, 'work'), 'c-stop']);
    expect(ck.status, ck.stderr).toBe(0);
    expect(ck.stderr).toBe('');
    expect(await status('c-stop')).toBe('stopped');
    const first = fs.readFileSync(out, 'utf8');
    expect(full.startsWith(first), first).toBe(true);
    expect(first.length).toBeLessThan(full.length);
    const rest = await runCli(['restore', '--image-path', image], { timeoutMs: 120_000 });
    expect(rest.stderr, explain(rest)).toBe('');
    expect(rest.code, explain(rest)).toBe(0);
    expect(first + rest.stdout).toBe(full);
    expect((await t.run(['delete', 'c-stop'])).status).toBe(0);
  }, 180_000);

  it('--leave-running: the container goes on to its end; the image resumes from where it was saved', async () => {
    const out = await start('c-leave');
    await waitFor(() => lines(out) >= 5, 6000);
    const image = path.join(dir, 'img-leave');
    const ck = await t.run(['checkpoint', '--image-path', image, '--leave-running', 'c-leave']);
    expect(ck.status, ck.stderr).toBe(0);
    const atSave = lines(out);
    await waitFor(async () => (await status('c-leave')) === 'stopped', 6000);
    expect(fs.readFileSync(out, 'utf8')).toBe(full);
    const rest = await runCli(['restore', '--image-path', image], { timeoutMs: 120_000 });
    expect(rest.stderr, explain(rest)).toBe('');
    // The restored copy prints what followed the save: a tail of the whole output, begun
    // no later than the line the container had reached when the checkpoint returned.
    expect(full.endsWith(rest.stdout), rest.stdout).toBe(true);
    const firstLine = Number(rest.stdout.split('\n')[0]);
    expect(firstLine).toBeGreaterThan(1);
    expect(firstLine).toBeLessThanOrEqual(atSave + 1);
    await t.run(['delete', 'c-leave']);
  }, 180_000);

  it('a container\'s seccomp filter is saved: the restored guest is refused what it was', async () => {
    const b = await makeBundle(path.join(dir, 'bundle-filter'), (c) => {
      c.process.args = ['/bin/sh', '-c', COUNT];
      c.root.readonly = false;
      c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] };
    });
    const whole = await wholeRun('whole-filter', b);
    expect(whole).toMatch(/\nmkdir: .*Operation not permitted\n$/);
    const out = await start('c-filter', b);
    await waitFor(() => lines(out) >= 5, 6000);
    const image = path.join(dir, 'img-filter');
    const ck = await t.run(['checkpoint', '--image-path', image, 'c-filter']);
    expect(ck.status, ck.stderr).toBe(0);
    const first = fs.readFileSync(out, 'utf8');
    expect(first.length).toBeLessThan(whole.length);
    const rest = await runCli(['restore', '--image-path', image], { timeoutMs: 120_000 });
    expect(rest.stderr, explain(rest)).toBe('');
    expect(first + rest.stdout).toBe(whole);
    await t.run(['delete', 'c-filter']);
  }, 180_000);

  it('bad requests: one line each, exit 1 or 2', async () => {
    for (const [args, re, code] of [
      [['checkpoint', 'no-such'], /^tssandbox: container "no-such" does not exist\n$/, 1],
      [['checkpoint'], /^tssandbox: checkpoint: a container id is required\n$/, 2],
      [['checkpoint', '--pre-dump', 'x'], /^tssandbox: checkpoint --pre-dump is not supported .*\n$/, 1],
      [['restore', '--image-path', dir, 'some-id'], /^tssandbox: restore: --image-path .*: no checkpoint image there\n$/, 1],
    ] as Array<[string[], RegExp, number]>) {
      const r = await t.run(args);
      expect(r.stderr, args.join(' ')).toMatch(re);
      expect(r.status, args.join(' ')).toBe(code);
      expect(hasStackTrace(r.stderr)).toBe(false);
    }
  });
});
