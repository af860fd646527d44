/**
 * A bundle: its config.json read, validated against the OCI runtime-spec's JSON schema
 * (src/oci/schema/, ajv), then checked for what a schema cannot say (ociVersion major,
 * the root and bind sources existing, relative paths staying inside the bundle).
 * Every failure is one line naming the bad key.
 */
import * as fs from 'fs';
import * as path from 'path';
import { fail } from './errors';
import type { Spec } from './spec-types';

let validator: ((data: unknown) => boolean) & { errors?: Array<Record<string, any>> | null } | undefined;

function schemaValidator(): typeof validator & object {
  if (validator) return validator;
  // Compiling the schema costs ~200 ms, most of `create`: the build saves it compiled
  // (scripts/oci-validator.mjs, ajv's standalone code) and it is compiled here only
  // when that file is missing.
  for (const p of [path.join(__dirname, 'oci-validator.js'), path.join(__dirname, '..', '..', 'oci-validator.js')]) {
    if (!fs.existsSync(p)) continue;
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const m = require(p);
    validator = m.default ?? m;
    return validator!;
  }
  validator = compileSchema().validate;
  return validator!;
}

/** Runs the validator once on config (a pool member warms its code before any container: pool.ts). */
export function warmValidator(config: unknown): boolean {
  return schemaValidator()(config);
}

/** ajv with the runtime-spec schema, and the compiled validator (`code`: for ajv's standalone output). */
export function compileSchema(code = false): { ajv: unknown; validate: NonNullable<typeof validator> } {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const Ajv = require('ajv').default ?? require('ajv');
  const ajv = new Ajv({ strict: false, validateSchema: false, allErrors: false, code: code ? { source: true } : undefined });
  for (const name of ['defs.json', 'defs-linux.json', 'config-linux.json']) ajv.addSchema(loadSchema(name), name);
  return { ajv, validate: ajv.compile(loadSchema('config-schema.json')) };
}

/** The vendored schema files (copied next to the bundle at build; see src/oci/README.md). */
function loadSchema(name: string): object {
  for (const dir of [path.join(__dirname, 'schema'), path.join(__dirname, '..', '..', '..', 'src', 'oci', 'schema'),
    path.join(__dirname, '..', 'src', 'oci', 'schema')]) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) {
      const s = JSON.parse(fs.readFileSync(p, 'utf8'));
      delete s.$schema;
      s.$id = name;
      return s;
    }
  }
  throw new Error(`schema file ${name} missing`);
}

/** "/process/user/uid" -> "process.user.uid" (array indices as [n]). */
function keyPath(instancePath: string, extra?: string): string {
  const parts = instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra) parts.push(extra);
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p;
  return out || '(top level)';
}

export function schemaError(config: unknown): string | null {
  const v = schemaValidator();
  if (v(config)) return null;
  const e = (v.errors ?? [])[0];
  if (!e) return 'does not match the schema';
  if (e.keyword === 'required') return `${keyPath(e.instancePath, e.params.missingProperty)}: required key missing`;
  if (e.keyword === 'enum') return `${keyPath(e.instancePath)}: must be one of ${e.params.allowedValues.join(', ')}`;
  return `${keyPath(e.instancePath)}: ${e.message}`;
}

export interface Bundle {
  dir: string;
  config: Spec;
  rootfs: string;
}

/**
 * Resolves p (absolute, or relative to the bundle) and refuses a relative path leaving
 * the bundle by `..`. Symlinks are followed as runc follows them (the engine made the
 * bundle); one that exists comes back resolved, so what was checked is what is used.
 */
export function bundlePath(dir: string, p: string, key: string): string {
  if (path.isAbsolute(p)) return path.normalize(p);
  const abs = path.resolve(dir, p);
  const rel = path.relative(dir, abs);
  if (rel === '..' || rel.startsWith('../')) fail(`config.json: ${key}: relative path '${p}' escapes the bundle`);
  try {
    return fs.realpathSync(abs);
  } catch {
    return abs; // missing: the caller says so
  }
}

