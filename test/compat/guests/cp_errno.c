/* Errno paths across the syscall table (issue 15): a batch of calls with bad pointers, fds,
 * flags, names and limits, each printed as "ok" or its errno and compared with Linux. Raw
 * syscall(2) where libc would check first; BAD is an unmapped user address. */
#include "common.h"
#include "errno_run.h"
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <linux/futex.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/sysmacros.h>
#include <linux/fs.h>
#include <netinet/in.h>
#include <sys/un.h>

#define BAD ((void *)8)
#define R(expr) OKERR(#expr, (expr))

static char longname[300], longpath[4200];
static int fd, rfd, wfd, dfd, p[2];

static void efault(void) {
  char buf[16];
  R(syscall(SYS_read, fd, BAD, 4));
  R(syscall(SYS_write, wfd, BAD, 4));
  R(syscall(SYS_pread64, fd, BAD, 4, 0));
  R(syscall(SYS_open, BAD, O_RDONLY));
  R(syscall(SYS_openat, AT_FDCWD, BAD, O_RDONLY));
  R(syscall(SYS_stat, "f", BAD));
  R(syscall(SYS_stat, BAD, buf));
  R(syscall(SYS_fstat, fd, BAD));
  R(syscall(SYS_lstat, "ls", BAD));
  R(syscall(SYS_newfstatat, AT_FDCWD, "f", BAD, 0));
  R(syscall(SYS_statx, AT_FDCWD, "f", 0, 0x7ff, BAD));
  R(syscall(SYS_pipe, BAD));
  R(syscall(SYS_pipe2, BAD, 0));
  R(syscall(SYS_uname, BAD));
  R(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, BAD));
  R(syscall(SYS_clock_getres, CLOCK_MONOTONIC, BAD));
  R(syscall(SYS_gettimeofday, BAD, NULL));
  R(syscall(SYS_getcwd, BAD, 100));
  R(syscall(SYS_readlink, "ls", BAD, 10));
  R(syscall(SYS_getdents64, dfd, BAD, 100));
  R(syscall(SYS_nanosleep, BAD, NULL));
  R(syscall(SYS_rt_sigaction, SIGUSR1, BAD, NULL, 8));
  R(syscall(SYS_rt_sigaction, SIGUSR1, NULL, BAD, 8));
  R(syscall(SYS_rt_sigprocmask, SIG_BLOCK, BAD, NULL, 8));
  R(syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, BAD, 8));
  R(syscall(SYS_rt_sigpending, BAD, 8));
  R(syscall(SYS_poll, BAD, 1, 0));
  R(syscall(SYS_getrlimit, RLIMIT_NOFILE, BAD));
  R(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, BAD));
  R(syscall(SYS_sysinfo, BAD));
  R(syscall(SYS_getrusage, RUSAGE_SELF, BAD));
  R(syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, BAD));
  R(syscall(SYS_chdir, BAD));
  R(syscall(SYS_mkdir, BAD, 0755));
  R(syscall(SYS_unlink, BAD));
  R(syscall(SYS_rmdir, BAD));
  R(syscall(SYS_rename, BAD, "x"));
  R(syscall(SYS_rename, "f", BAD));
  R(syscall(SYS_access, BAD, F_OK));
  R(syscall(SYS_chmod, BAD, 0644));
  R(syscall(SYS_truncate, BAD, 0));
  R(syscall(SYS_symlink, BAD, "x"));
  R(syscall(SYS_symlink, "x", BAD));
  R(syscall(SYS_link, BAD, "x"));
  R(syscall(SYS_utimensat, AT_FDCWD, "f", BAD, 0));
  R(syscall(SYS_sched_getaffinity, 0, 128, BAD));
  R(syscall(SYS_sched_getparam, 0, BAD));
  R(syscall(SYS_getrandom, BAD, 16, 0));
  R(syscall(SYS_futex, BAD, FUTEX_WAIT, 0, NULL, NULL, 0));
  R(syscall(SYS_execve, BAD, NULL, NULL));
  R(syscall(SYS_readv, fd, BAD, 1));
  R(syscall(SYS_writev, wfd, BAD, 1));
  R(syscall(SYS_wait4, -1, BAD, WNOHANG, NULL));
  R(syscall(SYS_getgroups, 4, BAD));
  R(syscall(SYS_setgroups, 1, BAD));
  R(syscall(SYS_getresuid, BAD, BAD, BAD));
  R(syscall(SYS_getitimer, ITIMER_REAL, BAD));
  R(syscall(SYS_setitimer, ITIMER_REAL, BAD, NULL));
  R(syscall(SYS_times, BAD));
  R(syscall(SYS_time, BAD));
  R(syscall(SYS_sigaltstack, BAD, NULL));
  R(syscall(SYS_select, 1, BAD, NULL, NULL, NULL));
  R(syscall(SYS_epoll_ctl, syscall(SYS_epoll_create1, 0), EPOLL_CTL_ADD, fd, BAD));
  R(syscall(SYS_timerfd_settime, syscall(SYS_timerfd_create, CLOCK_MONOTONIC, 0), 0, BAD, NULL));
  R(syscall(SYS_mount, BAD, "d", "tmpfs", 0, NULL));
  R(syscall(SYS_capget, BAD, NULL));
  R(syscall(SYS_prctl, PR_SET_NAME, BAD));
  R(syscall(SYS_set_robust_list, BAD, 24));
  R(syscall(SYS_sendfile, wfd, fd, BAD, 4));
  R(syscall(SYS_bind, syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0), BAD, sizeof(struct sockaddr_un)));
  R(syscall(SYS_connect, syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0), BAD, sizeof(struct sockaddr_in)));
}

