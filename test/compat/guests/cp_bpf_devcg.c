/* bpf(2) cgroup device programs (issue 15; runc's device filter): BPF_PROG_LOAD of a
 * CGROUP_DEVICE program and its errors, PROG_ATTACH/DETACH/QUERY on a cgroup2 directory
 * (multi, replace, ENOSPC with the real count), GET_FD_BY_ID and OBJ_GET_INFO_BY_FD, and
 * the check at open and mknod of device nodes for a process in that group (EPERM), none
 * for one outside it or once detached; EPERM without privilege. Against Linux (as root,
 * in a mount namespace of its own; it mounts cgroup2 itself and removes its group). */
#define _GNU_SOURCE
#include "common.h"
#include <fcntl.h>
#include <linux/bpf.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

static long sys_bpf(int cmd, union bpf_attr *a) { return syscall(SYS_bpf, cmd, a, sizeof *a); }

#define I(op, d, s, o, i) ((struct bpf_insn){ .code = (op), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })

/* Denies char 1:5 (/dev/zero) and writes to char 1:7 (/dev/full); allows the rest. */
static const struct bpf_insn deny_prog[] = {
  I(BPF_LDX | BPF_MEM | BPF_W, 2, 1, 0, 0),        /* r2 = access_type */
  I(BPF_ALU | BPF_AND | BPF_K, 2, 0, 0, 0xffff),   /* r2 = type */
  I(BPF_LDX | BPF_MEM | BPF_W, 3, 1, 0, 0),
  I(BPF_ALU | BPF_RSH | BPF_K, 3, 0, 0, 16),       /* r3 = access */
  I(BPF_LDX | BPF_MEM | BPF_W, 4, 1, 4, 0),        /* r4 = major */
  I(BPF_LDX | BPF_MEM | BPF_W, 5, 1, 8, 0),        /* r5 = minor */
  I(BPF_STX | BPF_MEM | BPF_W, 10, 5, -4, 0),      /* through the stack and back */
  I(BPF_LDX | BPF_MEM | BPF_W, 5, 10, -4, 0),
  I(BPF_JMP | BPF_JNE | BPF_K, 2, 0, 9, BPF_DEVCG_DEV_CHAR),
  I(BPF_JMP32 | BPF_JNE | BPF_K, 4, 0, 8, 1),
  I(BPF_JMP | BPF_JNE | BPF_K, 5, 0, 2, 5),
  I(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0),
  I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
  I(BPF_JMP | BPF_JNE | BPF_K, 5, 0, 4, 7),
  I(BPF_ALU | BPF_AND | BPF_K, 3, 0, 0, BPF_DEVCG_ACC_WRITE),
  I(BPF_JMP | BPF_JEQ | BPF_K, 3, 0, 2, 0),
  I(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0),
  I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
  I(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 1),
  I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
};
static const struct bpf_insn allow_prog[] = {
  I(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 1),
  I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
};

static long load(const struct bpf_insn *p, unsigned n, unsigned type, const char *name) {
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.prog_type = type;
  a.insns = (unsigned long)p;
  a.insn_cnt = n;
  a.license = (unsigned long)"GPL";
  if (name) strncpy(a.prog_name, name, sizeof a.prog_name - 1);
  return sys_bpf(BPF_PROG_LOAD, &a);
}

static long attach(int cg, int prog, unsigned flags, int replace) {
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.target_fd = cg;
  a.attach_bpf_fd = prog;
  a.attach_type = BPF_CGROUP_DEVICE;
  a.attach_flags = flags;
  a.replace_bpf_fd = replace;
  return sys_bpf(BPF_PROG_ATTACH, &a);
}

static long detach(int cg, int prog) {
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.target_fd = cg;
  a.attach_bpf_fd = prog;
  a.attach_type = BPF_CGROUP_DEVICE;
  return sys_bpf(BPF_PROG_DETACH, &a);
}