/** The most of config.json read (runtime-spec configs are kilobytes; a seccomp profile tens of them). */
const CONFIG_MAX = 16 << 20;

/**
 * config.json's text, read as runc reads it (a symlink followed) but no further: a
 * regular file only (a FIFO or a device would hang create, or never end), bounded in
 * size, and never shown back (see badJson).
 */
function readConfig(dir: string, cfgPath: string): string {
  let fd: number;
  try {
    fd = fs.openSync(cfgPath, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    fail(code === 'ENOENT' ? `bundle ${dir}: no config.json` : `bundle ${dir}: cannot read config.json (${code ?? (e as Error).message})`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) fail(`bundle ${dir}: config.json is not a regular file`);
    if (st.size > CONFIG_MAX) fail(`bundle ${dir}: config.json is larger than ${CONFIG_MAX >> 20} MiB`);
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Where the JSON is bad, by line and column, without its text: V8's message quotes the
 * bytes around the error, and config.json may be a symlink to a file the engine's user
 * cannot read (runc's error shows one character).
 */
function badJson(text: string, e: Error): string {
  const m = /position (\d+)/.exec(e.message);
  if (!m) {
    if (/end of JSON input/.test(e.message)) return 'unexpected end';
    const c = /^Unexpected token '([\x21-\x7e])'/.exec(e.message);
    return c ? `unexpected '${c[1]}'` : 'not valid JSON';
  }
  const before = text.slice(0, Number(m[1]));
  const line = before.split('\n').length;
  return `unexpected character at line ${line} column ${Number(m[1]) - before.lastIndexOf('\n')}`;
}

export function loadBundle(bundleArg: string | undefined): Bundle {
  const dir = path.resolve(bundleArg ?? process.cwd());
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    fail(`bundle ${dir}: no such directory`);
  }
  if (!st.isDirectory()) fail(`bundle ${dir}: not a directory`);
  const cfgPath = path.join(dir, 'config.json');
  const text = readConfig(dir, cfgPath);
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (e) {
    fail(`${cfgPath}: bad JSON: ${badJson(text, e as Error)}`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) fail(`${cfgPath}: must be a JSON object`);
  const err = schemaError(config);
  if (err) fail(`config.json: ${err}`);
  const spec = config as Spec;
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(spec.ociVersion);
  if (!m) fail(`config.json: ociVersion: '${spec.ociVersion}' is not a version`);
  if (m[1] !== '1') fail(`config.json: ociVersion: unsupported version ${spec.ociVersion} (this runtime implements 1.x)`);
  if (!spec.root) fail('config.json: root: required key missing');
  if (!spec.process) fail('config.json: process: required key missing');
  if (!spec.process.args || spec.process.args.length === 0) fail('config.json: process.args: must not be empty');
  if (!spec.process.cwd.startsWith('/')) fail(`config.json: process.cwd: must be an absolute path, got '${spec.process.cwd}'`);
  const rootfs = bundlePath(dir, spec.root.path, 'root.path');
  let rst: fs.Stats;
  try {
    rst = fs.statSync(rootfs);
  } catch {
    fail(`config.json: root.path: ${rootfs} does not exist`);
  }
  if (!rst.isDirectory()) fail(`config.json: root.path: ${rootfs} is not a directory`);
  for (const [i, mnt] of (spec.mounts ?? []).entries()) {
    if (!mnt.destination.startsWith('/')) fail(`config.json: mounts[${i}].destination: must be absolute, got '${mnt.destination}'`);
    if (isBind(mnt)) {
      if (!mnt.source) fail(`config.json: mounts[${i}].source: required for a bind mount`);
      const src = bundlePath(dir, mnt.source, `mounts[${i}].source`);
      if (!fs.existsSync(src)) fail(`config.json: mounts[${i}].source: ${src} does not exist`);
    }
  }
  return { dir, config: spec, rootfs };
}

export function isBind(m: { type?: string; options?: string[] }): boolean {
  return m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
}
