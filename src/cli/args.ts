/** Parsing `tssandbox run` flags: everything before the program name is ours. */
import * as os from 'os';
import { emptyCiFlags, parseCiFlag, type CiFlags } from '../policy/flags';
import { emptyDetFlags, parseDetFlag, type DetFlags } from '../determinism/flags';

export class UsageError extends Error {}

/**
 * tmpfs data (the overlay's upper layer, /dev/shm, --tmpfs, memfds) without --memory or
 * --tmpfs-size: half of the host's RAM, Linux's default size of a tmpfs mount (Docker's
 * /dev/shm is 64 MiB, gVisor's overlay upper is bounded by the sandbox's memory).
 */
export function defaultTmpfsLimit(): number {
  return Math.floor(os.totalmem() / 2 / 4096) * 4096;
}

export interface RunOptions {
  program: string;
  args: string[];
  root: string;
  mounts: Array<{ src: string; dst: string; readonly: boolean; cache?: 'shared' | 'exclusive' }>;
  tmpfs: string[];
  env: string[];
  clearEnv: boolean;
  cwd: string | null;
  platform: string;
  pin: boolean;
  strace: boolean;
  debug: boolean;
  tty: boolean;
  pidsLimit: number;
  /** Bytes tmpfs data may take in all (--memory / --tmpfs-size); default defaultTmpfsLimit(). */
  tmpfsLimit: number;
  /** Bytes of guest memory (--memory): anonymous and private memory and tmpfs; Infinity if unset. */
  memoryLimit: number;
  /** --network: none (loopback only), sandbox (the stack over --netns's interfaces), host, user. */
  network: 'none' | 'sandbox' | 'host' | 'user';
  /** --netns PATH: the network namespace whose interfaces sandbox mode takes over. */
  netns: string | null;
  /** --tap NAME: a TAP device as the sandbox's interface (implies --network=sandbox). */
  tap: string | null;
  /** --pcap FILE: frames the stack sends and receives. */
  pcap: string | null;
  /** --allow-net / --deny-net: CIDR[:PORT] lists. */
  allowNet: string[];
  denyNet: string[];
  /** --dns ADDR (resolv.conf), --hostname NAME. */
  dns: string[];
  hostname: string | null;
  /** --publish HOSTPORT:PORT[/tcp|udp] (user and sandbox modes). */
  publish: Array<{ hostPort: number; port: number; proto: 'tcp' | 'udp' }>;
  /** Limits, policy, report (src/policy/flags.ts). */
  ci: CiFlags;
  /** --via SOCKET: run in a ready Sentry of a warm pool (`tssandbox serve`, src/server). */
  via: string | null;
  /** --checkpoint-on SIGNAL (a number) with --image-path DIR: save the sandbox there on SIGNAL (src/snapshot). */
  checkpointOn: number | null;
  imagePath: string | null;
  /** --deterministic, --record, --replay (src/determinism/flags.ts). */
  det: DetFlags;
}

/** Signals the CLI catches and may checkpoint on. */
export const CHECKPOINT_SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGUSR1: 10, SIGUSR2: 12, SIGTERM: 15 };

function parseCheckpointSignal(v: string): number {
  const name = /^[0-9]+$/.test(v) ? Object.keys(CHECKPOINT_SIGNALS).find((k) => CHECKPOINT_SIGNALS[k] === Number(v)) : (v.toUpperCase().startsWith('SIG') ? v.toUpperCase() : `SIG${v.toUpperCase()}`);
  const n = name ? CHECKPOINT_SIGNALS[name] : undefined;
  if (n === undefined) throw new UsageError(`--checkpoint-on wants one of ${Object.keys(CHECKPOINT_SIGNALS).join(', ')}, got '${v}'`);
  return n;
}

export const NETWORK_MODES = ['none', 'sandbox', 'host', 'user'] as const;

