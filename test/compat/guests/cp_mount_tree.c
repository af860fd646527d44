/* Mount trees (issue 15), in a mount namespace of its own, against Linux: a bind without
 * MS_REC leaves the submounts out, with MS_REC carries them; a read-only remount of a
 * bind is of that mount only; umount of a mount with mounts on it is EBUSY unless lazy,
 * which takes them along; MS_MOVE carries the submounts; propagation changes need a
 * mount point; mountinfo shows each mount's own flags. */
#define _GNU_SOURCE
#include "common.h"
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

static int exists(const char *p) { return access(p, F_OK) == 0; }
static int creatable(const char *p) {
  int fd = open(p, O_CREAT | O_WRONLY, 0644);
  if (fd < 0) return -errno;
  close(fd);
  unlink(p);
  return 0;
}

/* The per-mount options of the mounts whose mount point ends in one of the names. */
static void mount_flags(const char *a, const char *b) {
  FILE *f = fopen("/proc/self/mountinfo", "r");
  char line[4096];
  while (f && fgets(line, sizeof line, f)) {
    char mp[2048], opts[512];
    if (sscanf(line, "%*s %*s %*s %*s %2047s %511s", mp, opts) != 2) continue;
    size_t n = strlen(mp);
    const char *names[] = { a, b };
    for (int i = 0; i < 2; i++) {
      size_t k = strlen(names[i]);
      if (n > k && strcmp(mp + n - k, names[i]) == 0 && mp[n - k - 1] == '/') printf("mountinfo %s: %s\n", names[i], opts);
    }
  }
  if (f) fclose(f);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  enter_tmpdir();
  MUST(unshare(CLONE_NEWNS));
  MUST(mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL));
  MUST(mkdir("a", 0755));
  MUST(mount("none", "a", "tmpfs", 0, NULL));
  MUST(mkdir("a/sub", 0755));
  MUST(mount("none", "a/sub", "tmpfs", 0, NULL));
  MUST(close(open("a/sub/deep", O_CREAT | O_WRONLY, 0644)));

  MUST(mkdir("b", 0755));
  SHOW("bind a b", mount("a", "b", NULL, MS_BIND, NULL));
  FACT("the plain bind leaves the submount out", exists("b/sub") && !exists("b/sub/deep"));
  MUST(mkdir("c", 0755));
  SHOW("rbind a c", mount("a", "c", NULL, MS_BIND | MS_REC, NULL));
  FACT("the recursive bind carries it", exists("c/sub/deep"));

  SHOW("remount c bind,ro", mount(NULL, "c", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL));
  printf("create in c: %s\n", ename(-creatable("c/x")));
  printf("create in a: %s\n", ename(-creatable("a/x")));
  printf("create in c/sub (its own mount): %s\n", ename(-creatable("c/sub/x")));
  mount_flags("c", "sub");
  struct stat sa, sc;
  MUST(stat("a", &sa));
  MUST(stat("c", &sc));
  FACT("a and c are one filesystem", sa.st_dev == sc.st_dev && sa.st_ino == sc.st_ino);

  EXPECT_ERR("umount c with a mount on it", umount2("c", 0), EBUSY);
  SHOW("umount c lazily", umount2("c", MNT_DETACH));
  FACT("its submount went with it", !exists("c/sub"));
  SHOW("umount b", umount2("b", 0));

  MUST(mkdir("d", 0755));
  SHOW("move a d", mount("a", "d", NULL, MS_MOVE, NULL));
  FACT("the moved mount carries its submount", exists("d/sub/deep"));
  FACT("a is a plain directory again", !exists("a/sub"));

  /* graft_tree's check (runc masks a directory with /dev/null, then falls back on ENOTDIR). */
  MUST(close(open("bf", O_CREAT | O_WRONLY, 0644)));
  EXPECT_ERR("bind a file onto a directory", mount("bf", "a", NULL, MS_BIND, NULL), ENOTDIR);
  EXPECT_ERR("bind a directory onto a file", mount("a", "bf", NULL, MS_BIND, NULL), ENOTDIR);
  unlink("bf");
  SHOW("make d shared", mount(NULL, "d", NULL, MS_SHARED, NULL));
  SHOW("make d rslave", mount(NULL, "d", NULL, MS_SLAVE | MS_REC, NULL));
  SHOW("make d private", mount(NULL, "d", NULL, MS_PRIVATE, NULL));
  EXPECT_ERR("propagation of a directory that is no mount point", mount(NULL, "a", NULL, MS_PRIVATE, NULL), EINVAL);
  SHOW("umount d lazily", umount2("d", MNT_DETACH));
  rmdir("a"); rmdir("b"); rmdir("c"); rmdir("d");
  leave_tmpdir();
  return 0;
}
