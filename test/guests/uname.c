/* uname and hostname; the test checks these against the sandbox's fixed identity. */
#include "common.h"
#include <sys/utsname.h>

int main(void) {
  guest_init();
  struct utsname u;
  MUST(uname(&u));
  printf("sysname=%s\n", u.sysname);
  printf("nodename=%s\n", u.nodename);
  printf("release=%s\n", u.release);
  printf("machine=%s\n", u.machine);
  FACT("version non-empty", u.version[0] != 0);
  char h[128] = {0};
  MUST(gethostname(h, sizeof h));
  printf("hostname=%s\n", h);
  EXPECT_ERR("uname bad pointer", uname((struct utsname *)1), EFAULT);
  printf("done\n");
  return 0;
}
