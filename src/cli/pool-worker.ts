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
import { canServe, fitsLaunchedWorker, keepsSandboxes, prebuildSandbox, refuseHostRoot, runSandbox, setCallerCwd, setReuse } from './run';
import { namesTemplate, prerestoreTemplate, restoreMain, servesTemplate } from './restore';

export function poolWorker(argv: string[]): void {
  const socket = argv[0];
  let template: string | undefined;
  let reuse = 1;
  let listenFd = -1; // the socket the server made and handed over (src/server/pool.ts)
  // `-- CMD ARGS…`: started for that one request (one a worker of the pool refused as
  // needing the host), through the native front with it on its command line, which opened
  // its host files and made its cgroup as for a cold `run`/`restore` (native/launch_flags.h).
  let startedFor: { cmd: 'run' | 'restore'; argv: string[] } | null = null;
  for (let i = 1; i < argv.length; i++) {
    if (argv[i] === '--template') template = argv[++i];
    else if (argv[i] === '--reuse') reuse = Math.max(1, Number(argv[++i]) || 1);
    else if (argv[i] === '--listen-fd') listenFd = Number(argv[++i]);
    else if (argv[i] === '--' && (argv[i + 1] === 'run' || argv[i + 1] === 'restore')) {
      startedFor = { cmd: argv[i + 1] as 'run' | 'restore', argv: argv.slice(i + 2) };
      break;
    }
  }
  if (startedFor !== null) reuse = 1;
  setReuse(reuse > 1);
  const forRequest = startedFor;
  // As root outside the front's user namespace (it could not start one for these flags:
  // a file it cannot open, a source it cannot reach…), such a worker sets the sandbox up
  // as the old path would, so that its error is the old path's, but runs no guest code.
  if (forRequest !== null && !launchedInOwnUserNs() && process.getuid?.() === 0) refuseHostRoot();
  const prebuild = (): boolean => {
    if (forRequest === null) return prebuildSandbox(parseRunArgs(['/bin/true']));
    if (forRequest.cmd === 'restore') return true;
    try {
      return prebuildSandbox(parseRunArgs(forRequest.argv)); // its own shape, ahead of it
    } catch {
      return true; // bad flags: the run says so
    }
  };
  const build = () => (template !== undefined ? prerestoreTemplate(template) : prebuild());
  // The template's file was replaced since this worker read it (the client's stamp says so).
  let stale = false;
  poolWorkerMain(socket, {
    warm: () => void build(),
    rewarm: build,
    stale: () => stale,
    canContinue: keepsSandboxes,
    // Started by the native front in its own user namespace (serve's default): only what
    // the old path would serve alike; the rest goes to a worker on the old path.
    needsHost: (args, cmd, stamp) => {
      // A template whose file changed is not served from what was read at start: the
      // request goes to a worker that reads the file now, and this one ends (its
      // replacement reads the new image). An unlaunched worker sees the change itself.
      if (cmd === 'restore' && template !== undefined && namesTemplate(args) && !namesTemplate(args, stamp)) stale = launchedInOwnUserNs();
      if (!launchedInOwnUserNs()) return false;
      // Started for one request: that one (the front judged it), and no other.
      if (forRequest !== null) return cmd !== forRequest.cmd || args.length !== forRequest.argv.length || args.some((a, i) => a !== forRequest.argv[i]);
      // An image read by name, as the invoking user (but the template the front opened).
      if (cmd === 'restore') return !(template !== undefined && namesTemplate(args, stamp));
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
