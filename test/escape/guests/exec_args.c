/*
 * exec_args: execve's argument limits as Linux computes E2BIG (fs/exec.c), each case
 * an exec of this program in a forked child, compared line for line with a native run.
 *   exec_args            runs every case
 *   exec_args attack     only the attack: 32 767 pointers to one 128 KiB string, then
 *                        "waiting" until stdin closes (the test reads the Sentry's RSS)
 *   child ...            (argv[0]) the exec'd image: prints what it received
 * Any other command line is refused, so a case that should fail but execs cannot recurse.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ARG_STRLEN (32 * 4096)

static const char *self;

static const char *en(int e) { return strerrorname_np(e) ? strerrorname_np(e) : "E?"; }

static int child(int argc, char **argv, char **envp) {
  size_t total = 0;
  for (int i = 0; i < argc; i++) total += strlen(argv[i]) + 1;
  int envc = 0;
  for (char **e = envp; *e; e++) envc++;
  printf("  child: argc=%d envc=%d bytes=%zu", argc, envc, total);
  if (argc > 2) printf(" last=%zu", strlen(argv[argc - 1]));
  printf("\n");
  return 0;
}

/* Forks; the child execs self with argv/envp; prints the exec's result or the child's output. */
static void try_exec(const char *label, const char *path, char **argv, char **envp) {
  printf("%s:\n", label);
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    execve(path, argv, envp);
    printf("  execve = -1 %s\n", en(errno));
    fflush(stdout);
    _exit(0);
  }
  int st;
  waitpid(c, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) printf("  child status %#x\n", st);
  fflush(stdout);
}

static char *filled(size_t n, char ch) {
  char *s = malloc(n + 1);
  memset(s, ch, n);
  s[n] = 0;
  return s;
}

/* Linux's bprm_stack_limits: a quarter of RLIMIT_STACK, at most 6 MiB, at least 128 KiB. */
static size_t arg_space(void) {
  struct rlimit rl;
  getrlimit(RLIMIT_STACK, &rl);
  size_t q = rl.rlim_cur == RLIM_INFINITY ? (size_t)-1 : rl.rlim_cur / 4;
  size_t lim = (8u << 20) / 4 * 3;
  if (q < lim) lim = q;
  if (lim < 32 * 4096) lim = 32 * 4096;
  return lim;
}

/*
 * argv = {"child", "fill", fillers...} with no environment, filling the argument space
 * to exactly `limit - slack` bytes (strings with their NULs, the path, the pointers).
 */
static void fill_case(const char *label, size_t limit, long slack) {
  size_t fixed = strlen(self) + 1 + 6 + 5; /* path, "child", "fill" */
  int nfill;
  long need = 0;
  for (nfill = 1;; nfill++) {
    long ptr = (2 + nfill) * 8L;
    need = (long)limit - ptr - (long)fixed - slack;
    if (need <= (long)nfill * MAX_ARG_STRLEN) break;
  }
  char **argv = calloc(nfill + 3, sizeof *argv);
  argv[0] = "child";
  argv[1] = "fill";
  for (int i = 0; i < nfill; i++) {
    long sz = need / nfill + (i < need % nfill ? 1 : 0); /* with its NUL */
    argv[2 + i] = filled(sz - 1, 'a' + i % 26);
  }
  char *envp[] = {NULL};
  try_exec(label, self, argv, envp);
  for (int i = 0; i < nfill; i++) free(argv[2 + i]);
  free(argv);
}

static void attack(void) {
  /* Finding 4: 32 767 pointers to one 128 KiB string. */
  char *big = filled(MAX_ARG_STRLEN - 1, 'x');
  int n = 32767;
  char **argv = calloc(n + 1, sizeof *argv);
  for (int i = 0; i < n; i++) argv[i] = big;
  char *envp[] = {NULL};
  printf("attack: ");
  fflush(stdout);
  execve(self, argv, envp);
  printf("execve = -1 %s\n", en(errno));
  /* And with the pointers in envp as well. */
  printf("attack via envp: ");
  char *av[] = {"child", NULL};
  execve(self, av, argv);
  printf("execve = -1 %s\n", en(errno));
  fflush(stdout);
  free(argv);
  free(big);
}

