/* mq_notify with SIGEV_THREAD (issue 15): glibc's helper thread hears of the first
 * message in an empty queue through a netlink socket the kernel writes a cookie to, and
 * runs the function with the value; against Linux. Link with -lrt -pthread. */
#define _GNU_SOURCE
#include "common.h"
#include <fcntl.h>
#include <mqueue.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/socket.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int calls, seen; /* seen: the value glibc passed (racy in glibc itself: not printed) */

static void on_message(union sigval v) {
  pthread_mutex_lock(&mu);
  calls++;
  seen = v.sival_int;
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&mu);
}

static int wait_call(int n) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += 10;
  pthread_mutex_lock(&mu);
  while (calls < n) if (pthread_cond_timedwait(&cv, &mu, &ts) != 0) break;
  int ok = calls >= n;
  pthread_mutex_unlock(&mu);
  return ok;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  mq_unlink("/tss-thread");
  struct mq_attr a = { .mq_maxmsg = 4, .mq_msgsize = 16 };
  mqd_t q = mq_open("/tss-thread", O_CREAT | O_RDWR, 0600, &a);
  MUST(q);
  struct sigevent ev = { .sigev_notify = SIGEV_THREAD, .sigev_notify_function = on_message };
  ev.sigev_value.sival_int = 77;
  SHOW("mq_notify SIGEV_THREAD", mq_notify(q, &ev));
  SHOW("send", mq_send(q, "one", 3, 0));
  printf("function ran: %s\n", wait_call(1) ? "yes" : "no");
  char b[16];
  SHOW("receive", mq_receive(q, b, sizeof b, NULL));
  /* The registration is gone after one notification: a second message calls nothing. */
  SHOW("send again", mq_send(q, "two", 3, 0));
  usleep(100000);
  printf("calls after the second message: %d\n", calls);
  SHOW("receive", mq_receive(q, b, sizeof b, NULL));
  /* Registered again, then removed: no call. */
  ev.sigev_value.sival_int = 78;
  SHOW("mq_notify again", mq_notify(q, &ev));
  SHOW("unregister", mq_notify(q, NULL));
  SHOW("send", mq_send(q, "three", 5, 0));
  usleep(100000);
  printf("calls after unregistering: %d\n", calls);
  SHOW("receive", mq_receive(q, b, sizeof b, NULL));
  SHOW("mq_notify a third time", mq_notify(q, &ev));
  SHOW("send", mq_send(q, "four", 4, 0));
  printf("function ran again: %s\n", wait_call(2) ? "yes" : "no");
  /* The raw call: a cookie whose socket is no netlink socket. */
  struct sigevent raw = { .sigev_notify = SIGEV_THREAD, .sigev_signo = open("/dev/null", O_RDONLY) };
  char cookie[32] = { 0 };
  raw.sigev_value.sival_ptr = cookie;
  SHOW("receive", mq_receive(q, b, sizeof b, NULL));
  EXPECT_ERR("raw SIGEV_THREAD on a non-socket", syscall(SYS_mq_notify, q, &raw), ENOTSOCK);
  raw.sigev_signo = 99;
  EXPECT_ERR("raw SIGEV_THREAD on a closed fd", syscall(SYS_mq_notify, q, &raw), EBADF);
  int us[2];
  socketpair(AF_UNIX, SOCK_DGRAM, 0, us);
  raw.sigev_signo = us[0];
  EXPECT_ERR("raw SIGEV_THREAD on a unix socket", syscall(SYS_mq_notify, q, &raw), EINVAL);
  mq_close(q);
  mq_unlink("/tss-thread");
  return 0;
}
