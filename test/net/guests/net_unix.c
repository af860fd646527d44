/* AF_UNIX: socketpair types, EOF/EPIPE/SIGPIPE, pathname and abstract names,
 * accept, SCM_RIGHTS, SO_PEERCRED, nonblocking accept, poll/epoll readiness. */
#include "common.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <stddef.h>

static volatile int sigpipes;
static void on_pipe(int s) { (void)s; sigpipes++; }

static void pairs(void) {
  int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
  const char *names[] = {"stream", "dgram", "seqpacket"};
  for (int i = 0; i < 3; i++) {
    int sv[2];
    MUST(socketpair(AF_UNIX, types[i], 0, sv));
    char b[64];
    SHOW("send", send(sv[0], "hello", 5, 0));
    SHOW("send2", send(sv[0], "world!", 6, 0));
    ssize_t n = recv(sv[1], b, 3, 0);
    printf("%s recv3 = %zd '%.*s'\n", names[i], n, (int)(n > 0 ? n : 0), b);
    n = recv(sv[1], b, sizeof b, 0);
    printf("%s recv = %zd '%.*s'\n", names[i], n, (int)(n > 0 ? n : 0), b);
    int type = 0; socklen_t l = sizeof type;
    MUST(getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &type, &l));
    printf("%s SO_TYPE=%d len=%d\n", names[i], type, (int)l);
    EXPECT_ERR("nonblock empty", recv(sv[1], b, sizeof b, MSG_DONTWAIT), EAGAIN);
    close(sv[0]);
    if (types[i] != SOCK_DGRAM) {
      SHOW("recv after close", recv(sv[1], b, sizeof b, 0));
      sigpipes = 0;
      SHOW("send after close", send(sv[1], "x", 1, 0));
      printf("sigpipes=%d\n", sigpipes);
      SHOW("send nosignal", send(sv[1], "x", 1, MSG_NOSIGNAL));
      printf("sigpipes=%d\n", sigpipes);
    } else {
      EXPECT_ERR("dgram send to closed", send(sv[1], "x", 1, 0), ECONNREFUSED);
    }
    close(sv[1]);
  }
  int sv[2];
  MUST(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  MUST(shutdown(sv[0], SHUT_WR));
  char b[8];
  SHOW("read after peer SHUT_WR", read(sv[1], b, 8));
  SHOW("write back", write(sv[1], "ok", 2));
  SHOW("read back", read(sv[0], b, 8));
  EXPECT_ERR("write after SHUT_WR", send(sv[0], "x", 1, MSG_NOSIGNAL), EPIPE);
  close(sv[0]); close(sv[1]);
  EXPECT_ERR("socketpair inet", socketpair(AF_INET, SOCK_STREAM, 0, sv), EOPNOTSUPP);
  EXPECT_ERR("socket bad family", socket(1234, SOCK_STREAM, 0), EAFNOSUPPORT);
  EXPECT_ERR("socket bad type", socket(AF_UNIX, 7, 0), ESOCKTNOSUPPORT);
  EXPECT_ERR("socket bad proto", socket(AF_UNIX, SOCK_STREAM, 5), EPROTONOSUPPORT);
  EXPECT_ERR("socket inet seqpacket", socket(AF_INET, SOCK_SEQPACKET, 0), ESOCKTNOSUPPORT);
  EXPECT_ERR("socket tcp+udp", socket(AF_INET, SOCK_STREAM, 17), EPROTONOSUPPORT);
  int dn = open("/dev/null", O_RDONLY);
  EXPECT_ERR("getsockname notsock", getsockname(dn, NULL, NULL), ENOTSOCK);
  close(dn);
}

