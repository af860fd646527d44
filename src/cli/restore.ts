/**
 * `tssandbox restore --image-path DIR [--debug] [--strace]`: runs a sandbox saved by
 * `run --checkpoint-on` on from where it was, stdio to this command (src/snapshot). The
 * image is read and checked (version, size, checksum) before anything is built.
 */
import { parseRunArgs, UsageError } from './args';
import { readImage, SnapshotError, type ImageMeta } from '../snapshot/index';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IMAGE_FILE } from '../snapshot/index';
import { prerestoreSandbox, runSandbox, takePrerestored } from './run';

/** The image file's identity: a template restored ahead is used only while the file is the same. */
function stampOf(dir: string): string {
  try {
    const st = fs.statSync(path.join(dir, IMAGE_FILE));
    return `${st.size}:${st.mtimeMs}:${st.ino}`;
  } catch {
    return '';
  }
}

/** A warm pool worker's warm-up with a template (`serve --template DIR`): the image restored up to its resume. */
export function prerestoreTemplate(dir: string): boolean {
  let image: { meta: unknown; payload: Buffer };
  try {
    image = readImage(dir);
  } catch {
    return false;
  }
  const meta = image.meta as ImageMeta;
  if (meta?.kind !== 'tssandbox-checkpoint') return false;
  const o = parseRunArgs(['/restored']);
  Object.assign(o, meta.run);
  return prerestoreSandbox(path.resolve(dir), stampOf(dir), o, { meta, payload: image.payload });
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
  const ready = takePrerestored(path.resolve(dir), stampOf(dir));
  if (ready) {
    const o = parseRunArgs([...flags, '/restored']);
    Object.assign(o, ready.meta.run);
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
  const o = parseRunArgs([...flags, '/restored']);
  Object.assign(o, meta.run);
  return runSandbox(o, { meta, payload: image.payload });
}