static void ebadf(void) {
  char b[4];
  R(syscall(SYS_read, -1, b, 1));
  R(syscall(SYS_read, 999, b, 1));
  R(syscall(SYS_write, 999, b, 1));
  R(syscall(SYS_close, 999));
  R(syscall(SYS_fstat, 999, b));
  R(syscall(SYS_dup, 999));
  R(syscall(SYS_dup2, 999, 50));
  R(syscall(SYS_dup3, 999, 50, 0));
  R(syscall(SYS_fcntl, 999, F_GETFD));
  R(syscall(SYS_lseek, 999, 0, SEEK_SET));
  R(syscall(SYS_fsync, 999));
  R(syscall(SYS_fdatasync, 999));
  R(syscall(SYS_ftruncate, 999, 0));
  R(syscall(SYS_fchmod, 999, 0644));
  R(syscall(SYS_fchown, 999, 0, 0));
  R(syscall(SYS_fchdir, 999));
  R(syscall(SYS_getdents64, 999, b, 4));
  R(syscall(SYS_ioctl, 999, FIONREAD, b));
  R(syscall(SYS_mmap, NULL, 4096, PROT_READ, MAP_PRIVATE, 999, 0));
  R(syscall(SYS_openat, 999, "f", O_RDONLY));
  R(syscall(SYS_openat, 999, "/", O_RDONLY));
  R(syscall(SYS_newfstatat, 999, "f", b, 0));
  R(syscall(SYS_read, wfd, b, 1));
  R(syscall(SYS_write, rfd, "x", 1));
  R(syscall(SYS_pread64, wfd, b, 1, 0));
  R(syscall(SYS_ftruncate, rfd, 0));
  R(syscall(SYS_epoll_ctl, 999, EPOLL_CTL_ADD, fd, &(struct epoll_event){ 0 }));
  R(syscall(SYS_epoll_wait, 999, b, 1, 0));
  R(syscall(SYS_sendfile, 999, fd, NULL, 1));
  R(syscall(SYS_flock, 999, LOCK_SH));
  R(syscall(SYS_accept, 999, NULL, NULL));
  R(syscall(SYS_shutdown, 999, SHUT_RD));
  R(syscall(SYS_fallocate, 999, 0, 0, 10));
  R(syscall(SYS_fadvise64, 999, 0, 0, 0));
  R(syscall(SYS_inotify_add_watch, 999, "f", IN_OPEN));
  R(syscall(SYS_fchmod, 999, 0));
  R(syscall(SYS_syncfs, 999));
  R(syscall(SYS_readlinkat, 999, "ls", b, 4));
  R(syscall(SYS_mkdirat, 999, "q", 0755));
  R(syscall(SYS_unlinkat, 999, "q", 0));
  R(syscall(SYS_statx, 999, "f", 0, 0x7ff, b));
  R(syscall(SYS_statx, 999, "", AT_EMPTY_PATH, 0x7ff, b));
  R(syscall(SYS_pwrite64, rfd, "x", 1, 0));
  R(syscall(SYS_fcntl, fd, F_SETLK, &(struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET }));
}

