// net_churn N [v6]: N short TCP connections over loopback in one process, as a busy
// client and server make them: connect, accept, a request and an answer, close (the
// client first, so TIME_WAIT piles up on the client's side). Prints "ok N" when every
// one carried its bytes, else where it stopped.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 10000;
  int v6 = argc > 2 && strcmp(argv[2], "v6") == 0;
  struct sockaddr_storage ss = {0};
  socklen_t al = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  if (v6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  }
  int l = socket(ss.ss_family, SOCK_STREAM, 0);
  if (bind(l, (struct sockaddr *)&ss, al) || listen(l, 128) || getsockname(l, (struct sockaddr *)&ss, &al)) return perror("listen"), 1;
  for (long i = 0; i < n; i++) {
    int c = socket(ss.ss_family, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&ss, al)) return printf("connect %ld: %s\n", i, strerror(errno)), 1;
    int s = accept(l, NULL, NULL);
    if (s < 0) return printf("accept %ld: %s\n", i, strerror(errno)), 1;
    char q[16], r[16];
    int ql = snprintf(q, sizeof q, "GET %ld", i);
    if (write(c, q, ql) != ql || read(s, r, sizeof r) != ql || memcmp(q, r, ql)) return printf("request %ld\n", i), 1;
    if (write(s, "OK", 2) != 2 || read(c, r, sizeof r) != 2) return printf("answer %ld\n", i), 1;
    close(c);
    if (read(s, r, sizeof r) != 0) return printf("EOF %ld\n", i), 1;
    close(s);
  }
  printf("ok %ld\n", n);
  return 0;
}
