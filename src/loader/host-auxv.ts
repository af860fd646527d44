import * as fs from 'fs';

/**
 * CPU facts the guest's libc needs in its auxv (AT_HWCAP, AT_HWCAP2, AT_MINSIGSTKSZ):
 * they describe the real CPU the guest runs on, so we pass on the host's values.
 * Read once from the Sentry's own auxv.
 */
let cached: Map<number, bigint> | undefined;

export function hostAuxv(): Map<number, bigint> {
  if (cached) return cached;
  cached = new Map();
  try {
    const b = fs.readFileSync('/proc/self/auxv');
    for (let o = 0; o + 16 <= b.length; o += 16) {
      const k = Number(b.readBigUInt64LE(o));
      if (k === 0) break;
      cached.set(k, b.readBigUInt64LE(o + 8));
    }
  } catch {
    // No /proc: libc falls back to cpuid.
  }
  return cached;
}