static void einval(void) {
  char b[64];
  R(syscall(SYS_lseek, fd, 0, 99));
  R(syscall(SYS_lseek, fd, -1, SEEK_SET));
  R(syscall(SYS_mmap, NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  R(syscall(SYS_mmap, (void *)0x10001, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
  R(syscall(SYS_mmap, NULL, 4096, PROT_READ, MAP_ANONYMOUS, -1, 0));
  R(syscall(SYS_mmap, NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 1));
  R(syscall(SYS_munmap, (void *)0x10001, 4096));
  R(syscall(SYS_munmap, NULL, 0));
  R(syscall(SYS_mprotect, (void *)0x10001, 4096, PROT_READ));
  R(syscall(SYS_mprotect, b, 4096, 0x100));
  R(syscall(SYS_madvise, NULL, 4096, 999));
  R(syscall(SYS_msync, (void *)0x10001, 4096, MS_SYNC));
  R(syscall(SYS_msync, NULL, 4096, MS_SYNC | MS_ASYNC));
  R(syscall(SYS_mremap, NULL, 4096, 8192, 99));
  R(syscall(SYS_open, "f", O_TMPFILE | O_RDONLY, 0600));
  R(syscall(SYS_fcntl, fd, 9999));
  R(syscall(SYS_fcntl, fd, F_DUPFD, -1));
  R(syscall(SYS_dup3, fd, fd, 0));
  R(syscall(SYS_dup3, fd, 50, 1));
  R(syscall(SYS_pipe2, p, 1));
  R(syscall(SYS_socket, AF_INET, 99, 0));
  R(syscall(SYS_socket, 999, SOCK_STREAM, 0));
  R(syscall(SYS_socket, AF_INET, SOCK_STREAM, 99));
  R(syscall(SYS_socket, AF_INET, SOCK_STREAM | 0x100000, 0));
  R(syscall(SYS_kill, getpid(), 999));
  R(syscall(SYS_rt_sigaction, SIGKILL, &(struct sigaction){ 0 }, NULL, 8));
  R(syscall(SYS_rt_sigaction, SIGSTOP, &(struct sigaction){ 0 }, NULL, 8));
  R(syscall(SYS_rt_sigaction, 65, NULL, NULL, 8));
  R(syscall(SYS_rt_sigaction, 0, NULL, NULL, 8));
  R(syscall(SYS_rt_sigaction, SIGUSR1, NULL, NULL, 4));
  R(syscall(SYS_rt_sigprocmask, 99, b, NULL, 8));
  R(syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, NULL, 4));
  R(syscall(SYS_clock_gettime, 999, b));
  R(syscall(SYS_clock_settime, CLOCK_MONOTONIC, &(struct timespec){ 0, 0 }));
  R(syscall(SYS_nanosleep, &(struct timespec){ 0, 2000000000 }, NULL));
  R(syscall(SYS_nanosleep, &(struct timespec){ -1, 0 }, NULL));
  R(syscall(SYS_clock_nanosleep, 999, 0, &(struct timespec){ 0, 1 }, NULL));
  R(syscall(SYS_clock_nanosleep, CLOCK_THREAD_CPUTIME_ID, 0, &(struct timespec){ 0, 1 }, NULL));
  R(syscall(SYS_epoll_create, 0));
  R(syscall(SYS_epoll_create1, 99));
  int ep = syscall(SYS_epoll_create1, 0);
  R(syscall(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, ep, &(struct epoll_event){ 0 }));
  R(syscall(SYS_epoll_ctl, ep, 99, fd, &(struct epoll_event){ 0 }));
  R(syscall(SYS_epoll_wait, ep, b, 0, 0));
  R(syscall(SYS_eventfd2, 0, 99));
  R(syscall(SYS_timerfd_create, 999, 0));
  R(syscall(SYS_timerfd_create, CLOCK_MONOTONIC, 99));
  R(syscall(SYS_timerfd_settime, syscall(SYS_timerfd_create, CLOCK_MONOTONIC, 0), 0, &(struct itimerspec){ { 0, 0 }, { 0, 1000000000 } }, NULL));
  R(syscall(SYS_inotify_init1, 99));
  R(syscall(SYS_inotify_add_watch, syscall(SYS_inotify_init1, 0), "f", 0));
  R(syscall(SYS_getrlimit, 999, b));
  R(syscall(SYS_setrlimit, RLIMIT_NOFILE, &(struct rlimit){ 10, 5 }));
  R(syscall(SYS_prctl, 9999, 0, 0, 0, 0));
  R(syscall(SYS_sched_setscheduler, 0, 99, &(struct sched_param){ 0 }));
  R(syscall(SYS_sched_getaffinity, 0, 1, b));
  R(syscall(SYS_sched_getscheduler, -1));
  R(syscall(SYS_getpriority, 99, 0));
  R(syscall(SYS_setpriority, 99, 0, 0));
  R(syscall(SYS_wait4, -1, NULL, 0x1000000, NULL));
  R(syscall(SYS_waitid, 99, 0, NULL, WEXITED, NULL));
  R(syscall(SYS_waitid, P_ALL, 0, NULL, 0, NULL));
  R(syscall(SYS_readv, fd, b, -1));
  R(syscall(SYS_readv, fd, b, 1025));
  R(syscall(SYS_writev, wfd, &(struct iovec){ b, -1 }, 1));
  R(syscall(SYS_utimensat, AT_FDCWD, "f", (struct timespec[2]){ { 0, 2000000000 }, { 0, 0 } }, 0));
  R(syscall(SYS_utimensat, AT_FDCWD, "f", NULL, 0x1234));
  R(syscall(SYS_renameat2, AT_FDCWD, "f", AT_FDCWD, "g", 99));
  R(syscall(SYS_renameat2, AT_FDCWD, "f", AT_FDCWD, "g", RENAME_NOREPLACE | RENAME_EXCHANGE));
  R(syscall(SYS_linkat, AT_FDCWD, "f", AT_FDCWD, "g", 0x1));
  R(syscall(SYS_unlinkat, AT_FDCWD, "f", 0x1));
  R(syscall(SYS_faccessat, AT_FDCWD, "f", 99));
  R(syscall(SYS_newfstatat, AT_FDCWD, "f", b, 0x1));
  R(syscall(SYS_memfd_create, "m", 0x100));
  R(syscall(SYS_getrandom, b, 4, 0x100));
  R(syscall(SYS_mlock2, b, 4, 99));
  R(syscall(SYS_timer_create, 999, NULL, b));
  R(syscall(SYS_setitimer, 99, &(struct itimerval){ 0 }, NULL));
  R(syscall(SYS_tgkill, -1, 1, 0));
  R(syscall(SYS_tkill, -1, 0));
  R(syscall(SYS_setpgid, -1, 0));
  R(syscall(SYS_truncate, "f", -1));
  R(syscall(SYS_ftruncate, fd, -1));
  R(syscall(SYS_ftruncate, p[0], 0));
  R(syscall(SYS_fallocate, wfd, 99, 0, 10));
  R(syscall(SYS_fallocate, wfd, 0, 0, 0));
  R(syscall(SYS_fadvise64, fd, 0, 0, 99));
  R(syscall(SYS_sync_file_range, wfd, 0, 0, 99));
  R(syscall(SYS_statx, AT_FDCWD, "f", 0x6000, 0x7ff, b));
  R(syscall(SYS_statx, AT_FDCWD, "f", 0, 0x80000000u, b));
  R(syscall(SYS_rmdir, "."));
  R(syscall(SYS_rename, "d", "d/sub"));
  R(syscall(SYS_access, "f", 99));
  R(syscall(SYS_flock, fd, 99));
  R(syscall(SYS_fcntl, fd, F_SETLK, &(struct flock){ .l_type = 99 }));
  R(syscall(SYS_accept4, syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0), NULL, NULL, 99));
  R(syscall(SYS_accept, syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0), NULL, NULL));
  R(syscall(SYS_listen, syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0), 1));
  R(syscall(SYS_splice, p[0], NULL, wfd, NULL, 1, 99));
  R(syscall(SYS_tee, p[0], p[1], 1, 0));
  R(syscall(SYS_mknod, "nod", S_IFDIR | 0755, 0));
  R(syscall(SYS_umask, 0));
  R(syscall(SYS_ioprio_get, 99, 0));
  R(syscall(SYS_personality, 0xffffffffu));
  R(syscall(SYS_sched_get_priority_max, 99));
  R(syscall(SYS_sched_rr_get_interval, -1, b));
  R(syscall(SYS_arch_prctl, 0x9999, 0));
  R(syscall(SYS_pidfd_open, getpid(), 99));
  R(syscall(SYS_close_range, 10, 5, 0));
  R(syscall(SYS_signalfd4, -1, b, 4, 0));
  R(syscall(SYS_set_robust_list, NULL, 1));
  R(syscall(SYS_rt_sigtimedwait, b, NULL, &(struct timespec){ 0, -1 }, 8));
  R(syscall(SYS_ppoll, NULL, 0, &(struct timespec){ 0, -1 }, NULL, 8));
  R(syscall(SYS_pselect6, 0, NULL, NULL, NULL, &(struct timespec){ -1, 0 }, NULL));
  R(syscall(SYS_select, -1, NULL, NULL, NULL, NULL));
  R(syscall(SYS_select, 0, NULL, NULL, NULL, &(struct timeval){ 0, -1 }));
  R(syscall(SYS_poll, b, 1u << 20, 0));
}