static __u32 ids[8];
static long query(int cg, unsigned cnt, unsigned *out_cnt, unsigned *out_flags) {
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.query.target_fd = cg;
  a.query.attach_type = BPF_CGROUP_DEVICE;
  a.query.prog_ids = (unsigned long)ids;
  a.query.prog_cnt = cnt;
  long r = sys_bpf(BPF_PROG_QUERY, &a);
  *out_cnt = a.query.prog_cnt;
  *out_flags = a.query.attach_flags;
  return r;
}

static unsigned prog_id(int fd, struct bpf_prog_info *info) {
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  memset(info, 0, sizeof *info);
  a.info.bpf_fd = fd;
  a.info.info_len = sizeof *info;
  a.info.info = (unsigned long)info;
  return sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &a) == 0 ? info->id : 0;
}

static int has_id(unsigned n, unsigned id) {
  for (unsigned i = 0; i < n && i < 8; i++) if (ids[i] == id) return 1;
  return 0;
}

/* In a child: join the group, then try the devices. */
static void devices(const char *procs, const char *label) {
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    int fd = open(procs, O_WRONLY);
    if (fd < 0 || write(fd, "0", 1) != 1) _exit(99);
    close(fd);
    printf("[%s]\n", label);
    OKERR("  open /dev/zero r", open("/dev/zero", O_RDONLY));
    OKERR("  open /dev/zero O_PATH", open("/dev/zero", O_PATH));
    OKERR("  open /dev/full r", open("/dev/full", O_RDONLY));
    OKERR("  open /dev/full w", open("/dev/full", O_WRONLY));
    OKERR("  open /dev/null rw", open("/dev/null", O_RDWR));
    OKERR("  mknod char 1:5", mknod("n15", S_IFCHR | 0600, makedev(1, 5)));
    OKERR("  mknod char 1:3", mknod("n13", S_IFCHR | 0600, makedev(1, 3)));
    OKERR("  mknod block 7:0", mknod("b70", S_IFBLK | 0600, makedev(7, 0)));
    OKERR("  mknod fifo", mknod("fifo", S_IFIFO | 0600, 0));
    unlink("n15"); unlink("n13"); unlink("b70"); unlink("fifo");
    fflush(stdout);
    _exit(0);
  }
  int st;
  waitpid(p, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) printf("[%s] child failed\n", label);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  enter_tmpdir();
  MUST(mkdir("cg", 0755));
  MUST(mount("none", "cg", "cgroup2", 0, NULL));
  char grp[64], procs[96];
  snprintf(grp, sizeof grp, "cg/cp_bpf_devcg.%d", (int)getpid());
  snprintf(procs, sizeof procs, "%s/cgroup.procs", grp);
  MUST(mkdir(grp, 0755));
  int cg = open(grp, O_RDONLY | O_DIRECTORY);
  MUST(cg);
  int devnull = open("/dev/null", O_RDONLY);

  /* Loading. */
  EXPECT_ERR("load: no instructions", load(deny_prog, 0, BPF_PROG_TYPE_CGROUP_DEVICE, NULL), E2BIG);
  EXPECT_ERR("load: an unknown type", load(allow_prog, 2, 9999, NULL), EINVAL);
  EXPECT_ERR("load: a bad pointer", load((void *)8, 2, BPF_PROG_TYPE_CGROUP_DEVICE, NULL), EFAULT);
  EXPECT_ERR("load: no exit at the end", load(allow_prog, 1, BPF_PROG_TYPE_CGROUP_DEVICE, NULL), EINVAL);
  struct bpf_insn bad_op[] = { I(0xff, 0, 0, 0, 0), allow_prog[0], allow_prog[1] };
  EXPECT_ERR("load: an unknown opcode", load(bad_op, 3, BPF_PROG_TYPE_CGROUP_DEVICE, NULL), EINVAL);
  struct bpf_insn far[] = { I(BPF_JMP | BPF_JA, 0, 0, 5, 0), allow_prog[0], allow_prog[1] };
  EXPECT_ERR("load: a jump out of range", load(far, 3, BPF_PROG_TYPE_CGROUP_DEVICE, NULL), EINVAL);
  EXPECT_ERR("load: a bad name", load(allow_prog, 2, BPF_PROG_TYPE_CGROUP_DEVICE, "a-b"), EINVAL);
  int deny = load(deny_prog, sizeof deny_prog / sizeof deny_prog[0], BPF_PROG_TYPE_CGROUP_DEVICE, "cp_deny");
  int allow = load(allow_prog, 2, BPF_PROG_TYPE_CGROUP_DEVICE, "cp_allow");
  int allow2 = load(allow_prog, 2, BPF_PROG_TYPE_CGROUP_DEVICE, NULL);
  FACT("load: three programs", deny >= 0 && allow >= 0 && allow2 >= 0);
  FACT("load: close-on-exec fds", (fcntl(deny, F_GETFD) & FD_CLOEXEC) != 0);
  struct bpf_prog_info info;
  unsigned deny_id = prog_id(deny, &info);
  FACT("info: type CGROUP_DEVICE", info.type == BPF_PROG_TYPE_CGROUP_DEVICE);
  FACT("info: the name given", strcmp(info.name, "cp_deny") == 0);
  FACT("info: instructions", info.xlated_prog_len > 0);
  FACT("info: loaded by uid 0", info.created_by_uid == 0);
  unsigned allow_id = prog_id(allow, &info), allow2_id = prog_id(allow2, &info);
  FACT("info: distinct ids", deny_id && allow_id && allow2_id && deny_id != allow_id && allow_id != allow2_id);
  {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.info.bpf_fd = devnull;
    a.info.info_len = sizeof info;
    a.info.info = (unsigned long)&info;
    EXPECT_ERR("info: not a bpf fd", sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &a), EINVAL);
    a.info.bpf_fd = 999;
    EXPECT_ERR("info: a closed fd", sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &a), EBADFD);
  }

  /* Attaching and querying. */
  unsigned cnt, flags;
  SHOW("query: nothing attached", query(cg, 8, &cnt, &flags));
  printf("  count %u flags %u\n", cnt, flags);
  EXPECT_ERR("attach: not a cgroup", attach(devnull, deny, BPF_F_ALLOW_MULTI, 0), EBADF);
  EXPECT_ERR("attach: not a program", attach(cg, devnull, BPF_F_ALLOW_MULTI, 0), EINVAL);
  EXPECT_ERR("attach: REPLACE without MULTI", attach(cg, deny, BPF_F_REPLACE, 0), EINVAL);
  EXPECT_ERR("attach: OVERRIDE and MULTI", attach(cg, deny, BPF_F_ALLOW_OVERRIDE | BPF_F_ALLOW_MULTI, 0), EINVAL);
  SHOW("attach: deny, MULTI", attach(cg, deny, BPF_F_ALLOW_MULTI, 0));
  EXPECT_ERR("attach: the same again", attach(cg, deny, BPF_F_ALLOW_MULTI, 0), EINVAL);
  EXPECT_ERR("attach: non-multi over multi", attach(cg, allow, 0, 0), EPERM);
  SHOW("attach: allow, MULTI", attach(cg, allow, BPF_F_ALLOW_MULTI, 0));
  SHOW("query: room for all", query(cg, 8, &cnt, &flags));
  printf("  count %u flags %u both listed %s\n", cnt, flags, has_id(cnt, deny_id) && has_id(cnt, allow_id) ? "yes" : "no");
  EXPECT_ERR("query: room for one", query(cg, 1, &cnt, &flags), ENOSPC);
  printf("  count %u\n", cnt);
  SHOW("query: count only", query(cg, 0, &cnt, &flags));
  printf("  count %u\n", cnt);
  EXPECT_ERR("attach: replace one not attached", attach(cg, allow2, BPF_F_ALLOW_MULTI | BPF_F_REPLACE, allow2), ENOENT);
  SHOW("attach: allow2 replacing allow", attach(cg, allow2, BPF_F_ALLOW_MULTI | BPF_F_REPLACE, allow));
  query(cg, 8, &cnt, &flags);
  printf("  count %u, allow2 in, allow out: %s\n", cnt, has_id(cnt, allow2_id) && !has_id(cnt, allow_id) ? "yes" : "no");
  {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.prog_id = allow2_id;
    int fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &a);
    FACT("get fd by id: the same program", fd >= 0 && prog_id(fd, &info) == allow2_id);
    close(fd);
    a.prog_id = 0x7ffffff0;
    EXPECT_ERR("get fd by id: no such id", sys_bpf(BPF_PROG_GET_FD_BY_ID, &a), ENOENT);
  }

  /* Enforced in the group, not outside it. */
  devices(procs, "in the group");
  OKERR("outside: open /dev/zero r", open("/dev/zero", O_RDONLY));
  /* The programs stay attached once their fds are closed. */
  close(deny);
  close(allow);
  devices(procs, "fds closed");

  /* Detaching. */
  EXPECT_ERR("detach: no program given (multi)", detach(cg, -1), EINVAL);
  union bpf_attr ga;
  memset(&ga, 0, sizeof ga);
  ga.prog_id = deny_id;
  deny = sys_bpf(BPF_PROG_GET_FD_BY_ID, &ga);
  FACT("get fd by id: an attached program whose fds closed", deny >= 0);
  SHOW("detach: deny", detach(cg, deny));
  EXPECT_ERR("detach: deny again", detach(cg, deny), ENOENT);
  devices(procs, "deny detached");
  SHOW("detach: allow2", detach(cg, allow2));
  SHOW("query: all detached", query(cg, 8, &cnt, &flags));
  printf("  count %u flags %u\n", cnt, flags);
  EXPECT_ERR("detach: nothing attached", detach(cg, allow2), ENOENT);
  /* Non-multi: one program, replaced by the next attach, detached without naming it. */
  SHOW("attach: deny, no flags", attach(cg, deny, 0, 0));
  SHOW("attach: allow2, no flags (replaces)", attach(cg, allow2, 0, 0));
  query(cg, 8, &cnt, &flags);
  printf("  count %u flags %u allow2 listed %s\n", cnt, flags, has_id(cnt, allow2_id) ? "yes" : "no");
  SHOW("detach: without a program (not multi)", detach(cg, -1));
  close(deny);

  /* Privilege: none in a user namespace of one's own, none for another uid. */
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    if (unshare(CLONE_NEWUSER) != 0) _exit(98);
    EXPECT_ERR("a new user namespace: load", load(allow_prog, 2, BPF_PROG_TYPE_CGROUP_DEVICE, NULL), EPERM);
    _exit(0);
  }
  waitpid(p, NULL, 0);
  p = fork();
  if (p == 0) {
    if (setuid(65534) != 0) _exit(98);
    EXPECT_ERR("uid 65534: load", load(allow_prog, 2, BPF_PROG_TYPE_CGROUP_DEVICE, NULL), EPERM);
    EXPECT_ERR("uid 65534: query", query(cg, 8, &cnt, &flags), EPERM);
    _exit(0);
  }
  waitpid(p, NULL, 0);

  close(allow2);
  close(cg);
  /* The group empties once its last member is reaped (Linux may lag a moment). */
  int r = -1;
  for (int i = 0; i < 200 && (r = rmdir(grp)) != 0 && errno == EBUSY; i++) usleep(10000);
  SHOW("rmdir the group", r);
  MUST(umount("cg"));
  rmdir("cg");
  leave_tmpdir();
  return 0;
}
