#!/usr/bin/env node
// The layering rule of docs/architecture.md, checked over the import graph: a folder may
// import only folders of a lower layer (or itself), and no two folders may import each
// other, even through others. `import type` counts: a type is a dependency too.
// Prints one line per violation; exits 1 if there is any. Used by test/structure.test.ts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// Lowest first. Every folder of the Sentry must be listed; a new one is an error until
// it is given its place here (and in docs/architecture.md).
export const LAYERS = [
  ['src/abi'],
  ['src/platform', 'src/waiter', 'src/auth', 'src/determinism'],
  ['src/gofer', 'src/mm'],
  ['fs/vfs'],
  ['fs/fsimpl/kernfs', 'fs/fsimpl/pipefs', 'fs/fsimpl/eventfd', 'fs/fsimpl/epoll', 'fs/fsimpl/tmpfs',
    'fs/fsimpl/overlay', 'fs/fsimpl/hostfs', 'fs/fsimpl/mqueue', 'src/loader'],
  ['src/kernel'],
  ['src/net/stack'],
  ['src/net'],
  ['fs/fsimpl/proc', 'fs/fsimpl/sys', 'fs/fsimpl/dev', 'fs/fsimpl/devpts', 'fs/fsimpl/host'],
  ['fs/rootfs'],
  ['syscalls'],
  ['src/oci', 'src/server', 'src/snapshot'],
  ['src/audit'],
  ['src/policy'],
  ['src/api', 'src/index.ts'],
  ['src/cli'],
];

const SOURCE_DIRS = ['src', 'fs', 'syscalls'];

function listTs(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listTs(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** The folder (module) a repository-relative file belongs to: the longest listed prefix. */
function moduleOf(rel, modules) {
  let best = null;
  for (const m of modules) if ((rel === m || rel.startsWith(m + '/')) && (!best || m.length > best.length)) best = m;
  return best;
}

const IMPORT = /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[^'"]*?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]|(?:import|require)\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function resolveImport(fromFile, spec) {
  const base = path.resolve(path.dirname(fromFile), spec);
  for (const c of [base + '.ts', path.join(base, 'index.ts'), base]) {
    if (fs.existsSync(c) && fs.statSync(c).isFile()) return c;
  }
  return null;
}

export function checkLayers(root = ROOT) {
  const rank = new Map();
  LAYERS.forEach((mods, i) => mods.forEach((m) => rank.set(m, i)));
  const modules = [...rank.keys()];
  const problems = [];
  const edges = new Map(); // module -> Map(module -> example "file -> file")
  for (const dir of SOURCE_DIRS.filter((d) => fs.existsSync(path.join(root, d)))) {
    for (const file of listTs(path.join(root, dir))) {
      const rel = path.relative(root, file);
      const from = moduleOf(rel, modules);
      if (from === null) {
        problems.push(`${rel}: its folder has no layer (add it to scripts/check-layers.mjs and docs/architecture.md)`);
        continue;
      }
      const text = fs.readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
      for (const m of text.matchAll(IMPORT)) {
        const spec = m[1] ?? m[2];
        const target = resolveImport(file, spec);
        if (target === null) {
          problems.push(`${rel}: import '${spec}' does not resolve`);
          continue;
        }
        const trel = path.relative(root, target);
        const to = moduleOf(trel, modules);
        if (to === null) {
          problems.push(`${rel}: imports ${trel}, which is in no layer`);
          continue;
        }
        if (to === from) continue;
        if (rank.get(to) > rank.get(from)) problems.push(`${rel}: imports ${trel} from a higher layer (${from} -> ${to})`);
        if (!edges.has(from)) edges.set(from, new Map());
        if (!edges.get(from).has(to)) edges.get(from).set(to, `${rel} -> ${trel}`);
      }
    }
  }
  // Circles between folders of the same layer (upward imports are reported above).
  const state = new Map();
  const stack = [];
  const visit = (m) => {
    state.set(m, 1);
    stack.push(m);
    for (const n of edges.get(m)?.keys() ?? []) {
      if (state.get(n) === 1) {
        const cyc = stack.slice(stack.indexOf(n)).concat(n);
        const how = cyc.slice(0, -1).map((a, i) => edges.get(a).get(cyc[i + 1]));
        problems.push(`circle ${cyc.join(' -> ')} (${how.join('; ')})`);
      } else if (!state.has(n)) visit(n);
    }
    stack.pop();
    state.set(m, 2);
  };
  for (const m of edges.keys()) if (!state.has(m)) visit(m);
  return problems;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const problems = checkLayers();
  for (const p of problems) console.log(p);
  if (problems.length > 0) {
    console.log(`${problems.length} layering problem(s); the layers are in docs/architecture.md`);
    process.exit(1);
  }
  console.log('layers: no upward import, no circle');
}
