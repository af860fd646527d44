/**
 * A pool member (`tssandbox __oci-pool ROOT`): a Sentry process started before any
 * container asks for it, so a container's `create` has no Node start-up on its path.
 * The native entry (native/oci_pool.c) starts one after each create when none is
 * ready; it loads everything a Sentry needs, then listens on `<root>/.pool/PID.sock`
 * and waits. A create claims it (renames the socket), and the member becomes that one
 * container's Sentry, as `__oci-sentry` would be, then is gone with it: never reused.
 *
 * What it holds before the claim: nothing of any container (its stdio are dead pipes,
 * its environment and namespaces the spawner's, which create checks are its own, else
 * it steps aside and create runs the usual way). It is confined at `start` exactly as
 * `__oci-sentry` is. It is no container: `list` and `state` read only `<root>/<id>/
 * state.json`. With no claim within TSSANDBOX_OCI_POOL_IDLE seconds (default 60), or
 * once its directory is removed, it exits.
 *
 * The container's pid is the front create forks (oci_pool.c), not this process: engines
 * reap it as a descendant of theirs. The front passes signals here and exits with our
 * status (written on the socket pair at exit); if it is killed, `ociWatchFront` ends us.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ociNative } from './native';
import { ServerConn, closeFd } from './control';
import { OciError } from './errors';
import { ContainerSentry, type PoolLink, type SentryConfine } from './sandbox';
import { containerNetns, poolBegin, type Begun } from './create';
import { defaultSpec } from './spec';
import { logLine } from './flags';
import { warmValidator } from './bundle';
import { createVfs } from '../../fs/rootfs/create';
import { Kernel } from '../kernel/kernel';
import { runHooks, startHook, type RunningHook } from './hooks';
import { publicState } from './state';
import { warmGuest } from './warm-guest';
import { joinSandboxCgroup } from './resources';

const POLLIN = 1;

interface Request {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  ns: Record<string, number>;
  nullFds: number[];
  preserve: number;
}

function rm(p: string): boolean {
  try {
    fs.unlinkSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Polls until conn has a complete line, or the deadline passes (null). */
function nextLine(conn: ServerConn, ms: number): { msg: Record<string, unknown>; fds: number[] } | null {
  const n = ociNative();
  const fds = new Int32Array([conn.fd]), ev = new Int32Array([POLLIN]), rev = new Int32Array(1);
  const end = Date.now() + ms;
  while (!conn.closed && Date.now() < end) {
    const lines = conn.read();
    if (lines.length) return lines[0];
    n.hostPoll(fds, ev, rev, 1, Math.max(1, end - Date.now()));
  }
  return null;
}

/** The variables that change what a Sentry does: the client's and ours must agree. */
function sameEnv(theirs: Record<string, string>): boolean {
  const ours = Object.entries(process.env).filter(([k]) => k.startsWith('TSSANDBOX_') || k === 'NODE_OPTIONS');
  if (ours.length !== Object.keys(theirs).length) return false;
  return ours.every(([k, v]) => theirs[k] === v);
}

function sameNamespaces(ns: Record<string, number>): boolean {
  return ['mnt', 'pid', 'user'].every((k) => {
    try {
      return fs.statSync(`/proc/self/ns/${k}`).ino === ns[k];
    } catch {
      return false;
    }
  });
}

/**
 * Runs, once, the code every create runs (V8 compiles a function at its first call:
 * ~20 ms of a create under load): the config validator on a spec of our own, and a
 * sandbox file tree over an empty directory of ours, without a Gofer. Nothing of it is
 * kept: the tree is dropped, the directory removed.
 */
function warmUp(dir: string): void {
  const empty = path.join(dir, `${process.pid}.warm`);
  try {
    warmValidator(defaultSpec(false));
    fs.mkdirSync(empty);
    createVfs({ root: empty, gofer: false, kernel: new Kernel() });
  } catch {
    // a warm-up only
  } finally {
    fs.rmSync(empty, { recursive: true, force: true });
  }
  // Guest code too: a container's first syscalls no longer compile their handlers.
  // TSSANDBOX_OCI_WARM_GUEST=0 leaves it out (the bench's before/after).
  // Not when a create waits for this member (it found none: native/oci_pool.c startAndClaim).
  const t = performance.now();
  const r = process.env.TSSANDBOX_OCI_WARM_GUEST === '0' ? 'off' : awaited(dir) ? 'left out (a create waits)' : warmGuest();
  warmed = typeof r === 'number' ? `guest warm-up exited ${r} in ${(performance.now() - t).toFixed(1)} ms` : `guest warm-up: ${r}`;
}

