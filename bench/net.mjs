// Network rows of the benchmark (issue 9): an HTTP server and client in one sandbox, and
// one TCP stream each way in network modes host, user and sandbox (over a veth into a
// peer namespace). Each row is a per-op row of run.mjs with, where it needs them:
//   guestArgs(peer)  the client's arguments for that peer (the address it reaches)
//   tssFlags         tssandbox's network flags; runscNet: runsc's --network
//   around(argv)     a wrapper (ip netns exec) for every peer of the row
//   skip(peer)       a reason that peer has no comparable mode (an n/a cell)
//   setup/teardown   the server (a native net_stream) and the namespaces, per row
// Addresses are the documentation range 198.51.100.0/24 in namespaces made here.
import { spawn, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const HOST_PORT = 7431;
const VETH_PORT = 7432;
const SBX = 'tssbench-s';
const PEER = 'tssbench-p';
const SBX_V4 = '198.51.100.1';
const PEER_V4 = '198.51.100.2';
const ip = (...a) => execFileSync('ip', a, { stdio: 'ignore' });

/** A native `net_stream serve PORT` (in namespace ns, or the host's), ready to accept. */
function startServer(bin, port, ns) {
  const argv = ns ? ['ip', 'netns', 'exec', ns, bin, 'serve', String(port)] : [bin, 'serve', String(port)];
  const p = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  let ready = false;
  p.stdout.on('data', (d) => { if (String(d).includes('ready')) ready = true; });
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => {
      if (ready) return resolve(p);
      if (p.exitCode !== null || Date.now() - t0 > 10_000) return reject(new Error('net_stream serve did not start'));
      setTimeout(tick, 5);
    };
    tick();
  });
}

function makePair() {
  dropPair();
  ip('netns', 'add', SBX);
  ip('netns', 'add', PEER);
  ip('-n', SBX, 'link', 'set', 'lo', 'up');
  ip('-n', PEER, 'link', 'set', 'lo', 'up');
  ip('link', 'add', `${SBX}v`, 'netns', SBX, 'type', 'veth', 'peer', 'name', `${PEER}v`, 'netns', PEER);
  ip('-n', PEER, 'addr', 'add', `${PEER_V4}/24`, 'dev', `${PEER}v`);
  ip('-n', PEER, 'link', 'set', `${PEER}v`, 'up');
  ip('-n', SBX, 'link', 'set', `${SBX}v`, 'up');
}

function dropPair() {
  for (const n of [SBX, PEER]) {
    try { ip('netns', 'del', n); } catch { /* not there */ }
  }
}

/**
 * Runs argv in the sandbox namespace, its address put back first: tssandbox's sandbox
 * mode takes the namespace's addresses for itself (as runsc does) and keeps them.
 */
const inSbx = (argv) => ['sh', '-c', `ip -n ${SBX} addr replace ${SBX_V4}/24 dev ${SBX}v && exec ip netns exec ${SBX} "$@"`, 'sh', ...argv];

/**
 * runsc --network=sandbox over the sandbox namespace: `runsc run` of a bundle (the host's
 * root read-only, the namespace by path), started inside that namespace (`around`). This
 * runsc (2022) takes a namespace with /proc/sys/net/core/rmem_default for the root one,
 * and that file is in every namespace on kernels since 5.19 (per-namespace rmem_default),
 * so an empty tmpfs covers it for runsc alone (`ip netns exec` gave it its own mounts).
 */
function runscInSbx(plat, argv) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tssbench-runsc-'));
  const spec = {
    ociVersion: '1.0.2',
    process: { terminal: false, user: { uid: 0, gid: 0 }, args: argv, env: ['PATH=/usr/bin:/bin'], cwd: '/' },
    root: { path: '/', readonly: true },
    mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }, { destination: '/dev', type: 'tmpfs', source: 'tmpfs' }],
    linux: { namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network', path: `/run/netns/${SBX}` }] },
  };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec));
  const id = path.basename(dir);
  return ['sh', '-c', `mount -t tmpfs none /proc/sys/net/core && runsc --network=sandbox --ignore-cgroups --platform=${plat} run --bundle ${dir} ${id}; r=$?; runsc delete -force ${id} 2>/dev/null; rm -rf ${dir}; exit $r`];
}

/** The rows; `ctx.compileGuest(name)` builds a bench guest (static) and returns its path. */
export function netRows(ctx) {
  let server = null;
  const serve = (port, ns) => async () => { server = await startServer(ctx.compileGuest('net_stream'), port, ns); };
  /** Kills the server and waits for its exit (its port is free again). */
  const stop = async () => {
    const p = server;
    server = null;
    if (p === null || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((resolve) => p.once('exit', resolve));
    p.kill('SIGKILL');
    await gone;
  };
  const MiB = { native: 1024, sandbox: 256 };
  const rows = [{
    id: 'http',
    label: 'HTTP GET, server and client in one sandbox (per request)',
    kind: 'per-op',
    guest: 'http_loop', // bench/guests/http_loop.c
    iters: { native: 5_000, sandbox: 500 },
    reps: 3,
  }];
  for (const dir of ['send', 'recv']) {
    const arrow = dir === 'send' ? 'guest → server' : 'server → guest';
    rows.push({
      id: `net-host-${dir}`,
      label: `TCP stream, --network=host, ${arrow} on host loopback (per MiB)`,
      kind: 'per-op',
      guest: 'net_stream',
      guestArgs: () => [dir, '127.0.0.1', String(HOST_PORT)],
      tssFlags: ['--network=host'],
      runscNet: 'host',
      iters: MiB,
      reps: 3,
      setup: serve(HOST_PORT, null),
      teardown: stop,
    }, {
      id: `net-user-${dir}`,
      label: `TCP stream, --network=user, ${arrow} on host loopback (per MiB)`,
      kind: 'per-op',
      guest: 'net_stream',
      // In user mode the gateway's address is the host's loopback.
      guestArgs: (peer) => [dir, peer.tss ? '10.0.2.2' : '127.0.0.1', String(HOST_PORT)],
      tssFlags: ['--network=user'],
      skip: (peer) => (peer.runsc ? 'runsc has no user-mode network (rootless, it falls back to host)' : peer.id === 'proot' ? 'proot has no network of its own' : null),
      iters: MiB,
      reps: 3,
      setup: serve(HOST_PORT, null),
      teardown: stop,
    }, {
      id: `net-veth-${dir}`,
      label: `TCP stream, --network=sandbox over a veth, ${arrow} in a peer netns (per MiB)`,
      kind: 'per-op',
      guest: 'net_stream',
      guestArgs: () => [dir, PEER_V4, String(VETH_PORT)],
      tssFlags: ['--network=sandbox', '--netns', `/run/netns/${SBX}`],
      runscNet: 'sandbox',
      // `runsc do` makes a namespace and veth of its own (192.168.10.2, NATed by iptables
      // rules it installs) instead of serving the one it runs in; a bundle naming ours does.
      runscWrap: runscInSbx,
      around: inSbx,
      iters: MiB,
      reps: 3,
      setup: async () => { makePair(); await serve(VETH_PORT, PEER)(); },
      teardown: async () => { await stop(); dropPair(); },
    });
  }
  return rows;
}
