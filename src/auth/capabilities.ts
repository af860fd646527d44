import type { Credentials } from './credentials';

/**
 * Virtual capability sets. Linux grants root (euid 0) every capability and a
 * non-root user none; this module keeps the three sets per Credentials object so
 * capget/capset behave and set*id transitions follow Linux's cap_emulate_setxuid.
 * Sets start out derived from the uids (full permitted if any of uid/euid/suid is 0,
 * effective if euid is 0), the state a root-started Linux process would be in.
 * Limitation: the rest of the Sentry checks `creds.isRoot` (euid 0), so capabilities
 * dropped with capset only affect the checks made through capable() here, and a
 * Credentials.clone() made elsewhere starts again from the derived sets.
 */

export const CAP_CHOWN = 0;
export const CAP_SETGID = 6;
export const CAP_SETUID = 7;
export const CAP_SETPCAP = 8;
export const CAP_SYS_ADMIN = 21;
export const CAP_SYS_NICE = 23;
export const CAP_SYS_RESOURCE = 24;
export const CAP_SYS_TIME = 25;
export const CAP_LAST_CAP = 40;
export const CAP_FULL = (1n << BigInt(CAP_LAST_CAP + 1)) - 1n;

export interface CapSets {
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
}

const sets = new WeakMap<Credentials, CapSets>();

function derived(c: Credentials): CapSets {
  const anyRoot = c.uid === 0 || c.euid === 0 || c.suid === 0;
  return { effective: c.euid === 0 ? CAP_FULL : 0n, permitted: anyRoot ? CAP_FULL : 0n, inheritable: 0n };
}

export function capsOf(c: Credentials): CapSets {
  let s = sets.get(c);
  if (!s) {
    s = derived(c);
    sets.set(c, s);
  }
  return s;
}

export function setCaps(c: Credentials, s: CapSets): void {
  sets.set(c, { ...s });
}

export function capable(c: Credentials, cap: number): boolean {
  return (capsOf(c).effective & (1n << BigInt(cap))) !== 0n;
}

/**
 * Carries capabilities from old to new credentials across a uid change, as Linux's
 * cap_emulate_setxuid: losing uid 0 from all of r/e/s uid clears permitted and
 * effective; euid leaving 0 clears effective; euid becoming 0 restores it from permitted.
 */
export function transitionCaps(old: Credentials, next: Credentials): void {
  const s = { ...capsOf(old) };
  const oldAny = old.uid === 0 || old.euid === 0 || old.suid === 0;
  const newAny = next.uid === 0 || next.euid === 0 || next.suid === 0;
  if (oldAny && !newAny) {
    s.permitted = 0n;
    s.effective = 0n;
  }
  if (old.euid === 0 && next.euid !== 0) s.effective = 0n;
  if (old.euid !== 0 && next.euid === 0) s.effective = s.permitted;
  sets.set(next, s);
}

/**
 * Lead: call after `creds.clone()` at fork/clone (child gets the parent's sets, as
 * Linux copies them); without it the clone starts from the sets derived from its uids.
 */
export function copyCaps(from: Credentials, to: Credentials): void {
  const s = sets.get(from);
  if (s) sets.set(to, { ...s });
}
