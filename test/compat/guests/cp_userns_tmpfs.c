/* What rootless runc does in its new user namespace (issue 15): an unprivileged process
 * writes its maps as runc does, the string with its NUL ("0 1000 1\n\0"), then mounts a
 * tmpfs, whose root belongs to it (shmem: the mounter's fsuid/fsgid), so it can make
 * /dev/pts there. Against Linux (run as root; the work is done as uid/gid 1000). */
#define _GNU_SOURCE
#include "common.h"
#include <fcntl.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>

static long write_file(const char *path, const char *data, size_t len) {
  int fd = open(path, O_WRONLY);
  if (fd < 0) return -1;
  long r = write(fd, data, len);
  int e = errno;
  close(fd);
  errno = e;
  return r;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  enter_tmpdir();
  MUST(chmod(".", 0755));
  MUST(mkdir("d", 0755));
  MUST(chown("d", 1000, 1000));
  pid_t p = fork();
  if (p == 0) {
    MUST(setgroups(0, NULL));
    MUST(setresgid(1000, 1000, 1000));
    MUST(setresuid(1000, 1000, 1000));
    /* Dumpable again (a uid change clears it), so its /proc files are its own, as runc's are. */
    MUST(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0));
    MUST(unshare(CLONE_NEWUSER | CLONE_NEWNS));
    SHOW("setgroups deny", write_file("/proc/self/setgroups", "deny", 4));
    static const char map[] = "0 1000 1\n";
    SHOW("uid_map, with the NUL", write_file("/proc/self/uid_map", map, sizeof map));
    SHOW("gid_map, with the NUL", write_file("/proc/self/gid_map", map, sizeof map));
    EXPECT_ERR("uid_map again", write_file("/proc/self/uid_map", map, sizeof map), EPERM);
    printf("ids inside: %d %d\n", (int)getuid(), (int)getgid());
    SHOW("mount tmpfs (mode=755)", mount("tmpfs", "d", "tmpfs", MS_NOSUID, "mode=755"));
    struct stat st;
    MUST(stat("d", &st));
    printf("tmpfs root: uid %d gid %d mode %o\n", (int)st.st_uid, (int)st.st_gid, st.st_mode & 07777);
    SHOW("mkdir d/pts", mkdir("d/pts", 0755));
    SHOW("mount tmpfs uid=0,gid=0 over it", mount("tmpfs", "d", "tmpfs", 0, "uid=0,gid=0"));
    MUST(stat("d", &st));
    printf("tmpfs root: uid %d gid %d\n", (int)st.st_uid, (int)st.st_gid);
    fflush(stdout);
    _exit(0);
  }
  int status;
  waitpid(p, &status, 0);
  printf("child: exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  leave_tmpdir();
  return 0;
}
