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

const WRAP_HEAD = '(function (exports, require, module, __filename, __dirname) {';
const WRAP_TAIL = '\n})';
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
  // No comments or indentation: V8 holds the source for the Sentry's whole life (1.5 MB,
  // not 2.2). The map (node --enable-source-maps) gives stack traces their lines back.
  minifyWhitespace: true,
  sourcemap: 'linked',
  // Wrapped here as bin/tssandbox compiles it, so the map's columns are the file's.
  banner: { js: WRAP_HEAD },
  footer: { js: WRAP_TAIL },
});

// The bundle is saved ASCII: V8 keeps a script's source for as long as it runs (lazy
// functions compile from it), and one character above U+00FF made all of it two-byte.
// Saved wrapped, bin/tssandbox holds it once (it was the file's text and a wrapped copy:
// 9 MB of every Sentry's heap, now 1.5 MB).
const src = asciiOnly(fs.readFileSync(out, 'utf8'));
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

await import('./oci-validator.mjs');
