// What a helper process keeps of its parent's. KeepOnlyCaps: every capability but `keep`
// (a bit per CAP_*) dropped, shared by the Gofer and the Sentry's own confinement: the
// bounding and ambient sets emptied, then effective and permitted narrowed, inheritable
// cleared. Allocation-free (the gofer calls it in a forked child of a multi-threaded
// process). True when capset took.
#pragma once
#include <cstdint>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace tss {

inline bool KeepOnlyCaps(uint64_t keep) {
  for (int c = 0; c < 64; c++)
    if (!(keep & (1ull << c))) prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d) != 0) return false;
  for (int i = 0; i < 2; i++) {
    uint32_t k = (uint32_t)(keep >> (32 * i));
    d[i].effective &= k;
    d[i].permitted &= k;
    d[i].inheritable = 0;
  }
  h = {_LINUX_CAPABILITY_VERSION_3, 0};
  return syscall(SYS_capset, &h, d) == 0;
}

// A helper process keeps one fd of its parent's: `fd` moved to 3, everything above
// closed, stdio on /dev/null. False if the move failed.
inline bool KeepOnlyFd(int fd) {
  if (dup2(fd, 3) != 3) return false;
  syscall(SYS_close_range, 4, ~0U, 0);
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int i = 0; i < 3; i++) dup2(null, i);
  if (null > 3) close(null);
  return true;
}

}  // namespace tss
