/* The ELF fuzzer's seed program: prints one line and exits 0. */
#include <stdio.h>
int main(void) {
  puts("tiny ok");
  return 0;
}
