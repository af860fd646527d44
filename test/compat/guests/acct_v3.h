/* The acct guests (common.h first): struct acct_v3 as an x86-64 kernel writes it (64 bytes,
 * ACCT_VERSION 3), and their start: a fresh directory, its "pacct" named to acct(2). */
#ifndef TSS_ACCT_V3_H
#define TSS_ACCT_V3_H
#include <fcntl.h>
#include <stdint.h>
#include <sys/syscall.h>

struct acct_v3 {
  char ac_flag, ac_version;
  uint16_t ac_tty;
  uint32_t ac_exitcode, ac_uid, ac_gid, ac_pid, ac_ppid, ac_btime;
  float ac_etime;
  uint16_t ac_utime, ac_stime, ac_mem, ac_io, ac_rw, ac_minflt, ac_majflt, ac_swaps;
  char ac_comm[16];
};

/* Enters a fresh directory, names its pacct (path: its absolute name) and says so; 0, or -1 without a cwd. */
static inline int acct_start(char *path, size_t size) {
  enter_tmpdir();
  if (!getcwd(path, size - 8)) return -1;
  strcat(path, "/pacct");
  close(open(path, O_CREAT | O_WRONLY, 0600));
  printf("acct on: %s\n", syscall(SYS_acct, path) == 0 ? "ok" : ename(errno));
  return 0;
}
#endif
