/*
 * A tiny HTTP/1.0 server for the sandbox-mode tests: `net_httpd ADDR PORT COUNT`
 * listens on ADDR:PORT (IPv4 or IPv6 literal), prints "listening" once ready, serves
 * COUNT requests and exits. GET /N answers N bytes of a fixed pattern (byte i is
 * (i * 31 + 7) & 0xff); anything else answers "hello from the sandbox\n".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int writeall(int fd, const char *b, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, b, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    b += w;
    n -= (size_t)w;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 4) return 2;
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t sl;
  int fam = strchr(argv[1], ':') ? AF_INET6 : AF_INET;
  if (fam == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(atoi(argv[2]));
    if (inet_pton(AF_INET6, argv[1], &a->sin6_addr) != 1) return 2;
    sl = sizeof *a;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &a->sin_addr) != 1) return 2;
    sl = sizeof *a;
  }
  int l = socket(fam, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(l, (struct sockaddr *)&ss, sl) != 0) { perror("bind"); return 1; }
  if (listen(l, 16) != 0) { perror("listen"); return 1; }
  printf("listening\n");
  fflush(stdout);
  int count = atoi(argv[3]);
  static char body[1 << 16];
  for (size_t i = 0; i < sizeof body; i++) body[i] = (char)((i * 31 + 7) & 0xff);
  for (int k = 0; k < count; k++) {
    struct sockaddr_storage peer;
    socklen_t pl = sizeof peer;
    int c = accept(l, (struct sockaddr *)&peer, &pl);
    if (c < 0) { perror("accept"); return 1; }
    char req[4096];
    size_t have = 0;
    while (have < sizeof req - 1) {
      ssize_t r = read(c, req + have, sizeof req - 1 - have);
      if (r <= 0) break;
      have += (size_t)r;
      req[have] = 0;
      if (strstr(req, "\r\n\r\n")) break;
    }
    req[have] = 0;
    long n = -1;
    if (strncmp(req, "GET /", 5) == 0 && req[5] >= '0' && req[5] <= '9') n = atol(req + 5);
    char hdr[256];
    if (n < 0) {
      const char *msg = "hello from the sandbox\n";
      snprintf(hdr, sizeof hdr, "HTTP/1.0 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(msg), msg);
      writeall(c, hdr, strlen(hdr));
    } else {
      snprintf(hdr, sizeof hdr, "HTTP/1.0 200 OK\r\nContent-Length: %ld\r\n\r\n", n);
      writeall(c, hdr, strlen(hdr));
      for (long off = 0; off < n;) {
        /* Pattern continues across chunks: index by absolute offset. */
        long k2 = n - off < (long)sizeof body ? n - off : (long)sizeof body;
        long phase = off % 256;
        static char chunk[1 << 16];
        for (long i = 0; i < k2; i++) chunk[i] = (char)(((off + i) * 31 + 7) & 0xff);
        (void)phase;
        if (writeall(c, chunk, (size_t)k2) != 0) break;
        off += k2;
      }
    }
    shutdown(c, SHUT_WR);
    char sink[256];
    while (read(c, sink, sizeof sink) > 0) {}
    close(c);
  }
  printf("served %d\n", count);
  return 0;
}
