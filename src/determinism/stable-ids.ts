/**
 * --deterministic: host files' inode numbers come from the host and differ between
 * machines and checkouts, and a host directory lists in the host's order. Here each host
 * inode gets a number in first-seen order (the schedule fixes that order) and host
 * directories list sorted by name. Used by fs/fsimpl/hostfs.
 */
export const stableIds = { active: false };

const byHost = new Map<string, number>();
/** Far above tmpfs's numbers, so the two never meet. */
let next = 0x4000_0000;

export function useStableIds(): void {
  stableIds.active = true;
}

/** The stable number of host inode `ino` of filesystem `dev` (the sandbox's device number). */
export function stableIno(dev: number, ino: number): number {
  const k = `${dev}:${ino}`;
  let n = byHost.get(k);
  if (n === undefined) {
    n = next++;
    byHost.set(k, n);
  }
  return n;
}
