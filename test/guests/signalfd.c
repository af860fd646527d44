/* signalfd: blocked signals read as struct signalfd_siginfo; poll readiness; errors. */
#include "common.h"
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

int main(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_BLOCK, &set, NULL);
  int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  printf("signalfd ok: %s\n", fd >= 0 ? "yes" : strerrorname_np(errno));
  struct signalfd_siginfo si;
  ssize_t n = read(fd, &si, sizeof si);
  printf("empty read: %s\n", n < 0 ? strerrorname_np(errno) : "data");
  struct pollfd p = {fd, POLLIN, 0};
  printf("poll before: %d\n", poll(&p, 1, 0));
  kill(getpid(), SIGUSR1);
  printf("poll after: %d revents POLLIN: %s\n", poll(&p, 1, 0), p.revents & POLLIN ? "yes" : "no");
  n = read(fd, &si, sizeof si);
  printf("read %zd: signo %s, code %d, pid is me: %s\n", n, sigabbrev_np(si.ssi_signo), si.ssi_code,
         si.ssi_pid == (unsigned)getpid() ? "yes" : "no");
  printf("short buffer: %s\n", read(fd, &si, 10) < 0 ? strerrorname_np(errno) : "read");
  pid_t c = fork();
  if (c == 0) _exit(7);
  p.revents = 0;
  poll(&p, 1, 20000); /* returns at the SIGCHLD; the bound only ends a broken run */
  n = read(fd, &si, sizeof si);
  printf("child: signo %s, code CLD_EXITED: %s, status %d, pid ok: %s\n", sigabbrev_np(si.ssi_signo),
         si.ssi_code == CLD_EXITED ? "yes" : "no", si.ssi_status, si.ssi_pid == (unsigned)c ? "yes" : "no");
  waitpid(c, NULL, 0);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, SIGUSR2);
  printf("update mask: %s\n", signalfd(fd, &one, 0) == fd ? "same fd" : strerrorname_np(errno));
  printf("bad fd: %s\n", signalfd(0, &one, 0) < 0 ? strerrorname_np(errno) : "ok");
  printf("bad flags: %s\n", signalfd(-1, &one, 0x1234) < 0 ? strerrorname_np(errno) : "ok");
  printf("done\n");
  return 0;
}
