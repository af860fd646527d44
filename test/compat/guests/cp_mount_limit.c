/* Recursive binds of / into a tmpfs under / double the mount table each time: the
 * sandbox stops them with ENOSPC (Linux's fs.mount-max), and a lazy umount of the tmpfs
 * gives every copy back, so the same run reaches the same point again. */
#define _GNU_SOURCE
#include "common.h"
#include <sys/mount.h>
#include <sys/stat.h>

static int doubling(void) {
  mkdir("/mnt", 0755);
  MUST(mount("none", "/mnt", "tmpfs", 0, NULL));
  for (int i = 0; i < 64; i++) {
    char d[64];
    snprintf(d, sizeof d, "/mnt/%d", i);
    MUST(mkdir(d, 0755));
    if (mount("/", d, NULL, MS_BIND | MS_REC, NULL) != 0) {
      printf("rbind %d: %s\n", i, ename(errno));
      return i;
    }
  }
  printf("no limit\n");
  return -1;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int a = doubling();
  SHOW("umount /mnt lazily", umount2("/mnt", MNT_DETACH));
  int b = doubling();
  FACT("the same point again", a > 0 && a == b);
  SHOW("umount /mnt lazily", umount2("/mnt", MNT_DETACH));
  return 0;
}
