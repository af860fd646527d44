/* pidfd_open, pidfd_send_signal, waitid(P_PIDFD), poll on a pidfd. */
#include "pr.h"
#include <poll.h>
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

int main(void) {
  guest_init();
  pid_t c = fork();
  if (c == 0) { for (;;) pause(); }
  int fd = syscall(SYS_pidfd_open, c, 0);
  if (fd < 0) printf("pidfd_open: %s\n", ename(errno));
  else printf("pidfd_open: ok\n");
  struct pollfd pfd = { fd, POLLIN, 0 };
  SHOW("poll before exit", poll(&pfd, 1, 0));
  SHOW("pidfd_send_signal SIGTERM", syscall(SYS_pidfd_send_signal, fd, SIGTERM, NULL, 0));
  SHOW("poll after signal (20 s max)", poll(&pfd, 1, 20000));
  printf("poll revents POLLIN: %s\n", (pfd.revents & POLLIN) ? "yes" : "no");
  siginfo_t si; memset(&si, 0, sizeof si);
  int r = waitid(P_PIDFD, fd, &si, WEXITED);
  if (r < 0) printf("waitid P_PIDFD: %s\n", ename(errno));
  else printf("waitid P_PIDFD: pid ok=%s code=%s status=%s\n", si.si_pid == c ? "yes" : "no",
              si.si_code == CLD_KILLED ? "CLD_KILLED" : "other", si.si_status == SIGTERM ? "SIGTERM" : "other");
  EXPECT_ERR("pidfd_send_signal to reaped", syscall(SYS_pidfd_send_signal, fd, SIGTERM, NULL, 0), ESRCH);
  EXPECT_ERR("waitid P_PIDFD again", waitid(P_PIDFD, fd, &si, WEXITED | WNOHANG), ECHILD);
  close(fd);

  /* Exit observed through waitid(P_PIDFD) with an exit code. */
  c = fork();
  if (c == 0) { msleep(50); _exit(23); }
  fd = syscall(SYS_pidfd_open, c, 0);
  memset(&si, 0, sizeof si);
  r = waitid(P_PIDFD, fd, &si, WEXITED);
  if (r < 0) printf("waitid P_PIDFD exit: %s\n", ename(errno));
  else printf("waitid P_PIDFD exit: code=%s status=%d\n", si.si_code == CLD_EXITED ? "CLD_EXITED" : "other", si.si_status);
  close(fd);

  fd = syscall(SYS_pidfd_open, getpid(), 0);
  OKERR("pidfd_open(self)", fd);
  SHOW("pidfd_send_signal(self, 0)", syscall(SYS_pidfd_send_signal, fd, 0, NULL, 0));
  EXPECT_ERR("waitid P_PIDFD on non-child", waitid(P_PIDFD, fd, &si, WEXITED | WNOHANG), ECHILD);
  EXPECT_ERR("pidfd_send_signal bad flags", syscall(SYS_pidfd_send_signal, fd, 0, NULL, 0x100), EINVAL);
  close(fd);
  EXPECT_ERR("pidfd_open nonexistent", syscall(SYS_pidfd_open, 4000000, 0), ESRCH);
  EXPECT_ERR("pidfd_open bad flags", syscall(SYS_pidfd_open, getpid(), 1), EINVAL);
  EXPECT_ERR("pidfd_send_signal on a non-pidfd", syscall(SYS_pidfd_send_signal, 0, 0, NULL, 0), EBADF);
  EXPECT_ERR("waitid P_PIDFD bad fd", waitid(P_PIDFD, 99, &si, WEXITED), EBADF);
  printf("done\n");
  return 0;
}
