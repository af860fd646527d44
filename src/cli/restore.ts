/**
 * `tssandbox restore --image-path DIR [--debug] [--strace]`: runs a sandbox saved by
 * `run --checkpoint-on` on from where it was, stdio to this command (src/snapshot). The
 * image is read and checked (version, size, checksum) before anything is built.
 */
import { parseRunArgs, UsageError } from './args';
import { readImage, SnapshotError, type ImageMeta } from '../snapshot/index';
import { runSandbox } from './run';

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
