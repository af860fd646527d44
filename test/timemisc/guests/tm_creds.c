/*
 * Credentials as root: set*id rules, groups, capabilities. Each scenario runs in a
 * fresh process (argv[1] picks it) so every one starts as root. Raw syscalls, so
 * glibc's all-threads broadcast does not matter.
 */
#include "common.h"
#include <grp.h>
#include <linux/capability.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>

static void ids(const char *l) {
  uid_t r, e, s;
  gid_t gr, ge, gs;
  syscall(SYS_getresuid, &r, &e, &s);
  syscall(SYS_getresgid, &gr, &ge, &gs);
  printf("%s: uid %u/%u/%u fsuid %d gid %u/%u/%u\n", l, r, e, s, (int)syscall(SYS_setfsuid, -1), gr, ge, gs);
}

static void caps(const char *l) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  memset(d, 0, sizeof d);
  if (syscall(SYS_capget, &h, d) < 0) { printf("%s: capget %s\n", l, ename(errno)); return; }
  /* Compare whether sets are empty or hold CAP_SETUID (present natively and in the sandbox). */
  printf("%s: eff %s perm %s\n", l, d[0].effective & (1u << CAP_SETUID) ? "SETUID" : d[0].effective ? "some" : "none",
         d[0].permitted & (1u << CAP_SETUID) ? "SETUID" : d[0].permitted ? "some" : "none");
}

