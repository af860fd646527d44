/* SysV IPC: shared memory, semaphores, message queues, /proc/sysvipc and ipcs, against
 * Linux (natively run in a fresh IPC namespace, so ids are comparable). */
#include "common.h"
#include "wait_sleeping.h"
#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>

union semun { int val; struct semid_ds *buf; unsigned short *array; struct seminfo *__buf; };

static void status_of(const char *label, int st) {
  if (WIFEXITED(st)) printf("%s: exit %d\n", label, WEXITSTATUS(st));
  else printf("%s: killed by %d\n", label, WTERMSIG(st));
}

static void wait_child(const char *label, pid_t p) {
  int st;
  waitpid(p, &st, 0);
  status_of(label, st);
}

static void show_shm(const char *label, int id) {
  struct shmid_ds ds;
  if (shmctl(id, IPC_STAT, &ds) < 0) { printf("%s: IPC_STAT %s\n", label, ename(errno)); return; }
  printf("%s: key 0x%x mode 0%o size %zu nattch %lu cpid-is-me %d uid %u cuid %u\n", label, ds.shm_perm.__key,
         ds.shm_perm.mode, ds.shm_segsz, (unsigned long)ds.shm_nattch, ds.shm_cpid == getpid(), ds.shm_perm.uid, ds.shm_perm.cuid);
}

static void maps_line(void *addr) {
  char want[32], line[512];
  snprintf(want, sizeof want, "%lx-", (unsigned long)addr);
  FILE *f = fopen("/proc/self/maps", "r");
  while (f && fgets(line, sizeof line, f)) {
    if (strncmp(line, want, strlen(want))) continue;
    char *name = strchr(line, '/');
    char *perms = strchr(line, ' ') + 1;
    printf("maps: %.4s %s", perms, name ? name : "(none)\n");
  }
  if (f) fclose(f);
}

static void test_shm(void) {
  SHOW("shmget private", shmget(IPC_PRIVATE, 10000, 0600));
  int id = shmget(0x1234, 8192, IPC_CREAT | 0640);
  SHOW("shmget key", id);
  SHOW("shmget key again", shmget(0x1234, 4096, 0));
  EXPECT_ERR("shmget excl", shmget(0x1234, 4096, IPC_CREAT | IPC_EXCL | 0600), EEXIST);
  EXPECT_ERR("shmget bigger than segment", shmget(0x1234, 8193, 0), EINVAL);
  EXPECT_ERR("shmget missing key", shmget(0x4321, 4096, 0600), ENOENT);
  EXPECT_ERR("shmget size 0", shmget(IPC_PRIVATE, 0, 0600), EINVAL);
  EXPECT_ERR("shmat bad id", (long)shmat(12345, NULL, 0), EINVAL);
  show_shm("fresh", id);
  char *p = shmat(id, NULL, 0);
  MUST((long)p);
  maps_line(p);
  strcpy(p, "hello from the parent");
  show_shm("attached", id);
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    show_shm("in child", id);
    char *q = shmat(id, NULL, 0);
    printf("child reads: %s\n", q);
    strcpy(q + 4096, "child wrote this");
    show_shm("child attached twice", id);
    _exit(0);
  }
  wait_child("shm child", c);
  printf("parent reads: %s\n", p + 4096);
  show_shm("after child exit", id);
  EXPECT_ERR("shmat unaligned", (long)shmat(id, p + 1, 0), EINVAL);
  EXPECT_ERR("shmat over a mapping", (long)shmat(id, p, 0), EINVAL);
  char *r = shmat(id, NULL, SHM_RDONLY);
  MUST((long)r);
  printf("read-only view: %s\n", r);
  maps_line(r);
  fflush(stdout);
  c = fork();
  if (c == 0) { r[0] = 'x'; _exit(0); }
  wait_child("write to SHM_RDONLY", c);
  SHOW("shmdt read-only", shmdt(r));
  EXPECT_ERR("shmdt again", shmdt(r), EINVAL);
  struct shmid_ds ds;
  EXPECT_ERR("shmdt not shm", shmdt((void *)((uintptr_t)&ds & ~4095UL)), EINVAL);
  fflush(stdout);
  c = fork();
  if (c == 0) {
    MUST(setuid(65534));
    EXPECT_ERR("nobody: shmat", (long)shmat(id, NULL, 0), EACCES);
    EXPECT_ERR("nobody: IPC_STAT", shmctl(id, IPC_STAT, &ds), EACCES);
    EXPECT_ERR("nobody: IPC_RMID", shmctl(id, IPC_RMID, NULL), EPERM);
    SHOW("nobody: SHM_STAT_ANY finds it", shmctl(0, SHM_STAT_ANY, &ds) >= 0);
    _exit(0);
  }
  wait_child("nobody", c);
  shmctl(id, IPC_STAT, &ds);
  ds.shm_perm.mode = 0604;
  SHOW("IPC_SET", shmctl(id, IPC_SET, &ds));
  show_shm("after IPC_SET", id);
  struct shminfo info;
  SHOW("IPC_INFO max index", shmctl(0, IPC_INFO, (struct shmid_ds *)&info));
  printf("shmmax %lu shmmin %lu shmmni %lu shmseg %lu shmall %lu\n", info.shmmax, info.shmmin, info.shmmni, info.shmseg, info.shmall);
  struct shm_info si;
  SHOW("SHM_INFO max index", shmctl(0, SHM_INFO, (struct shmid_ds *)&si));
  printf("used_ids %d shm_tot %lu\n", si.used_ids, si.shm_tot);
  SHOW("SHM_STAT index 1", shmctl(1, SHM_STAT, &ds));
  EXPECT_ERR("bad cmd", shmctl(id, 99, &ds), EINVAL);
  EXPECT_ERR("IPC_STAT bad buffer", shmctl(id, IPC_STAT, (void *)8), EFAULT);
  fflush(stdout);
  SHOW("ipcs -m", system("ipcs -m"));
  SHOW("IPC_RMID while attached", shmctl(id, IPC_RMID, NULL));
  show_shm("removed, attached", id);
  printf("still readable: %s\n", p);
  EXPECT_ERR("shmget removed key", shmget(0x1234, 4096, 0), ENOENT);
  SHOW("shmdt", shmdt(p));
  EXPECT_ERR("gone after last detach", shmctl(id, IPC_STAT, &ds), EINVAL);
}

