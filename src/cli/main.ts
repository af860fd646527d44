/**
 * The tssandbox command line: `run` a program in a new sandbox, print the `syscalls`
 * support table. Bad input gets one line on stderr and a non-zero exit, never a trace.
 */
import { parseRunArgs, UsageError, type RunOptions } from './args';
import { printSyscallTable } from './syscall-table';

const VERSION = '0.1.0';

const HELP = `usage: tssandbox <command> [options]

commands:
  run [options] PROGRAM [ARGS...]   run PROGRAM in a new sandbox
  syscalls [--markdown]             print the syscall support table
  --version, --help

run options:
  --root DIR              host directory to show as / (read-only, private overlay; default /)
  --mount SRC:DST[:ro|rw] bind a host directory (rw binds are the only way to write the host)
  --tmpfs DST             mount an empty tmpfs at DST
  --env K=V               set an environment variable (repeatable)
  --clear-env             start from an empty environment instead of the caller's
  --cwd DIR               guest working directory (default: the caller's, if visible)
  --platform ptrace       the platform (only ptrace so far)
  --no-pin                do not pin the Sentry and its stubs to one CPU
  --memory SIZE           cap on the memory all tmpfs data may take (ENOSPC past it), e.g. 256m
  --tmpfs-size SIZE       the same cap (as runsc's overlay size); the smaller of the two wins
  --pids-limit N          at most N guest tasks (threads included) at once (default 16384)
  --strace                print every syscall with decoded arguments, result and time
  --debug                 print the Sentry's own log (unsupported syscalls...)
  -t, --tty               (accepted; the terminal is passed through as is)
  --network MODE          none (default: loopback only), sandbox (the Sentry's TCP/IP stack
                          over --netns's interfaces), host, user
  --netns PATH            network namespace (e.g. /var/run/netns/NAME) whose interfaces
                          sandbox mode takes over (implies --network=sandbox)
  --pcap FILE             write every frame the stack sends and receives (tcpdump -r FILE)
`;

export function main(argv: string[]): void {
  try {
    const cmd = argv[0];
    if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
      process.stdout.write(HELP);
      process.exit(cmd === undefined ? 2 : 0);
    }
    if (cmd === '--version' || cmd === 'version') {
      process.stdout.write(`tssandbox ${VERSION}\n`);
      process.exit(0);
    }
    if (cmd === 'syscalls') {
      printSyscallTable(argv.includes('--markdown'));
      process.exit(0);
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

/** Loads what `run` needs, so the bundle's code cache (scripts/bundle.mjs) covers it. */
export function warm(): void {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  require('./run');
}
