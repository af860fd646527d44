/* SECCOMP_IOCTL_NOTIF_ADDFD (issue 15): a supervisor puts its own fds into the table of
 * the task whose call it is answering (lowest free, at a chosen number with SETFD,
 * close-on-exec, and with SEND as the call's result), against Linux. */
#define _GNU_SOURCE
#include "common.h"
#include "fdpass.h"
#include <stddef.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <fcntl.h>

int main(void) {
  guest_init();
  int sv[2], pp[2];
  MUST(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  MUST(pipe(pp));
  pid_t c = fork();
  if (c == 0) {
    close(sv[0]);
    close(pp[0]);
    close(pp[1]);
    struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog p = { .len = 4, .filter = f };
    MUST(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    int l = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &p);
    MUST(l);
    sendfd(sv[1], l);
    close(l);
    long r = syscall(SYS_getppid);
    char out[512];
    int k = snprintf(out, sizeof out, "child: call answered with fd %ld\nchild: fd 100 close-on-exec %d, fd %ld close-on-exec %d\n",
                     r, fcntl(100, F_GETFD) == FD_CLOEXEC, r, fcntl((int)r, F_GETFD) == FD_CLOEXEC);
    /* Every fd the supervisor added is its pipe's write end. */
    for (int fd = 3; fd <= 100; fd++) {
      if (fd == sv[1] || fcntl(fd, F_GETFD) < 0) continue;
      char b[16];
      int n = snprintf(b, sizeof b, "w%d;", fd);
      if (write(fd, b, n) == n) k += snprintf(out + k, sizeof out - k, "child: wrote through fd %d\n", fd);
    }
    write(sv[1], out, k);
    _exit(0);
  }
  close(sv[1]);
  int fd = recvfd(sv[0]);
  struct seccomp_notif n;
  memset(&n, 0, sizeof n);
  SHOW("RECV", ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &n));
  struct seccomp_notif_addfd a = { .id = n.id, .srcfd = pp[1] };
  a.flags = 4;
  EXPECT_ERR("ADDFD with a bad flag", ioctl(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &a), EINVAL);
  a.flags = 0;
  a.newfd = 50;
  EXPECT_ERR("ADDFD newfd without SETFD", ioctl(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &a), EINVAL);
  a.newfd = 0;
  a.newfd_flags = O_NONBLOCK;
  EXPECT_ERR("ADDFD with bad newfd_flags", ioctl(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &a), EINVAL);
  a.newfd_flags = 0;
  a.srcfd = 999;
  EXPECT_ERR("ADDFD of a closed fd", ioctl(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &a), EBADF);
  a.srcfd = pp[1];
  a.id = n.id + 1;
  EXPECT_ERR("ADDFD for an unknown id", ioctl(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &a), ENOENT);
  a.id = n.id;
  SHOW("ADDFD lowest free", ioctl(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &a));
  a.flags = SECCOMP_ADDFD_FLAG_SETFD;
  a.newfd = 100;
  a.newfd_flags = O_CLOEXEC;
  SHOW("ADDFD at 100, close-on-exec", ioctl(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &a));
  a.flags = SECCOMP_ADDFD_FLAG_SEND;
  a.newfd = 0;
  a.newfd_flags = 0;
  SHOW("ADDFD with SEND", ioctl(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &a));
  EXPECT_ERR("ADDFD once answered", ioctl(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &a), ENOENT);
  close(pp[1]);
  int st;
  waitpid(c, &st, 0);
  printf("child exit %d\n", WEXITSTATUS(st));
  char got[512];
  ssize_t k = read(sv[0], got, sizeof got - 1);
  if (k > 0) { got[k] = 0; fputs(got, stdout); }
  k = read(pp[0], got, sizeof got - 1);
  if (k > 0) { got[k] = 0; printf("pipe got: %s\n", got); }
  return 0;
}
