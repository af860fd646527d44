/* fanotify (issue 15), FAN_CLASS_NOTIF with fds: inode marks on a directory (its own
 * events with FAN_ONDIR, its children's with FAN_EVENT_ON_CHILD), mount marks, open /
 * modify / close_write / close_nowrite, merged events, the event fd and pid, ignore
 * masks, and the errors, against Linux. Run as root in a mount namespace of its own. */
#define _GNU_SOURCE
#include "common.h"
#include <fcntl.h>
#include <sys/fanotify.h>
#include <sys/mount.h>

static int g;

static void events(const char *label) {
  char buf[4096] __attribute__((aligned(8)));
  ssize_t n = read(g, buf, sizeof buf);
  if (n < 0) { printf("%s: %s\n", label, ename(errno)); return; }
  for (struct fanotify_event_metadata *m = (void *)buf; FAN_EVENT_OK(m, n); m = FAN_EVENT_NEXT(m, n)) {
    char path[256] = "", link[64];
    if (m->fd >= 0) {
      snprintf(link, sizeof link, "/proc/self/fd/%d", m->fd);
      ssize_t k = readlink(link, path, sizeof path - 1);
      path[k < 0 ? 0 : k] = 0;
      char *base = strstr(path, tss_tmpdir);
      int cloexec = fcntl(m->fd, F_GETFD) == FD_CLOEXEC;
      printf("%s: mask 0x%llx vers %d pid is me %d file %s cloexec %d\n", label, (unsigned long long)m->mask, m->vers,
             m->pid == getpid(), base ? base + strlen(tss_tmpdir) : path, cloexec);
      close(m->fd);
    } else {
      printf("%s: mask 0x%llx fd %d\n", label, (unsigned long long)m->mask, m->fd);
    }
  }
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  enter_tmpdir();
  MUST(mkdir("d", 0755));
  MUST(mkdir("d/sub", 0755));
  EXPECT_ERR("init with a bad flag", fanotify_init(0x80000000, O_RDONLY), EINVAL);
  EXPECT_ERR("init with bad event flags", fanotify_init(FAN_CLASS_NOTIF, O_RDWR | O_WRONLY), EINVAL);
  g = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK | FAN_CLOEXEC, O_RDONLY | O_CLOEXEC);
  MUST(g);
  EXPECT_ERR("mark on a non-fanotify fd", fanotify_mark(0, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD, "d"), EINVAL);
  EXPECT_ERR("mark on a closed fd", fanotify_mark(999, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD, "d"), EBADF);
  EXPECT_ERR("mark with an empty mask", fanotify_mark(g, FAN_MARK_ADD, 0, AT_FDCWD, "d"), EINVAL);
  EXPECT_ERR("FID event without FID reporting", fanotify_mark(g, FAN_MARK_ADD, FAN_CREATE, AT_FDCWD, "d"), EINVAL);
  EXPECT_ERR("mark a missing path", fanotify_mark(g, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD, "nope"), ENOENT);
  EXPECT_ERR("ADD and REMOVE at once", fanotify_mark(g, FAN_MARK_ADD | FAN_MARK_REMOVE, FAN_OPEN, AT_FDCWD, "d"), EINVAL);
  EXPECT_ERR("remove a mark never made", fanotify_mark(g, FAN_MARK_REMOVE, FAN_OPEN, AT_FDCWD, "d"), ENOENT);
  SHOW("mark d", fanotify_mark(g, FAN_MARK_ADD | FAN_MARK_ONLYDIR, FAN_OPEN | FAN_MODIFY | FAN_CLOSE_WRITE | FAN_CLOSE_NOWRITE | FAN_EVENT_ON_CHILD,
                                AT_FDCWD, "d"));
  events("nothing yet");
  int f = open("d/f", O_CREAT | O_WRONLY, 0644);
  events("open");
  write(f, "x", 1);
  events("write");
  close(f);
  events("close");
  close(open("d/f", O_RDONLY));
  events("open+close merged");
  close(open("d/sub/g", O_CREAT | O_WRONLY, 0644));
  events("grandchild");
  close(open("d", O_RDONLY | O_DIRECTORY));
  events("the dir without FAN_ONDIR");
  SHOW("add FAN_ONDIR", fanotify_mark(g, FAN_MARK_ADD, FAN_OPEN | FAN_ONDIR, AT_FDCWD, "d"));
  int dd = open("d", O_RDONLY | O_DIRECTORY);
  events("the dir with FAN_ONDIR");
  close(dd);
  events("dir close");
  SHOW("ignore opens of d/f", fanotify_mark(g, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK, FAN_OPEN, AT_FDCWD, "d/f"));
  close(open("d/f", O_RDONLY));
  events("ignored open");
  SHOW("remove d's mark", fanotify_mark(g, FAN_MARK_REMOVE, FAN_OPEN | FAN_MODIFY | FAN_CLOSE_WRITE | FAN_CLOSE_NOWRITE | FAN_EVENT_ON_CHILD | FAN_ONDIR, AT_FDCWD, "d"));
  close(open("d/f", O_RDONLY));
  events("after removing");
  EXPECT_ERR("ONLYDIR on a file", fanotify_mark(g, FAN_MARK_ADD | FAN_MARK_ONLYDIR, FAN_OPEN, AT_FDCWD, "d/f"), ENOTDIR);
  /* A mount mark sees the whole mount, however deep. */
  MUST(mkdir("m", 0755));
  MUST(mount("none", "m", "tmpfs", 0, NULL));
  MUST(mkdir("m/a", 0755));
  MUST(mkdir("m/a/b", 0755));
  SHOW("mark the mount", fanotify_mark(g, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_OPEN | FAN_CLOSE_WRITE, AT_FDCWD, "m"));
  close(open("m/a/b/deep", O_CREAT | O_WRONLY, 0644));
  events("deep in the mount");
  close(open("d/f", O_RDONLY));
  events("outside the mount");
  SHOW("flush mount marks", fanotify_mark(g, FAN_MARK_FLUSH | FAN_MARK_MOUNT, 0, AT_FDCWD, NULL));
  close(open("m/a/b/deep", O_WRONLY));
  events("after the flush");
  MUST(umount("m"));
  close(g);
  leave_tmpdir();
  return 0;
}
