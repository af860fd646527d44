/**
 * One scratch working directory for every native reference run of the suite (a guest
 * that creates a file with a garbage name must not leave it in the repository), removed
 * when the run ends. Workers inherit it through the environment.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export default function setup(): () => void {
  const dir = mkdtempSync(path.join(tmpdir(), 'tss-test-cwd-'));
  process.env.TSS_TEST_CWD = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
