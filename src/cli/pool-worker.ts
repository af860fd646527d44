/**
 * `tssandbox __pool-worker SOCKET [--template DIR] [--reuse N]`: a warm pool's member
 * (src/server/worker.ts), wired to the `run` and `restore` code. Warmed up: the code
 * loaded and a sandbox built for the default flags (Gofer, VFS, stub), or with
 * `--template DIR` that checkpoint restored up to its resume. With `--reuse N` it serves
 * up to N requests in turn, a fresh sandbox each (src/server/README.md).
 */
import { parseRunArgs, UsageError } from './args';
import { poolWorkerMain } from '../server/index';
import { canServe, keepsSandboxes, prebuildSandbox, runSandbox, setCallerCwd, setReuse } from './run';
import { prerestoreTemplate, restoreMain, servesTemplate } from './restore';

export function poolWorker(argv: string[]): void {
  const socket = argv[0];
  let template: string | undefined;
  let reuse = 1;
  for (let i = 1; i < argv.length; i++) {
    if (argv[i] === '--template') template = argv[++i];
    else if (argv[i] === '--reuse') reuse = Math.max(1, Number(argv[++i]) || 1);
  }
  setReuse(reuse > 1);
  const build = () => (template !== undefined ? prerestoreTemplate(template) : prebuildSandbox(parseRunArgs(['/bin/true'])));
  poolWorkerMain(socket, {
    warm: () => void build(),
    rewarm: build,
    canContinue: keepsSandboxes,
    canServe: (args, cmd) => {
      if (cmd === 'restore') return template !== undefined && servesTemplate(args);
      try {
        return canServe(parseRunArgs(args));
      } catch {
        return true; // bad flags: this worker says so, as a cold run would
      }
    },
    run: (args, what, cwd, handed) => {
      setCallerCwd(cwd);
      try {
        if (what === 'restore') return restoreMain(args);
        const opts = parseRunArgs(args);
        opts.via = null;
        // A request's flags name only fds it handed over: never the worker's own (its line to the server, its stdio).
        const fdOf = (f: string | null) => (f !== null && /^\/dev\/fd\/[0-9]+$/.test(f) ? Number(f.slice(8)) : -1);
        const named = [opts.ci.apiFd, fdOf(opts.ci.report), fdOf(opts.ci.summary)].filter((fd) => fd >= 0);
        if (named.some((fd) => !handed.includes(fd))) {
          process.stderr.write('tssandbox: --api-fd, --report /dev/fd/N, --summary /dev/fd/N through a pool: only an fd the request hands over\n');
          return 2;
        }
        return runSandbox(opts);
      } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        process.stderr.write(`tssandbox: ${e.message}\n`);
        return 2;
      }
    },
  }, reuse);
}
