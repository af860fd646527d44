import type { Credentials } from './credentials';
import { fromKid, nsCapableWith, type UserNamespace } from './userns';

/**
 * Virtual capability sets. Linux grants root (euid 0) every capability and a
 * non-root user none; this module keeps the three sets per Credentials object so
 * capget/capset behave and set*id transitions follow Linux's cap_emulate_setxuid.
 * Sets start out derived from the uids (full permitted if any of uid/euid/suid is 0,
 * effective if euid is 0), the state a root-started Linux process would be in.
 * Permission checks go through capable() (file access, ownership, mount, chroot,
 * signals, scheduling...), so capabilities dropped with capset or lost with uid 0 are
 * enforced. A Credentials.clone() made elsewhere starts again from the derived sets.
 */

export const CAP_CHOWN = 0;
export const CAP_DAC_OVERRIDE = 1;
export const CAP_DAC_READ_SEARCH = 2;
export const CAP_FOWNER = 3;
export const CAP_FSETID = 4;
export const CAP_KILL = 5;
export const CAP_SYS_CHROOT = 18;
export const CAP_SYS_PTRACE = 19;
export const CAP_SETGID = 6;
export const CAP_SETUID = 7;
export const CAP_SETPCAP = 8;
export const CAP_NET_BIND_SERVICE = 10;
export const CAP_NET_RAW = 13;
export const CAP_SYS_ADMIN = 21;
export const CAP_SYS_NICE = 23;
export const CAP_SYS_RESOURCE = 24;
export const CAP_SYS_TIME = 25;
export const CAP_SYSLOG = 34;
export const CAP_LAST_CAP = 40;
export const CAP_FULL = (1n << BigInt(CAP_LAST_CAP + 1)) - 1n;

export interface CapSets {
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
  /** PR_CAP_AMBIENT's set (within permitted and inheritable). */
  ambient?: bigint;
  /** The bounding set (PR_CAPBSET_DROP, OCI's process.capabilities.bounding); all when unset. */
  bounding?: bigint;
  /** PR_SET_KEEPCAPS: permitted survives losing uid 0. */
  keepCaps?: boolean;
}

/** CAP_FS_MASK: the capabilities dropped from effective when the fs uid leaves 0. */
const CAP_FS_MASK = (1n << 0n) | (1n << 1n) | (1n << 2n) | (1n << 3n) | (1n << 4n) | (1n << 9n) | (1n << 27n) | (1n << 32n);

const sets = new WeakMap<Credentials, CapSets>();

function derived(c: Credentials): CapSets {
  const anyRoot = c.uid === 0 || c.euid === 0 || c.suid === 0;
  return { effective: c.euid === 0 ? CAP_FULL : 0n, permitted: anyRoot ? CAP_FULL : 0n, inheritable: 0n };
}

/** The sets in force: set explicitly (capset, a uid change, prctl), else derived from the uids now. */
export function capsOf(c: Credentials): CapSets {
  return sets.get(c) ?? derived(c);
}

/** The bounding set: what execve may give root as permitted. */
export function boundingOf(c: Credentials): bigint {
  return capsOf(c).bounding ?? CAP_FULL;
}

export function setCaps(c: Credentials, s: CapSets): void {
  sets.set(c, { ...s });
}

const BIT: bigint[] = Array.from({ length: CAP_LAST_CAP + 1 }, (_, i) => 1n << BigInt(i));

/**
 * The capability in the sandbox's initial user namespace (Linux's capable()). Credentials
 * of a child user namespace hold their capabilities there only: see nsCapable.
 */
export function capable(c: Credentials, cap: number): boolean {
  const yes = hasCapability(c, cap);
  if (yes) capUse.used = true;
  return yes;
}

/**
 * The capability in the initial user namespace without counting as used (Linux's
 * security_capable / has_capability: another task's credentials, e.g. a tracer's at exec).
 */
export function hasCapability(c: Credentials, cap: number): boolean {
  if (c.userns !== null) return false;
  const s = sets.get(c);
  // Derived sets: every capability effective for euid 0, none otherwise (no allocation: a hot check).
  return s ? (s.effective & BIT[cap]) !== 0n : c.euid === 0;
}

/**
 * Set when a capability check succeeds (Linux's PF_SUPERPRIV, which acct(2) reports as
 * ASU): the Sentry clears it before each syscall handler and marks the caller's process
 * if the handler used one. Checks must come after the ordinary ones, as Linux's do, or
 * every root process would count as having used privilege.
 */
