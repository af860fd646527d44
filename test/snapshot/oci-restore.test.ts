/**
 * OCI `restore ID` (src/oci/restore.ts), driven as an engine drives runc: a counting
 * busybox container checkpointed after N lines of its output (never after a time), then
 * `restore --image-path DIR --detach NEW`: its output goes on from where the checkpoint
 * stopped, `state NEW` says running with the restoring Sentry's host pid, `kill` ends it
 * through the control socket, and `delete` leaves no process and no state behind. In the
 * foreground, restore prints the rest and removes the container itself. Bad requests are
 * one line each, and make no state directory. Driven through the entry engines call.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNTIME, counter, alive, cli, descendants, shellBundle, processesWith, staticBusybox, tmp, waitFor, type Cli } from '../oci/helpers';
import { hasStackTrace } from '../helpers/run';

const N = 100;
const { script: COUNT, full: FULL } = counter(N);

const hasBusybox = staticBusybox() !== null;
let dir: string;
let t: Cli;
let bundle: string;

function text(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

const lines = (file: string) => text(file).split('\n').length - 1;

async function state(id: string): Promise<{ status: string; pid: number }> {
  const r = await t.run(['state', id]);
  return r.status === 0 ? (JSON.parse(r.stdout) as { status: string; pid: number }) : { status: 'gone', pid: 0 };
}

/** A counting container checkpointed (and so stopped) after 5 lines: its output so far and the image. */
async function checkpointed(id: string): Promise<{ first: string; image: string }> {
  const out = path.join(dir, id);
  fs.mkdirSync(out);
  const r = await t.detached(['run', '--detach', '--bundle', bundle, id], out);
  expect(r.status, r.stderr).toBe(0);
  await waitFor(() => lines(r.out) >= 5, 6000);
  const image = path.join(dir, `img-${id}`);
  const ck = await t.run(['checkpoint', '--image-path', image, id]);
  expect(ck.status, ck.stderr).toBe(0);
  expect((await state(id)).status).toBe('stopped');
  expect((await t.run(['delete', id])).status).toBe(0);
  const first = text(r.out);
  expect(FULL.startsWith(first), first).toBe(true);
  return { first, image };
}

describe.skipIf(!hasBusybox)('OCI restore', () => {
  beforeAll(async () => {
    dir = tmp('restore');
    // The entry engines call (the native one, which serves state/kill/delete itself, where built).
    t = cli(path.join(dir, 'state'), RUNTIME);
    bundle = await shellBundle(path.join(dir, 'bundle'), COUNT);
  }, 120_000);
  afterAll(async () => {
    for (const id of ['src-d', 'new-d', 'src-f', 'new-f', 'taken']) await t?.run(['delete', '--force', id]);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('--detach: the output goes on, state is running with a host pid, kill and delete leave nothing', async () => {
    const { first, image } = await checkpointed('src-d');
    const out = path.join(dir, 'new-d');
    fs.mkdirSync(out);
    const r = await t.detached(['restore', '--image-path', image, '--bundle', bundle, '--detach', '--pid-file', path.join(out, 'pid'), 'new-d'], out);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const s = await state('new-d');
    expect(s.status).toBe('running');
    expect(s.pid).toBeGreaterThan(0);
    expect(alive(s.pid)).toBe(true);
    expect(Number(fs.readFileSync(path.join(out, 'pid'), 'utf8'))).toBe(s.pid);
    // The restored container counts on from where the saved one stopped.
    await waitFor(() => lines(r.out) >= 3, 6000);
    const next = text(r.out);
    expect(FULL.startsWith(first + next), first + next).toBe(true);
    expect(next.length).toBeGreaterThan(0);
    const ps = await t.run(['ps', '--format', 'json', 'new-d']);
    expect(ps.status, ps.stderr).toBe(0);
    expect(JSON.parse(ps.stdout)).toContain(s.pid);
    // Still counting: a plain kill (SIGTERM) through the Sentry's control socket ends it.
    expect(lines(r.out)).toBeLessThan(N);
    const kids = descendants(s.pid);
    expect(kids.length).toBeGreaterThan(0); // its Gofer and stub
    const k = await t.run(['kill', 'new-d', 'TERM']);
    expect(k.status, k.stderr).toBe(0);
    await waitFor(async () => (await state('new-d')).status === 'stopped', 6000);
    const d = await t.run(['delete', 'new-d']);
    expect(d.status, d.stderr).toBe(0);
    expect(fs.existsSync(path.join(t.root, 'new-d'))).toBe(false);
    await waitFor(() => [s.pid, ...kids].every((p) => !alive(p)), 2000);
    expect(processesWith(path.join(t.root, 'new-d'))).toEqual([]);
  }, 180_000);

  it('in the foreground: the rest of the output, the status, and the container gone after', async () => {
    const { first, image } = await checkpointed('src-f');
    const out = path.join(dir, 'new-f');
    fs.mkdirSync(out);
    const r = await t.detached(['restore', '--image-path', image, 'new-f'], out);
    expect(text(r.err)).toBe('');
    expect(r.status).toBe(0);
    expect(first + text(r.out)).toBe(FULL);
    expect(fs.existsSync(path.join(t.root, 'new-f'))).toBe(false);
  }, 180_000);

  it('bad requests: one line each, exit 1 or 2, no container made', async () => {
    const bad = path.join(dir, 'bad-img');
    fs.mkdirSync(bad);
    fs.writeFileSync(path.join(bad, 'checkpoint.img'), 'not an image');
    const taken = path.join(dir, 'taken');
    fs.mkdirSync(taken);
    expect((await t.detached(['run', '--detach', '--bundle', bundle, 'taken'], taken)).status).toBe(0);
    const img = path.join(dir, 'img-src-d'); // the first test's image
    for (const [args, re, code] of [
      [['restore', '--image-path', path.join(dir, 'none'), 'x1'], /^tssandbox: restore: --image-path .*: no checkpoint image there\n$/, 1],
      [['restore', '--image-path', bad, 'x2'], /^tssandbox: restore: .*checkpoint.img: not a tssandbox checkpoint image\n$/, 1],
      [['restore', '--image-path', img], /^tssandbox: restore: a container id is required\n$/, 2],
      [['restore', '--image-path', img, '--console-socket', '/x', 'x3'], /^tssandbox: --console-socket given but process.terminal is false\n$/, 1],
      [['restore', '--image-path', img, '--bundle', bundle, 'taken'], /^tssandbox: container with id 'taken' already exists\n$/, 1],
    ] as Array<[string[], RegExp, number]>) {
      const r = await t.run(args);
      expect(r.stderr, args.join(' ')).toMatch(re);
      expect(r.status, args.join(' ')).toBe(code);
      expect(hasStackTrace(r.stderr)).toBe(false);
    }
    for (const id of ['x1', 'x2', 'x3']) expect(fs.existsSync(path.join(t.root, id))).toBe(false);
    expect((await state('taken')).status).toBe('running');
  }, 120_000);
});
