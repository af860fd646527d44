/**
 * The tssandbox command line: `run` a program in a new sandbox, print the `syscalls`
 * support table. Bad input gets one line on stderr and a non-zero exit, never a trace.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseRunArgs, UsageError, type RunOptions } from './args';
import { printSyscallTable } from './syscall-table';
import { CI_HELP } from '../policy/help';
import { isPlainRestore, viaCommand } from './via';

const VERSION = '0.1.0';

const HELP = `usage: tssandbox <command> [options]

commands:
  run [options] PROGRAM [ARGS...]   run PROGRAM in a new sandbox
  syscalls [--markdown]             print the syscall support table
  serve --socket PATH [--pool N] [--max-memory SIZE] [--template DIR] [--reuse N]
                                    keep N ready sandboxes for \`run --via PATH\` (src/server)
  restore --image-path DIR [--via PATH]
                                    resume a sandbox saved by \`run --checkpoint-on\`
  platforms                         list the platforms, whether each works here (and why not)
  spec|create|start|state|kill|delete|run --bundle|exec|ps|list|features|install
                                    the OCI runtime command line (tssandbox help oci)
  --version, --help

run options:
  --root DIR              host directory to show as / (read-only, private overlay; default /)
  --mount SRC:DST[:ro|rw] bind a host directory (rw binds are the only way to write the host)
          [:cache=shared|exclusive]  shared (default): host changes are seen within 100 ms
                                     (new files at once);
                                     exclusive: only the sandbox changes it, cache everything
  --tmpfs DST             mount an empty tmpfs at DST
  --env K=V               set an environment variable (repeatable)
  --clear-env             start from an empty environment instead of the caller's
  --cwd DIR               guest working directory (default: the caller's, if visible)
  --platform NAME         systrap, ptrace or kvm (kvm: slow on nested hosts); default: the fastest
                          that works here (tssandbox platforms), or $TSSANDBOX_PLATFORM
  --no-pin                ptrace: do not pin the Sentry and its stubs to one CPU
  --memory SIZE           guest memory limit, e.g. 256m: anonymous memory (ENOMEM at mmap, the
                          OOM killer's SIGKILL at touch time) and tmpfs data (ENOSPC)
  --tmpfs-size SIZE       cap on tmpfs data only (default: half the host's RAM)
  --pids-limit N          at most N guest tasks (threads included) at once (default 16384)
  --strace                print every syscall with decoded arguments, result and time
  --debug                 print the Sentry's own log (unsupported syscalls...)
  -t, --tty               (accepted; the terminal is passed through as is)
  --network MODE          none (default: loopback only), sandbox (the Sentry's TCP/IP stack
                          over --netns's interfaces), host (host sockets held by the Sentry),
                          user (unprivileged outbound networking through a NAT gateway)
  --publish H:P[/udp]     host port H to the guest's port P (user and sandbox modes)
  --dns ADDR              nameserver in the guest's /etc/resolv.conf (repeatable)
  --hostname NAME         the guest's host name (uname, /etc/hosts)
  --allow-net/--deny-net CIDR[:PORT],...  where the guest may connect (ECONNREFUSED otherwise)
  --netns PATH            network namespace (e.g. /var/run/netns/NAME) whose interfaces
                          sandbox mode takes over (implies --network=sandbox)
  --tap NAME              a TAP device (in --netns's namespace, or this one) as the sandbox's
                          interface, its addresses taken over (implies --network=sandbox)
  --pcap FILE             write every frame the stack sends and receives (tcpdump -r FILE)
  --via SOCKET            run in a ready sandbox of \`tssandbox serve --socket SOCKET\`
  --checkpoint-on SIGNAL --image-path DIR
                          on SIGNAL (USR1, USR2, HUP, INT, QUIT, TERM) save the sandbox in DIR
                          and exit 0; \`tssandbox restore --image-path DIR\` runs it on
${CI_HELP}`;

/** The OCI runtime command line (src/oci): its commands, and the global flags engines put first. */
const OCI_COMMANDS = new Set(['spec', 'create', 'start', 'state', 'kill', 'delete', 'list', 'ps', 'exec', 'features',
  'checkpoint', 'restore', 'pause', 'resume', 'update', 'events', 'install', '__oci-sentry', '__oci-exec', '__oci-pool']);
const OCI_GLOBAL = /^--?(root|log|log-format|debug|systemd-cgroup|rootless|criu|platform|network)(=|$)/;
/** Flags only the OCI `run` has: `run --bundle B ID` is the runtime's, `run ./prog` the one-program mode. */
const OCI_RUN_FLAG = /^--?(bundle|b|detach|d|pid-file|console-socket|no-pivot|no-new-keyring|preserve-fds|keep|no-subreaper)(=|$)/;

