/** 32-bit sequence-number arithmetic (RFC 793 §3.3): comparisons modulo 2^32. */
export function lt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
export function le(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}
export function gt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}
export function ge(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}
export function add(a: number, n: number): number {
  return (a + n) >>> 0;
}
/** b - a as a non-negative distance (a <= b in sequence space). */
export function diff(b: number, a: number): number {
  return (b - a) | 0;
}
export function max(a: number, b: number): number {
  return gt(a, b) ? a : b;
}
