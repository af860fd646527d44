// The ELF loader: static, static-PIE and dynamic executables, #! scripts, argv/envp/auxv.
import { beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { BUILD_DIR, SCRATCH_DIR } from '../helpers/paths';
import { expectSameAsNative, runSandbox } from '../helpers/run';

const SRC = path.join(__dirname, 'guests', 'auxv_args.c');

function build(kind: 'static' | 'static-pie' | 'dynamic'): string {
  fs.mkdirSync(BUILD_DIR, { recursive: true });
  const out = path.join(BUILD_DIR, `auxv_args.${kind}`);
  if (!fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(SRC).mtimeMs) {
    const flag = kind === 'dynamic' ? [] : [`-${kind}`];
    execFileSync('gcc', ['-O1', ...flag, '-o', `${out}.tmp${process.pid}`, SRC]);
    fs.renameSync(`${out}.tmp${process.pid}`, out);
  }
  return out;
}

describe.each(['static', 'static-pie', 'dynamic'] as const)('%s executable', (kind) => {
  it('gets argv, envp and auxv as Linux lays them out', async () => {
    await expectSameAsNative([build(kind), 'one', 'two words', ''], { env: { TSS_A: '1', TSS_B: 'x=y' } });
  });
});

describe('#! scripts', () => {
  beforeAll(() => { fs.mkdirSync(SCRATCH_DIR, { recursive: true }); });

  it('run through their interpreter with the script path and one optional argument', async () => {
    const script = path.join(SCRATCH_DIR, 'hashbang.sh');
    fs.writeFileSync(script, '#!/bin/sh -e\necho "script $0 $*"\n', { mode: 0o755 });
    await expectSameAsNative([script, 'a', 'b']);
  });

  it('a #! chain to a missing interpreter fails with one line and 126', async () => {
    const script = path.join(SCRATCH_DIR, 'nointerp.sh');
    fs.writeFileSync(script, '#!/no/such/interpreter\n', { mode: 0o755 });
    const r = await runSandbox([script]);
    expect(r.code).toBe(126);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
