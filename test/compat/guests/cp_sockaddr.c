/* Socket address checks at bind/connect/sendto entry (family and length per socket kind), and
 * accept/accept4 with a full fd table: EMFILE, the connection staying queued for the next
 * accept (issue 15). Every socket is fresh, every target local and refused or unbound. */
#include "common.h"
#include <fcntl.h>
#include <signal.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>

static struct { const char *name; int domain, type; } kinds[] = {
  { "inet stream", AF_INET, SOCK_STREAM }, { "inet dgram", AF_INET, SOCK_DGRAM },
  { "inet6 stream", AF_INET6, SOCK_STREAM }, { "inet6 dgram", AF_INET6, SOCK_DGRAM },
  { "unix stream", AF_UNIX, SOCK_STREAM }, { "unix dgram", AF_UNIX, SOCK_DGRAM },
  { "unix seqpacket", AF_UNIX, SOCK_SEQPACKET },
};

/* One address of each shape; port 1 on loopback (nothing listens there), unix names unbound. */
static socklen_t addr_of(int shape, unsigned char *b, const char **label) {
  memset(b, 0, 128);
  struct sockaddr_in *in = (void *)b;
  struct sockaddr_in6 *in6 = (void *)b;
  struct sockaddr_un *un = (void *)b;
  switch (shape) {
  case 0: *label = "len 0"; return 0;
  case 1: *label = "len 1"; b[0] = AF_INET; return 1;
  case 2: *label = "unspec 2"; return 2;
  case 3: *label = "unspec 16"; return 16;
  case 4: *label = "in len 15"; in->sin_family = AF_INET; in->sin_port = htons(1); in->sin_addr.s_addr = htonl(0x7f000001); return 15;
  case 5: *label = "in len 16"; in->sin_family = AF_INET; in->sin_port = htons(1); in->sin_addr.s_addr = htonl(0x7f000001); return 16;
  case 6: *label = "in6 len 23"; in6->sin6_family = AF_INET6; in6->sin6_port = htons(1); in6->sin6_addr.s6_addr[15] = 1; return 23;
  case 7: *label = "in6 len 24"; in6->sin6_family = AF_INET6; in6->sin6_port = htons(1); in6->sin6_addr.s6_addr[15] = 1; return 24;
  case 8: *label = "in6 len 28"; in6->sin6_family = AF_INET6; in6->sin6_port = htons(1); in6->sin6_addr.s6_addr[15] = 1; return 28;
  case 9: *label = "unix len 2"; un->sun_family = AF_UNIX; return 2;
  case 10: *label = "unix name"; un->sun_family = AF_UNIX; strcpy(un->sun_path, "nosuch.sock"); return 14;
  case 11: *label = "unix len 111"; un->sun_family = AF_UNIX; strcpy(un->sun_path, "nosuch.sock"); return 111;
  case 12: *label = "family 99"; b[0] = 99; return 16;
  case 13: *label = "len 129"; in->sin_family = AF_INET; return 129;
  case 14: *label = "in port 0"; in->sin_family = AF_INET; in->sin_addr.s_addr = htonl(0x7f000001); return 16;
  }
  return 0;
}

static void sweep(const char *call) {
  unsigned char b[256];
  for (unsigned k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
    for (int shape = 0; shape < 15; shape++) {
      const char *label;
      socklen_t len = addr_of(shape, b, &label);
      int s = socket(kinds[k].domain, kinds[k].type, 0);
      if (s < 0) { printf("socket %s: %s\n", kinds[k].name, ename(errno)); continue; }
      char what[96];
      snprintf(what, sizeof what, "%s %s, %s", call, kinds[k].name, label);
      if (!strcmp(call, "bind")) {
        /* Binding a real unix name or inet port would succeed: only bad shapes and the in-range
           ones whose success is deterministic (ephemeral port 0) are tried. */
        if (shape == 5) ((struct sockaddr_in *)b)->sin_port = 0;
        if (shape >= 6 && shape <= 8) ((struct sockaddr_in6 *)b)->sin6_port = 0;
        OKERR(what, bind(s, (void *)b, len));
      } else if (!strcmp(call, "connect")) {
        OKERR(what, connect(s, (void *)b, len));
      } else if (!strcmp(call, "sendmsg")) {
        /* A name longer than the storage is cut to it (sendto refuses it). */
        struct iovec iov = { "x", 1 };
        struct msghdr m = { .msg_name = b, .msg_namelen = shape == 13 ? 200 : len, .msg_iov = &iov, .msg_iovlen = 1 };
        OKERR(what, sendmsg(s, &m, MSG_DONTWAIT));
      } else {
        OKERR(what, sendto(s, "x", 1, MSG_DONTWAIT, (void *)b, len));
      }
      close(s);
    }
  }
}

