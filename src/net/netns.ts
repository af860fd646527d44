/**
 * Which network a sandbox has: its mode and, in modes with a stack, the Stack every
 * AF_INET/AF_INET6 socket of that sandbox uses. Kept by Kernel (a WeakMap, so the
 * kernel needs no knowledge of the network layer above it).
 */
import type { Stack } from './stack/stack';
import type { HostNetView, NetSource } from './netview';

export type NetworkMode = 'none' | 'sandbox' | 'host' | 'user';
export const NETWORK_MODES: NetworkMode[] = ['none', 'sandbox', 'host', 'user'];

interface SandboxNet {
  mode: NetworkMode;
  stack: Stack | null;
  host?: HostNetView;
}

const byKernel = new WeakMap<object, SandboxNet>();

export function setNetwork(kernel: object, mode: NetworkMode, stack: Stack | null, host?: HostNetView): void {
  byKernel.set(kernel, { mode, stack, host });
}

/** What the sandbox's interface views (netlink, SIOCGIF*, /proc/net) show. */
export function viewSourceOf(kernel: object): NetSource {
  const n = byKernel.get(kernel);
  return n?.stack ?? n?.host ?? null;
}

/** The sandbox's stack, or null (mode "none": the loopback fast path of inet-socket.ts). */
export function stackOf(kernel: object): Stack | null {
  return byKernel.get(kernel)?.stack ?? null;
}

export function networkModeOf(kernel: object): NetworkMode {
  return byKernel.get(kernel)?.mode ?? 'none';
}

export function hasNetwork(key: object): boolean {
  return byKernel.has(key);
}
