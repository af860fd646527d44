/* The acct guests: struct acct_v3 as an x86-64 kernel writes it (64 bytes, ACCT_VERSION 3). */
#ifndef TSS_ACCT_V3_H
#define TSS_ACCT_V3_H
#include <stdint.h>

struct acct_v3 {
  char ac_flag, ac_version;
  uint16_t ac_tty;
  uint32_t ac_exitcode, ac_uid, ac_gid, ac_pid, ac_ppid, ac_btime;
  float ac_etime;
  uint16_t ac_utime, ac_stime, ac_mem, ac_io, ac_rw, ac_minflt, ac_majflt, ac_swaps;
  char ac_comm[16];
};
#endif
