/* A data race for ThreadSanitizer to catch. */
#include <pthread.h>
#include <stdio.h>
static int x;
static void *bump(void *a) { (void)a; x++; return NULL; }
int main(void) {
  pthread_t t;
  pthread_create(&t, NULL, bump, NULL);
  x++;
  pthread_join(t, NULL);
  printf("x=%d\n", x);
  return 0;
}