/* A listener with one queued connection, accepted with no fd free, then with one. */
static void accept_full(int domain) {
  int l = socket(domain, SOCK_STREAM, 0);
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  memset(&ss, 0, sizeof ss);
  if (domain == AF_UNIX) {
    struct sockaddr_un *un = (void *)&ss;
    un->sun_family = AF_UNIX;
    strcpy(un->sun_path, "l.sock");
    len = sizeof *un;
  } else {
    struct sockaddr_in *in = (void *)&ss;
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(0x7f000001);
    len = sizeof *in;
  }
  MUST(bind(l, (void *)&ss, len));
  MUST(listen(l, 4));
  len = sizeof ss;
  MUST(getsockname(l, (void *)&ss, &len));
  int c = socket(domain, SOCK_STREAM, 0);
  MUST(connect(c, (void *)&ss, len));
  struct rlimit old, lim;
  MUST(getrlimit(RLIMIT_NOFILE, &old));
  lim = old;
  lim.rlim_cur = c + 1; /* fds 0..c are taken: none free below the limit */
  MUST(setrlimit(RLIMIT_NOFILE, &lim));
  const char *d = domain == AF_UNIX ? "unix" : "inet";
  printf("%s accept, table full: ", d); OKERR("", accept(l, NULL, NULL));
  printf("%s accept4, table full: ", d); OKERR("", accept4(l, NULL, NULL, SOCK_CLOEXEC));
  printf("%s accept4 bad flags, table full: ", d); OKERR("", accept4(l, NULL, NULL, 0x40000000));
  printf("%s accept on a bad fd, table full: ", d); OKERR("", accept(c + 5, NULL, NULL));
  printf("%s accept on a file, table full: ", d); OKERR("", accept(0, NULL, NULL));
  MUST(setrlimit(RLIMIT_NOFILE, &old));
  int fl = fcntl(l, F_GETFL);
  MUST(fcntl(l, F_SETFL, fl | O_NONBLOCK));
  int a = accept(l, NULL, NULL);
  printf("%s accept after raising the limit: %s\n", d, a >= 0 ? "ok (still queued)" : ename(errno));
  if (a >= 0) {
    MUST(write(c, "hi", 2));
    char buf[4] = { 0 };
    printf("%s accepted end reads: %zd\n", d, read(a, buf, sizeof buf));
    close(a);
  }
  printf("%s second accept: ", d); OKERR("", accept(l, NULL, NULL));
  /* A bad address length fails the accept after the connection was taken: it is gone. */
  int c2 = socket(domain, SOCK_STREAM, 0);
  len = sizeof ss;
  MUST(getsockname(l, (void *)&ss, &len));
  MUST(connect(c2, (void *)&ss, len));
  socklen_t bad = (socklen_t)-1;
  printf("%s accept, length -1: ", d); OKERR("", accept(l, (void *)&ss, &bad));
  int c3 = socket(domain, SOCK_STREAM, 0);
  MUST(connect(c3, (void *)&ss, len));
  printf("%s accept, length at a bad pointer: ", d); OKERR("", accept(l, (void *)&ss, (socklen_t *)8));
  close(c3);
  printf("%s accept after: ", d); OKERR("", accept(l, NULL, NULL));
  printf("%s next fd free: %s\n", d, fcntl(c2 + 1, F_GETFD) < 0 ? "yes" : "no");
  char b1;
  printf("%s connector reads: ", d); OKERR("", read(c2, &b1, 1));
  close(c2);
  close(c);
  close(l);
}

int main(void) {
  guest_init();
  signal(SIGPIPE, SIG_IGN);
  enter_tmpdir();
  sweep("bind");
  sweep("connect");
  sweep("sendto");
  sweep("sendmsg");
  accept_full(AF_UNIX);
  accept_full(AF_INET);
  leave_tmpdir();
  return 0;
}
