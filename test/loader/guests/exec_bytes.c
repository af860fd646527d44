/*
 * exec_bytes: argv and envp are bytes. Execs itself with arguments and environment
 * strings holding every byte 0x01-0xff (UTF-8 invalid sequences included); the new
 * image prints each in hex, and /proc/self/cmdline and /proc/self/environ as well.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void hex(const char *label, const unsigned char *s, size_t n) {
  printf("%s:", label);
  for (size_t i = 0; i < n; i++) printf("%s%02x", i % 32 ? "" : "\n  ", s[i]);
  printf("\n");
}

static void dump_file(const char *label, const char *path, const char *only) {
  static unsigned char b[65536];
  int fd = open(path, O_RDONLY);
  if (fd < 0) { printf("%s: cannot open\n", label); return; }
  ssize_t n = 0, r;
  while ((r = read(fd, b + n, sizeof b - n)) > 0) n += r;
  close(fd);
  if (only) {
    /* Only the entries that start with `only` (environ holds the whole environment). */
    size_t o = 0, m = 0;
    static unsigned char keep[65536];
    while (o < (size_t)n) {
      size_t len = strlen((char *)b + o) + 1;
      if (!strncmp((char *)b + o, only, strlen(only))) { memcpy(keep + m, b + o, len); m += len; }
      o += len;
    }
    hex(label, keep, m);
  } else {
    hex(label, b, (size_t)n);
  }
}

int main(int argc, char **argv, char **envp) {
  if (argc > 1 && !strcmp(argv[1], "image")) {
    printf("argc=%d\n", argc);
    for (int i = 2; i < argc; i++) {
      char l[32];
      snprintf(l, sizeof l, "argv[%d]", i);
      hex(l, (unsigned char *)argv[i], strlen(argv[i]));
    }
    for (char **e = envp; *e; e++)
      if (!strncmp(*e, "TSS_", 4)) hex("env", (unsigned char *)*e, strlen(*e));
    dump_file("/proc/self/cmdline", "/proc/self/cmdline", NULL);
    dump_file("/proc/self/environ TSS_*", "/proc/self/environ", "TSS_");
    return 0;
  }
  static char all[256], high[129], bad[8], env1[300], env2[64];
  for (int i = 1; i < 256; i++) all[i - 1] = (char)i;
  for (int i = 0; i < 128; i++) high[i] = (char)(0x80 + i);
  memcpy(bad, "\xc3\x28\xff\xfe\xe2\x82", 6); /* invalid UTF-8 */
  snprintf(env1, sizeof env1, "TSS_ALL=%s", all);
  snprintf(env2, sizeof env2, "TSS_BAD=\xf0\x9f\x98\x80\xed\xa0\x80%s", bad);
  char *av[] = {"exec_bytes", "image", all, high, bad, "plain", NULL};
  char *ev[] = {env1, env2, "PATH=/bin", NULL};
  execve("/proc/self/exe", av, ev);
  perror("execve");
  return 1;
}