static void names(void) {
  R(syscall(SYS_open, "f/x", O_RDONLY));
  R(syscall(SYS_mkdir, "f/x", 0755));
  R(syscall(SYS_open, "f", O_RDONLY | O_DIRECTORY));
  R(syscall(SYS_rmdir, "f"));
  R(syscall(SYS_chdir, "f"));
  R(syscall(SYS_rename, "d", "f"));
  R(syscall(SYS_openat, fd, "x", O_RDONLY));
  R(syscall(SYS_getdents64, fd, longpath, 100));
  R(syscall(SYS_unlinkat, AT_FDCWD, "f", AT_REMOVEDIR));
  R(syscall(SYS_stat, "f/", longpath));
  R(syscall(SYS_open, "d", O_WRONLY));
  R(syscall(SYS_open, "d", O_RDWR | O_CREAT, 0644));
  R(syscall(SYS_unlink, "d"));
  R(syscall(SYS_read, dfd, longpath, 10));
  R(syscall(SYS_rename, "f", "d"));
  R(syscall(SYS_truncate, "d", 0));
  R(syscall(SYS_link, "d", "dlink"));
  R(syscall(SYS_open, "l1", O_RDONLY));
  R(syscall(SYS_stat, "l1", longpath));
  R(syscall(SYS_open, "ls", O_RDONLY | O_NOFOLLOW));
  R(syscall(SYS_open, "l1/x", O_RDONLY));
  R(syscall(SYS_mkdir, "l1", 0755));
  R(syscall(SYS_open, longname, O_RDONLY));
  R(syscall(SYS_open, longname, O_RDONLY | O_CREAT, 0644));
  R(syscall(SYS_mkdir, longname, 0755));
  R(syscall(SYS_stat, longpath, longname));
  R(syscall(SYS_symlink, longname, "ln"));
  R(syscall(SYS_symlink, longpath, "ln2"));
  R(syscall(SYS_chdir, longpath));
  R(syscall(SYS_open, "", O_RDONLY));
  R(syscall(SYS_stat, "", longpath));
  R(syscall(SYS_mkdir, "", 0755));
  R(syscall(SYS_rmdir, "nope"));
  R(syscall(SYS_unlink, "nope"));
  R(syscall(SYS_readlink, "nope", longpath, 10));
  R(syscall(SYS_readlink, "f", longpath, 10));
  R(syscall(SYS_readlink, "ls", longpath, 0));
  R(syscall(SYS_symlink, "x", "nope/y"));
  R(syscall(SYS_link, "nope", "y"));
  R(syscall(SYS_mkdir, "d", 0755));
  R(syscall(SYS_open, "f", O_CREAT | O_EXCL | O_RDONLY, 0644));
  R(syscall(SYS_open, "ls", O_CREAT | O_EXCL | O_RDONLY, 0644));
  R(syscall(SYS_symlink, "x", "f"));
  R(syscall(SYS_link, "f", "ls"));
  R(syscall(SYS_mknod, "f", S_IFIFO | 0644, 0));
  R(syscall(SYS_rmdir, "d2"));
  R(syscall(SYS_rename, "d", "d2"));
  R(syscall(SYS_rmdir, ".."));
  R(syscall(SYS_getcwd, longpath, 1));
  R(syscall(SYS_lseek, p[0], 0, SEEK_SET));
  R(syscall(SYS_pread64, p[0], longpath, 1, 0));
  R(syscall(SYS_ioctl, fd, TCGETS, longpath));
  R(syscall(SYS_ioctl, fd, 0x12345678, longpath));
  R(syscall(SYS_execve, "d", (char *[]){ "d", NULL }, (char *[]){ NULL }));
  R(syscall(SYS_execve, "f", (char *[]){ "f", NULL }, (char *[]){ NULL }));
  R(syscall(SYS_execve, "junk", (char *[]){ "junk", NULL }, (char *[]){ NULL }));
  R(syscall(SYS_execve, "nope", (char *[]){ "nope", NULL }, (char *[]){ NULL }));
  R(syscall(SYS_execve, "f/x", (char *[]){ "f", NULL }, (char *[]){ NULL }));
  R(syscall(SYS_wait4, -1, NULL, 0, NULL));
  R(syscall(SYS_wait4, 99999, NULL, 0, NULL));
  R(syscall(SYS_kill, 99999, 0));
  R(syscall(SYS_getpgid, 99999));
  R(syscall(SYS_getsid, 99999));
  R(syscall(SYS_sched_getparam, 99999, longpath));
  R(syscall(SYS_setpgid, 99999, 0));
  R(syscall(SYS_prlimit64, 99999, RLIMIT_NOFILE, NULL, longpath));
  R(syscall(SYS_read, p[0], longpath, 1)); /* O_NONBLOCK pipe, empty */
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  R(syscall(SYS_sendto, s, "x", 1, 0, NULL, 0));
  R(syscall(SYS_getpeername, s, longpath, &(socklen_t){ 16 }));
  R(syscall(SYS_shutdown, s, SHUT_RD));
  R(syscall(SYS_shutdown, fd, SHUT_RD));
  R(syscall(SYS_listen, fd, 1));
  R(syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, longpath, &(socklen_t){ 4 }));
  R(syscall(SYS_getsockopt, s, SOL_SOCKET, 9999, longpath, &(socklen_t){ 4 }));
  R(syscall(SYS_setsockopt, s, SOL_SOCKET, SO_RCVBUF, longpath, 1));
  R(syscall(SYS_bind, s, &(struct sockaddr_in){ .sin_family = AF_INET }, 2));
  int u = socket(AF_UNIX, SOCK_STREAM, 0);
  R(syscall(SYS_connect, u, &(struct sockaddr_un){ .sun_family = AF_UNIX, .sun_path = "nope" }, sizeof(struct sockaddr_un)));
  R(syscall(SYS_connect, u, &(struct sockaddr_un){ .sun_family = AF_UNIX, .sun_path = "f" }, sizeof(struct sockaddr_un)));
  R(syscall(SYS_write, u, "x", 1));
  close(p[0]);
  R(syscall(SYS_write, p[1], "x", 1));
}

