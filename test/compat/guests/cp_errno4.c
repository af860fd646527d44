/* Errno paths, fourth batch (issue 15), the rest of what cp_errno3.c began: POSIX message
 * queues (names, attributes, sizes, priorities, a lost message on EFAULT, notification
 * registration), keys (types, special keyring ids) and sockets (recvfrom, sendmsg, recvmsg,
 * getsockname, recvmmsg, sendmmsg). Each call prints "ok" or its errno, compared with Linux
 * (natively in a fresh IPC namespace). */
#define _GNU_SOURCE
#include "common.h"
#include "errno_run.h"
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <netinet/in.h>

#define BAD ((void *)8)
#define R(expr) OKERR(#expr, (expr))

static char longname[300];

static void mq(void) {
  struct mq_attr { long flags, maxmsg, msgsize, curmsgs, pad[4]; } at = {0, 4, 64, 0, {0}}, bad = {0, 0, 64, 0, {0}};
  char name[32];
  snprintf(name, sizeof name, "cp_errno3.%d", (int)getpid());
  R(syscall(SYS_mq_open, "a/b", O_RDONLY, 0, NULL));
  R(syscall(SYS_mq_open, name, O_RDONLY, 0, NULL));
  R(syscall(SYS_mq_open, BAD, O_RDONLY, 0, NULL));
  R(syscall(SYS_mq_open, name, O_CREAT | O_RDWR, 0600, &bad));
  bad.maxmsg = 4, bad.msgsize = -1;
  R(syscall(SYS_mq_open, name, O_CREAT | O_RDWR, 0600, &bad));
  R(syscall(SYS_mq_open, name, O_CREAT | O_RDWR, 0600, BAD));
  R(syscall(SYS_mq_open, longname, O_CREAT | O_RDWR, 0600, &at));
  int q = syscall(SYS_mq_open, name, O_CREAT | O_RDWR | O_NONBLOCK, 0600, &at);
  R(q);
  R(syscall(SYS_mq_open, name, O_CREAT | O_EXCL | O_RDWR, 0600, &at));
  char buf[128];
  struct timespec ts = {0, 2000000000L};
  R(syscall(SYS_mq_timedsend, 999, "x", 1, 0, NULL));
  R(syscall(SYS_mq_timedsend, q, "x", 65, 0, NULL));
  R(syscall(SYS_mq_timedsend, q, "x", 1, 40000, NULL));
  R(syscall(SYS_mq_timedsend, q, BAD, 1, 0, NULL));
  R(syscall(SYS_mq_timedsend, q, "x", 1, 0, NULL));
  R(syscall(SYS_mq_timedreceive, 999, buf, sizeof buf, NULL, NULL));
  R(syscall(SYS_mq_timedreceive, q, buf, 8, NULL, NULL));
  R(syscall(SYS_mq_timedreceive, q, BAD, sizeof buf, NULL, NULL));
  R(syscall(SYS_mq_timedreceive, q, buf, sizeof buf, NULL, NULL));
  R(syscall(SYS_mq_timedreceive, q, buf, sizeof buf, NULL, NULL));
  int rd = syscall(SYS_mq_open, name, O_RDONLY, 0, NULL);
  R(syscall(SYS_mq_timedsend, rd, "x", 1, 0, NULL));
  int f = open("f", O_RDONLY);
  R(syscall(SYS_mq_timedsend, f, "x", 1, 0, NULL));
  int fl = fcntl(q, F_GETFL);
  fcntl(q, F_SETFL, fl & ~O_NONBLOCK);
  R(syscall(SYS_mq_timedreceive, q, buf, sizeof buf, NULL, &ts));
  fcntl(q, F_SETFL, fl);
  R(syscall(SYS_mq_notify, 999, NULL));
  struct sigevent se = {0};
  se.sigev_notify = 99;
  R(syscall(SYS_mq_notify, q, &se));
  se.sigev_notify = SIGEV_SIGNAL;
  se.sigev_signo = 99;
  R(syscall(SYS_mq_notify, q, &se));
  se.sigev_signo = SIGUSR1;
  R(syscall(SYS_mq_notify, q, &se));
  R(syscall(SYS_mq_notify, q, &se));
  R(syscall(SYS_mq_notify, q, NULL));
  R(syscall(SYS_mq_notify, q, BAD));
  struct mq_attr ga;
  R(syscall(SYS_mq_getsetattr, 999, NULL, &ga));
  R(syscall(SYS_mq_getsetattr, f, NULL, &ga));
  R(syscall(SYS_mq_getsetattr, q, BAD, &ga));
  R(syscall(SYS_mq_getsetattr, q, NULL, BAD));
  R(syscall(SYS_mq_getsetattr, q, NULL, &ga));
  R(syscall(SYS_mq_unlink, name));
  R(syscall(SYS_mq_unlink, name));
  R(syscall(SYS_mq_unlink, BAD));
  R(syscall(SYS_mq_unlink, "a/b"));
}

