/* Counts with a periodic ITIMER_REAL: each SIGALRM is counted, and the loop ends after 12.
 * The timer's time left and interval go with the image. */
#include <signal.h>
#include <stdio.h>
#include <sys/time.h>
#include <unistd.h>
static volatile sig_atomic_t ticks = 0;
static void on_alarm(int sig) { (void)sig; ticks++; }
int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  signal(SIGALRM, on_alarm);
  struct itimerval it = {{0, 150000}, {0, 150000}};
  setitimer(ITIMER_REAL, &it, NULL);
  int seen = 0;
  while (seen < 12) {
    pause();
    while (seen < ticks && seen < 12) printf("tick %d\n", ++seen);
  }
  struct itimerval now;
  getitimer(ITIMER_REAL, &now);
  printf("interval %ld us\n", (long)now.it_interval.tv_usec);
  return 0;
}