int main(int argc, char **argv, char **envp) {
  self = "/proc/self/exe";
  if (getenv("TSS_EMPTY_ARGV")) {
    printf("  argc=%d argv[0]=\"%s\"\n", argc, argc > 0 ? argv[0] : "(none)");
    return 0;
  }
  if (argc > 0 && !strcmp(argv[0], "child")) return child(argc, argv, envp);
  if (argc > 1 && !strcmp(argv[1], "attack")) {
    attack();
    printf("waiting\n");
    fflush(stdout);
    char b;
    while (read(0, &b, 1) > 0) {}
    return 0;
  }
  if (argc != 1) {
    printf("unexpected image: argc=%d\n", argc);
    return 1;
  }
  attack();
  char *noenv[] = {NULL};

  /* One string: MAX_ARG_STRLEN with its NUL is allowed, one byte more is not. */
  {
    char *av[] = {"child", "one", filled(MAX_ARG_STRLEN - 1, 'b'), NULL};
    try_exec("one string of MAX_ARG_STRLEN", self, av, noenv);
    char *av2[] = {"child", "one", filled(MAX_ARG_STRLEN, 'b'), NULL};
    try_exec("one string of MAX_ARG_STRLEN + 1", self, av2, noenv);
    char *ev[] = {filled(MAX_ARG_STRLEN, 'e'), NULL};
    char *av3[] = {"child", NULL};
    try_exec("one env string of MAX_ARG_STRLEN + 1", self, av3, ev);
  }

  /* The total: exactly the argument space fits, one byte more does not. */
  size_t lim = arg_space();
  fill_case("total at the limit (default RLIMIT_STACK)", lim, 0);
  fill_case("total one byte over", lim, -1);

  /* A small RLIMIT_STACK: the floor of 32 pages; a large one: the 6 MiB ceiling. */
  struct rlimit old, rl;
  getrlimit(RLIMIT_STACK, &old);
  rl = old;
  rl.rlim_cur = 256 * 1024;
  setrlimit(RLIMIT_STACK, &rl);
  fill_case("256 KiB stack: 128 KiB fits", arg_space(), 0);
  fill_case("256 KiB stack: 128 KiB + 1 does not", arg_space(), -1);
  rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? 64u << 20 : rl.rlim_max;
  if (setrlimit(RLIMIT_STACK, &rl) == 0) {
    fill_case("large stack: at most 6 MiB", arg_space(), 0);
    fill_case("large stack: 6 MiB + 1", arg_space(), -1);
  }
  setrlimit(RLIMIT_STACK, &old);

  /* Too many pointers, even to empty strings. */
  {
    size_t n = arg_space() / 8;
    char **av = calloc(n + 1, sizeof *av);
    for (size_t i = 0; i < n; i++) av[i] = "";
    av[0] = "child";
    try_exec("limit/8 pointers to empty strings", self, av, noenv);
    free(av);
  }

  /* Bad pointers: EFAULT. */
  {
    char *page = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(page + 4096, 4096);
    char *av[] = {"child", (char *)8, NULL};
    try_exec("argv[1] a bad pointer", self, av, noenv);
    try_exec("argv itself a bad pointer", self, (char **)(page + 4096), noenv);
    char *ev[] = {(char *)-4096L, NULL};
    char *av1[] = {"child", NULL};
    try_exec("envp[0] a kernel address", self, av1, ev);
    memset(page, 'z', 4096); /* no NUL before the unmapped page */
    char *av2[] = {"child", page, NULL};
    try_exec("a string running into an unmapped page", self, av2, noenv);
    /* An array whose NULL is past the end of the mapping. */
    char **arr = (char **)(page + 4096 - 16);
    arr[0] = "child";
    arr[1] = "x";
    try_exec("an argv array running into an unmapped page", self, arr, noenv);
  }

  /* An empty argv: the new image gets argc 1, argv[0] "" (Linux since 5.18). */
  {
    char *av[] = {NULL};
    printf("empty argv:\n");
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
      char *envc[] = {"TSS_EMPTY_ARGV=1", NULL};
      execve(self, av, envc);
      printf("  execve = -1 %s\n", en(errno));
      fflush(stdout);
      _exit(0);
    }
    int st;
    waitpid(c, &st, 0);
  }
  printf("done\n");
  return 0;
}
