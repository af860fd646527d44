/**
 * The layering of docs/architecture.md: no folder imports a higher layer, no two folders
 * import each other, and every folder of the Sentry has a layer. The checker itself is
 * tested on a small tree that breaks each rule, so this test cannot pass by accident.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO } from './helpers/paths';

const load = async () => (await import(path.join(REPO, 'scripts', 'check-layers.mjs'))) as {
  checkLayers(root?: string): string[];
};

const trees: string[] = [];
afterAll(() => {
  for (const t of trees) fs.rmSync(t, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-layers-'));
  trees.push(root);
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
  return root;
}

describe('layers', () => {
  it('the source tree imports only downward, without circles', async () => {
    const { checkLayers } = await load();
    expect(checkLayers()).toEqual([]);
  });

  it('the sandbox is reached through the task: no module-level Kernel or Sentry', () => {
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith('.ts') && /^(export\s+)?(const|let|var)\s+\w+[^=\n]*=\s*new\s+(Kernel|Sentry)\(/m.test(fs.readFileSync(p, 'utf8'))) {
          offenders.push(path.relative(REPO, p));
        }
      }
    };
    for (const d of ['src', 'fs', 'syscalls']) walk(path.join(REPO, d));
    // The CLI makes the one Kernel of `run` inside a function, not at module level.
    expect(offenders).toEqual([]);
  });

  it('an upward import is reported', async () => {
    const { checkLayers } = await load();
    const root = tree({
      'src/abi/errno.ts': "import { x } from '../kernel/task';\nexport const EPERM = 1;\n",
      'src/kernel/task.ts': 'export const x = 1;\n',
    });
    expect(checkLayers(root).join('\n')).toMatch(/src\/abi\/errno\.ts: imports src\/kernel\/task\.ts from a higher layer/);
  });

  it('a type-only upward import is reported too', async () => {
    const { checkLayers } = await load();
    const root = tree({
      'fs/vfs/file.ts': "import type { Task } from '../../src/kernel/task';\nexport type F = Task;\n",
      'src/kernel/task.ts': 'export interface Task { x: number }\n',
    });
    expect(checkLayers(root).join('\n')).toMatch(/fs\/vfs\/file\.ts: imports src\/kernel\/task\.ts from a higher layer/);
  });

  it('a circle between folders of one layer is reported', async () => {
    const { checkLayers } = await load();
    const root = tree({
      'src/platform/a.ts': "import { b } from '../waiter/b';\nexport const a = b;\n",
      'src/waiter/b.ts': "import { a } from '../platform/a';\nexport const b = 1; void a;\n",
    });
    expect(checkLayers(root).join('\n')).toMatch(/circle (src\/platform -> src\/waiter -> src\/platform|src\/waiter -> src\/platform -> src\/waiter)/);
  });

  it('a folder without a layer is reported', async () => {
    const { checkLayers } = await load();
    const root = tree({ 'src/newthing/x.ts': 'export const x = 1;\n' });
    expect(checkLayers(root).join('\n')).toMatch(/src\/newthing\/x\.ts: its folder has no layer/);
  });
});
