// Issue 12: the package `npm pack` makes installs with only Node and a compiler (the
// native addon builds at install), `import { Sandbox } from 'tssandbox'` works from
// another project, with its types, and `tssandbox` runs from a global install.
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO } from '../helpers/paths';
import { scratch } from './ci-helpers';

const dir = scratch('pack');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
// --offline: the tarball carries its runtime dependencies (bundleDependencies), so an
// install needs no registry ("a machine with only Node and a compiler"; this machine's DNS
// also comes and goes).
const npm = (args: string[], cwd: string) =>
  execFileSync('npm', [...args, '--no-audit', '--no-fund', '--offline', '--loglevel=error'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 400_000 });

describe('npm package', () => {
  it('packs, installs into a project, imports, types, runs a guest; -g gives the command', async () => {
    // dist/ is built by the suite (npm test builds first); pack ships it as it is.
    const out = npm(['pack', '--ignore-scripts', '--json', '--pack-destination', dir], REPO);
    const info = JSON.parse(out)[0];
    const tarball = path.join(dir, info.filename);
    const files: string[] = info.files.map((f: { path: string }) => f.path);
    for (const f of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/tssandbox.js', 'bin/tssandbox', 'binding.gyp',
      'native/ptrace_platform.cc', 'native/stub/stub.c', 'docs/schemas/audit-report.schema.json', 'src/oci/schema/config-schema.json',
      'node_modules/ajv/package.json', 'node_modules/yaml/package.json', 'node_modules/node-addon-api/package.json']) {
      expect(files, f).toContain(f);
    }
    // npm always packs the "bin" file (the native front, rebuilt by the install's node-gyp
    // rebuild like the rest of build/); nothing else of build/ goes in.
    expect(files.filter((f) => f.startsWith('test/') || (f.startsWith('build/') && f !== 'build/Release/tssandbox'))).toEqual([]);

    const proj = path.join(dir, 'proj');
    fs.mkdirSync(proj);
    fs.writeFileSync(path.join(proj, 'package.json'), JSON.stringify({ name: 'proj', version: '1.0.0', type: 'module' }));
    npm(['install', tarball], proj);
    const mods = fs.readdirSync(path.join(proj, 'node_modules'));
    for (const dev of ['typescript', 'vitest', 'esbuild', '@types']) expect(mods).not.toContain(dev);
    expect(fs.existsSync(path.join(proj, 'node_modules', 'tssandbox', 'build', 'Release', 'tssandbox_native.node'))).toBe(true);

    fs.writeFileSync(path.join(proj, 'main.mjs'), [
      "import { Sandbox } from 'tssandbox';",
      "const r = await Sandbox.run(['/bin/sh', '-c', 'echo hello from $0; exit 5'], { env: { PATH: '/bin:/usr/bin' }, limits: { timeout: '30s' } });",
      "console.log(JSON.stringify({ status: r.status, out: r.stdout.toString(), exe: r.report.processes[0].exe }));",
    ].join('\n'));
    const res = JSON.parse(execFileSync(process.execPath, ['main.mjs'], { cwd: proj, encoding: 'utf8', timeout: 60_000 }));
    expect(res).toEqual({ status: 5, out: 'hello from /bin/sh\n', exe: '/usr/bin/dash' });

    // The types: a TypeScript consumer type-checks, and a wrong option is an error.
    fs.writeFileSync(path.join(proj, 'use.ts'), [
      "import { Sandbox, type SandboxOptions, type RunResult } from 'tssandbox';",
      "const o: SandboxOptions = { limits: { memory: '64m' }, policy: { exec: { deny: ['/usr/bin/curl'] } }, onOpen: (q) => (q.path === '/x' ? 'EPERM' : undefined) };",
      "export async function f(): Promise<number> { const r: RunResult = await Sandbox.run(['/bin/true'], o); return r.status + (r.report?.wallMs ?? 0); }",
    ].join('\n'));
    fs.writeFileSync(path.join(proj, 'bad.ts'), "import { Sandbox } from 'tssandbox';\nSandbox.run(['/bin/true'], { limits: { bogus: 1 } });\n");
    const tsc = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    const tscArgs = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--typeRoots', path.join(REPO, 'node_modules', '@types')];
    execFileSync(process.execPath, [tsc, ...tscArgs, 'use.ts'], { cwd: proj, encoding: 'utf8' });
    let badOut = '';
    try {
      execFileSync(process.execPath, [tsc, ...tscArgs, 'bad.ts'], { cwd: proj, encoding: 'utf8' });
    } catch (e) {
      badOut = String((e as { stdout?: string }).stdout);
    }
    expect(badOut).toContain('bogus');

    // A global install (here under a prefix): the tssandbox command.
    const prefix = path.join(dir, 'global');
    npm(['install', '-g', '--prefix', prefix, tarball], dir);
    const cmd = execFileSync(path.join(prefix, 'bin', 'tssandbox'), ['run', '--timeout', '30s', '/bin/echo', 'global ok'], { encoding: 'utf8', timeout: 60_000 });
    expect(cmd).toBe('global ok\n');
  }, 900_000);
});
