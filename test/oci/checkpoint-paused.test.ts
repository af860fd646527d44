/**
 * A paused container checkpointed (src/oci/freezer.ts), as runc checkpoints a frozen one
 * and as containerd's `ctr c checkpoint --task` does (pause, checkpoint, resume): a
 * counting busybox container paused after N lines of its output (never after a time).
 * Without --leave-running it is saved and stopped, printing nothing more, and `restore
 * ID` of the image prints exactly the rest (a restore runs, as runc's). With
 * --leave-running it stays paused (no line more, `state` paused), `resume` lets it count
 * to its end with no line lost or doubled, and the image restores from the pause.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNTIME, counter, cli, linesOf as lines, shellBundle, staticBusybox, textOf as text, tmp, waitFor, type Cli } from './helpers';

const N = 60;
const { script: COUNT, full: FULL } = counter(N);

const hasBusybox = staticBusybox() !== null;
let dir: string;
let t: Cli;
let bundle: string;

async function status(id: string): Promise<string> {
  const r = await t.run(['state', id]);
  return r.status === 0 ? (JSON.parse(r.stdout) as { status: string }).status : 'gone';
}

/** A counting container paused after 5 lines: its output file and what it had printed. */
async function pausedAfterFive(id: string): Promise<{ out: string; atPause: string }> {
  const dirOut = path.join(dir, id);
  fs.mkdirSync(dirOut);
  const r = await t.detached(['run', '--detach', '--bundle', bundle, id], dirOut);
  expect(r.status, r.stderr).toBe(0);
  await waitFor(() => lines(r.out) >= 5, 6000);
  const p = await t.run(['pause', id]);
  expect(p.status, p.stderr).toBe(0);
  expect(await status(id)).toBe('paused');
  return { out: r.out, atPause: text(r.out) };
}

/** `restore ID` in the foreground: what the restored container printed. */
async function restored(image: string, id: string): Promise<string> {
  const out = path.join(dir, id);
  fs.mkdirSync(out);
  const r = await t.detached(['restore', '--image-path', image, '--bundle', bundle, id], out);
  expect(text(r.err)).toBe('');
  expect(r.status).toBe(0);
  return text(r.out);
}

describe.skipIf(!hasBusybox)('OCI checkpoint of a paused container', () => {
  beforeAll(async () => {
    dir = tmp('ckpt-paused');
    t = cli(path.join(dir, 'state'), RUNTIME);
    bundle = await shellBundle(path.join(dir, 'bundle'), COUNT);
  }, 120_000);
  afterAll(async () => {
    for (const id of ['p-stop', 'p-stop-r', 'p-leave', 'p-leave-r']) await t?.run(['delete', '--force', id]);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('saved and stopped; restore ID prints exactly the rest', async () => {
    const { out, atPause } = await pausedAfterFive('p-stop');
    expect(FULL.startsWith(atPause), atPause).toBe(true);
    const image = path.join(dir, 'img-stop');
    const ck = await t.run(['checkpoint', '--image-path', image, 'p-stop']);
    expect(ck.status, ck.stderr).toBe(0);
    expect(ck.stderr).toBe('');
    expect(await status('p-stop')).toBe('stopped');
    // Frozen from the pause to its end: not one line more.
    expect(text(out)).toBe(atPause);
    expect((await t.run(['delete', 'p-stop'])).status).toBe(0);
    expect(atPause + (await restored(image, 'p-stop-r'))).toBe(FULL);
  }, 180_000);

  it('--leave-running: still paused, resume counts on to the end, the image restores from the pause', async () => {
    const { out, atPause } = await pausedAfterFive('p-leave');
    const image = path.join(dir, 'img-leave');
    const ck = await t.run(['checkpoint', '--image-path', image, '--leave-running', 'p-leave']);
    expect(ck.status, ck.stderr).toBe(0);
    expect(await status('p-leave')).toBe('paused');
    expect(text(out)).toBe(atPause);
    // A second checkpoint of the same frozen container: it was frozen again where it was.
    const again = await t.run(['checkpoint', '--image-path', path.join(dir, 'img-again'), '--leave-running', 'p-leave']);
    expect(again.status, again.stderr).toBe(0);
    expect(text(out)).toBe(atPause);
    const r = await t.run(['resume', 'p-leave']);
    expect(r.status, r.stderr).toBe(0);
    await waitFor(async () => (await status('p-leave')) === 'stopped', 20_000);
    expect(text(out)).toBe(FULL);
    expect((await t.run(['delete', 'p-leave'])).status).toBe(0);
    expect(atPause + (await restored(image, 'p-leave-r'))).toBe(FULL);
  }, 180_000);
});