int main(int argc, char **argv) {
  guest_init();
  const char *sc = argc > 1 ? argv[1] : "";
  if (!strcmp(sc, "setuid")) {
    SHOW("setuid(1000)", syscall(SYS_setuid, 1000));
    ids("after");
    caps("caps");
    EXPECT_ERR("setuid(0)", syscall(SYS_setuid, 0), EPERM);
    SHOW("setuid(1000) again", syscall(SYS_setuid, 1000));
    EXPECT_ERR("setgid(5)", syscall(SYS_setgid, 5), EPERM);
    EXPECT_ERR("setgroups", syscall(SYS_setgroups, 0, NULL), EPERM);
    EXPECT_ERR("setresuid(0,-1,-1)", syscall(SYS_setresuid, 0, -1, -1), EPERM);
    EXPECT_ERR("setuid(-1)", syscall(SYS_setuid, -1), EINVAL);
  } else if (!strcmp(sc, "seteuid")) {
    SHOW("setresuid(-1,1000,-1)", syscall(SYS_setresuid, -1, 1000, -1));
    ids("euid 1000");
    caps("caps");
    EXPECT_ERR("setgid(7) without euid 0", syscall(SYS_setgid, 7), EPERM);
    SHOW("setreuid(-1,0)", syscall(SYS_setreuid, -1, 0));
    ids("back");
    caps("caps back");
    SHOW("setgid(7)", syscall(SYS_setgid, 7));
    ids("gid 7");
    SHOW("setreuid(1000,2000)", syscall(SYS_setreuid, 1000, 2000));
    ids("re");
    EXPECT_ERR("setreuid(0,-1)", syscall(SYS_setreuid, 0, -1), EPERM);
    SHOW("setreuid(2000,-1)", syscall(SYS_setreuid, 2000, -1));
    ids("swap");
  } else if (!strcmp(sc, "fsuid")) {
    SHOW("setfsuid(500) old", syscall(SYS_setfsuid, 500));
    SHOW("setfsuid(-1) old", syscall(SYS_setfsuid, -1));
    SHOW("setfsgid(600) old", syscall(SYS_setfsgid, 600));
    SHOW("setresuid(100,200,300)", syscall(SYS_setresuid, 100, 200, 300));
    ids("r/e/s");
    SHOW("setfsuid(999) old (denied)", syscall(SYS_setfsuid, 999));
    SHOW("setfsuid(300) old", syscall(SYS_setfsuid, 300));
    SHOW("setfsuid(-1) now", syscall(SYS_setfsuid, -1));
    SHOW("setresuid(300,100,-1)", syscall(SYS_setresuid, 300, 100, -1));
    ids("perm");
    EXPECT_ERR("setresuid(-1,-1,7)", syscall(SYS_setresuid, -1, -1, 7), EPERM);
    SHOW("setuid(200) (saved)", syscall(SYS_setuid, 200));
    ids("setuid saved");
  } else if (!strcmp(sc, "groups")) {
    gid_t g[8] = {30, 10, 20, 10};
    SHOW("setgroups 4", syscall(SYS_setgroups, 4, g));
    SHOW("getgroups(0)", syscall(SYS_getgroups, 0, NULL));
    memset(g, 0, sizeof g);
    SHOW("getgroups(8)", syscall(SYS_getgroups, 8, g));
    printf("groups: %u %u %u %u\n", g[0], g[1], g[2], g[3]);
    EXPECT_ERR("getgroups(2)", syscall(SYS_getgroups, 2, g), EINVAL);
    EXPECT_ERR("getgroups(-1)", syscall(SYS_getgroups, -1, g), EINVAL);
    EXPECT_ERR("getgroups (void*)1", syscall(SYS_getgroups, 8, (void *)1), EFAULT);
    EXPECT_ERR("setgroups (void*)1", syscall(SYS_setgroups, 2, (void *)1), EFAULT);
    EXPECT_ERR("setgroups 70000", syscall(SYS_setgroups, 70000, g), EINVAL);
    SHOW("setgroups 0", syscall(SYS_setgroups, 0, NULL));
    SHOW("getgroups(0) now", syscall(SYS_getgroups, 0, NULL));
    EXPECT_ERR("getresuid (void*)1", syscall(SYS_getresuid, (void *)1, (void *)1, (void *)1), EFAULT);
    SHOW("setregid(5,6)", syscall(SYS_setregid, 5, 6));
    SHOW("setresgid(1,2,3)", syscall(SYS_setresgid, 1, 2, 3));
    ids("gids");
  } else if (!strcmp(sc, "caps")) {
    struct __user_cap_header_struct h = {0x12345678, 0};
    struct __user_cap_data_struct d[2];
    EXPECT_ERR("capget bad version", syscall(SYS_capget, &h, d), EINVAL);
    printf("version now %#x\n", h.version);
    h.version = 0x12345678;
    SHOW("capget NULL data probe", syscall(SYS_capget, &h, NULL));
    h.version = _LINUX_CAPABILITY_VERSION_3;
    h.pid = -5;
    EXPECT_ERR("capget pid -5", syscall(SYS_capget, &h, d), EINVAL);
    h.pid = 0;
    caps("root");
    /* Keep only CAP_SETUID (effective and permitted). */
    memset(d, 0, sizeof d);
    d[0].effective = d[0].permitted = 1u << CAP_SETUID;
    SHOW("capset keep SETUID", syscall(SYS_capset, &h, d));
    caps("after capset");
    EXPECT_ERR("setgroups without CAP_SETGID", syscall(SYS_setgroups, 0, NULL), EPERM);
    d[0].permitted |= 1u << CAP_SETGID;
    EXPECT_ERR("capset regain", syscall(SYS_capset, &h, d), EPERM);
    d[0].permitted = 1u << CAP_SETUID;
    d[0].effective = 0;
    SHOW("capset drop effective", syscall(SYS_capset, &h, d));
    caps("eff dropped");
    h.pid = getpid() + 1;
    EXPECT_ERR("capset other pid", syscall(SYS_capset, &h, d), EPERM);
  } else {
    printf("getuid %ld geteuid %ld getgid %ld getegid %ld\n", syscall(SYS_getuid), syscall(SYS_geteuid), syscall(SYS_getgid), syscall(SYS_getegid));
    ids("start");
    caps("start");
  }
  printf("done\n");
  return 0;
}
