/*
 * The page the Sentry shares with every guest's vDSO (read-only there): the line that
 * turns the TSC into the sandbox's monotonic time. Written only by the Sentry's clock
 * thread (native/vdso_clock.cc) under a sequence count; the Sentry reads its own clock
 * from the same line, so a guest never sees the vDSO and a trapped syscall disagree.
 */
#ifndef TSSANDBOX_VDSO_DATA_H
#define TSSANDBOX_VDSO_DATA_H
#include <stdint.h>

#define VDSO_DATA_VERSION 1

struct vdso_data {
  /* Odd while the writer updates the fields below; readers retry. */
  volatile uint32_t seq;
  uint32_t version;
  /* 0: the TSC is not usable (or not calibrated yet): the vDSO makes the syscall. */
  uint32_t enabled;
  uint32_t shift;
  /* mono_ns = base_ns + ((tsc - base_tsc) * mult) >> shift, ns since the sandbox booted. */
  uint64_t base_tsc;
  uint64_t base_ns;
  uint64_t mult;
  /* CLOCK_REALTIME = mono_ns + realtime_offset_ns. */
  int64_t realtime_offset_ns;
  /* Resolution of the COARSE clocks (the Sentry's tick). */
  uint64_t coarse_res_ns;
};

#endif
