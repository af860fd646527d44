/* SIGURG and SIGIO from TCP sockets, as Linux sends them: urgent data signals the socket's
 * owner (F_SETOWN, F_SETOWN_EX TID, a process group, FIOSETOWN, SIOCSPGRP) with SIGURG,
 * O_ASYNC or not; no owner, or the sender's side, none; FIOGETOWN/SIOCGPGRP read the owner
 * back; with O_ASYNC plain data brings SIGIO, and with F_SETSIG the chosen signal carries
 * POLL_PRI (urgent) and POLL_IN (data) with the fd and band. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile int urg, io, rt, rt_codes, rt_fd_ok, urg_code;
static int rt_want_fd;
static void on_urg(int s, siginfo_t *si, void *u) { (void)s; (void)u; urg++; urg_code = si->si_code; }
static void on_io(int s) { (void)s; io++; }
static void on_rt(int s, siginfo_t *si, void *u) {
  (void)s; (void)u;
  rt++;
  if (si->si_code >= 1 && si->si_code <= 6) rt_codes |= 1 << si->si_code;
  if (si->si_fd == rt_want_fd && ((si->si_code == POLL_PRI && (si->si_band & POLLPRI)) || (si->si_code == POLL_IN && (si->si_band & POLLIN)))) rt_fd_ok++;
}
static void die(const char *w) { printf("%s: %s\n", w, strerror(errno)); exit(1); }

static int lis;
static struct sockaddr_in la;
static void pair(int *c, int *s) {
  *c = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(*c, (void *)&la, sizeof la) < 0) die("connect");
  *s = accept(lis, NULL, NULL);
  if (*s < 0) die("accept");
}
/* Sends one urgent byte on c and waits until s sees it (POLLPRI). */
static void urgent(int c, int s) {
  if (send(c, "!", 1, MSG_OOB) != 1) die("send oob");
  struct pollfd p = {.fd = s, .events = POLLPRI};
  if (poll(&p, 1, 5000) != 1) die("poll pri");
}
static void data(int c, int s) {
  if (send(c, "d", 1, 0) != 1) die("send");
  struct pollfd p = {.fd = s, .events = POLLIN};
  if (poll(&p, 1, 5000) != 1) die("poll in");
}
static void drain(int s) {
  char b[64];
  while (recv(s, b, sizeof b, MSG_DONTWAIT) > 0) {}
  recv(s, b, 1, MSG_OOB | MSG_DONTWAIT);
}
/* Lets a signal sent just now arrive (it is pending by the time a syscall returns). */
static void settle(void) { getppid(); }

int main(void) {
  struct sigaction sa = {0};
  sa.sa_sigaction = on_urg;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigaction(SIGURG, &sa, NULL);
  signal(SIGIO, on_io);
  sa.sa_sigaction = on_rt;
  sigaction(SIGRTMIN, &sa, NULL);

  lis = socket(AF_INET, SOCK_STREAM, 0);
  la.sin_family = AF_INET;
  la.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t ll = sizeof la;
  if (bind(lis, (void *)&la, sizeof la) < 0 || listen(lis, 8) < 0) die("listen");
  getsockname(lis, (void *)&la, &ll);
  int c, s, v;

  /* No owner: no SIGURG. */
  pair(&c, &s);
  urgent(c, s);
  settle();
  printf("no owner: urg %d\n", urg);
  /* F_SETOWN: SIGURG, without O_ASYNC, si_code SI_KERNEL; the sender's own owner gets none. */
  fcntl(s, F_SETOWN, getpid());
  urgent(c, s);
  settle();
  printf("F_SETOWN: urg %d code %s getown %s\n", urg, urg_code == SI_KERNEL ? "SI_KERNEL" : "other", fcntl(s, F_GETOWN) == getpid() ? "pid" : "other");
  drain(s);
  fcntl(c, F_SETOWN, getpid());
  fcntl(s, F_SETOWN, 0);
  urgent(c, s);
  settle();
  printf("sender's owner only: urg %d\n", urg);
  fcntl(c, F_SETOWN, 0);
  drain(s);
  /* A newer mark signals again; plain data does not. */
  fcntl(s, F_SETOWN, getpid());
  data(c, s);
  settle();
  printf("plain data: urg %d io %d\n", urg, io);
  urgent(c, s);
  urgent(c, s);
  settle();
  printf("two marks: urg %d\n", urg);
  drain(s);
  close(c); close(s);

  /* The ioctls. */
  pair(&c, &s);
  int r;
  v = getpid();
  printf("FIOSETOWN %d", ioctl(s, FIOSETOWN, &v));
  v = 0;
  r = ioctl(s, FIOGETOWN, &v);
  printf(" FIOGETOWN %d %s", r, v == getpid() ? "pid" : "other");
  v = 0;
  r = ioctl(s, SIOCGPGRP, &v);
  printf(" SIOCGPGRP %d %s\n", r, v == getpid() ? "pid" : "other");
  urgent(c, s);
  settle();
  printf("after FIOSETOWN: urg %d\n", urg);
  drain(s);
  v = -getpgrp();
  printf("SIOCSPGRP -pgrp %d", ioctl(s, SIOCSPGRP, &v));
  printf(" F_GETOWN %s\n", fcntl(s, F_GETOWN) == -getpgrp() ? "-pgrp" : "other");
  urgent(c, s);
  settle();
  printf("process group owner: urg %d\n", urg);
  drain(s);
  v = 99999999;
  r = ioctl(s, SIOCSPGRP, &v);
  printf("SIOCSPGRP no such pid: %d %s\n", r, strerror(errno));
  r = ioctl(s, FIOSETOWN, (void *)8);
  printf("FIOSETOWN bad pointer: %d %s\n", r, strerror(errno));
  r = ioctl(s, SIOCGPGRP, (void *)8);
  printf("SIOCGPGRP bad pointer: %d %s\n", r, strerror(errno));
  struct f_owner_ex ex = {.type = F_OWNER_TID, .pid = (pid_t)syscall(SYS_gettid)};
  printf("F_SETOWN_EX tid %d\n", fcntl(s, F_SETOWN_EX, &ex));
  urgent(c, s);
  settle();
  printf("thread owner: urg %d\n", urg);
  drain(s);
  close(c); close(s);

  /* O_ASYNC: SIGIO on data; urgent data brings SIGURG (and SIGIO for its byte). */
  pair(&c, &s);
  fcntl(s, F_SETOWN, getpid());
  fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_ASYNC);
  int io0 = io;
  data(c, s);
  settle();
  printf("O_ASYNC data: sigio %s urg %d\n", io > io0 ? "yes" : "no", urg);
  drain(s);
  urgent(c, s);
  settle();
  printf("O_ASYNC urgent: urg %d\n", urg);
  drain(s);
  /* F_SETSIG: the chosen signal, POLL_PRI for the urgent byte, POLL_IN for data, with fd and band. */
  fcntl(s, F_SETSIG, SIGRTMIN);
  rt_want_fd = s;
  urgent(c, s);
  settle();
  printf("F_SETSIG urgent: urg %d rt %s pri %s in %s fd+band %s\n", urg, rt > 0 ? "yes" : "no", rt_codes & (1 << POLL_PRI) ? "yes" : "no", rt_codes & (1 << POLL_IN) ? "yes" : "no", rt_fd_ok > 0 ? "yes" : "no");
  close(c); close(s);
  printf("done\n");
  return 0;
}
