/**
 * `tssandbox __pool-worker SOCKET [--listen-fd FD] [--template DIR] [--reuse N]`: a warm pool's member
 * (src/server/worker.ts), wired to the `run` and `restore` code. Warmed up: the code
 * loaded and a sandbox built for the default flags (Gofer, VFS, stub), or with
 * `--template DIR` that checkpoint restored up to its resume. With `--reuse N` it serves
 * up to N requests in turn, a fresh sandbox each (src/server/README.md).
 */
import { parseRunArgs, UsageError } from './args';
import { poolWorkerMain } from '../server/index';
import { launchedInOwnUserNs } from '../platform/launched-files';
import { canServe, fitsLaunchedWorker, keepsSandboxes, prebuildSandbox, runSandbox, setCallerCwd, setReuse } from './run';
import { prerestoreTemplate, restoreMain, servesTemplate } from './restore';

export function poolWorker(argv: string[]): void {
  const socket = argv[0];
  let template: string | undefined;
  let reuse = 1;
  let listenFd = -1; // the socket the server made and handed over (src/server/pool.ts)
  for (let i = 1; i < argv.length; i++) {
    if (argv[i] === '--template') template = argv[++i];
    else if (argv[i] === '--reuse') reuse = Math.max(1, Number(argv[++i]) || 1);
    else if (argv[i] === '--listen-fd') listenFd = Number(argv[++i]);
  }
  setReuse(reuse > 1);
  const build = () => (template !== undefined ? prerestoreTemplate(template) : prebuildSandbox(parseRunArgs(['/bin/true'])));
  poolWorkerMain(socket, {
    warm: () => void build(),
    rewarm: build,
    canContinue: keepsSandboxes,
    // Started by the native front in its own user namespace (serve's default): only what
    // the old path would serve alike; the rest goes to a worker on the old path.
    needsHost: (args, cmd) => {
      if (!launchedInOwnUserNs()) return false;
      if (cmd === 'restore') return true; // an image read by name, as the invoking user
      try {
        return !fitsLaunchedWorker(parseRunArgs(args));
      } catch {
        return false; // bad flags: this worker says so, as a cold run would
      }
    },
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
  }, reuse, listenFd);
}