static void named(const char *label, struct sockaddr_un *a, socklen_t alen) {
  int srv = socket(AF_UNIX, SOCK_STREAM, 0);
  MUST(srv);
  EXPECT_ERR("listen unbound", listen(srv, 5), EINVAL);
  SHOW("bind", bind(srv, (struct sockaddr *)a, alen));
  EXPECT_ERR("bind again", bind(srv, (struct sockaddr *)a, alen), EINVAL);
  int other = socket(AF_UNIX, SOCK_STREAM, 0);
  EXPECT_ERR("bind in use", bind(other, (struct sockaddr *)a, alen), EADDRINUSE);
  EXPECT_ERR("connect not listening", connect(other, (struct sockaddr *)a, alen), ECONNREFUSED);
  close(other);
  SHOW("listen", listen(srv, 5));
  int fl = fcntl(srv, F_GETFL);
  fcntl(srv, F_SETFL, fl | O_NONBLOCK);
  EXPECT_ERR("accept empty nonblock", accept(srv, NULL, NULL), EAGAIN);
  fcntl(srv, F_SETFL, fl);
  struct pollfd p = {srv, POLLIN, 0};
  SHOW("poll listener before", poll(&p, 1, 0));
  int c = socket(AF_UNIX, SOCK_STREAM, 0);
  SHOW("connect", connect(c, (struct sockaddr *)a, alen));
  SHOW("poll listener after", poll(&p, 1, 0));
  printf("revents=%#x\n", p.revents);
  struct sockaddr_un peer; socklen_t pl = sizeof peer;
  int s = accept(c >= 0 ? srv : -1, (struct sockaddr *)&peer, &pl);
  MUST(s);
  printf("%s accept peer len=%d\n", label, (int)pl);
  struct sockaddr_un me; socklen_t ml = sizeof me;
  MUST(getsockname(s, (struct sockaddr *)&me, &ml));
  printf("%s accepted sockname len=%d same=%d\n", label, (int)ml, ml == alen || ml == alen + 1 ? memcmp(me.sun_path, a->sun_path, alen - 2) == 0 : 0);
  ml = sizeof me;
  MUST(getpeername(c, (struct sockaddr *)&me, &ml));
  printf("%s client peername len=%d\n", label, (int)ml);
  struct ucred cr; socklen_t cl = sizeof cr;
  MUST(getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &cl));
  printf("peercred pid ok=%d uid ok=%d gid ok=%d\n", cr.pid == getpid(), cr.uid == geteuid(), cr.gid == getegid());
  char b[16];
  write(c, "ping", 4);
  ssize_t n = read(s, b, sizeof b);
  printf("server got %zd '%.*s'\n", n, (int)n, b);
  close(c); close(s); close(srv);
}

static void rights(void) {
  int sv[2], pp[2];
  MUST(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  MUST(pipe(pp));
  int file = open("/etc/passwd", O_RDONLY);
  MUST(file);
  char cbuf[CMSG_SPACE(2 * sizeof(int))];
  memset(cbuf, 0, sizeof cbuf);
  struct iovec iov = {"F", 1};
  struct msghdr m = {0};
  m.msg_iov = &iov; m.msg_iovlen = 1; m.msg_control = cbuf; m.msg_controllen = sizeof cbuf;
  struct cmsghdr *h = CMSG_FIRSTHDR(&m);
  h->cmsg_level = SOL_SOCKET; h->cmsg_type = SCM_RIGHTS; h->cmsg_len = CMSG_LEN(2 * sizeof(int));
  int fds[2] = {pp[1], file};
  memcpy(CMSG_DATA(h), fds, sizeof fds);
  SHOW("sendmsg rights", sendmsg(sv[0], &m, 0));
  close(pp[1]); close(file);
  char rb[1]; char rc[CMSG_SPACE(2 * sizeof(int))];
  struct iovec riov = {rb, 1};
  struct msghdr r = {0};
  r.msg_iov = &riov; r.msg_iovlen = 1; r.msg_control = rc; r.msg_controllen = sizeof rc;
  SHOW("recvmsg rights", recvmsg(sv[1], &r, MSG_CMSG_CLOEXEC));
  printf("controllen=%zu flags=%#x\n", (size_t)r.msg_controllen, r.msg_flags);
  struct cmsghdr *g = CMSG_FIRSTHDR(&r);
  int got[2] = {-1, -1};
  if (g && g->cmsg_type == SCM_RIGHTS) memcpy(got, CMSG_DATA(g), sizeof got);
  printf("cmsg len=%zu cloexec=%d\n", g ? (size_t)g->cmsg_len : 0, (fcntl(got[0], F_GETFD) & FD_CLOEXEC) != 0);
  SHOW("write via passed pipe", write(got[0], "abc", 3));
  char pb[8];
  SHOW("read pipe", read(pp[0], pb, 8));
  SHOW("read passed file", read(got[1], pb, 4));
  printf("file starts '%.4s'\n", pb);
  /* truncation: no room for control */
  MUST(sendmsg(sv[0], &m, 0) < 0 ? -1 : 0) ;
  r.msg_controllen = 0; r.msg_control = NULL;
  SHOW("recvmsg no room", recvmsg(sv[1], &r, 0));
  printf("flags ctrunc=%d\n", (r.msg_flags & MSG_CTRUNC) != 0);
  /* bad fd */
  fds[0] = 999; memcpy(CMSG_DATA(h), fds, sizeof fds);
  EXPECT_ERR("sendmsg bad fd", sendmsg(sv[0], &m, 0), EBADF);
  close(sv[0]); close(sv[1]);
}

static void readiness(void) {
  int sv[2];
  MUST(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv));
  struct pollfd p[2] = {{sv[0], POLLIN | POLLOUT, 0}, {sv[1], POLLIN | POLLOUT, 0}};
  SHOW("poll idle", poll(p, 2, 0));
  printf("re0=%#x re1=%#x\n", p[0].revents, p[1].revents);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7};
  MUST(epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &ev));
  SHOW("epoll idle", epoll_wait(ep, &ev, 1, 0));
  pid_t pid = fork();
  if (pid == 0) { usleep(20000); write(sv[0], "z", 1); _exit(0); }
  SHOW("epoll wait", epoll_wait(ep, &ev, 1, 5000));
  printf("data=%u events=%#x\n", ev.data.u32, ev.events);
  waitpid(pid, NULL, 0);
  /* fill the buffer: nonblocking writes end in EAGAIN */
  char big[4096]; memset(big, 'x', sizeof big);
  long total = 0; ssize_t n;
  while ((n = write(sv[0], big, sizeof big)) > 0) total += n;
  printf("filled: %s, big=%d\n", ename(errno), total > 100000);
  p[0].events = POLLOUT;
  SHOW("poll full", poll(p, 1, 0));
  close(sv[1]);
  p[0].events = POLLIN | POLLOUT;
  SHOW("poll after peer close", poll(p, 1, 0));
  printf("re=%#x\n", p[0].revents);
  close(sv[0]); close(ep);
}

