// Start-up matters (it is compared with runsc's): after tsc, the CLI is bundled into one
// file and a V8 code cache is saved beside it, so `tssandbox` neither resolves ~60
// modules nor compiles them at every start. bin/tssandbox uses both when present and
// falls back to dist/ otherwise. Runs at `npm install` (prepare) and `npm run build`.
import { build } from 'esbuild';
import { createRequire } from 'module';
import * as fs from 'fs';
import * as path from 'path';
import * as vm from 'vm';
import { fileURLToPath } from 'url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist', 'tssandbox.js');
await build({
  entryPoints: [path.join(root, 'dist', 'src', 'cli', 'main.js')],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  outfile: out,
  logLevel: 'warning',
  // The native addon is found at run time relative to the repository. ajv (the OCI
  // mode's schema validator) is loaded from node_modules only when a bundle is
  // validated: it would add a third to the bundle every `run` parses.
  external: ['*.node', 'ajv', 'yaml'],
});

// The code cache: compile and run the bundle's top level once, then save what V8 compiled.
const src = fs.readFileSync(out, 'utf8');
const script = new vm.Script(wrap(src), { filename: out });
const mod = { exports: {} };
script.runInThisContext()(mod.exports, createRequire(out), mod, out, path.dirname(out));
mod.exports.warm?.();
fs.writeFileSync(out.replace(/\.js$/, '.cache'), script.createCachedData());

export function wrap(code) {
  return `(function (exports, require, module, __filename, __dirname) {${code}\n})`;
}
await import('./oci-validator.mjs');
