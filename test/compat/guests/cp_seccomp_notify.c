/* SECCOMP_RET_USER_NOTIF: a supervisor answers a child's filtered calls through the
 * listener fd (RECV, SEND with a value, an errno or CONTINUE, ID_VALID), against Linux. */
#include "common.h"
#include "fdpass.h"
#include <poll.h>
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

static int listener(void) {
  struct sock_filter f[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 2, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getuid, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
  };
  struct sock_fprog p = { .len = 5, .filter = f };
  MUST(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
  return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &p);
}

static pid_t parent_pid;
static void child(int s) {
  int fd = listener();
  if (fd < 0) { printf("child: listener %s\n", ename(errno)); _exit(1); }
  printf("child: listener is close-on-exec: %d\n", fcntl(fd, F_GETFD) == FD_CLOEXEC);
  sendfd(s, fd);
  close(fd);
  /* Results printed at the end, so the order does not depend on who runs first. */
  long r1 = syscall(SYS_getppid);
  errno = 0;
  long r2 = syscall(SYS_getuid);
  int e2 = errno;
  long r3 = syscall(SYS_getppid);
  char out[256];
  int k = snprintf(out, sizeof out, "child: getppid answered %ld\nchild: getuid answered %ld %s\nchild: getppid continued is the real parent: %d\n",
                   r1, r2, r2 < 0 ? ename(e2) : "", r3 == parent_pid);
  write(s, out, k); /* the parent prints it once the child is gone */
  fflush(stdout);
  _exit(0);
}

int main(void) {
  guest_init();
  parent_pid = getpid();
  int sv[2];
  MUST(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) { close(sv[0]); child(sv[1]); }
  close(sv[1]);
  int fd = recvfd(sv[0]);
  struct seccomp_notif n;
  struct seccomp_notif_resp resp;
  for (int i = 0; i < 3; i++) {
    struct pollfd p = { fd, POLLIN, 0 };
    poll(&p, 1, -1);
    if (i == 0) printf("poll: revents 0x%x\n", p.revents);
    if (i == 0) {
      memset(&n, 0xff, sizeof n);
      EXPECT_ERR("RECV into a dirty buffer", ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &n), EINVAL);
    }
    memset(&n, 0, sizeof n);
    SHOW("RECV", ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &n));
    printf("notification: nr %d arch ok %d pid is the child %d\n", n.data.nr, n.data.arch == AUDIT_ARCH_X86_64, (pid_t)n.pid == c);
    SHOW("ID_VALID", ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &n.id));
    memset(&resp, 0, sizeof resp);
    resp.id = n.id;
    if (i == 0) {
      resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
      resp.val = 1;
      EXPECT_ERR("CONTINUE with a value", ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp), EINVAL);
      resp.flags = 0;
      resp.val = 4242;
    } else if (i == 1) {
      resp.error = -EPERM;
    } else {
      resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    }
    SHOW("SEND", ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp));
    EXPECT_ERR("ID_VALID after the answer", ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &n.id), ENOENT);
  }
  int st;
  waitpid(c, &st, 0);
  printf("child exit %d\n", WEXITSTATUS(st));
  char got[256];
  ssize_t k = read(sv[0], got, sizeof got - 1);
  if (k > 0) { got[k] = 0; fputs(got, stdout); }
  EXPECT_ERR("SEND for a finished call", ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp), ENOENT);
  close(fd);
  /* No supervisor any more: the filtered call fails with ENOSYS. */
  fflush(stdout);
  c = fork();
  if (c == 0) {
    int l = listener();
    close(l);
    EXPECT_ERR("getppid with the listener closed", syscall(SYS_getppid), ENOSYS);
    _exit(0);
  }
  waitpid(c, &st, 0);
  printf("done\n");
  return 0;
}