export function parseRunArgs(argv: string[]): RunOptions {
  const o: RunOptions = {
    program: '', args: [], root: '/', mounts: [], tmpfs: [], env: [], clearEnv: false, cwd: null,
    platform: '', pin: true, strace: false, debug: false, tty: false, pidsLimit: 16384, tmpfsLimit: Infinity,
    memoryLimit: Infinity,
    network: 'none', netns: null, tap: null, pcap: null, allowNet: [], denyNet: [], dns: [], hostname: null, publish: [], via: null,
    checkpointOn: null, imagePath: null,
    ci: emptyCiFlags(),
    det: emptyDetFlags(),
  };
  let i = 0;
  const value = (flag: string): string => {
    const v = argv[++i];
    if (v === undefined) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  for (; i < argv.length; i++) {
    let a = argv[i];
    let inline: string | undefined;
    if (a.startsWith('--') && a.includes('=')) {
      inline = a.slice(a.indexOf('=') + 1);
      a = a.slice(0, a.indexOf('='));
    }
    const val = (flag: string) => (inline !== undefined ? inline : value(flag));
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    switch (a) {
      case '--root': o.root = val(a); break;
      case '--mount': o.mounts.push(parseMount(val(a))); break;
      case '--tmpfs': {
        const dst = val(a);
        if (!dst.startsWith('/')) throw new UsageError(`--tmpfs wants an absolute path, got '${dst}'`);
        o.tmpfs.push(dst);
        break;
      }
      case '--env': case '-e': {
        const kv = val(a);
        if (!kv.includes('=')) throw new UsageError(`--env wants K=V, got '${kv}'`);
        o.env.push(kv);
        break;
      }
      case '--clear-env': o.clearEnv = true; break;
      case '--cwd': case '-w': o.cwd = val(a); break;
      case '--platform': {
        o.platform = val(a); // checked by src/cli/platforms.ts (resolvePlatform)
        break;
      }
      case '--no-pin': o.pin = false; break;
      case '--memory': {
        const n = parseSize(a, val(a));
        o.memoryLimit = Math.min(o.memoryLimit, n);
        o.ci.limits.memory = o.memoryLimit;
        o.tmpfsLimit = Math.min(o.tmpfsLimit, n);
        break;
      }
      case '--tmpfs-size':
        o.tmpfsLimit = Math.min(o.tmpfsLimit, parseSize(a, val(a)));
        break;
      case '--pids-limit': {
        const v = val(a);
        const n = Number(v);
        if (!/^[0-9]+$/.test(v) || n < 1) throw new UsageError(`--pids-limit wants a positive number, got '${v}'`);
        o.pidsLimit = n;
        o.ci.limits.pids = n;
        break;
      }
      case '--strace': o.strace = true; break;
      case '--debug': o.debug = true; break;
      case '-t': case '--tty': o.tty = true; break;
      case '--network': case '--net': {
        const v = val(a);
        if (!(NETWORK_MODES as readonly string[]).includes(v)) throw new UsageError(`--network: unknown mode '${v}' (modes: ${NETWORK_MODES.join(', ')})`);
        o.network = v as RunOptions['network'];
        break;
      }
      case '--netns': o.netns = val(a); break;
      case '--tap': o.tap = val(a); break;
      case '--pcap': o.pcap = val(a); break;
      case '--allow-net': o.allowNet.push(...val(a).split(',').filter(Boolean)); break;
      case '--deny-net': o.denyNet.push(...val(a).split(',').filter(Boolean)); break;
      case '--dns': o.dns.push(val(a)); break;
      case '--hostname': o.hostname = val(a); break;
      case '--via': o.via = val(a); break;
      case '--checkpoint-on': o.checkpointOn = parseCheckpointSignal(val(a)); break;
      case '--image-path': o.imagePath = val(a); break;
      case '--publish': case '-p': {
        const v = val(a);
        const m = /^(\d+):(\d+)(?:\/(tcp|udp))?$/.exec(v);
        if (!m || +m[1] > 65535 || +m[2] > 65535 || +m[1] === 0 || +m[2] === 0) throw new UsageError(`--publish wants HOSTPORT:PORT[/tcp|udp], got '${v}'`);
        o.publish.push({ hostPort: +m[1], port: +m[2], proto: (m[3] ?? 'tcp') as 'tcp' | 'udp' });
        break;
      }
      default: {
        let ours: boolean;
        try {
          ours = parseCiFlag(o.ci, a, () => val(a), inline);
        } catch (e) {
          throw e instanceof UsageError ? e : new UsageError((e as Error).message);
        }
        if (!ours) {
          try { ours = parseDetFlag(o.det, a, () => val(a), inline); } catch (e) { throw new UsageError((e as Error).message); }
        }
        if (!ours) throw new UsageError(`unknown flag '${argv[i]}' (try --help)`);
      }
    }
  }
  if (i >= argv.length) throw new UsageError('run: no program given');
  if (o.tmpfsLimit === Infinity) o.tmpfsLimit = defaultTmpfsLimit();
  o.program = argv[i];
  o.args = argv.slice(i + 1);
  if (!o.root.startsWith('/')) throw new UsageError(`--root must be an absolute path, got '${o.root}'`);
  if ((o.netns !== null || o.tap !== null) && o.network === 'none') o.network = 'sandbox';
  if ((o.checkpointOn === null) !== (o.imagePath === null)) throw new UsageError('--checkpoint-on and --image-path go together');
  if (o.checkpointOn !== null && o.network !== 'none') throw new UsageError('--checkpoint-on: only with --network none (sockets are not saved yet)');
  if (o.checkpointOn !== null && o.tty) throw new UsageError('--checkpoint-on: not with -t (the console is not saved yet)');
  return o;
}

/** "512k", "64m", "1g" or plain bytes. */
function parseSize(flag: string, v: string): number {
  const m = /^(\d+)([kmgKMG]?)[bB]?$/.exec(v);
  if (!m) throw new UsageError(`${flag} wants a size like 64m or 1g, got '${v}'`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * mult;
}

function parseMount(spec: string): { src: string; dst: string; readonly: boolean; cache?: 'shared' | 'exclusive' } {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 4 || !parts[0] || !parts[1]) {
    throw new UsageError(`--mount wants SRC:DST[:ro|rw][:cache=shared|exclusive], got '${spec}'`);
  }
  let mode = 'rw';
  let cache: 'shared' | 'exclusive' | undefined;
  for (const [i, opt] of parts.slice(2).entries()) {
    const c = /^cache=(.*)$/.exec(opt);
    if (c) {
      if (c[1] !== 'shared' && c[1] !== 'exclusive') throw new UsageError(`--mount cache must be shared or exclusive, got '${c[1]}'`);
      cache = c[1];
    } else if (i === 0) {
      mode = opt;
    } else {
      throw new UsageError(`--mount wants SRC:DST[:ro|rw][:cache=shared|exclusive], got '${spec}'`);
    }
  }
  if (mode !== 'ro' && mode !== 'rw') throw new UsageError(`--mount mode must be ro or rw, got '${mode}'`);
  if (!parts[0].startsWith('/') || !parts[1].startsWith('/')) {
    throw new UsageError(`--mount paths must be absolute, got '${spec}'`);
  }
  return { src: parts[0], dst: parts[1], readonly: mode === 'ro', ...(cache ? { cache } : {}) };
}
