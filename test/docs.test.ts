// docs/syscalls.md is generated from syscalls/table.ts; this keeps the two from drifting.
import { describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';

const root = path.resolve(__dirname, '..');

describe('generated docs', () => {
  it('docs/syscalls.md matches `tssandbox syscalls --markdown` (run `npm run docs`)', () => {
    const r = spawnSync(process.execPath, [path.join(root, 'bin', 'tssandbox'), 'syscalls', '--markdown'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(fs.readFileSync(path.join(root, 'docs', 'syscalls.md'), 'utf8')).toBe(r.stdout);
  });

  it('every table entry names a handler unless unsupported, and partial ones say what is missing', () => {
    const r = spawnSync(process.execPath, [path.join(root, 'bin', 'tssandbox'), 'syscalls'], { encoding: 'utf8' });
    const lines = r.stdout.split('\n').filter((l) => /^\s*\d+\s/.test(l));
    expect(lines.length).toBeGreaterThan(300);
    for (const l of lines) {
      const [, , support, ...note] = l.trim().split(/\s+/);
      if (support === 'partial') expect(note.join(' ').length, l).toBeGreaterThan(0);
    }
  });
});
