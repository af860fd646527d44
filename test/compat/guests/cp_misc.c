/* Odds and ends of issue 15: TCGETA/TCSETA, umount2("."), recvmmsg timeouts, accept's
 * unix address length, SIGIO (F_SETOWN, F_SETSIG, O_ASYNC) on pipes, sockets and ptys. */
#include "common.h"
#include <fcntl.h>
#include <signal.h>
#include <termio.h>
#include <termios.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <poll.h>
#include <stddef.h>

static volatile int io_sig, io_code, io_fd, io_count;
static volatile long io_band;
static void on_io(int sig, siginfo_t *si, void *u) {
  (void)u;
  io_sig = sig; io_code = si->si_code; io_fd = si->si_fd; io_band = si->si_band; io_count++;
}

static void sigio_case(const char *label, int rfd, int wfd, int rt) {
  io_sig = io_code = io_fd = 0; io_band = 0; io_count = 0;
  SHOW("  F_SETOWN", fcntl(rfd, F_SETOWN, getpid()));
  SHOW("  F_GETOWN is us", fcntl(rfd, F_GETOWN) == getpid());
  if (rt) SHOW("  F_SETSIG", fcntl(rfd, F_SETSIG, SIGRTMIN + 1));
  SHOW("  O_ASYNC", fcntl(rfd, F_SETFL, fcntl(rfd, F_GETFL) | O_ASYNC));
  write(wfd, "ping\n", 5);
  /* Bounded (20 s) wait for the signal: a loaded machine may deliver it late. */
  for (int i = 0; i < 10000 && !io_count; i++) { struct timespec ts = { 0, 2000000 }; nanosleep(&ts, 0); }
  printf("%s: signal %s", label, io_sig == SIGIO ? "SIGIO" : io_sig == SIGRTMIN + 1 ? "SIGRTMIN+1" : io_sig ? "other" : "none");
  if (rt) printf(", code %s, fd %s, band has POLLIN %s", io_code == POLL_IN ? "POLL_IN" : "other", io_fd == rfd ? "right" : "wrong", io_band & POLLIN ? "yes" : "no");
  printf("\n");
  char b[16];
  read(rfd, b, sizeof b);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  /* TCGETA / TCSETA on a pty slave. */
  int m = posix_openpt(O_RDWR | O_NOCTTY);
  grantpt(m); unlockpt(m);
  int s = open(ptsname(m), O_RDWR | O_NOCTTY);
  struct termio tio;
  SHOW("TCGETA", ioctl(s, TCGETA, &tio));
  struct termios tios;
  tcgetattr(s, &tios);
  FACT("TCGETA lflag is termios' low half", tio.c_lflag == (tios.c_lflag & 0xffff));
  FACT("TCGETA VINTR", tio.c_cc[VINTR] == tios.c_cc[VINTR]);
  tio.c_lflag &= ~ECHO;
  tio.c_cc[VINTR] = 5;
  SHOW("TCSETA", ioctl(s, TCSETA, &tio));
  tcgetattr(s, &tios);
  FACT("ECHO now off", !(tios.c_lflag & ECHO));
  FACT("VINTR now 5", tios.c_cc[VINTR] == 5);
  SHOW("TCSETAW", ioctl(s, TCSETAW, &tio));
  SHOW("TCSETAF", ioctl(s, TCSETAF, &tio));
  EXPECT_ERR("TCGETA bad pointer", ioctl(s, TCGETA, (void *)8), EFAULT);
  int p[2];
  pipe(p);
  EXPECT_ERR("TCGETA on a pipe", ioctl(p[0], TCGETA, &tio), ENOTTY);
  close(p[0]); close(p[1]);

  /* umount2(".") after mounting over the cwd takes the mount on top. */
  char d[] = "/tmp/cp_misc.XXXXXX";
  mkdtemp(d);
  chdir(d);
  SHOW("mount over cwd", mount("none", ".", "tmpfs", 0, 0));
  SHOW("umount2 . MNT_DETACH", umount2(".", MNT_DETACH));
  EXPECT_ERR("umount2 . again", umount2(".", MNT_DETACH), EINVAL);
  chdir("/");
  rmdir(d);

  /* recvmmsg: a bad timeout is EINVAL at once. */
  int sv[2];
  socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
  struct mmsghdr mm[1];
  char buf[16];
  struct iovec iov = { buf, sizeof buf };
  memset(mm, 0, sizeof mm);
  mm[0].msg_hdr.msg_iov = &iov;
  mm[0].msg_hdr.msg_iovlen = 1;
  struct timespec bad = { 0, 1000000000 };
  EXPECT_ERR("recvmmsg tv_nsec 1e9", recvmmsg(sv[0], mm, 1, 0, &bad), EINVAL);
  struct timespec neg = { -1, 0 };
  EXPECT_ERR("recvmmsg tv_sec -1", recvmmsg(sv[0], mm, 1, 0, &neg), EINVAL);
  EXPECT_ERR("recvmmsg bad pointer", recvmmsg(sv[0], mm, 1, 0, (struct timespec *)8), EFAULT);
  struct timespec shortt = { 0, 20000000 };
  EXPECT_ERR("recvmmsg nothing, MSG_DONTWAIT", recvmmsg(sv[0], mm, 1, MSG_DONTWAIT, &shortt), EAGAIN);
  send(sv[1], "x", 1, 0);
  SHOW("recvmmsg with data", recvmmsg(sv[0], mm, 1, 0, &shortt));
  close(sv[0]); close(sv[1]);

  /* accept on a unix socket: an unnamed peer has address length sizeof(sa_family_t). */
  char sd[] = "/tmp/cp_misc_s.XXXXXX";
  mkdtemp(sd);
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s/sock", sd);
  int l = socket(AF_UNIX, SOCK_STREAM, 0);
  bind(l, (struct sockaddr *)&sa, sizeof sa);
  listen(l, 4);
  int c = socket(AF_UNIX, SOCK_STREAM, 0);
  connect(c, (struct sockaddr *)&sa, sizeof sa);
  struct sockaddr_un peer;
  socklen_t pl = sizeof peer;
  int a = accept(l, (struct sockaddr *)&peer, &pl);
  SHOW("accept", a >= 0 ? 0 : -1);
  SHOW("accept addrlen", pl);
  SHOW("accept family", peer.sun_family);
  pl = sizeof peer;
  getpeername(a, (struct sockaddr *)&peer, &pl);
  SHOW("getpeername addrlen", pl);
  pl = sizeof peer;
  getpeername(c, (struct sockaddr *)&peer, &pl);
  FACT("client's peer is the bound path", pl == offsetof(struct sockaddr_un, sun_path) + strlen(sa.sun_path) + 1);

  /* SIGIO. */
  struct sigaction act = { 0 };
  act.sa_sigaction = on_io;
  act.sa_flags = SA_SIGINFO;
  sigaction(SIGIO, &act, 0);
  sigaction(SIGRTMIN + 1, &act, 0);
  EXPECT_ERR("F_SETOWN no such pid", fcntl(a, F_SETOWN, 99999), ESRCH);
  EXPECT_ERR("F_SETSIG 65", fcntl(a, F_SETSIG, 65), EINVAL);
  SHOW("F_GETSIG default", fcntl(a, F_GETSIG));
  pipe(p);
  sigio_case("pipe", p[0], p[1], 0);
  int q[2];
  pipe(q);
  sigio_case("pipe, F_SETSIG", q[0], q[1], 1);
  sigio_case("unix socket", a, c, 0);
  int sp[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
  sigio_case("socketpair, F_SETSIG", sp[0], sp[1], 1);
  tcgetattr(s, &tios);
  cfmakeraw(&tios);
  tcsetattr(s, TCSANOW, &tios);
  sigio_case("pty slave", s, m, 0);
  /* O_ASYNC off: no more signals. */
  fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) & ~O_ASYNC);
  io_count = 0;
  write(p[1], "x", 1);
  struct timespec ts = { 0, 30000000 };
  nanosleep(&ts, 0);
  printf("after O_ASYNC off: %d signals\n", io_count);
  struct f_owner_ex ox = { F_OWNER_TID, gettid() };
  SHOW("F_SETOWN_EX tid", fcntl(q[0], F_SETOWN_EX, &ox));
  memset(&ox, 0, sizeof ox);
  fcntl(q[0], F_GETOWN_EX, &ox);
  FACT("F_GETOWN_EX", ox.type == F_OWNER_TID && ox.pid == gettid());
  unlink(sa.sun_path);
  rmdir(sd);
  printf("done\n");
  return 0;
}