static int semval(int id, int n) { return semctl(id, n, GETVAL); }

static void on_alarm(int s) { (void)s; }


static void test_sem(void) {
  int id = semget(0x5678, 3, IPC_CREAT | 0600);
  SHOW("semget", id);
  EXPECT_ERR("semget more than the set", semget(0x5678, 4, 0), EINVAL);
  SHOW("semget fewer", semget(0x5678, 2, 0));
  EXPECT_ERR("semget nsems 0 new", semget(IPC_PRIVATE, 0, 0600), EINVAL);
  EXPECT_ERR("semget nsems too many", semget(IPC_PRIVATE, 32001, 0600), EINVAL);
  union semun a = { .val = 1 };
  SHOW("SETVAL", semctl(id, 0, SETVAL, a));
  a.val = 32768;
  EXPECT_ERR("SETVAL 32768", semctl(id, 0, SETVAL, a), ERANGE);
  EXPECT_ERR("GETVAL bad semnum", semctl(id, 3, GETVAL), EINVAL);
  SHOW("GETVAL", semval(id, 0));
  SHOW("GETPID is me", semctl(id, 0, GETPID) == getpid());
  struct sembuf down = { 0, -1, 0 }, up = { 0, 1, 0 }, nowait = { 0, -1, IPC_NOWAIT };
  SHOW("semop down", semop(id, &down, 1));
  EXPECT_ERR("semop nowait at 0", semop(id, &nowait, 1), EAGAIN);
  struct timespec ts = { 0, 20 * 1000 * 1000 };
  EXPECT_ERR("semtimedop times out", semtimedop(id, &down, 1, &ts), EAGAIN);
  struct timespec badts = { 0, 2000000000 };
  EXPECT_ERR("semtimedop bad timeout", semtimedop(id, &down, 1, &badts), EINVAL);
  EXPECT_ERR("semop nsops 0", semop(id, &down, 0), EINVAL);
  static struct sembuf many[501];
  EXPECT_ERR("semop 501 ops", semop(id, many, 501), E2BIG);
  struct sembuf far = { 5, 1, 0 };
  EXPECT_ERR("semop sem_num past the set", semop(id, &far, 1), EFBIG);
  struct sembuf big = { 1, 32767, 0 }, more = { 1, 1, 0 };
  SHOW("semop to SEMVMX", semop(id, &big, 1));
  EXPECT_ERR("semop past SEMVMX", semop(id, &more, 1), ERANGE);
  /* All or nothing: the second op would block, so the first is not applied. */
  struct sembuf two[2] = { { 2, 5, 0 }, { 0, -1, IPC_NOWAIT } };
  EXPECT_ERR("atomic pair", semop(id, two, 2), EAGAIN);
  SHOW("sem 2 untouched", semval(id, 2));
  /* A waiter, counted by GETNCNT, woken by an increment. */
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    long r = semop(id, &down, 1);
    printf("child's semop: %ld\n", r);
    _exit(0);
  }
  while (semctl(id, 0, GETNCNT) != 1) usleep(1000);
  SHOW("GETNCNT", semctl(id, 0, GETNCNT));
  long upr = semop(id, &up, 1);
  wait_child("sem waiter", c);
  SHOW("semop up", upr);
  SHOW("value after the waiter", semval(id, 0));
  /* Waiting for zero. */
  a.val = 2;
  semctl(id, 2, SETVAL, a);
  fflush(stdout);
  c = fork();
  if (c == 0) {
    struct sembuf z = { 2, 0, 0 };
    printf("child's wait for zero: %ld\n", (long)semop(id, &z, 1));
    _exit(0);
  }
  while (semctl(id, 2, GETZCNT) != 1) usleep(1000);
  SHOW("GETZCNT", semctl(id, 2, GETZCNT));
  struct sembuf minus2 = { 2, -2, 0 };
  semop(id, &minus2, 1);
  wait_child("zero waiter", c);
  /* SEM_UNDO: a child's adjustments are undone when it exits. */
  fflush(stdout);
  c = fork();
  if (c == 0) {
    struct sembuf u = { 2, 7, SEM_UNDO };
    semop(id, &u, 1);
    printf("child raised sem 2 to %d\n", semval(id, 2));
    _exit(0);
  }
  wait_child("undo child", c);
  SHOW("sem 2 after undo", semval(id, 2));
  /* A signal ends a wait with EINTR, even with SA_RESTART. */
  struct sigaction sa = { 0 };
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  fflush(stdout);
  c = fork();
  if (c == 0) {
    alarm(1);
    EXPECT_ERR("semop interrupted", semop(id, &down, 1), EINTR);
    _exit(0);
  }
  wait_child("interrupted", c);
  unsigned short all[3] = { 4, 5, 6 }, got[3];
  a.array = all;
  SHOW("SETALL", semctl(id, 0, SETALL, a));
  a.array = got;
  SHOW("GETALL", semctl(id, 0, GETALL, a));
  printf("values %u %u %u\n", got[0], got[1], got[2]);
  struct semid_ds ds;
  a.buf = &ds;
  SHOW("IPC_STAT", semctl(id, 0, IPC_STAT, a));
  printf("nsems %lu mode 0%o key 0x%x otime set %d\n", (unsigned long)ds.sem_nsems, ds.sem_perm.mode, ds.sem_perm.__key, ds.sem_otime != 0);
  struct seminfo si;
  a.__buf = &si;
  SHOW("IPC_INFO", semctl(0, 0, IPC_INFO, a));
  printf("semmni %d semmsl %d semopm %d semvmx %d semaem %d semusz %d\n", si.semmni, si.semmsl, si.semopm, si.semvmx, si.semaem, si.semusz);
  SHOW("SEM_INFO", semctl(0, 0, SEM_INFO, a));
  printf("in use %d, semaphores %d\n", si.semusz, si.semaem);
  fflush(stdout);
  SHOW("ipcs -s", system("ipcs -s"));
  /* Removal wakes waiters with EIDRM. */
  fflush(stdout);
  c = fork();
  if (c == 0) {
    struct sembuf d = { 1, -1, 0 };
    semctl(id, 1, SETVAL, (union semun){ .val = 0 });
    EXPECT_ERR("semop on a removed set", semop(id, &d, 1), EIDRM);
    _exit(0);
  }
  while (semctl(id, 1, GETNCNT) != 1) usleep(1000);
  long rm = semctl(id, 0, IPC_RMID);
  wait_child("removed while waiting", c);
  SHOW("IPC_RMID", rm);
  EXPECT_ERR("GETVAL after IPC_RMID", semctl(id, 0, GETVAL), EINVAL);
}

