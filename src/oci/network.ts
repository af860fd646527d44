/**
 * The container's network. The Sentry lives in the container's network namespace (the
 * launcher in cli.ts joins linux.namespaces' path or makes a new one); in mode
 * "sandbox" the Sentry's own stack takes that namespace over once create's hooks have
 * run, as `run --network=sandbox --netns` does (src/net/setup.ts): every Ethernet
 * interface in it is opened with AF_PACKET and its addresses and routes move into the
 * stack. After the hooks: engines configure the namespace in them (Docker's libnetwork,
 * from its prestart hook, adds the veth and its addresses then). The Sentry is confined
 * by then (before it read the image): a helper forked before that, with CAP_NET_RAW and
 * CAP_NET_ADMIN only, does the privileged part and hands over the fds (takeNetwork).
 *
 * The mode: `--network none` is loopback only in the Sentry; `sandbox` needs a network
 * namespace of the container's own (taking over the runtime's would take the host's
 * interfaces); without `--network` it is `sandbox` when config.json has a network
 * namespace and `none` when it does not.
 */
import * as fs from 'fs';
import { setupNetwork } from '../net/setup';
import type { Kernel } from '../kernel/kernel';
import type { Spec } from './spec-types';
import { ociNative } from './native';
import { closeFd } from './control';

/** The mode a container gets for the runtime's --network value ('auto' when not given), or an error line. */
export function networkMode(flag: string, config: Spec): { mode: 'none' | 'sandbox' } | { error: string } {
  const hasNs = (config.linux?.namespaces ?? []).some((n) => n.type === 'network');
  if (flag === 'auto') return { mode: hasNs ? 'sandbox' : 'none' };
  if (flag === 'none') return { mode: 'none' };
  if (flag === 'sandbox') {
    if (!hasNs) return { error: 'network mode "sandbox" needs a network namespace in config.json\'s linux.namespaces (it would take over the host\'s interfaces)' };
    return { mode: 'sandbox' };
  }
  return { error: `network mode "${flag}" is not available in OCI mode (none, sandbox)` };
}

/** Builds the Sentry's network for `mode`; an error line, or null. */
export function startNetwork(kernel: Kernel, mode: string, log: (m: string) => void): string | null {
  try {
    // The Sentry's own namespace is the container's (by pid: `ip` runs in a child). One
    // with nothing but lo (Docker's --network=none) has nothing to take over: the three
    // `ip` runs that would find that out cost more than the rest of `start`.
    const netns = mode === 'sandbox' && !onlyLoopback() ? `/proc/${process.pid}/ns/net` : null;
    setupNetwork(kernel, { mode: mode === 'sandbox' ? 'sandbox' : 'none', netns, pcap: null, debug: log });
    return null;
  } catch (e) {
    return `cannot set up the container's network: ${(e as Error).message}`;
  }
}

/** True when the Sentry's network namespace has no interface but lo (/proc/self/net/dev is this thread's namespace's). */
function onlyLoopback(): boolean {
  try {
    const names = fs.readFileSync('/proc/self/net/dev', 'latin1').split('\n').slice(2)
      .map((l) => l.split(':')[0].trim()).filter(Boolean);
    return names.every((n) => n === 'lo');
  } catch {
    return false;
  }
}

/** The takeover's helper (native/oci_net.cc): forked before confinement, waiting for "go". */
export interface NetHelper {
  pid: number;
  sock: number;
}

/** Forks the helper in this thread's network namespace (the container's); it or why not. */
export function forkNetHelper(): NetHelper | string {
  const r = ociNative().ociNetHelper();
  return typeof r === 'number' ? `cannot start the network takeover's helper (errno ${-r})` : { pid: r[0], sock: r[1] };
}

/**
 * The network a create hook configured, taken over by the helper once the hooks have run
 * (the Sentry confined: it only receives the fds, as from `run --netns`'s front), then
 * the Sentry's stack built on them (src/net/setup.ts, the records the helper made). An
 * error line, or null.
 */
export function takeNetwork(kernel: Kernel, h: NetHelper, log: (m: string) => void): string | null {
  const n = ociNative();
  const buf = new Uint8Array(1024);
  const fds = new Int32Array(1 + 3 + 16);
  let r = n.ociSend(h.sock, Uint8Array.of(0x67), 1, null, 0);
  if (r === 1) r = n.ociRecv(h.sock, buf, fds, false);
  closeFd(h.sock);
  n.ociWaitPid(h.pid, 2000);
  const got = Array.from(fds.subarray(1, 1 + fds[0]));
  const lines = r > 0 ? Buffer.from(buf.subarray(0, r)).toString('utf8').split('\n').filter(Boolean) : [];
  // "none": nothing but lo in the namespace (Docker's --network=none).
  const netns = lines[0] === 'none' && got.length === 0 ? null : `/proc/${process.pid}/ns/net`;
  if (netns !== null && (lines[0] !== 'ok' || got.length !== 3 + lines.length - 1)) {
    for (const fd of got) closeFd(fd);
    return `cannot set up the container's network: its takeover failed${r < 0 ? ` (errno ${-r})` : ''}`;
  }
  if (netns !== null) {
    const ifs = new Map<string, { fd: number; tap: boolean }>();
    lines.slice(1).forEach((l, i) => {
      const [name, kind] = l.split(' ');
      ifs.set(name, { fd: got[3 + i], tap: kind === 'tap' });
    });
    // As the front hands a --netns over (src/platform/launched-files.ts launchedNet reads it).
    (globalThis as Record<symbol, unknown>)[Symbol.for('tssandbox.launchedNet')] = { ifs, info: got.slice(0, 3) };
  }
  try {
    // Nothing but lo there (Docker's --network=none): the stack's own loopback only, as startNetwork.
    setupNetwork(kernel, { mode: 'sandbox', netns, pcap: null, debug: log });
    return null;
  } catch (e) {
    return `cannot set up the container's network: ${(e as Error).message}`;
  }
}
