/**
 * `tssandbox restore --image-path DIR [--debug] [--strace]`: runs a sandbox saved by
 * `run --checkpoint-on` on from where it was, stdio to this command (src/snapshot). The
 * image is read and checked (version, size, checksum) before anything is built.
 */
import { parseRunArgs, UsageError } from './args';
import { readImage, SnapshotError, type ImageMeta } from '../snapshot/index';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { imageStamp as stampOf } from './via';
import { keepsSandboxes, prerestoreSandbox, runSandbox, takePrerestored } from './run';

/**
 * The template image as read at the worker's start: a reusing worker restores it again
 * after each request, when, confined, it can no longer read (or stat) the file; it serves
 * that image as it was read.
 */
let held: { dir: string; stamp: string; image: { meta: unknown; payload: Buffer } } | null = null;

/**
 * The stamp of dir's image now, or, where this Sentry cannot stat it (its own user
 * namespace, or confined: the front opened the image for it), the held template's.
 */
function stampNow(dir: string): string {
  const now = stampOf(dir);
  return now === '' && held !== null && held.dir === path.resolve(dir) ? held.stamp : now;
}

/** A warm pool worker's warm-up with a template (`serve --template DIR`): the image restored up to its resume. */
export function prerestoreTemplate(dir: string): boolean {
  let image: { meta: unknown; payload: Buffer };
  const abs = path.resolve(dir);
  if (held !== null && held.dir === abs && stampNow(dir) === held.stamp) image = held.image;
  else {
    let read;
    try {
      read = readImage(dir);
    } catch {
      return false;
    }
    image = { meta: read.meta, payload: read.payload };
    held = { dir: abs, stamp: read.stamp, image };
  }
  const stamp = held.stamp;
  const meta = image.meta as ImageMeta;
  if (meta?.kind !== 'tssandbox-checkpoint') return false;
  const run = runFlagsOf(meta);
  if (run === null) return false;
  const o = parseRunArgs(['/restored']);
  Object.assign(o, run);
  return prerestoreSandbox(abs, stamp, o, { meta, payload: image.payload });
}

/** Reuse: whether `restore ARGS` is of the template this worker holds (and can restore again). */
export function servesTemplate(args: string[]): boolean {
  return namesTemplate(args) && keepsSandboxes();
}

/** Whether `restore ARGS` names the template this worker read (and, given the client's stamp of its file, that file is still it). */
export function namesTemplate(args: string[], stamp?: string): boolean {
  const i = args.indexOf('--image-path');
  const dir = i >= 0 ? args[i + 1] : args.find((a) => a.startsWith('--image-path='))?.slice('--image-path='.length);
  return held !== null && dir !== undefined && path.resolve(dir) === held.dir && (stamp === undefined || stamp === held.stamp);
}


/**
 * The image's `run` flags, checked as the command line's would be. An image is trusted as a
 * command line is (it names the host paths the sandbox sees, binds included): the checksum
 * finds damage, not a forger.
 */
function runFlagsOf(meta: ImageMeta): Record<string, unknown> | null {
  const r = meta.run as Record<string, unknown>;
  const abs = (p: unknown) => typeof p === 'string' && p.startsWith('/');
  const num = (n: unknown) => typeof n === 'number' && n > 0;
  const mounts = r.mounts as Array<{ src: unknown; dst: unknown; readonly: unknown }>;
  if (!abs(r.root) || !Array.isArray(mounts) || !mounts.every((m) => abs(m?.src) && abs(m?.dst) && typeof m?.readonly === 'boolean')) return null;
  if (!Array.isArray(r.tmpfs) || !r.tmpfs.every(abs) || typeof r.pin !== 'boolean') return null;
  if (!num(r.memoryLimit) || !num(r.tmpfsLimit) || !num(r.pidsLimit) || (r.hostname !== null && typeof r.hostname !== 'string')) return null;
  const { root, tmpfs, pin, memoryLimit, tmpfsLimit, pidsLimit, hostname } = r;
  return { root, mounts: mounts.map((m) => ({ src: m.src, dst: m.dst, readonly: m.readonly })), tmpfs, pin, memoryLimit, tmpfsLimit, pidsLimit, hostname };
}

export function restoreMain(args: string[]): number {
  let dir = '';
  const flags: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--image-path') {
      dir = args[++i] ?? '';
      if (!dir) throw new UsageError('--image-path needs a value');
    } else if (a.startsWith('--image-path=')) dir = a.slice('--image-path='.length);
    else flags.push(a);
  }
  const ready = takePrerestored(path.resolve(dir), stampNow(dir));
  if (ready) {
    const o = parseRunArgs([...flags, '/restored']);
    Object.assign(o, runFlagsOf(ready.meta));
    return runSandbox(o, ready);
  }
  let image: { meta: unknown; payload: Buffer };
  try {
    image = readImage(dir);
  } catch (e) {
    if (!(e instanceof SnapshotError)) throw e;
    process.stderr.write(`tssandbox: restore: ${e.message}\n`);
    return 125;
  }
  const meta = image.meta as ImageMeta;
  if (meta === null || typeof meta !== 'object' || meta.kind !== 'tssandbox-checkpoint' || typeof meta.run !== 'object') {
    process.stderr.write(`tssandbox: restore: ${dir}: image corrupted (not a sandbox's state)\n`);
    return 125;
  }
  const run = runFlagsOf(meta);
  if (run === null) {
    process.stderr.write(`tssandbox: restore: ${dir}: image corrupted (its run flags)\n`);
    return 125;
  }
  const o = parseRunArgs([...flags, '/restored']);
  Object.assign(o, run);
  return runSandbox(o, { meta, payload: image.payload });
}
