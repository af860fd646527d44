// Probes for the policy's rules (test/ci/policy.test.ts); each prints one line:
//   personality       errno of personality(0xffffffff) (a query: OK unless denied)
//   connect IP PORT   errno of a TCP connect (0 if it connected)
//   read PATH         errno of open(PATH) (0 if it opened)
//   env NAME          the variable's value, or (unset)
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *name(int e) {
  switch (e) {
    case 0: return "OK";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ENETUNREACH: return "ENETUNREACH";
    case ENOSYS: return "ENOSYS";
    default: return strerror(e);
  }
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  if (!strcmp(argv[1], "personality")) {
    int r = personality(0xffffffff);
    printf("personality %s\n", name(r < 0 ? errno : 0));
  } else if (!strcmp(argv[1], "connect") && argc >= 4) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[3])) };
    inet_pton(AF_INET, argv[2], &a.sin_addr);
    int r = connect(s, (struct sockaddr *)&a, sizeof a);
    printf("connect %s\n", name(r < 0 ? errno : 0));
  } else if (!strcmp(argv[1], "read") && argc >= 3) {
    int fd = open(argv[2], O_RDONLY);
    printf("read %s\n", name(fd < 0 ? errno : 0));
  } else if (!strcmp(argv[1], "env") && argc >= 3) {
    const char *v = getenv(argv[2]);
    printf("env %s=%s\n", argv[2], v ? v : "(unset)");
  } else {
    return 2;
  }
  return 0;
}