static void dgram_named(void) {
  struct sockaddr_un a = {AF_UNIX};
  snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "tss-dgram-%08d", (int)getpid());
  socklen_t al = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a.sun_path + 1);
  int r = socket(AF_UNIX, SOCK_DGRAM, 0), s = socket(AF_UNIX, SOCK_DGRAM, 0);
  MUST(bind(r, (struct sockaddr *)&a, al));
  SHOW("sendto", sendto(s, "dg1", 3, 0, (struct sockaddr *)&a, al));
  struct sockaddr_un from; socklen_t fl = sizeof from;
  char b[8];
  SHOW("recvfrom", recvfrom(r, b, 2, 0, (struct sockaddr *)&from, &fl));
  printf("fromlen=%d\n", (int)fl);
  SHOW("sendto 2", sendto(s, "dg22", 4, 0, (struct sockaddr *)&a, al));
  SHOW("recv trunc", recv(r, b, 2, MSG_TRUNC));
  struct sockaddr_un auto_ = {AF_UNIX};
  SHOW("autobind", bind(s, (struct sockaddr *)&auto_, sizeof(sa_family_t)));
  fl = sizeof from;
  MUST(getsockname(s, (struct sockaddr *)&from, &fl));
  printf("autobind len=%d abstract=%d\n", (int)fl, from.sun_path[0] == 0);
  close(r); close(s);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  signal(SIGPIPE, on_pipe);
  pairs();
  char dir[] = "/tmp/tssnetXXXXXX";
  MUST(mkdtemp(dir) ? 0 : -1);
  struct sockaddr_un a = {AF_UNIX};
  snprintf(a.sun_path, sizeof a.sun_path, "%s/sock", dir);
  named("path", &a, offsetof(struct sockaddr_un, sun_path) + strlen(a.sun_path) + 1);
  struct stat st;
  MUST(stat(a.sun_path, &st));
  printf("socket file is S_IFSOCK: %d\n", S_ISSOCK(st.st_mode));
  int c = socket(AF_UNIX, SOCK_STREAM, 0);
  EXPECT_ERR("connect stale path", connect(c, (struct sockaddr *)&a, sizeof a), ECONNREFUSED);
  unlink(a.sun_path);
  EXPECT_ERR("connect missing path", connect(c, (struct sockaddr *)&a, sizeof a), ENOENT);
  close(c);
  rmdir(dir);
  struct sockaddr_un ab = {AF_UNIX};
  /* unique per process: native static and dynamic runs happen at the same time */
  snprintf(ab.sun_path + 1, sizeof ab.sun_path - 1, "tss-abstract-%08d", (int)getpid());
  named("abstract", &ab, offsetof(struct sockaddr_un, sun_path) + 1 + strlen(ab.sun_path + 1));
  rights();
  readiness();
  dgram_named();
  printf("done\n");
  return 0;
}