export const capUse = { used: false };

/** The capability in user namespace ns (ns_capable; null: the initial one). */
export function nsCapable(c: Credentials, ns: UserNamespace | null, cap: number): boolean {
  if (c.userns === null && ns === null) return capable(c, cap);
  const s = sets.get(c);
  const yes = nsCapableWith(c, ns, s ? (s.effective & BIT[cap]) !== 0n : c.euid === 0);
  if (yes) capUse.used = true;
  return yes;
}

/** The capability in the caller's own user namespace (ns_capable(current_user_ns(), cap)). */
export function ownCapable(c: Credentials, cap: number): boolean {
  return c.userns === null ? capable(c, cap) : nsCapable(c, c.userns, cap);
}

/**
 * capable_wrt_inode_uidgid: the capability in the caller's namespace, and the file's
 * owner and group both mapped there (a namespace's root cannot override for ids it
 * does not own).
 */
export function capableWrt(c: Credentials, cap: number, uid: number, gid: number): boolean {
  if (c.userns === null) return capable(c, cap);
  return ownCapable(c, cap) && fromKid(c.userns, uid) >= 0 && fromKid(c.userns, gid, true) >= 0;
}

/** access(2)'s view (real ids): a real uid 0 acts with its permitted set, any other with none. */
export function capableReal(c: Credentials, cap: number): boolean {
  return c.uid === 0 && c.userns === null && (capsOf(c).permitted & (1n << BigInt(cap))) !== 0n;
}

/**
 * Carries capabilities from old to new credentials across a uid change, as Linux's
 * cap_emulate_setxuid: losing uid 0 from all of r/e/s uid clears permitted and
 * effective; euid leaving 0 clears effective; euid becoming 0 restores it from permitted.
 */
export function transitionCaps(old: Credentials, next: Credentials): void {
  const s = { ...capsOf(old) };
  // Root is uid 0 of the credentials' own user namespace.
  const r = (c: Credentials, id: number) => (c.userns === null ? id === 0 : fromKid(c.userns, id) === 0);
  const oldAny = r(old, old.uid) || r(old, old.euid) || r(old, old.suid);
  const newAny = r(next, next.uid) || r(next, next.euid) || r(next, next.suid);
  if (oldAny && !newAny) {
    if (!s.keepCaps) s.permitted = 0n;
    s.effective = 0n;
    s.ambient = 0n;
  }
  if (r(old, old.euid) && !r(next, next.euid)) s.effective = 0n;
  if (!r(old, old.euid) && r(next, next.euid)) s.effective = s.permitted;
  // cap_task_fix_setuid (LSM_SETID_FS): the fs capabilities follow the fs uid.
  if (r(old, old.fsuid) && !r(next, next.fsuid)) s.effective &= ~CAP_FS_MASK;
  if (!r(old, old.fsuid) && r(next, next.fsuid)) s.effective |= s.permitted & CAP_FS_MASK;
  sets.set(next, s);
}

/**
 * execve's capability rules (no file capabilities): root (uid or euid 0) gets the full
 * bounding set (with its inheritable set) as permitted, effective if euid 0, and no ambient set; anyone else keeps
 * only its ambient set, as permitted and effective. PR_SET_KEEPCAPS ends.
 */
export function capsAfterExec(c: Credentials): void {
  const s = capsOf(c);
  const bounding = s.bounding ?? CAP_FULL;
  const uid = c.userns === null ? c.uid : fromKid(c.userns, c.uid);
  const euid = c.userns === null ? c.euid : fromKid(c.userns, c.euid);
  if (uid === 0 || euid === 0) {
    // Root's file sets count as full: P'(permitted) = P(inheritable) | bounding set.
    const permitted = s.inheritable | bounding;
    sets.set(c, { permitted, effective: euid === 0 ? permitted : 0n, inheritable: s.inheritable, ambient: 0n, bounding });
  } else {
    const amb = s.ambient ?? 0n;
    sets.set(c, { permitted: amb, effective: amb, inheritable: s.inheritable, ambient: amb, bounding });
  }
}

/**
 * Lead: call after `creds.clone()` at fork/clone (child gets the parent's sets, as
 * Linux copies them); without it the clone starts from the sets derived from its uids.
 */
export function copyCaps(from: Credentials, to: Credentials): void {
  const s = sets.get(from);
  if (s) sets.set(to, { ...s });
}
