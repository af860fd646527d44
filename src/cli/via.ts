/**
 * `run --via SOCKET …` and `restore --via SOCKET --image-path DIR`: the request handed to
 * a warm pool (src/server). Loaded by bin/tssandbox before the bundle: a client that only
 * hands a request over needs neither the Sentry's code nor its code cache (loading the
 * bundle cost more than a cold `run`'s own start-up, so `run --via` was the slower one).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseRunArgs, UsageError } from './args';
import { viaMain } from '../server/client';
import { IMAGE_FILE } from '../snapshot/format';

/** The image file's identity (`SIZE:MTIME:INO`), or '': a template restored ahead is used only while the file is the same. */
export function imageStamp(dir: string): string {
  try {
    const st = fs.statSync(path.join(dir, IMAGE_FILE));
    return `${st.size}:${st.mtimeMs}:${st.ino}`;
  } catch {
    return '';
  }
}

/** True when argv (after `restore`) is this command's, not the OCI runtime's `restore ID`. */
export function isPlainRestore(args: string[]): boolean {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--image-path' || a === '--via') i++;
    else if (!a.startsWith('--image-path=') && !a.startsWith('--via=') && a !== '--debug' && a !== '--strace') return false;
  }
  return args.some((a) => a === '--image-path' || a.startsWith('--image-path='));
}

/**
 * Hands argv (`run …` or `restore …`) to the pool it names; false when it names none (or,
 * with `lenient`, when its flags are bad: the full command line then says why, as always).
 */
export function viaCommand(argv: string[], lenient = false): boolean {
  const v = argv.findIndex((a) => a === '--via' || a.startsWith('--via='));
  if (v <= 0) return false;
  if (argv[0] === 'restore') {
    if (!isPlainRestore(argv.slice(1))) return false;
    const via = argv[v] === '--via' ? argv[v + 1] : argv[v].slice('--via='.length);
    // The image path absolute: a worker in its own user namespace may not enter our directory.
    const rest = argv.slice(1).filter((_, i) => i + 1 !== v && !(argv[v] === '--via' && i + 1 === v + 1))
      .map((a, i, all) => (all[i - 1] === '--image-path' && a !== '' ? path.resolve(a) : a.startsWith('--image-path=') && a.length > 13 ? `--image-path=${path.resolve(a.slice(13))}` : a));
    // The image's identity as we see it: a template worker serves it only while it is the one it read.
    const i = rest.indexOf('--image-path');
    const dir = i >= 0 ? rest[i + 1] : rest.find((a) => a.startsWith('--image-path='))?.slice(13);
    const stamp = dir ? imageStamp(dir) : '';
    viaMain(via, rest, 'restore', stamp === '' ? undefined : stamp);
    return true;
  }
  if (argv[0] !== 'run') return false;
  let opts;
  try {
    opts = parseRunArgs(argv.slice(1)); // bad flags fail here, as in a cold run
  } catch (e) {
    if (lenient && e instanceof UsageError) return false;
    throw e;
  }
  if (opts.via === null) return false;
  // The request without --via (before the program): a worker started for it has it on its command line.
  const flagsEnd = argv.length - 1 - opts.args.length;
  const rest = argv.slice(1, flagsEnd).filter((a, i, all) => a !== '--via' && !a.startsWith('--via=') && all[i - 1] !== '--via');
  viaMain(opts.via, [...rest, ...argv.slice(flagsEnd)]);
  return true;
}
