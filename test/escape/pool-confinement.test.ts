// Issue 7, defence in depth: every request a `serve` pool takes runs in a Sentry confined as
// a cold default `run`'s is: an unprivileged uid of its own in its own user and mount
// namespaces, chrooted into an empty directory, no capabilities, its seccomp filter, and
// no host file open but what it was handed. Requests a ready worker cannot serve (another
// sandbox shape, a host file by name, --checkpoint-on, restore) and the workers of
// `serve --template` used to get a root Sentry in the host's namespaces (the old path);
// each is now started through the native front with the request on its command line
// (src/server/pool.ts HostRequest, native/launch_flags.h). The Sentry of each request is
// found from outside (the pool worker holding the client's stdin) and its
// /proc/PID/status read here.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BASE_ENV, GUEST_STUBS, spawnCollect } from '../helpers/run';
import { BIN, FRONT } from '../helpers/paths';
import { kvmLine, stubsOf, stdoutShows } from './stubs';
import { childrenOf, startServer, stopServer, until, type Server } from '../server/pool-helpers';

const isRoot = process.getuid?.() === 0;
const userNs = spawnSync('unshare', ['--user', '--map-root-user', 'true'], { stdio: 'ignore' }).status === 0;
const launched = isRoot && userNs && fs.existsSync(FRONT) && process.env.TSSANDBOX_USERNS !== 'off';
const hostNs = { user: fs.readlinkSync('/proc/self/ns/user'), mnt: fs.readlinkSync('/proc/self/ns/mnt') };