struct m { long type; char text[64]; };

static void test_msg(void) {
  int id = msgget(0x9abc, IPC_CREAT | 0600);
  SHOW("msgget", id);
  EXPECT_ERR("msgget excl", msgget(0x9abc, IPC_CREAT | IPC_EXCL), EEXIST);
  struct m a = { 3, "three" }, b = { 1, "one" }, c = { 2, "two" }, r;
  SHOW("send 3", msgsnd(id, &a, 6, 0));
  SHOW("send 1", msgsnd(id, &b, 4, 0));
  SHOW("send 2", msgsnd(id, &c, 4, 0));
  struct m bad = { 0, "" };
  EXPECT_ERR("send type 0", msgsnd(id, &bad, 1, 0), EINVAL);
  EXPECT_ERR("send too big", msgsnd(id, &a, 8193, 0), EINVAL);
  EXPECT_ERR("send bad pointer", msgsnd(id, (void *)8, 4, 0), EFAULT);
  struct msqid_ds ds;
  SHOW("IPC_STAT", msgctl(id, IPC_STAT, &ds));
  printf("qnum %lu cbytes %lu qbytes %lu lspid-is-me %d\n", (unsigned long)ds.msg_qnum, (unsigned long)ds.__msg_cbytes, (unsigned long)ds.msg_qbytes, ds.msg_lspid == getpid());
  memset(&r, 0, sizeof r);
  SHOW("copy index 1", msgrcv(id, &r, 64, 1, MSG_COPY | IPC_NOWAIT));
  printf("copied type %ld %s\n", r.type, r.text);
  EXPECT_ERR("copy without IPC_NOWAIT", msgrcv(id, &r, 64, 1, MSG_COPY), EINVAL);
  EXPECT_ERR("too small", msgrcv(id, &r, 2, 0, 0), E2BIG);
  memset(&r, 0, sizeof r);
  SHOW("truncated", msgrcv(id, &r, 2, 0, MSG_NOERROR));
  printf("got type %ld %s\n", r.type, r.text);
  memset(&r, 0, sizeof r);
  SHOW("lowest type <= 2", msgrcv(id, &r, 64, -2, 0));
  printf("got type %ld %s\n", r.type, r.text);
  memset(&r, 0, sizeof r);
  SHOW("except type 5", msgrcv(id, &r, 64, 5, MSG_EXCEPT));
  printf("got type %ld %s\n", r.type, r.text);
  EXPECT_ERR("empty, nowait", msgrcv(id, &r, 64, 0, IPC_NOWAIT), ENOMSG);
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    struct m w;
    memset(&w, 0, sizeof w);
    long n = msgrcv(id, &w, 64, 7, 0);
    printf("child received %ld bytes type %ld %s\n", n, w.type, w.text);
    _exit(0);
  }
  wait_sleeping(p);
  struct m s7 = { 7, "seven" };
  msgsnd(id, &s7, 6, 0);
  wait_child("receiver", p);
  /* Full queue. */
  static struct { long type; char text[8192]; } big = { 1, "" };
  SHOW("fill 1", msgsnd(id, &big, 8192, 0));
  SHOW("fill 2", msgsnd(id, &big, 8192, 0));
  EXPECT_ERR("full, nowait", msgsnd(id, &big, 1, IPC_NOWAIT), EAGAIN);
  msgctl(id, IPC_STAT, &ds);
  ds.msg_qbytes = 100;
  SHOW("IPC_SET qbytes 100", msgctl(id, IPC_SET, &ds));
  struct msginfo mi;
  SHOW("IPC_INFO", msgctl(0, IPC_INFO, (struct msqid_ds *)&mi));
  printf("msgmax %d msgmnb %d msgmni %d msgssz %d msgseg %u\n", mi.msgmax, mi.msgmnb, mi.msgmni, mi.msgssz, mi.msgseg);
  SHOW("MSG_INFO", msgctl(0, MSG_INFO, (struct msqid_ds *)&mi));
  printf("queues %d messages %d bytes %d\n", mi.msgpool, mi.msgmap, mi.msgtql);
  fflush(stdout);
  SHOW("ipcs -q", system("ipcs -q"));
  while (msgrcv(id, &big, 8192, 0, IPC_NOWAIT) >= 0) {}
  fflush(stdout);
  p = fork();
  if (p == 0) {
    EXPECT_ERR("receive on a removed queue", msgrcv(id, &r, 64, 0, 0), EIDRM);
    _exit(0);
  }
  wait_sleeping(p);
  long rm = msgctl(id, IPC_RMID, NULL);
  wait_child("removed while receiving", p);
  SHOW("IPC_RMID", rm);
  EXPECT_ERR("IPC_STAT after IPC_RMID", msgctl(id, IPC_STAT, &ds), EINVAL);
}

int main(void) {
  guest_init();
  test_shm();
  test_sem();
  test_msg();
  SHOW("ipcs", system("ipcs"));
  printf("done\n");
  return 0;
}