/** Whether a live create waits for a member (its PID.want in the pool directory). */
function awaited(dir: string): boolean {
  try {
    return fs.readdirSync(dir).some((f) => f.endsWith('.want') && pidAlive(Number(f.slice(0, -5))));
  } catch {
    return false;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return pid > 0;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** How the guest warm-up went, for the --debug log at the claim. */
let warmed = '';

/** Waits for a claim; the connection, or null (idle, or the pool directory gone). */
function waitForClaim(dir: string): ServerConn | null {
  const n = ociNative();
  const idleMs = Number(process.env.TSSANDBOX_OCI_POOL_IDLE ?? 60) * 1000;
  const sock = path.join(dir, `${process.pid}.sock`);
  const fresh = path.join(dir, `${process.pid}.new`);
  warmUp(dir);
  const listenFd = n.ociListen(fresh);
  rm(path.join(dir, `${process.pid}.starting`));
  if (listenFd < 0) return null;
  // Ready only now: the name creates look for appears at once, listening.
  try {
    fs.renameSync(fresh, sock);
  } catch {
    closeFd(listenFd);
    return null; // the pool directory is gone
  }
  const fds = new Int32Array([listenFd]), ev = new Int32Array([POLLIN]), rev = new Int32Array(1);
  let deadline = Date.now() + idleMs;
  let leaving = false;
  for (;;) {
    n.hostPoll(fds, ev, rev, 1, 1000);
    const fd = n.ociAccept(listenFd);
    if (fd >= 0) {
      closeFd(listenFd);
      return new ServerConn(fd);
    }
    if (leaving && Date.now() > deadline) break;
    if (!leaving && (Date.now() > deadline || !fs.existsSync(dir))) {
      // Our name removed by us: no create can claim us any more. Already renamed: a
      // create has claimed us and is connecting; serve it.
      if (rm(sock)) break;
      leaving = true;
      deadline = Date.now() + 5000;
    }
  }
  closeFd(listenFd);
  return null;
}

export function poolMain(root: string, confine: SentryConfine | null): number {
  const dir = path.join(root, '.pool');
  // The host cgroup made and joined now (its reaper removes it if no claim comes): a v1
  // join waits out an RCU grace period (~10 ms, more under load), off create's path now.
  const pre = joinSandboxCgroup(undefined);
  const cgroup = typeof pre === 'string' ? null : pre;
  const conn = waitForClaim(dir);
  if (conn === null) return 0;
  const marks: Array<[string, number]> = [['claimed', performance.now()]];
  const first = nextLine(conn, 10_000);
  if (first === null) return 0;
  const req = first.msg as unknown as Request;
  const [clientNetns, ...given] = first.fds;
  if (!sameEnv(req.env ?? {}) || !sameNamespaces(req.ns ?? {})) {
    conn.send({ retry: true });
    return 0;
  }
  const n = ociNative();
  const nullFds: number[] = (req.nullFds ?? []).filter((i) => i === 0 || i === 1 || i === 2);
  let begun: Begun | null = null;
  try {
    process.chdir(req.cwd);
    // The container's stdio at 0..2, as __oci-sentry has it; the host's /dev/null
    // indices keep our dead pipes (stdio.ts).
    let k = 0;
    for (let fd = 0; fd < 3; fd++) {
      if (nullFds.includes(fd)) continue;
      const h = given[k++];
      if (h === undefined || n.ociDup2(h, fd) < 0) throw new OciError('cannot take the container\'s stdio');
      closeFd(h);
    }
    const preserveHostFds = given.slice(k, k + (req.preserve ?? 0));
    marks.push(['request read', performance.now()]);
    begun = poolBegin(req.argv, nullFds);
    marks.push(['bundle and state directory', performance.now()]);
    begun.init.preserveHostFds = preserveHostFds;
    begun.init.syncFd = -1;
    process.title = `tssandbox __oci-sentry ${begun.st.dir}`;
    // The Sentry's main thread in the container's network namespace, before the Gofer
    // and the stub are forked from it (as nsenter/unshare put __oci-sentry there).
    const ns = containerNetns(begun.bundle.config);
    let r = 0;
    if (ns === 'host') r = n.ociEnterNetns(clientNetns);
    else if (ns === 'new') r = n.ociEnterNetns(-1);
    else {
      const fd = fs.openSync(ns, 'r');
      r = n.ociEnterNetns(fd);
      closeFd(fd);
    }
    if (r < 0) throw new OciError(`cannot enter the container's network namespace (errno ${-r})`);
    marks.push(['network namespace', performance.now()]);
  } catch (e) {
    const msg = e instanceof OciError ? e.message : `internal error: ${(e as Error)?.message ?? e}`;
    logLine('error', msg);
    conn.send({ ok: false, error: msg });
    return 1;
  } finally {
    closeFd(clientNetns);
  }
  const { st, init } = begun;
  let frontPid = 0;
  const askFront = (): number => {
    const nsFd = fs.openSync('/proc/self/ns/net', 'r');
    conn.send({ front: process.pid }, [nsFd]);
    closeFd(nsFd);
    const got = nextLine(conn, 10_000);
    const pid = Number(got?.msg.pid);
    const sp = got?.fds[0];
    if (!(pid > 0) || sp === undefined) {
      st.remove();
      process.exit(1);
    }
    // Our status for the front, whatever ends us; its end closing ends us.
    process.on('exit', (code) => {
      try {
        fs.writeSync(sp, `${code}\n`);
      } catch {
        // the front is gone
      }
    });
    n.ociWatchFront(sp);
    return pid;
  };
  // The first prestart hook runs while the sandbox is built: Docker's (libnetwork-setkey,
  // its own binary starting) takes longer than the build. It needs only the container's
  // pid, which the front is (in the container's network namespace already), and it can
  // see nothing of the build: the sandbox's mounts live in this process. The rest of the
  // hooks run after it, in the spec's order, once the sandbox is built.
  const hooks = init.config.hooks ?? {};
  let early: RunningHook | null = null;
  if (hooks.prestart?.length) {
    frontPid = askFront();
    early = startHook('prestart', hooks.prestart[0], { ...publicState(st.read()), pid: frontPid }, st.dir);
    marks.push(['front and prestart hook started', performance.now()]);
  }
  const link: PoolLink = {
    cgroup,
    front(): number {
      if (frontPid === 0) frontPid = askFront();
      return frontPid;
    },
    report(line: string): void {
      let err = line === 'ok' ? null : line.replace(/^error: /, '');
      if (err !== null) early?.kill();
      if (err === null && early) {
        err = early.wait();
        sentry.note(`prestart hook done at ${performance.now().toFixed(1)} ms`);
      }
      if (err === null && !sentry.confined) {
        const state = publicState(st.read());
        err = runHooks('prestart', hooks.prestart?.slice(1), state) ?? runHooks('createRuntime', hooks.createRuntime, state) ??
          runHooks('createContainer', hooks.createContainer, state);
        sentry.note(`hooks done at ${performance.now().toFixed(1)} ms`);
      }
      // Confined now if not yet, before create returns (the hooks were the last host
      // programs); the network a hook configured taken over (by the helper, if confined).
      if (err === null) err = sentry.settle();
      if (err === null) {
        st.unlock();
        conn.send({ ok: true });
        conn.close();
        return;
      }
      logLine('error', err);
      // Confined (before the image was read), we can remove no path: create does.
      // The host cgroup too: create removes it (and its reaper) before it returns, as delete does.
      const cgroup = sentry.hostCgroup ?? undefined;
      if (sentry.confined) conn.send({ ok: false, error: err, leftover: true, cgroup });
      else {
        st.remove();
        conn.send({ ok: false, error: err, cgroup });
      }
      process.exit(1);
    },
  };
  const sentry = new ContainerSentry(init, confine, link);
  marks.push(['Sentry made', performance.now()]);
  sentry.note(`pool member: ${warmed}; ${marks.map(([m, t]) => `${m} at ${t.toFixed(1)} ms`).join(', ')}`);
  return sentry.main();
}
