import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (this file is test/helpers/paths.ts). */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The CLI under test; TSSANDBOX_BIN overrides it (e.g. to test an installed copy). */
export const BIN = process.env.TSSANDBOX_BIN ?? path.join(REPO, 'bin', 'tssandbox');
export const GUESTS_DIR = path.join(REPO, 'test', 'guests');
export const BUILD_DIR = path.join(REPO, 'test', '.build');
