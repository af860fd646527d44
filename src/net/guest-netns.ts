/**
 * Network namespaces a guest makes (CLONE_NEWNET, src/kernel/namespaces): each gets a
 * stack of its own with only lo, down until the guest brings it up (as Linux's new
 * namespace), so its sockets, ports and interfaces are its own and nothing outside
 * (the sandbox's network, the host's) is reachable from it. The stack is made at the
 * namespace's first socket call.
 */
import type { Task } from '../kernel/task';
import { nsOf, ownerOf } from '../kernel/namespaces/types';
import { nsCapable } from '../auth/capabilities';
import { hasNetwork, setNetwork } from './netns';
import { loopbackStack } from './setup';

const CAP_NET_ADMIN = 12;

/** The key of t's network (netns.ts): the Kernel, or the guest namespace t is in. */
export function netKeyOf(t: Task): object {
  const ns = nsOf(t).net;
  if (ns === null) return t.kernel;
  if (!hasNetwork(ns)) {
    // As Linux's new namespace: lo down and without addresses until brought up (netlink-route.ts adds them then).
    const stack = loopbackStack(t.kernel);
    for (const nic of stack.nics) {
      nic.up = false;
      for (const a of [...nic.addrs]) stack.removeAddress(nic, a.addr);
    }
    setNetwork(ns, 'sandbox', stack);
  }
  return ns;
}

/** CAP_NET_ADMIN over t's network namespace (ip link/addr/route changes). */
export function netAdmin(t: Task): boolean {
  return netCapable(t, CAP_NET_ADMIN);
}

/** A capability over t's network namespace (ns_capable(net->user_ns, cap)): raw and packet sockets, low ports. */
export function netCapable(t: Task, cap: number): boolean {
  const ns = nsOf(t).net;
  return nsCapable(t.creds, ns === null ? null : ownerOf(ns), cap);
}
