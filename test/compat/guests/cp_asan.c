/* A heap overflow for AddressSanitizer to catch. */
#include <stdio.h>
#include <stdlib.h>
int main(void) {
  char *volatile p = malloc(8);
  p[8] = 1;
  printf("%d\n", p[0]);
  return 0;
}
