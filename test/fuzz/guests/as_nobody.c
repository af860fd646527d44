/*
 * as_nobody PROGRAM ARGS...: makes the working directory world-writable, drops to
 * uid/gid 65534 with no supplementary groups, and execs PROGRAM (trinity refuses to
 * run as root without a 10-second warning).
 */
#define _GNU_SOURCE
#include <grp.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  if (chmod(".", 01777) != 0) perror("chmod .");
  if (setgroups(0, NULL) != 0 || setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) {
    perror("dropping privileges");
    return 126;
  }
  execv(argv[1], argv + 1);
  perror("execv");
  return 127;
}
