/* pivot_root (issue 15), each case in a child with a mount namespace of its own:
 * a tmpfs becomes the root and the old root is reached at put_old until detached; the
 * runc pattern pivot_root(".", ".") + umount2(".", MNT_DETACH); the errors; against
 * Linux (run as root in a mount namespace of its own). */
#define _GNU_SOURCE
#include "common.h"
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static long pivot(const char *n, const char *o) { return syscall(SYS_pivot_root, n, o); }

static void wait_child(const char *label, pid_t p) {
  int st;
  waitpid(p, &st, 0);
  printf("%s: exit %d\n", label, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

static void put_old_case(void) {
  MUST(unshare(CLONE_NEWNS));
  MUST(mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL));
  MUST(mkdir("r", 0755));
  MUST(mount("none", "r", "tmpfs", 0, NULL));
  MUST(mkdir("r/old", 0755));
  MUST(mkdir("r/w", 0755));
  MUST(close(open("r/marker", O_CREAT | O_WRONLY, 0644)));
  EXPECT_ERR("new_root not a mount point", pivot("r/w", "r/w"), EINVAL);
  EXPECT_ERR("put_old on the root's own mount", pivot("r", "."), EBUSY);
  EXPECT_ERR("a missing new_root", pivot("missing", "r/old"), ENOENT);
  EXPECT_ERR("new_root is a file", pivot("r/marker", "r/old"), ENOTDIR);
  EXPECT_ERR("new_root is the root", pivot("/", "r/old"), EBUSY);
  SHOW("pivot_root(r, r/old)", pivot("r", "r/old"));
  MUST(chdir("/"));
  FACT("the tmpfs is the root", access("/marker", F_OK) == 0);
  FACT("the old root is at /old", access("/old/etc/passwd", F_OK) == 0);
  FACT("with the mounts on it", access("/old/proc/self/status", F_OK) == 0);
  SHOW("umount2(/old, MNT_DETACH)", umount2("/old", MNT_DETACH));
  FACT("the old root is gone", access("/old/etc/passwd", F_OK) != 0);
  _exit(0);
}

static void runc_case(void) {
  MUST(unshare(CLONE_NEWNS));
  MUST(mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL));
  MUST(mkdir("q", 0755));
  MUST(mount("none", "q", "tmpfs", 0, NULL));
  MUST(close(open("q/m", O_CREAT | O_WRONLY, 0644)));
  MUST(chdir("q"));
  SHOW("pivot_root(., .)", pivot(".", "."));
  SHOW("umount2(., MNT_DETACH)", umount2(".", MNT_DETACH));
  MUST(chdir("/"));
  FACT("the new root holds m", access("/m", F_OK) == 0);
  FACT("the old root is gone", access("/etc/passwd", F_OK) != 0);
  _exit(0);
}

/* runc's own sequence: fds to both roots first, pivot_root(".", "."), fchdir to the old
 * root's fd, make it a slave, then umount2(".", MNT_DETACH) there. */
static void runc_fd_case(void) {
  MUST(unshare(CLONE_NEWNS));
  MUST(mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL));
  MUST(mkdir("f", 0755));
  MUST(mount("none", "f", "tmpfs", 0, NULL));
  MUST(close(open("f/m", O_CREAT | O_WRONLY, 0644)));
  int oldroot = open("/", O_DIRECTORY | O_RDONLY);
  int newroot = open("f", O_DIRECTORY | O_RDONLY);
  MUST(oldroot);
  MUST(newroot);
  MUST(fchdir(newroot));
  SHOW("pivot_root(., .)", pivot(".", "."));
  MUST(fchdir(oldroot));
  SHOW("mount(., MS_SLAVE|MS_REC)", mount("", ".", "", MS_SLAVE | MS_REC, ""));
  SHOW("umount2(., MNT_DETACH) at the old root's fd", umount2(".", MNT_DETACH));
  MUST(chdir("/"));
  FACT("the new root holds m", access("/m", F_OK) == 0);
  FACT("the old root is gone", access("/etc/passwd", F_OK) != 0);
  _exit(0);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  enter_tmpdir();
  pid_t p = fork();
  if (p == 0) put_old_case();
  wait_child("put_old case", p);
  p = fork();
  if (p == 0) runc_case();
  wait_child("runc case", p);
  p = fork();
  if (p == 0) runc_fd_case();
  wait_child("runc fd case", p);
  FACT("the parent's root is untouched", access("/etc/passwd", F_OK) == 0);
  rmdir("r/old"); rmdir("r/w"); unlink("r/marker"); rmdir("r"); unlink("q/m"); rmdir("q"); unlink("f/m"); rmdir("f");
  leave_tmpdir();
  return 0;
}
