/* What the loader hands a program: argv, envp, and the auxv entries that do not depend
 * on addresses or the machine, so native and sandbox print the same. */
#include <elf.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
  printf("argc=%d\n", argc);
  for (int i = 1; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
  for (char **e = environ; *e; e++)
    if (strncmp(*e, "TSS_", 4) == 0) printf("env %s\n", *e);
  printf("AT_PAGESZ=%lu\n", getauxval(AT_PAGESZ));
  printf("AT_PHENT=%lu\n", getauxval(AT_PHENT));
  printf("AT_PLATFORM=%s\n", (char *)getauxval(AT_PLATFORM));
  printf("AT_EXECFN ends with auxv_args: %s\n", strstr((char *)getauxval(AT_EXECFN), "auxv_args") ? "yes" : "no");
  unsigned char *r = (unsigned char *)getauxval(AT_RANDOM);
  printf("AT_RANDOM readable: %s\n", r && (r[0] | r[15] | 1) ? "yes" : "no");
  printf("AT_ENTRY set: %s, AT_PHDR set: %s\n", getauxval(AT_ENTRY) ? "yes" : "no", getauxval(AT_PHDR) ? "yes" : "no");
  printf("AT_SECURE=%lu\n", getauxval(AT_SECURE));
  /* The stack is 16-byte aligned at entry: argv sits 8 bytes above a 16-aligned argc. */
  printf("argv alignment ok: %s\n", ((unsigned long)argv & 7) == 0 ? "yes" : "no");
  return 0;
}