static void emfile(void) {
  struct rlimit rl = { 16, 16 };
  MUST(setrlimit(RLIMIT_NOFILE, &rl));
  int n = 0;
  while (open("f", O_RDONLY) >= 0) n++;
  printf("opened until: %s\n", ename(errno));
  R(syscall(SYS_dup, 0));
  R(syscall(SYS_pipe, p));
  R(syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0));
  R(syscall(SYS_epoll_create1, 0));
  R(syscall(SYS_eventfd2, 0, 0));
  R(syscall(SYS_memfd_create, "m", 0));
  R(syscall(SYS_inotify_init1, 0));
  R(syscall(SYS_dup2, 0, 16));
  R(syscall(SYS_dup3, 0, 16, 0));
  R(syscall(SYS_fcntl, 0, F_DUPFD, 16));
  R(syscall(SYS_fcntl, 0, F_DUPFD, 3));
  R(syscall(SYS_dup2, 0, 15));
}

static void eacces(void) {
  MUST(setresuid(1000, 1000, 1000));
  R(syscall(SYS_open, "f", O_WRONLY));
  R(syscall(SYS_open, "priv/x", O_RDONLY));
  R(syscall(SYS_stat, "priv/x", longpath));
  R(syscall(SYS_mkdir, "priv/y", 0755));
  R(syscall(SYS_unlink, "f"));
  R(syscall(SYS_chmod, "f", 0777));
  R(syscall(SYS_chown, "f", 1000, 1000));
  R(syscall(SYS_utimensat, AT_FDCWD, "f", (struct timespec[2]){ { 1, 0 }, { 1, 0 } }, 0));
  R(syscall(SYS_utimensat, AT_FDCWD, "f", NULL, 0));
  R(syscall(SYS_truncate, "f", 0));
  R(syscall(SYS_execve, "f", (char *[]){ "f", NULL }, (char *[]){ NULL }));
  R(syscall(SYS_kill, 1, 0));
  R(syscall(SYS_setuid, 0));
  R(syscall(SYS_setgid, 0));
  R(syscall(SYS_setgroups, 0, NULL));
  R(syscall(SYS_sethostname, "x", 1));
  R(syscall(SYS_chroot, "."));
  R(syscall(SYS_mount, "none", "d", "tmpfs", 0, NULL));
  R(syscall(SYS_umount2, "/proc", 0));
  R(syscall(SYS_setrlimit, RLIMIT_NOFILE, &(struct rlimit){ 1 << 20, 1 << 20 }));
  R(syscall(SYS_setpriority, PRIO_PROCESS, 0, -5));
  R(syscall(SYS_mknod, "cdev", S_IFCHR | 0600, makedev(1, 3)));
  R(syscall(SYS_link, "f", "hl"));
  R(syscall(SYS_settimeofday, &(struct timeval){ 0, 0 }, NULL));
}

