/** The deterministic-mode flags of `tssandbox run` (parsed here, used by src/cli/deterministic.ts). */
export interface DetFlags {
  /** --deterministic[=SEED] (also implied by --replay, which takes the log's seed). */
  seed: string | null;
  /** --record FILE: the syscall log. */
  record: string | null;
  /** --replay FILE: re-run and compare with a recorded log. */
  replay: string | null;
  /** --mask-cpuid: trap CPUID too, to hide RDRAND/RDSEED (costly on a nested VM). */
  maskCpuid: boolean;
}

export function emptyDetFlags(): DetFlags {
  return { seed: null, record: null, replay: null, maskCpuid: false };
}

/** The seed a bare --deterministic uses. */
export const DEFAULT_SEED = '0';

/** Takes one flag if it is ours; `value()` fetches a separate value. Throws Error(message) on a bad one. */
export function parseDetFlag(f: DetFlags, flag: string, value: () => string, inline: string | undefined): boolean {
  switch (flag) {
    case '--deterministic':
      if (inline === '') throw new Error('--deterministic= needs a seed (or no =)');
      f.seed = inline ?? DEFAULT_SEED;
      return true;
    case '--record': f.record = value(); return true;
    case '--replay': f.replay = value(); return true;
    case '--mask-cpuid': f.maskCpuid = true; return true;
    default: return false;
  }
}

export function detActive(f: DetFlags): boolean {
  return f.seed !== null || f.record !== null || f.replay !== null || f.maskCpuid;
}
