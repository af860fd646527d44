/**
 * The runc-compatible command line: `tssandbox [global flags] COMMAND [flags] ARGS`,
 * as container engines call a runtime. This file dispatches; each command lives in its
 * own file (flags.ts parses). Errors are one line on stderr (and a JSON line in --log
 * when --log-format json), exit status 1.
 */
import { OciError, fail } from './errors';
import { DEFAULT_ROOT, OCI_VERSION } from './state';
import { parseGlobals, setGlobals, logLine, VERSION } from './flags';
import { cmdSpec } from './spec';
import { cmdCreate } from './create';
import { cmdStart, cmdState, cmdKill, cmdDelete } from './lifecycle';
import { cmdList, cmdPs, cmdFeatures, cmdPause, cmdUpdate, cmdEvents } from './manage';
import type { SentryConfine } from './sandbox';

export { VERSION } from './flags';
export type { Globals } from './flags';

/** Commands the OCI command line owns (besides `run`, which `run` shares with the one-program mode). */
export const OCI_COMMANDS = new Set([
  'spec', 'create', 'start', 'state', 'kill', 'delete', 'list', 'ps', 'exec', 'features', 'checkpoint', 'restore',
  'pause', 'resume', 'update', 'events', 'install', '__oci-sentry', '__oci-exec', '__oci-pool',
]);

const HELP = `usage: tssandbox [global flags] COMMAND [flags] ARGS   (the OCI runtime command line)

global flags: --root DIR (default ${DEFAULT_ROOT}), --log FILE, --log-format text|json, --debug,
  --systemd-cgroup (accepted), --rootless true|false|auto, --platform ptrace|systrap, --network none|sandbox

commands:
  spec [--bundle DIR] [--rootless]       write a default config.json
  create [--bundle DIR] [--pid-file F] [--console-socket S] [--preserve-fds N] [--no-pivot] [--no-new-keyring] ID
  start ID                               run the created container's process
  run [create flags] [--detach] [--keep] ID   create + start (+ wait and delete)
  state ID                               the OCI state JSON
  kill [--all] ID [SIGNAL]               signal the container (default SIGTERM)
  delete [--force] ID                    remove a stopped container (--force: kill it first)
  exec [--process F | ARGS] [--detach] [--pid-file F] [--tty] [--console-socket S]
       [--env K=V] [--cwd DIR] [--user UID[:GID]] ID [COMMAND ARGS...]
  list [--format table|json] [--quiet]   the containers under --root
  ps [--format table|json] ID            the container's processes
  features                               what this runtime supports (JSON)
  checkpoint [--image-path DIR] [--leave-running] ID   save the container's sandbox (DIR/checkpoint.img)
  restore [--image-path DIR] [--bundle B] [--detach] [--pid-file F] [--console-socket S] ID   a container from that image
  install [--runtime-name N] [--config F] [--uninstall] [-- RUNTIME ARGS]   register with Docker
`;

/** Entry point; returns the exit status (a promise for commands that wait). */
/** What the command line above hands down (src/cli/main.ts): the Sentry's confinement. */
export interface OciHooks { confine?: SentryConfine }
let hooks: OciHooks = {};

export async function ociMain(argv: string[], h: OciHooks = {}): Promise<number> {
  hooks = h;
  try {
    const { g, rest } = parseGlobals(argv);
    setGlobals(g);
    const cmd = rest[0];
    const args = rest.slice(1);
    switch (cmd) {
      case undefined:
      case '--help':
      case 'help':
        process.stdout.write(HELP);
        return cmd === undefined ? 2 : 0;
      case '--version':
        process.stdout.write(`tssandbox version ${VERSION}\nspec: ${OCI_VERSION}\n`);
        return 0;
      case 'spec': return cmdSpec(args);
      case 'create': return await cmdCreate(g, args, false);
      case 'run': return await cmdCreate(g, args, true);
      case 'start': return cmdStart(g, args);
      case 'state': return cmdState(g, args);
      case 'kill': return cmdKill(g, args);
      case 'delete': return cmdDelete(g, args);
      case 'list': return cmdList(g, args);
      case 'ps': return cmdPs(g, args);
      case 'features': return cmdFeatures(args);
      case 'exec': return await (await import('./exec')).cmdExec(g, args);
      case '__oci-exec': return await (await import('./exec')).execChildMain(args);
      case '__oci-pool': return (await import('./pool')).poolMain(args[0], hooks.confine ?? null);
      case 'install': return (await import('./install')).cmdInstall(args);
      case '__oci-sentry': {
        const { sentryMain } = await import('./sandbox');
        return sentryMain(args[0], hooks.confine ?? null);
      }
      case 'pause':
      case 'resume': return cmdPause(g, args, cmd);
      case 'update': return cmdUpdate(g, args);
      case 'events': return cmdEvents(g, args);
      case 'checkpoint': return (await import('./checkpoint')).cmdCheckpoint(g, args);
      case 'restore': return await (await import('./restore')).cmdRestore(g, args);
      default:
        fail(`unknown command '${cmd}' (try --help)`, 2);
    }
  } catch (e) {
    if (e instanceof OciError) {
      process.stderr.write(`tssandbox: ${e.message}\n`);
      logLine('error', e.message);
      return e.code;
    }
    const msg = (e as Error)?.message ?? String(e);
    process.stderr.write(`tssandbox: internal error: ${msg}\n`);
    logLine('error', `internal error: ${msg}`);
    if (process.env.TSSANDBOX_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
    return 125;
  }
}
