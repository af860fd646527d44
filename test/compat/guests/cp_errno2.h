/* What the two second-batch errno guests (cp_errno2, cp_errno2b) share: headers, R(), the
 * constants old libcs lack, and the files main() makes for them. */
#ifndef TSS_CP_ERRNO2_H
#define TSS_CP_ERRNO2_H
#include "common.h"
#include "errno_run.h"
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <linux/sched.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <sys/uio.h>

#define BAD ((void *)8)
#define R(expr) OKERR(#expr, (expr))
#define PG 4096L
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MSG_COPY
#define MSG_COPY 040000
#endif

/* Scratch files: "f" holds "hello", "w" one page of zeros; the cwd is writable by all. */
static void errno2_files(void) {
  MUST(chmod(".", 0777));
  int f = open("f", O_CREAT | O_WRONLY, 0644);
  MUST(write(f, "hello", 5));
  close(f);
  f = open("w", O_CREAT | O_WRONLY, 0644);
  MUST(ftruncate(f, PG));
  close(f);
}
#endif
