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

// The bundle is saved ASCII and already wrapped as bin/tssandbox compiles it: V8 keeps a
// script's source for as long as it runs (lazy functions compile from it), and one
// character above U+00FF (a comment's Σ) made that source two-byte, 4.5 MB, held twice
// (the file's text and the wrapped copy): 9 MB of every Sentry's heap, now 2.2 MB.
const src = wrap(asciiOnly(fs.readFileSync(out, 'utf8')));
fs.writeFileSync(out, src);
const script = new vm.Script(src, { filename: out });
const mod = { exports: {} };
script.runInThisContext()(mod.exports, createRequire(out), mod, out, path.dirname(out));
mod.exports.warm?.();
fs.writeFileSync(out.replace(/\.js$/, '.cache'), script.createCachedData());

/** Every non-ASCII UTF-16 unit as \uXXXX (esbuild escapes strings and names, not the comments it keeps). */
function asciiOnly(code) {
  return code.replace(/[^\x00-\x7f]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

export function wrap(code) {
  return `(function (exports, require, module, __filename, __dirname) {${code}\n})`;
}
await import('./oci-validator.mjs');
