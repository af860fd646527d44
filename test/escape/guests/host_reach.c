/*
 * host_reach SENTRY_PID GOFER_PID ABSTRACT_NAME: what a guest tries to reach the host's
 * processes and sockets with. Prints one line per attempt with its result.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

static const char *res(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

int main(int argc, char **argv) {
  if (argc < 4) return 2;
  int pids[2] = {atoi(argv[1]), atoi(argv[2])};
  for (int i = 0; i < 2; i++) {
    int p = pids[i];
    printf("kill(%s, 0): %s\n", i ? "gofer" : "sentry", res(kill(p, 0)));
    printf("kill(%s, SIGKILL): %s\n", i ? "gofer" : "sentry", res(kill(p, SIGKILL)));
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/mem", p);
    printf("open /proc/%s/mem: %s\n", i ? "gofer" : "sentry", res(open(path, O_RDWR)));
    snprintf(path, sizeof path, "/proc/%d/environ", p);
    printf("open /proc/%s/environ: %s\n", i ? "gofer" : "sentry", res(open(path, O_RDONLY)));
    printf("ptrace(ATTACH, %s): %s\n", i ? "gofer" : "sentry", res(ptrace(PTRACE_ATTACH, p, 0, 0)));
    printf("ptrace(SEIZE, %s): %s\n", i ? "gofer" : "sentry", res(ptrace(PTRACE_SEIZE, p, 0, 0)));
    printf("pidfd_open(%s): %s\n", i ? "gofer" : "sentry", res(syscall(SYS_pidfd_open, p, 0)));
  }
  /* Every pid this sandbox shows is its own: the host's pid 1 is the sandbox's init. */
  printf("ptrace(ATTACH, 1): %s\n", res(ptrace(PTRACE_ATTACH, 1, 0, 0)));
  /* The host's abstract unix socket namespace is invisible. */
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  size_t n = strlen(argv[3]);
  memcpy(a.sun_path + 1, argv[3], n);
  printf("connect @host-name: %s\n", res(connect(s, (struct sockaddr *)&a, sizeof(sa_family_t) + 1 + n)));
  return 0;
}
