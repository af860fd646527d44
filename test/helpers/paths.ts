import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (this file is test/helpers/paths.ts). */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The CLI under test; TSSANDBOX_BIN overrides it (e.g. to test an installed copy). */
export const BIN = process.env.TSSANDBOX_BIN ?? path.join(REPO, 'bin', 'tssandbox');
/**
 * The `tssandbox` command as users get it (package.json "bin"): the native front beside
 * BIN (native/sentry_launch.cc), which execs Node on BIN; a `run` through it has the
 * Sentry in a user namespace of its own.
 */
export const FRONT = path.join(path.dirname(BIN), '..', 'build', 'Release', 'tssandbox');
export const GUESTS_DIR = path.join(REPO, 'test', 'guests');
/** Compiled guests: shared by every pass of `npm test` (each build is renamed into place). */
export const BUILD_DIR = path.join(REPO, 'test', '.build');
/**
 * Files and folders a test writes, removes or lets a guest change: one folder per pass,
 * since scripts/test.mjs runs the platforms' passes side by side (a pass that rewrote
 * malformed-elf/ while the other's native run was reading it failed CI).
 */
export const SCRATCH_DIR = path.join(BUILD_DIR, `pass-${process.env.TSSANDBOX_PLATFORM ?? 'default'}`);