int main(void) {
  guest_init();
  signal(SIGPIPE, SIG_IGN);
  enter_tmpdir();
  MUST(chmod(".", 0755));
  memset(longname, 'n', 256);
  for (int i = 0; i < 4150; i += 2) { longpath[i] = 'a'; longpath[i + 1] = '/'; }
  int f = open("f", O_CREAT | O_WRONLY, 0644);
  MUST(write(f, "hello", 5));
  close(f);
  f = open("junk", O_CREAT | O_WRONLY, 0755);
  MUST(write(f, "\x01\x02junk-not-elf", 14));
  close(f);
  MUST(mkdir("d", 0755));
  MUST(mkdir("d2", 0755));
  MUST(mkdir("d2/x", 0755));
  MUST(mkdir("priv", 0700));
  MUST(symlink("l2", "l1"));
  MUST(symlink("l1", "l2"));
  MUST(symlink("f", "ls"));
  fd = open("f", O_RDONLY);
  rfd = open("f", O_RDONLY);
  wfd = open("w", O_CREAT | O_WRONLY, 0644);
  dfd = open("d", O_RDONLY | O_DIRECTORY);
  MUST(pipe2(p, O_NONBLOCK));
  run("EFAULT", efault);
  run("EBADF", ebadf);
  run("EINVAL", einval);
  run("names", names);
  run("EMFILE", emfile);
  run("EACCES and EPERM", eacces);
  leave_tmpdir();
  return 0;
}
