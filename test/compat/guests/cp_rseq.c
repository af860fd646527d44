/* rseq registration, membarrier, mlock*, ioprio and the NUMA policy calls, against Linux. */
#include "common.h"
#include <stdint.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/membarrier.h>
#include <linux/rseq.h>

#define SIG 0x53053053u
static struct rseq rs __attribute__((aligned(32)));
static struct rseq rs2 __attribute__((aligned(32)));

static long rseq_call(void *p, uint32_t len, int flags, uint32_t sig) { return syscall(SYS_rseq, p, len, flags, sig); }

extern const unsigned int __rseq_size __attribute__((weak));

int main(int argc, char **argv) {
  if (argc > 1) {
    /* glibc's own registration at start-up took (it falls back silently on ENOSYS). */
    printf("glibc registered rseq: %s\n", &__rseq_size && __rseq_size >= 32 ? "yes" : "no");
    int cpu = sched_getcpu();
    FACT("sched_getcpu in range", cpu >= 0 && cpu < sysconf(_SC_NPROCESSORS_CONF));
    printf("done\n");
    return 0;
  }
  /* glibc may have registered its own: take it over only if we can unregister it. */
  long r = rseq_call(&rs, 32, 0, SIG);
  if (r < 0 && errno == EBUSY) { printf("glibc registered first (set GLIBC_TUNABLES=glibc.pthread.rseq=0)\n"); return 1; }
  SHOW("register", r);
  FACT("cpu_id set", rs.cpu_id != (uint32_t)-1 && rs.cpu_id_start == rs.cpu_id);
  FACT("cpu_id is a cpu we may run on", rs.cpu_id < (uint32_t)sysconf(_SC_NPROCESSORS_CONF));
  EXPECT_ERR("register again", rseq_call(&rs, 32, 0, SIG), EBUSY);
  EXPECT_ERR("register again, other sig", rseq_call(&rs, 32, 0, SIG + 1), EPERM);
  EXPECT_ERR("register other area", rseq_call(&rs2, 32, 0, SIG), EINVAL);
  EXPECT_ERR("unregister wrong sig", rseq_call(&rs, 32, RSEQ_FLAG_UNREGISTER, SIG + 1), EPERM);
  EXPECT_ERR("unregister wrong len", rseq_call(&rs, 64, RSEQ_FLAG_UNREGISTER, SIG), EINVAL);
  EXPECT_ERR("unknown flag", rseq_call(&rs, 32, 2, SIG), EINVAL);
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) { printf("child: register %s\n", rseq_call(&rs, 32, 0, SIG) < 0 && errno == EBUSY ? "EBUSY (inherited)" : "other"); fflush(stdout); _exit(0); }
  waitpid(p, NULL, 0);
  SHOW("unregister", rseq_call(&rs, 32, RSEQ_FLAG_UNREGISTER, SIG));
  FACT("cpu_id uninitialized after unregister", rs.cpu_id == (uint32_t)-1);
  EXPECT_ERR("unregister twice", rseq_call(&rs, 32, RSEQ_FLAG_UNREGISTER, SIG), EINVAL);
  EXPECT_ERR("len 16", rseq_call(&rs, 16, 0, SIG), EINVAL);
  EXPECT_ERR("misaligned", rseq_call((char *)&rs + 8, 32, 0, SIG), EINVAL);
  EXPECT_ERR("bad pointer", rseq_call((void *)32, 32, 0, SIG), EFAULT);
  SHOW("register again after unregister", rseq_call(&rs, 32, 0, SIG));
  /* Moved to the last CPU it may use: cpu_id follows. */
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(sysconf(_SC_NPROCESSORS_ONLN) - 1, &set);
  SHOW("sched_setaffinity last cpu", sched_setaffinity(0, sizeof set, &set));
  sched_yield();
  FACT("rseq cpu_id matches sched_getcpu", (int)rs.cpu_id == sched_getcpu() && rs.cpu_id_start == rs.cpu_id);
  SHOW("unregister", rseq_call(&rs, 32, RSEQ_FLAG_UNREGISTER, SIG));

  /* membarrier */
  long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  printf("membarrier query: %#lx\n", q);
  EXPECT_ERR("private expedited unregistered", syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0), EPERM);
  SHOW("register private expedited", syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0));
  SHOW("private expedited", syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0));
  SHOW("global", syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0));
  SHOW("get registrations", syscall(SYS_membarrier, (1 << 9), 0, 0));
  EXPECT_ERR("bad flags", syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 1, 0), EINVAL);
  EXPECT_ERR("bad cmd", syscall(SYS_membarrier, 1 << 20, 0, 0), EINVAL);

  /* mlock family */
  char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  SHOW("mlock", mlock(m, 8192));
  SHOW("munlock", munlock(m, 8192));
  munmap(m + 4096, 4096);
  EXPECT_ERR("mlock over a hole", mlock(m, 8192), ENOMEM);
  SHOW("mlock2 ONFAULT", syscall(SYS_mlock2, m, 4096, MLOCK_ONFAULT));
  EXPECT_ERR("mlock2 bad flag", syscall(SYS_mlock2, m, 4096, 2), EINVAL);
  SHOW("mlockall", mlockall(MCL_CURRENT | MCL_FUTURE));
  EXPECT_ERR("mlockall 0", mlockall(0), EINVAL);
  EXPECT_ERR("mlockall ONFAULT only", mlockall(MCL_ONFAULT), EINVAL);
  EXPECT_ERR("mlockall bad", mlockall(8), EINVAL);
  SHOW("munlockall", munlockall());

  /* ioprio (the calling thread) */
  SHOW("ioprio_get", syscall(SYS_ioprio_get, 1, 0));
  SHOW("ioprio_set BE 4", syscall(SYS_ioprio_set, 1, 0, (2 << 13) | 4));
  SHOW("ioprio_get", syscall(SYS_ioprio_get, 1, 0));
  SHOW("ioprio_set IDLE", syscall(SYS_ioprio_set, 1, 0, 3 << 13));
  SHOW("ioprio_get", syscall(SYS_ioprio_get, 1, 0));
  EXPECT_ERR("ioprio_set class 5", syscall(SYS_ioprio_set, 1, 0, 5 << 13), EINVAL);
  EXPECT_ERR("ioprio_set NONE with data", syscall(SYS_ioprio_set, 1, 0, 3), EINVAL);
  EXPECT_ERR("ioprio which 9", syscall(SYS_ioprio_get, 9, 0), EINVAL);
  EXPECT_ERR("ioprio no such pid", syscall(SYS_ioprio_get, 1, 99999), ESRCH);

  /* NUMA: one node */
  unsigned long mask = 0;
  int mode = -1;
  SHOW("get_mempolicy", syscall(SYS_get_mempolicy, &mode, &mask, 64, 0, 0));
  printf("  mode %d mask %#lx\n", mode, mask);
  SHOW("get_mempolicy MEMS_ALLOWED", syscall(SYS_get_mempolicy, &mode, &mask, 64, 0, 4));
  printf("  mode %d mask %#lx\n", mode, mask);
  mask = 1;
  SHOW("set_mempolicy BIND node 0", syscall(SYS_set_mempolicy, 2, &mask, 64));
  mask = 0;
  SHOW("get_mempolicy", syscall(SYS_get_mempolicy, &mode, &mask, 64, 0, 0));
  printf("  mode %d mask %#lx\n", mode, mask);
  mask = 2;
  EXPECT_ERR("set_mempolicy BIND node 1", syscall(SYS_set_mempolicy, 2, &mask, 64), EINVAL);
  EXPECT_ERR("set_mempolicy BIND empty", syscall(SYS_set_mempolicy, 2, NULL, 0), EINVAL);
  EXPECT_ERR("set_mempolicy bad mode", syscall(SYS_set_mempolicy, 42, NULL, 0), EINVAL);
  SHOW("set_mempolicy DEFAULT", syscall(SYS_set_mempolicy, 0, NULL, 0));
  mask = 1;
  char *pg = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  SHOW("mbind PREFERRED node 0", syscall(SYS_mbind, pg, 4096, 1, &mask, 64, 0));
  EXPECT_ERR("mbind misaligned", syscall(SYS_mbind, pg + 1, 4096, 1, &mask, 64, 0), EINVAL);
  EXPECT_ERR("mbind bad flags", syscall(SYS_mbind, pg, 4096, 1, &mask, 64, 8), EINVAL);
  pg[0] = 1;
  mode = -1;
  SHOW("get_mempolicy NODE|ADDR", syscall(SYS_get_mempolicy, &mode, NULL, 0, pg, 3));
  printf("  node %d\n", mode);
  EXPECT_ERR("get_mempolicy bad flags", syscall(SYS_get_mempolicy, &mode, NULL, 0, 0, 8), EINVAL);
  EXPECT_ERR("get_mempolicy addr without F_ADDR", syscall(SYS_get_mempolicy, &mode, NULL, 0, pg, 0), EINVAL);
  printf("done\n");
  return 0;
}
