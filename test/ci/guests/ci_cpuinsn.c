// Issue 12, deterministic mode: what CPUID says of RDRAND/RDSEED, and the TSC (RDTSC,
// RDTSCP) — on Linux the TSC differs on every run.
#include <cpuid.h>
#include <stdio.h>
#include <x86intrin.h>

int main(void) {
  unsigned a, b, c, d;
  __get_cpuid(1, &a, &b, &c, &d);
  printf("rdrand %d\n", !!(c & (1u << 30)));
  __get_cpuid_count(7, 0, &a, &b, &c, &d);
  printf("rdseed %d\n", !!(b & (1u << 18)));
  unsigned long long t1 = __rdtsc();
  unsigned aux;
  unsigned long long t2 = __rdtscp(&aux);
  printf("tsc %llu %llu aux %u forward %d\n", t1, t2, aux, t2 > t1);
  return 0;
}
