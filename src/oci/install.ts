/**
 * `tssandbox install`: registers the runtime in Docker's daemon.json the way `runsc
 * install` does: `runtimes.<name> = { path, runtimeArgs }`, every other key kept;
 * `--uninstall` removes it again. Docker reads it at its next start (or SIGHUP).
 */
import * as fs from 'fs';
import * as path from 'path';
import { fail } from './errors';
import { parseFlags } from './flags';

export function cmdInstall(args: string[]): number {
  const { values: o, rest } = parseFlags(args, {
    config: { type: 'string' },
    'runtime-name': { type: 'string' },
    runtime: { type: 'string' },
    uninstall: { type: 'boolean' },
  });
  const file = path.resolve(o.config ?? '/etc/docker/daemon.json');
  const name = (o['runtime-name'] ?? o.runtime ?? 'tssandbox') as string;
  if (!/^[\w.-]+$/.test(name)) fail(`invalid runtime name '${name}'`, 2);
  let conf: Record<string, any> = {};
  if (fs.existsSync(file)) {
    const text = fs.readFileSync(file, 'utf8');
    if (text.trim()) {
      try {
        conf = JSON.parse(text);
      } catch (e) {
        fail(`${file}: bad JSON: ${(e as Error).message}`);
      }
      if (typeof conf !== 'object' || conf === null || Array.isArray(conf)) fail(`${file}: must be a JSON object`);
    }
  }
  if (o.uninstall) {
    if (!conf.runtimes?.[name]) fail(`runtime "${name}" is not installed in ${file}`);
    delete conf.runtimes[name];
    if (Object.keys(conf.runtimes).length === 0) delete conf.runtimes;
    write(file, conf);
    process.stdout.write(`Removed runtime "${name}" from ${file}\n`);
    return 0;
  }
  // The native entry (native/oci_fast.c: start and delete without a Node start-up,
  // the rest handed to bin/tssandbox), when built.
  const script = fs.realpathSync(process.argv[1]);
  const fast = path.join(path.dirname(script), '..', 'build', 'Release', 'tssandbox-oci');
  const bin = fs.existsSync(fast) ? fs.realpathSync(fast) : script;
  const entry: Record<string, unknown> = { path: bin };
  if (rest.length) entry.runtimeArgs = rest;
  conf.runtimes = { ...(conf.runtimes ?? {}), [name]: entry };
  write(file, conf);
  process.stdout.write(`Added runtime "${name}" (${bin}) to ${file}\n`);
  return 0;
}

function write(file: string, conf: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(conf, null, '    ') + '\n');
  fs.renameSync(tmp, file);
}
