/** Parsing `tssandbox run` flags: everything before the program name is ours. */
import * as os from 'os';

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
  mounts: Array<{ src: string; dst: string; readonly: boolean }>;
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
  /** --pcap FILE: frames the stack sends and receives. */
  pcap: string | null;
  /** --allow-net / --deny-net: CIDR[:PORT] lists. */
  allowNet: string[];
  denyNet: string[];
  /** --dns ADDR (resolv.conf), --hostname NAME. */
  dns: string[];
  hostname: string | null;
  /** --publish HOSTPORT:PORT (user mode). */
  publish: Array<{ hostPort: number; port: number }>;
}

export const NETWORK_MODES = ['none', 'sandbox', 'host', 'user'] as const;

export function parseRunArgs(argv: string[]): RunOptions {
  const o: RunOptions = {
    program: '', args: [], root: '/', mounts: [], tmpfs: [], env: [], clearEnv: false, cwd: null,
    platform: '', pin: true, strace: false, debug: false, tty: false, pidsLimit: 16384, tmpfsLimit: Infinity,
    memoryLimit: Infinity,
    network: 'none', netns: null, pcap: null, allowNet: [], denyNet: [], dns: [], hostname: null, publish: [],
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
      case '--pcap': o.pcap = val(a); break;
      case '--allow-net': o.allowNet.push(...val(a).split(',').filter(Boolean)); break;
      case '--deny-net': o.denyNet.push(...val(a).split(',').filter(Boolean)); break;
      case '--dns': o.dns.push(val(a)); break;
      case '--hostname': o.hostname = val(a); break;
      case '--publish': case '-p': {
        const v = val(a);
        const m = /^(\d+):(\d+)$/.exec(v);
        if (!m || +m[1] > 65535 || +m[2] > 65535 || +m[1] === 0 || +m[2] === 0) throw new UsageError(`--publish wants HOSTPORT:PORT, got '${v}'`);
        o.publish.push({ hostPort: +m[1], port: +m[2] });
        break;
      }
      default:
        throw new UsageError(`unknown flag '${argv[i]}' (try --help)`);
    }
  }
  if (i >= argv.length) throw new UsageError('run: no program given');
  if (o.tmpfsLimit === Infinity) o.tmpfsLimit = defaultTmpfsLimit();
  o.program = argv[i];
  o.args = argv.slice(i + 1);
  if (!o.root.startsWith('/')) throw new UsageError(`--root must be an absolute path, got '${o.root}'`);
  if (o.netns !== null && o.network === 'none') o.network = 'sandbox';
  return o;
}

/** "512k", "64m", "1g" or plain bytes. */
function parseSize(flag: string, v: string): number {
  const m = /^(\d+)([kmgKMG]?)[bB]?$/.exec(v);
  if (!m) throw new UsageError(`${flag} wants a size like 64m or 1g, got '${v}'`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * mult;
}

function parseMount(spec: string): { src: string; dst: string; readonly: boolean } {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) {
    throw new UsageError(`--mount wants SRC:DST[:ro|rw], got '${spec}'`);
  }
  const mode = parts[2] ?? 'rw';
  if (mode !== 'ro' && mode !== 'rw') throw new UsageError(`--mount mode must be ro or rw, got '${mode}'`);
  if (!parts[0].startsWith('/') || !parts[1].startsWith('/')) {
    throw new UsageError(`--mount paths must be absolute, got '${spec}'`);
  }
  return { src: parts[0], dst: parts[1], readonly: mode === 'ro' };
}
