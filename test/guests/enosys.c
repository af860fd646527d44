/* A syscall number Linux does not have (999) fails with ENOSYS, repeatedly, without harm. */
#include "common.h"
#include <sys/syscall.h>

int main(void) {
  guest_init();
  for (int i = 0; i < 3; i++) {
    EXPECT_ERR("syscall 999", syscall(999, 1, 2, 3), ENOSYS);
  }
  printf("getpid still works: %d\n", getpid() > 0);
  printf("done\n");
  return 0;
}
