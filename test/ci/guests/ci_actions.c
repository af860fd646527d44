// A guest whose every action the audit report must show (test/ci/report.test.ts):
// makes /tss-report-test (on the sandbox's own upper layer: nothing of the host's there),
// writes known bytes to a.txt (two writes) and b.bin in it, removes b.bin,
// runs "/bin/echo child" from a forked child that itself forks a grandchild exiting 7,
// connects to a loopback TCP listener of its own and sends 5 bytes, exits with 3.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
  if (mkdir("/tss-report-test", 0755)) { perror("mkdir"); return 1; }
  int fd = open("/tss-report-test/a.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (write(fd, "hello ", 6) != 6 || write(fd, "world\n", 6) != 6) return 1;
  close(fd);
  fd = open("/tss-report-test/b.bin", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (write(fd, "\x01\x02\x03", 3) != 3) return 1;
  close(fd);
  unlink("/tss-report-test/b.bin");

  pid_t c = fork();
  if (c == 0) {
    pid_t g = fork();
    if (g == 0) _exit(7);
    int st;
    waitpid(g, &st, 0);
    execl("/bin/echo", "echo", "child", (char *)NULL);
    _exit(127);
  }
  int st;
  waitpid(c, &st, 0);

  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(40123) };
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1)) { perror("listen"); return 1; }
  int s = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(s, (struct sockaddr *)&a, sizeof a)) { perror("connect"); return 1; }
  if (write(s, "ping\n", 5) != 5) return 1;
  int p = accept(l, NULL, NULL);
  char buf[8];
  if (read(p, buf, sizeof buf) != 5) return 1;
  printf("done\n");
  fflush(stdout);
  return 3;
}
