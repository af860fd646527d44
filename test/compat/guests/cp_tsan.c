/* A data race for ThreadSanitizer to catch, in a fixed order: main writes first, then lets
   the thread go through a relaxed atomic (no happens-before for TSan), so the report always
   names bump's write (line 9) racing with main's (line 13), natively and in the sandbox. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
static int x;
static atomic_int go;
static void *bump(void *a) { (void)a; while (!atomic_load_explicit(&go, memory_order_relaxed)) {} x++; return NULL; }
int main(void) {
  pthread_t t;
  pthread_create(&t, NULL, bump, NULL);
  x++;
  atomic_store_explicit(&go, 1, memory_order_relaxed);
  pthread_join(t, NULL);
  printf("x=%d\n", x);
  return 0;
}
