/**
 * The container's network. The Sentry lives in the container's network namespace (the
 * launcher in cli.ts joins linux.namespaces' path or makes a new one); in mode
 * "sandbox" the Sentry's own stack takes that namespace over at `start`, as `run
 * --network=sandbox --netns` does (src/net/setup.ts): every Ethernet interface in it is
 * opened with AF_PACKET and its addresses and routes move into the stack. At `start`,
 * not `create`: engines configure the namespace in between (Docker's libnetwork, from
 * its prestart hook, adds the veth and its addresses then).
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
