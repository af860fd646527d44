/**
 * Choosing a platform by name: the one place that knows every implementation.
 * The Sentry above gets a `Platform` and never asks which one it is.
 */
import { native } from './native';
import type { Platform } from './platform';
import { PtracePlatform } from './ptrace';
import { SystrapPlatform } from './systrap';
import { KvmPlatform } from './kvm/kvm';
import { kvmProbe } from './kvm/native-kvm';

/** Every platform name, fastest first (the order defaults are tried in). */
export const PLATFORM_NAMES = ['kvm', 'systrap', 'ptrace'] as const;
export type PlatformName = (typeof PLATFORM_NAMES)[number];

export interface StartablePlatform extends Platform {
  /** Starts the template stub; its pid or -errno. */
  start(): number;
}

export interface Created {
  platform: StartablePlatform;
  /** Sandbox pinned to one CPU (the guest then sees one CPU). */
  pinned: boolean;
}

export function isPlatformName(s: string): s is PlatformName {
  return (PLATFORM_NAMES as readonly string[]).includes(s);
}

/** Why `name` cannot be used on this host before even trying (null: try it). */
export function staticUnavailability(name: PlatformName): string | null {
  if (name === 'kvm') {
    const p = kvmProbe();
    return typeof p === 'string' ? p : null;
  }
  if (name === 'systrap') {
    const s = native().systrapSupport();
    return typeof s === 'string' ? s : null;
  }
  return null;
}

/**
 * A platform instance, or the reason it cannot be made. `pin` is ptrace's one-CPU
 * pinning (a stop that crosses CPUs costs ~40 us there); systrap hands over by
 * spinning on shared memory, cheap across CPUs, so its guests use every core.
 */
export function createPlatform(name: PlatformName, opts: { pin: boolean }): Created | string {
  const why = staticUnavailability(name);
  if (why) return `platform ${name}: ${why}`;
  if (name === 'systrap') return { platform: new SystrapPlatform(), pinned: false };
  if (name === 'kvm') return { platform: new KvmPlatform(), pinned: false };
  return { platform: new PtracePlatform({ pin: opts.pin }), pinned: opts.pin };
}

/**
 * TSSANDBOX_PLATFORM when set and known, else `fallback` (OCI mode uses this: its
 * engines pass no platform flag of ours). Unknown names are refused by the caller.
 */
export function platformFromEnv(fallback: PlatformName): PlatformName | string {
  const v = process.env.TSSANDBOX_PLATFORM;
  if (!v) return fallback;
  return isPlatformName(v) ? v : `TSSANDBOX_PLATFORM: unknown platform '${v}' (available: ${PLATFORM_NAMES.join(', ')})`;
}
