/**
 * Compiles guest programs (test/guests/NAME.c) with the host gcc into
 * test/.build/, once per variant, cached by modification time: a binary is rebuilt
 * when it is older than its source or than any header in test/guests/.
 * Safe under parallel vitest workers: each compile writes a private temporary file
 * and renames it into place.
 */
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { BUILD_DIR, GUESTS_DIR, SCRATCH_DIR } from './paths';

const execFileAsync = promisify(execFile);

export type Linkage = 'static' | 'dynamic';
export const LINKAGES: readonly Linkage[] = ['static', 'dynamic'];

function mtime(p: string): number {
  try {
    return fs.statSync(p).mtimeMs;
  } catch {
    return -1;
  }
}

function newestHeader(dir: string): number {
  let newest = 0;
  for (const f of fs.readdirSync(dir)) {
    if (f.endsWith('.h')) newest = Math.max(newest, mtime(path.join(dir, f)));
  }
  return newest;
}

export interface CompileOptions {
  /** Directory holding the source; default test/guests. */
  srcDir?: string;
  /** Extra gcc flags (e.g. ['-pthread']). -pthread is always added. */
  flags?: string[];
}

interface Job { out: string; tmp: string; args: string[]; src: string; srcDir: string }

/** The output path of guest NAME, and the gcc job to build it when stale (null: up to date). */
function plan(name: string, linkage: Linkage, opts: CompileOptions): { out: string; job: Job | null } {
  const srcDir = opts.srcDir ?? GUESTS_DIR;
  const src = path.join(srcDir, `${name}.c`);
  if (!fs.existsSync(src)) throw new Error(`no guest source ${src}`);
  // Guests of other folders may share a name (test/guests/threads.c, test/snapshot/guests/threads.c):
  // theirs are built in a folder named after theirs (same file name: tests may look at comm).
  const sub = srcDir === GUESTS_DIR ? '' : path.relative(path.dirname(GUESTS_DIR), srcDir).replace(/[^A-Za-z0-9]+/g, '_');
  const out = path.join(BUILD_DIR, sub, `${name}.${linkage}`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const built = mtime(out);
  if (built >= 0 && built >= mtime(src) && built >= newestHeader(srcDir)) return { out, job: null };

  const tmp = `${out}.tmp.${process.pid}.${Math.random().toString(36).slice(2)}`;
  const args = [
    '-O1', '-g0', '-Wall', '-Wno-unused-result', '-Wno-stringop-overflow', '-Wno-stringop-overread', '-Wno-nonnull', '-D_GNU_SOURCE', '-pthread',
    ...(linkage === 'static' ? ['-static'] : []),
    ...(opts.flags ?? []),
    '-I', srcDir,
    '-o', tmp, src,
  ];
  return { out, job: { out, tmp, args, src, srcDir } };
}

/**
 * Puts a finished build in place, unless another process (the other platform's pass of
 * `npm test`, compiling the same guest at the same time) already has: replacing a binary a
 * running sandbox has just looked up is a host change under its exclusive-mode cache, and
 * its exec then fails ("cannot execute").
 */
function install(job: Job): void {
  const built = mtime(job.out);
  if (built >= 0 && built >= mtime(job.src) && built >= newestHeader(job.srcDir)) {
    fs.unlinkSync(job.tmp);
    return;
  }
  try {
    if (built < 0) fs.linkSync(job.tmp, job.out); // only if still absent
    else fs.renameSync(job.tmp, job.out); // stale: replaced
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  try { fs.unlinkSync(job.tmp); } catch { /* renamed */ }
}

function failed(job: Job, e: unknown): Error {
  const err = e as { stderr?: Buffer | string };
  try { fs.unlinkSync(job.tmp); } catch { /* not created */ }
  return new Error(`gcc ${job.args.join(' ')} failed:\n${err.stderr?.toString() ?? String(e)}`);
}

/** Path of the compiled guest NAME (from NAME.c), building it if stale. */
export function compileGuest(name: string, linkage: Linkage = 'dynamic', opts: CompileOptions = {}): string {
  const { out, job } = plan(name, linkage, opts);
  if (!job) return out;
  try {
    execFileSync('gcc', job.args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw failed(job, e);
  }
  install(job);
  return out;
}

/**
 * Builds each NAME in both linkages (or those given), as many gcc at once as the host has
 * CPUs (a file's set-up compiling 30 guests one by one took most of its time on a fresh
 * clone); resolves to their paths by "NAME.linkage".
 */
export async function compileGuests(names: readonly string[], opts: CompileOptions = {}, linkages: readonly Linkage[] = LINKAGES): Promise<Record<string, string>> {
  const paths: Record<string, string> = {};
  const jobs: Job[] = [];
  for (const name of names) {
    for (const l of linkages) {
      const { out, job } = plan(name, l, opts);
      paths[`${name}.${l}`] = out;
      if (job) jobs.push(job);
    }
  }
  const run = async (): Promise<void> => {
    for (let job = jobs.shift(); job; job = jobs.shift()) {
      try {
        await execFileAsync('gcc', job.args);
      } catch (e) {
        throw failed(job, e);
      }
      install(job);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs.length, os.availableParallelism())) }, run));
  return paths;
}

/** Every guest name in test/guests (each NAME.c). */
export function listGuests(srcDir: string = GUESTS_DIR): string[] {
  return fs.readdirSync(srcDir)
    .filter((f) => f.endsWith('.c'))
    .map((f) => f.slice(0, -2))
    .sort();
}

/**
 * A copy of a host ELF with its e_machine field (offset 18, 2 bytes LE) patched,
 * e.g. 0xB7 (AArch64) or 0x03 (i386). Also sets EI_CLASS when asked.
 */
export function patchedElf(srcPath: string, tag: string, eMachine: number, eiClass?: 1 | 2): string {
  fs.mkdirSync(SCRATCH_DIR, { recursive: true });
  const out = path.join(SCRATCH_DIR, `patched-${tag}`);
  const buf = fs.readFileSync(srcPath);
  buf.writeUInt16LE(eMachine, 18);
  if (eiClass !== undefined) buf[4] = eiClass;
  const tmp = `${out}.tmp.${process.pid}`;
  fs.writeFileSync(tmp, buf, { mode: 0o755 });
  fs.renameSync(tmp, out);
  return out;
}

/** Writes a file into this pass's scratch folder with the given mode; returns its path. */
export function buildFile(name: string, content: string | Buffer, mode = 0o644): string {
  fs.mkdirSync(SCRATCH_DIR, { recursive: true });
  const out = path.join(SCRATCH_DIR, name);
  const tmp = `${out}.tmp.${process.pid}`;
  fs.writeFileSync(tmp, content, { mode });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, out);
  return out;
}
