/**
 * Scratch directories a test file makes under the host's /tmp, removed when the file's
 * tests end (the engineering rules: tests clean up after themselves, even when an
 * assertion fails half-way).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll } from 'vitest';

/**
 * Returns a maker of `/tmp/PREFIX*` directories; each one made is removed after the
 * enclosing describe block (or the file, at top level). Call it while tests are being
 * collected, not inside a test.
 */
export function tmpDirs(): (prefix: string) => string {
  const made: string[] = [];
  afterAll(() => {
    // Every directory is tried even when one cannot go (a mount left on it): the first
    // failure is then reported, so a leak shows as a failed hook, not silently.
    let first: unknown;
    for (const d of made.splice(0)) {
      try {
        rmSync(d, { recursive: true, force: true });
      } catch (e) {
        first ??= e;
      }
    }
    if (first) throw first;
  });
  return (prefix) => {
    const d = mkdtempSync(path.join(tmpdir(), prefix));
    made.push(d);
    return d;
  };
}
