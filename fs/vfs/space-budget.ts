/**
 * The memory tmpfs data may take in one sandbox (`--memory` / `--tmpfs-size`): every
 * tmpfs (the overlay's upper layer, /dev/shm, --tmpfs mounts, memfds) draws from it,
 * in pages, and a write past it fails with ENOSPC as on a full tmpfs.
 */
export class SpaceBudget {
  used = 0;
  /**
   * Other memory drawn from the same limit (--memory: the stubs' memory cgroup usage),
   * read again after each MiB of growth, and whenever the limit looks near.
   */
  external: (() => number) | null = null;
  private ext = 0;
  private nextCheck = 0;
  /**
   * Told the usage whenever it moves to another MiB (--memory: the stubs' cgroup limit
   * becomes what tmpfs leaves of the sandbox's memory).
   */
  onUsage: ((used: number) => void) | null = null;
  private granule = 0;
  /** Told when a take fails (--disk: the run ends). */
  onFull: ((want: number) => void) | null = null;
  constructor(public limit = Infinity) {}

  private moved(): void {
    const g = Math.floor(this.used / (1 << 20));
    if (g !== this.granule && this.onUsage !== null) {
      this.granule = g;
      this.onUsage(this.used);
    }
  }

  /** Takes n bytes; false (nothing taken) if that would pass the limit. */
  take(n: number): boolean {
    const want = this.used + n;
    if (want > this.limit) return this.full(want);
    if (this.external !== null) {
      if (want >= this.nextCheck || want + this.ext > this.limit) {
        this.ext = this.external();
        this.nextCheck = want + (1 << 20);
      }
      if (want + this.ext > this.limit) return this.full(want);
    }
    this.used = want;
    this.moved();
    return true;
  }

  private full(want: number): false {
    this.onFull?.(want);
    return false;
  }

  give(n: number): void {
    this.used = Math.max(0, this.used - n);
    this.moved();
  }
}

/** The sandbox's one budget (set from the CLI before the filesystem is built). */
export const tmpfsBudget = new SpaceBudget();

const PAGE = 4096;
export const pageUp = (n: number): number => Math.ceil(n / PAGE) * PAGE;