static void keys(void) {
  R(syscall(SYS_add_key, "", "d", "x", 1, -2));
  R(syscall(SYS_add_key, BAD, "d", "x", 1, -2));
  R(syscall(SYS_add_key, ".hidden", "d", "x", 1, -2));
  R(syscall(SYS_add_key, "nosuchtype", "d", "x", 1, -2));
  R(syscall(SYS_add_key, "user", "", "x", 1, -2));
  R(syscall(SYS_add_key, "user", "d", "x", 1, -99));
  R(syscall(SYS_request_key, "nosuchtype", "d", NULL, 0));
  R(syscall(SYS_request_key, "", "d", NULL, 0));
  R(syscall(SYS_request_key, BAD, "d", NULL, 0));
  R(syscall(SYS_keyctl, 9999, 0, 0, 0, 0));
  R(syscall(SYS_keyctl, 0, -99, 0, 0, 0));
}

static void sockets(void) {
  char buf[16];
  int f = open("f", O_RDONLY), sv[2], u = socket(AF_INET, SOCK_DGRAM, 0);
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  struct sockaddr_in sa;
  socklen_t sl = sizeof sa;
  struct msghdr mh = {0};
  struct iovec iv = {buf, sizeof buf};
  mh.msg_iov = &iv, mh.msg_iovlen = 1;
  R(recvfrom(999, buf, sizeof buf, MSG_DONTWAIT, NULL, NULL));
  R(recvfrom(f, buf, sizeof buf, MSG_DONTWAIT, NULL, NULL));
  R(recvfrom(sv[0], buf, sizeof buf, MSG_DONTWAIT, NULL, NULL));
  R(recvfrom(sv[0], buf, sizeof buf, MSG_DONTWAIT, BAD, &sl));
  R(syscall(SYS_recvfrom, sv[0], buf, sizeof buf, MSG_DONTWAIT, &sa, BAD));
  R(sendmsg(999, &mh, 0));
  R(sendmsg(f, &mh, 0));
  R(sendmsg(sv[0], BAD, 0));
  mh.msg_iovlen = 1025;
  R(sendmsg(sv[0], &mh, 0));
  mh.msg_iovlen = 1;
  R(sendmsg(sv[0], &mh, MSG_OOB));
  R(sendmsg(sv[0], &mh, MSG_DONTWAIT));
  R(recvmsg(999, &mh, 0));
  R(recvmsg(f, &mh, 0));
  R(recvmsg(sv[1], BAD, 0));
  R(recvmsg(sv[1], &mh, MSG_DONTWAIT));
  R(recvmsg(sv[1], &mh, MSG_DONTWAIT));
  R(getsockname(999, (struct sockaddr *)&sa, &sl));
  R(getsockname(f, (struct sockaddr *)&sa, &sl));
  R(getsockname(u, BAD, &sl));
  R(getsockname(u, (struct sockaddr *)&sa, BAD));
  int neg = -1;
  R(syscall(SYS_getsockname, u, &sa, &neg));
  R(getsockname(u, (struct sockaddr *)&sa, &sl));
  struct mmsghdr mm[2] = {{mh, 0}, {mh, 0}};
  struct timespec ts = {0, -1};
  R(syscall(SYS_recvmmsg, 999, mm, 2, 0, NULL));
  R(syscall(SYS_recvmmsg, f, mm, 2, 0, NULL));
  R(syscall(SYS_recvmmsg, sv[1], mm, 2, MSG_DONTWAIT, &ts));
  R(syscall(SYS_recvmmsg, sv[1], BAD, 2, MSG_DONTWAIT, NULL));
  R(syscall(SYS_recvmmsg, sv[1], mm, 2, MSG_DONTWAIT, NULL));
  R(syscall(SYS_sendmmsg, 999, mm, 2, 0));
  R(syscall(SYS_sendmmsg, f, mm, 2, 0));
  R(syscall(SYS_sendmmsg, sv[0], BAD, 2, 0));
  R(syscall(SYS_sendmmsg, sv[0], mm, 0, 0));
  R(syscall(SYS_sendmmsg, sv[0], mm, 2, 0));
}

int main(void) {
  sweep_start(longname, sizeof longname);
  run("message queues", mq);
  run("keys", keys);
  run("sockets", sockets);
  leave_tmpdir();
  return 0;
}
