/*
 * Checks that cannot run natively as root (they would change the host) or whose
 * answers are the sandbox's own: uname, sethostname, clock_settime EPERM,
 * sysinfo, getrandom, full capabilities, raising the hard limit as root.
 */
#include "common.h"
#include <linux/capability.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/timex.h>
#include <sys/utsname.h>
#include <time.h>

int main(void) {
  guest_init();
  /* Natively (as root) this would rename the host and try to set its clock: refuse. */
  if (getpid() != 1) {
    printf("refusing to run outside the sandbox (pid %d != 1)\n", (int)getpid());
    return 2;
  }
  struct utsname u;
  SHOW("uname", syscall(SYS_uname, &u));
  printf("sysname=%s machine=%s nodename=%s domain=%s\n", u.sysname, u.machine, u.nodename, u.domainname);
  FACT("release non-empty", u.release[0] != 0);
  EXPECT_ERR("uname (void*)1", syscall(SYS_uname, (void *)1), EFAULT);
  SHOW("sethostname", syscall(SYS_sethostname, "inner-host", 10));
  syscall(SYS_uname, &u);
  printf("nodename now %s\n", u.nodename);
  char hn[80];
  gethostname(hn, sizeof hn);
  printf("gethostname %s\n", hn);
  SHOW("setdomainname", syscall(SYS_setdomainname, "example.org", 11));
  syscall(SYS_uname, &u);
  printf("domainname now %s\n", u.domainname);
  EXPECT_ERR("sethostname 65", syscall(SYS_sethostname, hn, 65), EINVAL);
  EXPECT_ERR("sethostname -1", syscall(SYS_sethostname, hn, -1), EINVAL);
  EXPECT_ERR("sethostname (void*)1", syscall(SYS_sethostname, (void *)1, 4), EFAULT);

  struct timespec ts = {1, 0};
  EXPECT_ERR("clock_settime REALTIME", syscall(SYS_clock_settime, CLOCK_REALTIME, &ts), EPERM);
  struct timeval tv = {1, 0};
  EXPECT_ERR("settimeofday", syscall(SYS_settimeofday, &tv, NULL), EPERM);

  struct timex tx;
  memset(&tx, 0, sizeof tx);
  tx.modes = ADJ_FREQUENCY;
  EXPECT_ERR("adjtimex ADJ_FREQUENCY", syscall(SYS_adjtimex, &tx), EPERM);

  struct sysinfo si;
  SHOW("sysinfo", syscall(SYS_sysinfo, &si));
  FACT("uptime < 1h", si.uptime >= 0 && si.uptime < 3600);
  FACT("totalram >= freeram > 0", si.totalram >= si.freeram && si.freeram > 0);
  FACT("mem_unit 1", si.mem_unit == 1);
  FACT("procs >= 1", si.procs >= 1);
  EXPECT_ERR("sysinfo (void*)1", syscall(SYS_sysinfo, (void *)1), EFAULT);

  unsigned char buf[4096];
  memset(buf, 0, sizeof buf);
  SHOW("getrandom 4096", syscall(SYS_getrandom, buf, sizeof buf, 0));
  int zeros = 0;
  for (unsigned i = 0; i < sizeof buf; i++) zeros += buf[i] == 0;
  FACT("looks random", zeros < 64);
  SHOW("getrandom NONBLOCK", syscall(SYS_getrandom, buf, 16, GRND_NONBLOCK));
  SHOW("getrandom RANDOM", syscall(SYS_getrandom, buf, 16, GRND_RANDOM));
  EXPECT_ERR("getrandom flags 0x10", syscall(SYS_getrandom, buf, 16, 0x10), EINVAL);
  EXPECT_ERR("getrandom INSECURE|RANDOM", syscall(SYS_getrandom, buf, 16, 6), EINVAL);
  EXPECT_ERR("getrandom (void*)1", syscall(SYS_getrandom, (void *)1, 16, 0), EFAULT);
  SHOW("getrandom 0", syscall(SYS_getrandom, buf, 0, 0));

  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  SHOW("capget", syscall(SYS_capget, &h, d));
  printf("caps eff %#x %#x perm %#x %#x inh %#x\n", d[0].effective, d[1].effective, d[0].permitted, d[1].permitted, d[0].inheritable);

  struct rlimit r;
  getrlimit(RLIMIT_NOFILE, &r);
  struct rlimit lower = {64, 128};
  SHOW("lower NOFILE", syscall(SYS_setrlimit, RLIMIT_NOFILE, &lower));
  SHOW("raise NOFILE back as root", syscall(SYS_setrlimit, RLIMIT_NOFILE, &r));
  printf("done\n");
  return 0;
}
