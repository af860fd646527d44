/* setsid/setpgid/getpgid/getsid rules and errnos (no terminals). */
#include "pr.h"
#include <fcntl.h>

int main(void) {
  guest_init();
  int p[2], q[2]; MUST(pipe(p)); MUST(pipe(q));
  pid_t me = getpid();
  FACT("getpgid(0) == getpgrp()", getpgid(0) == getpgrp());
  FACT("getsid(0) == getsid(self)", getsid(0) == getsid(me));
  EXPECT_ERR("getpgid nonexistent", getpgid(4000000), ESRCH);
  EXPECT_ERR("getsid nonexistent", getsid(4000000), ESRCH);
  EXPECT_ERR("setpgid nonexistent", setpgid(4000000, 0), ESRCH);
  EXPECT_ERR("setpgid negative pgid", setpgid(0, -1), EINVAL);

  pid_t c = fork();
  if (c == 0) {
    pid_t self = getpid();
    FACT("child inherits pgid", getpgid(0) == getpgid(getppid()));
    FACT("child inherits sid", getsid(0) == getsid(getppid()));
    SHOW("child setpgid(0,0)", setpgid(0, 0));
    FACT("  now pgid == pid", getpgid(0) == self);
    EXPECT_ERR("group leader setsid", setsid(), EPERM);
    EXPECT_ERR("setpgid to a group in no session member", setpgid(0, 4000000), EPERM);
    pid_t g = fork();
    if (g == 0) {
      pid_t s = setsid();
      FACT("grandchild setsid returns its pid", s == getpid());
      FACT("  sid == pid", getsid(0) == getpid());
      FACT("  pgid == pid", getpgid(0) == getpid());
      EXPECT_ERR("  setsid again", setsid(), EPERM);
      EXPECT_ERR("  session leader setpgid", setpgid(0, 0), EPERM);
      FACT("  other session's sid readable", getsid(getppid()) > 0);
      write(q[1], "s", 1); /* in its own session now */
      char b; read(p[0], &b, 1);
      _exit(0);
    }
    char s; read(q[0], &s, 1);
    EXPECT_ERR("setpgid on a child in another session", setpgid(g, self), EPERM);
    write(p[1], "x", 1);
    reap("grandchild", g);
    _exit(0);
  }
  reap("child", c);

  /* The parent moves a child into a new group before and after exec. */
  /* The parent learns of the exec by EOF on a close-on-exec pipe the child holds. */
  int e[2]; MUST(pipe2(e, O_CLOEXEC));
  c = fork();
  if (c == 0) { close(e[0]); char b; read(p[0], &b, 1); execl("/bin/true", "true", (char *)NULL); _exit(127); }
  close(e[1]);
  SHOW("parent setpgid(child, child)", setpgid(c, c));
  FACT("  getpgid(child) == child", getpgid(c) == c);
  SHOW("parent setpgid(child, own pgid) back", setpgid(c, getpgrp()));
  write(p[1], "x", 1);
  char eb; while (read(e[0], &eb, 1) > 0) {}
  close(e[0]);
  EXPECT_ERR("setpgid on a child after exec", setpgid(c, c), EACCES);
  reap("exec'd child", c);
  EXPECT_ERR("setpgid on a non-child", setpgid(getppid() > 1 ? getppid() : 4000000, 0), ESRCH);

  /* kill(-pgid) reaches every member of the group. */
  pid_t a = fork();
  if (a == 0) { setpgid(0, 0); for (;;) pause(); }
  setpgid(a, a);
  pid_t b = fork();
  if (b == 0) { setpgid(0, a); for (;;) pause(); }
  setpgid(b, a);
  msleep(50);
  SHOW("kill(-pgid, SIGTERM)", kill(-a, SIGTERM));
  reap("group member a", a); reap("group member b", b);
  EXPECT_ERR("kill(-pgid) empty group", kill(-a, SIGTERM), ESRCH);
  printf("done\n");
  return 0;
}
