/**
 * What the audit report says of a deterministic run (src/policy/session.ts reads it):
 * the seed, and how many times the wall clock had to preempt a thread (each one may
 * fall elsewhere on another run, so a report with 0 is the one whose schedule is fixed).
 */
export const detRun: { seed: string | null; wallPreemptions: number; cpuidMasked: boolean } = {
  seed: null,
  wallPreemptions: 0,
  /** --mask-cpuid took: /proc/cpuinfo hides RDRAND/RDSEED as CPUID does. */
  cpuidMasked: false,
};