function isOci(argv: string[]): boolean {
  const cmd = argv[0];
  if (cmd === undefined) return false;
  if (OCI_COMMANDS.has(cmd) || OCI_GLOBAL.test(cmd)) return true;
  if (cmd === 'run') {
    for (const a of argv.slice(1)) {
      if (!a.startsWith('-')) break;
      if (OCI_RUN_FLAG.test(a)) return true;
    }
  }
  return false;
}

export function main(argv: string[]): void {
  if (argv[0] === 'restore' && isPlainRestore(argv.slice(1))) {
    // `restore --via SOCKET --image-path DIR`: resumed in a ready Sentry of a warm pool.
    if (viaCommand(argv)) return;
    // `restore --image-path DIR` (no container id): a checkpointed `run` (src/snapshot).
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      process.exit((require('./restore') as typeof import('./restore')).restoreMain(argv.slice(1)));
    } catch (e) {
      process.stderr.write(`tssandbox: ${(e as Error)?.message ?? e}\n`);
      process.exit(e instanceof UsageError ? 2 : 125);
    }
  }
  if (isOci(argv)) {
    // Loaded only for the OCI commands: `run PROGRAM` never pays for it.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { ociMain } = require('../oci/cli') as typeof import('../oci/cli');
    // The OCI Sentry confines itself as run's does (src/oci is below src/cli: handed down).
    ociMain(argv, { confine: (require('./confine') as typeof import('./confine')).confineSentry }).then((code) => process.exit(code), (e) => {
      process.stderr.write(`tssandbox: internal error: ${(e as Error)?.message ?? e}\n`);
      process.exit(125);
    });
    return;
  }
  try {
    const cmd = argv[0];
    if (cmd === undefined || cmd === '--help' || cmd === '-h' || (cmd === 'help' && argv[1] !== 'oci')) {
      process.stdout.write(HELP);
      process.exit(cmd === undefined ? 2 : 0);
    }
    if (cmd === '--version' || cmd === 'version') {
      process.stdout.write(`tssandbox ${VERSION}\n`);
      process.exit(0);
    }
    if (cmd === 'help' && argv[1] === 'oci') {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      (require('../oci/cli') as typeof import('../oci/cli')).ociMain(['--help']).then((c) => process.exit(c === 2 ? 0 : c));
      return;
    }
    if (cmd === 'syscalls') {
      printSyscallTable(argv.includes('--markdown'));
      process.exit(0);
    }
    if (cmd === 'platforms') {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      process.exit((require('./platforms') as typeof import('./platforms')).platformsCommand());
    }
    if (cmd === 'serve' || cmd === '__pool-worker' || (cmd === 'run' && argv.some((a) => a === '--via' || a.startsWith('--via=')))) {
      if (serverCommand(argv)) return;
    }
    if (cmd === 'run') {
      const opts = parseRunArgs(argv.slice(1));
      // Loaded only for `run`: keeps `--help` and `syscalls` free of the native addon.
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const { runSandbox } = require('./run') as typeof import('./run');
      process.exit(runSandbox(opts));
    }
    throw new UsageError(`unknown command '${cmd}' (try --help)`);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`tssandbox: ${e.message}\n`);
      process.exit(2);
    }
    const msg = (e as Error)?.message ?? String(e);
    process.stderr.write(`tssandbox: internal error: ${msg}\n`);
    if (process.env.TSSANDBOX_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
    process.exit(125);
  }
}

export type { RunOptions };

/**
 * The warm pool (src/server): `serve`, its workers (`__pool-worker SOCKET`, each runs
 * one `run` as below), and `run --via`. False when `run` has no --via after all.
 */
function serverCommand(argv: string[]): boolean {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const server = require('../server/index') as typeof import('../server/index');
  if (argv[0] === 'serve') {
    let o;
    try {
      o = server.parseServeArgs(argv.slice(1));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    // Workers through the native front (the Sentry in a user namespace of its own, as a
    // cold `run`'s), on this Node; Node flags (debugging) keep Node on the entry script.
    const front = path.join(path.dirname(path.resolve(process.argv[1])), '..', 'build', 'Release', 'tssandbox');
    if (process.execArgv.length === 0 && fs.existsSync(front)) server.serveMain(o, [front], { ...process.env, TSSANDBOX_NODE: process.execPath });
    else server.serveMain(o, [process.execPath, ...process.execArgv, process.argv[1]]);
    return true;
  }
  if (argv[0] === '__pool-worker') {
    // Warmed up: the code loaded and a sandbox built for the default flags (Gofer, VFS,
    // stub), or with `--template DIR` that checkpoint restored up to its resume.
    (require('./pool-worker') as typeof import('./pool-worker')).poolWorker(argv.slice(1));
    return true;
  }
  return viaCommand(argv);
}

/** Loads what `run` needs, so the bundle's code cache (scripts/bundle.mjs) covers it. */
export function warm(): void {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  require('./run');
}
