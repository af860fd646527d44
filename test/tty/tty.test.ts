/**
 * Terminals and job control: guest programs driving Sentry ptys (compared with a native
 * run), and an interactive bash under `tssandbox run -t`, driven through a host pty by
 * test/tty/bash_pty.py.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileGuest, LINKAGES } from '../helpers/build';
import { expectSameAsNative } from '../helpers/run';
import { BIN, FRONT } from '../helpers/paths';

const SRC = path.join(__dirname, 'guests');

describe('pty semantics match Linux', () => {
  for (const name of ['tty_pty', 'tty_jobs']) {
    for (const l of LINKAGES) {
      it(`${name} (${l})`, async () => {
        const bin = compileGuest(name, l, { srcDir: SRC });
        const { sandbox } = await expectSameAsNative([bin], { timeoutMs: 30_000 });
        expect(sandbox.stdout).toMatch(/done\n$/);
      }, 70_000);
    }
  }
});

const haveTools = fs.existsSync('/bin/bash') && spawnSync('python3', ['-c', 'import pty'], { stdio: 'ignore' }).status === 0;

// The command as users run it (the native front: the Sentry in its own user namespace).
const CMD = fs.existsSync(FRONT) ? [FRONT, ''] : [process.execPath, BIN];

function driveBash(mode: string[]): void {
  const r = spawnSync('python3', [path.join(__dirname, 'bash_pty.py'), ...CMD, ...mode], {
    encoding: 'utf8',
    timeout: 110_000,
  });
  const report = `${r.stdout}\n${r.stderr}`;
  expect(report).not.toMatch(/FAIL/);
  expect(r.status, report).toBe(0);
}

describe.skipIf(!haveTools)('interactive bash through a host pty', () => {
  it('run -t (Sentry pty): prompt, jobs, ^C, ^Z/fg, SIGWINCH, exit', () => driveBash([]), 120_000);
  it('run without -t (host terminal passed through): the same session', () => driveBash(['host']), 120_000);
});