const cleanups: Array<() => void> = [];
afterAll(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

// A root-only directory: the Sentry's own uid can neither enter it nor open what is in it.
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-pool-confine-'));
fs.chmodSync(scratch, 0o700);
cleanups.push(() => fs.rmSync(scratch, { recursive: true, force: true }));
fs.writeFileSync(path.join(scratch, 'secret-name'), 'x');

// A guest that runs until its client goes.
const TICK = ['/bin/sh', '-c', 'while :; do echo tick; sleep 0.2; done'];

function link(p: string): string {
  try {
    return fs.readlinkSync(p);
  } catch {
    return '';
  }
}

/** A pool of one through the native front (as `serve` starts its workers), stopped after f. */
async function withServer(extra: string[], f: (s: Server) => Promise<void>, env: Record<string, string> = {}): Promise<void> {
  const s = await startServer(1, extra, env);
  cleanups.push(() => s.child.kill('SIGKILL'));
  try {
    await f(s);
  } finally {
    await stopServer(s);
  }
}

/** What the host sees of a Sentry. */
interface Seen {
  pid: number;
  uids: number[];
  capEff: bigint;
  seccomp: number;
  userNs: string;
  mntNs: string;
  root: string;
  /** Its fds that are host paths (not pipes, sockets, anon inodes, memfds). */
  files: string[];
}

function seen(pid: number): Seen {
  const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (k: string) => new RegExp(`^${k}:\\s+(.*)$`, 'm').exec(st)![1].trim();
  const files = fs.readdirSync(`/proc/${pid}/fd`).map((fd) => link(`/proc/${pid}/fd/${fd}`)).filter((l) => l.startsWith('/') && !l.startsWith('/memfd:'));
  return {
    pid, uids: field('Uid').split(/\s+/).map(Number), capEff: BigInt(`0x${field('CapEff')}`), seccomp: Number(field('Seccomp')),
    userNs: link(`/proc/${pid}/ns/user`), mntNs: link(`/proc/${pid}/ns/mnt`), root: link(`/proc/${pid}/root`), files,
  };
}

/**
 * Starts `tssandbox ARGV` (a client of the pool) with a pipe as stdin, waits for the
 * guest's `tick`, and finds the request's Sentry: the pool's worker holding that pipe as
 * its fd 0, once it has confined itself (its filter on: the guest runs after that).
 */
async function sentryOf(s: Server, argv: string[]): Promise<{ client: ChildProcess; sentry: Seen }> {
  const client = spawn(process.execPath, [BIN, ...argv], { env: BASE_ENV, stdio: ['pipe', 'pipe', 'pipe'], cwd: scratch });
  let err = '';
  client.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  cleanups.push(() => client.kill('SIGKILL'));
  try {
    await stdoutShows(client, 'tick', 90_000);
  } catch (e) {
    throw new Error(`${(e as Error).message}; stderr: ${err}; server: ${s.stderr()}`);
  }
  const stdin = link(`/proc/${client.pid}/fd/0`);
  expect(stdin).toMatch(/^(pipe|socket):/);
  let pid = 0;
  await until('the request\'s Sentry', () => {
    pid = childrenOf(s.child.pid!).find((w) => link(`/proc/${w}/fd/0`) === stdin) ?? 0;
    return pid !== 0;
  });
  return { client, sentry: seen(pid) };
}

async function end(client: ChildProcess): Promise<void> {
  if (client.exitCode !== null || client.signalCode !== null) return;
  const done = new Promise((r) => client.once('exit', r));
  client.kill('SIGKILL');
  await done;
}

/** Host files a confined Sentry holds: the gofer's (named in its own root), the vDSO, two /proc files read at start, its stdio. */
const ALWAYS = [/^\/\d+\//, /\/build\/Release\/tssandbox-vdso\.so$/, /^\/proc\/(meminfo|stat)$/, /^\/dev\/null$/,
  // kvm's Sentry holds the device the front opened for it (SECURITY.md); the others none.
  ...(GUEST_STUBS ? [] : [/^\/dev\/kvm$/])];

/** The confinement of a cold default `run`, checked on one Sentry; `handed`: host files the request named. */
function expectConfined(s: Seen, handed: Array<string | RegExp> = []): void {
  // One uid per Sentry, unprivileged outside (native/sentry_launch.cc kSentryIdBase).
  expect(s.uids).toEqual([0, 1, 2, 3].map(() => 0x70000000 + s.pid));
  expect(s.userNs).not.toBe(hostNs.user);
  expect(s.mntNs).not.toBe(hostNs.mnt);
  expect(s.capEff).toBe(0n);
  expect(s.seccomp).toBe(2);
  expect(s.root).toMatch(/^\/tmp\/tssandbox-root-.* \(deleted\)$/); // chrooted into an empty directory
  const stray = s.files.filter((f) => !ALWAYS.some((re) => re.test(f)) && !handed.some((h) => (typeof h === 'string' ? h === f : h.test(f))));
  expect(stray).toEqual([]);
}

/** A checkpoint image of TICK in dir (a cold run, SIGUSR2 once it ticks). */
async function checkpointOf(dir: string): Promise<void> {
  const c = spawn(process.execPath, [BIN, 'run', '--checkpoint-on', 'USR2', '--image-path', dir, ...TICK], { env: BASE_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  cleanups.push(() => c.kill('SIGKILL'));
  await stdoutShows(c, 'tick', 90_000);
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGUSR2');
  expect(await exited).toBe(0);
  expect(fs.statSync(path.join(dir, 'checkpoint.img')).size).toBeGreaterThan(0);
}

// Each kind of request a ready worker refuses: its flags, and the host files it names
// (beside what every Sentry holds) that its Sentry may have open.
const KINDS: Array<{ name: string; flags: () => string[]; handed: (pid: number) => Array<string | RegExp> }> = [
  { name: 'a default request (the control: what every other kind must match)', flags: () => [], handed: () => [] },
  {
    name: 'another sandbox shape (--mount of a root-only directory, --tmpfs, --memory): confined',
    flags: () => ['--mount', `${scratch}:/x`, '--tmpfs', '/t', '--memory', '256m'],
    // As a cold `run --memory`: its sandbox cgroup's files (the front made it) and its stubs' statm.
    handed: (pid) => [new RegExp(`^/sys/fs/cgroup/.*/tssandbox-${pid}/memory\\.[a-z_]+$`), /^\/proc\/\d+\/statm$/],
  },
  {
    name: 'a host file by path (--report in a root-only directory): opened by the front, the Sentry confined',
    flags: () => ['--report', path.join(scratch, 'report.json')], handed: () => [path.join(scratch, 'report.json')],
  },
];

describe.skipIf(!launched)('the pool\'s Sentries: every kind of request confined as a default run', () => {
  for (const k of KINDS) {
    it(k.name, async () => {
      await withServer([], async (s) => {
        const { client, sentry } = await sentryOf(s, ['run', '--via', s.socket, ...k.flags(), ...TICK]);
        expectConfined(sentry, k.handed(sentry.pid));
        await end(client);
      });
    }, 180_000);
  }

  it('the mount of a root-only directory is served through the gofer', async () => {
    await withServer([], async (s) => {
      const r = await spawnCollect([process.execPath, BIN, 'run', '--via', s.socket, '--mount', `${scratch}:/x`, '/bin/ls', '/x'], BASE_ENV, { timeoutMs: 90_000 });
      expect(r.stdout, r.stderr).toContain('secret-name');
      expect(r.code, r.stderr).toBe(0);
    });
  }, 180_000);

  it('--checkpoint-on: the image opened by the front, the Sentry confined, the checkpoint written', async () => {
    const dir = path.join(scratch, 'ckpt-via');
    await withServer([], async (s) => {
      const { client, sentry } = await sentryOf(s, ['run', '--via', s.socket, '--checkpoint-on', 'USR2', '--image-path', dir, ...TICK]);
      expectConfined(sentry, [path.join(dir, 'checkpoint.img')]);
      const exited = new Promise((r) => client.once('exit', r));
      client.kill('SIGUSR2'); // passed on to the Sentry, which saves and ends the sandbox
      expect(await exited).toBe(0);
      expect(fs.statSync(path.join(dir, 'checkpoint.img')).size).toBeGreaterThan(0);
    });
  }, 180_000);

  const tpl = path.join(scratch, 'tpl');
  let made: Promise<void> | null = null;
  const image = () => (made ??= checkpointOf(tpl));

  // restore --via: a worker started for it (the image opened by its front); --template: every worker's front opens it.
  for (const [name, extra] of [['restore through the pool', []], ['serve --template', ['--template', tpl]]] as const) {
    it(`${name}: the image read through the front, the Sentry confined`, async () => {
      await image();
      await withServer([...extra], async (s) => {
        const { client, sentry } = await sentryOf(s, ['restore', '--via', s.socket, '--image-path', tpl]);
        // The image, opened read-only by the front, stays open: its pages are mapped from it
        // lazily (src/snapshot/README.md).
        expectConfined(sentry, [path.join(tpl, 'checkpoint.img')]);
        await end(client);
      });
    }, 300_000);
  }
});

// kvm through a pool: `serve` has no --platform of its own; its workers take the platform
// from its environment (TSSANDBOX_PLATFORM=kvm: every worker kvm, its front handing
// /dev/kvm on), and a `--platform kvm` request to a default pool gets a worker started for
// it through the front (HostRequest). Either way: a kvm Sentry (its VM's fds, no stub), and
// confined as a default request, /dev/kvm the one host file more (kvm-confinement.test.ts
// for a cold run).
const kvm = kvmLine();
const kvmWhy = !/^kvm\s+works/.test(kvm) ? kvm.replace(/^kvm\s+/, '') : !launched ? 'the front cannot launch here (needs root and user namespaces)' : '';
describe.skipIf(kvmWhy !== '')(`the pool's kvm Sentries are confined as a default request's${kvmWhy ? ` (skipped: ${kvmWhy})` : ''}`, () => {
  /** Its fds name a KVM VM and vCPU, it has no stub, and it is confined; `handed`: more host files it may hold. */
  const expectKvm = (s: Seen, handed: RegExp[]): void => {
    const anon = fs.readdirSync(`/proc/${s.pid}/fd`).map((fd) => link(`/proc/${s.pid}/fd/${fd}`));
    expect(anon).toContain('anon_inode:kvm-vm');
    expect(anon).toContain('anon_inode:kvm-vcpu:0');
    expect(stubsOf(s.pid)).toEqual([]);
    expectConfined(s, ['/dev/kvm', ...handed]);
  };
  // As a cold `run --memory`: its sandbox cgroup's files, which the front made.
  const cgroupFiles = (pid: number) => [new RegExp(`^/sys/fs/cgroup/.*/tssandbox-${pid}/memory\\.[a-z_]+$`)];
  const kinds: Array<[string, string[], Record<string, string>]> = [
    ['serve with TSSANDBOX_PLATFORM=kvm: a ready worker\'s request', [], { TSSANDBOX_PLATFORM: 'kvm' }],
    ['serve with TSSANDBOX_PLATFORM=kvm: another shape (--memory), a worker started for it', ['--memory', '256m'], { TSSANDBOX_PLATFORM: 'kvm' }],
    // (It used to be served by a ready worker on the default platform, --platform ignored.)
    ['a --platform kvm request to a default pool: a worker started for it, on kvm', ['--platform', 'kvm'], {}],
  ];
  for (const [name, flags, env] of kinds) {
    it(name, async () => {
      await withServer([], async (s) => {
        const { client, sentry } = await sentryOf(s, ['run', '--via', s.socket, ...flags, ...TICK]);
        expectKvm(sentry, flags.includes('--memory') ? cgroupFiles(sentry.pid) : []);
        await end(client);
      }, env);
    }, 180_000);
  }
});
