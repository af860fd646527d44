// Host calls Node lacks, and the Sentry's own host-signal handling.
//
// The Sentry's run loop is synchronous (it never returns to libuv while guests run),
// so host signals cannot go through Node's handlers: ours record the signal in a
// bit set, write the self-pipe (waking a poll) and make sure the main thread's
// blocking wait is interrupted or skipped (no SA_RESTART; forwarded to the main thread
// when the kernel picked another thread; see WaitUnlessHostSignal). The run loop's
// wait checks the bit set before each stop it takes, so a guest that never stops
// making syscalls cannot hide a host signal.
#include "common.h"
#include <atomic>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <ucontext.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>  // node's own zlib: its crc32 is what src/snapshot's writer used

namespace tss {

static int g_selfpipe[2] = {-1, -1};
static std::atomic<uint32_t> g_hostSigs{0};
static pid_t g_mainTid = 0;
static bool g_sigchldOn = false;
// A host SIGTERM/SIGINT/SIGHUP not yet taken by the run loop: since when (CLOCK_MONOTONIC
// ns, 0 = none) and which. The watchdog (hostSignalWatchdog) ends a Sentry whose loop
// does not take one within its bound: a Sentry stuck in a JavaScript loop would
// otherwise answer only SIGKILL.
static std::atomic<int64_t> g_termSince{0};
static std::atomic<int> g_termSig{0};

static int64_t MonoNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int SelfPipeReadFd() { return g_selfpipe[0]; }
// Bit 0 (no signal has number 0) is the wait deadline's timer, not a host signal.
constexpr uint32_t kDeadlineBit = 1u;
uint32_t PendingHostSignals() { return g_hostSigs.load() & ~kDeadlineBit; }

static void WakeSelfPipe() {
  char c = 0;
  ssize_t r = write(g_selfpipe[1], &c, 1);
  (void)r;
}

static void OnSigchld(int) {
  int e = errno;
  WakeSelfPipe();
  errno = e;
}

// The run loop's blocking wait for the next stub stop (wait4), which a host signal
// cannot slip past: it checks the pending-signal flag first, and a signal handled on
// the main thread between that check and the `syscall` instruction moves the
// thread to the `bail` label (as musl does for thread cancellation), so the wait
// returns -EINTR instead of blocking with the signal unseen. A signal during the
// wait4 interrupts it (no SA_RESTART); one after it is seen at the next call.
extern "C" char tss_wait4_begin[], tss_wait4_syscall[], tss_wait4_bail[];

__attribute__((noinline, noclone)) long WaitUnlessHostSignal(pid_t pid, int* status, int options) {
  long ret;
  register long r10 __asm__("r10") = 0;  // no rusage
  __asm__ volatile(
      ".globl tss_wait4_begin, tss_wait4_syscall, tss_wait4_bail\n"
      "tss_wait4_begin:\n\t"
      "cmpl $0, %[flag]\n\t"
      "jne tss_wait4_bail\n\t"
      "mov %[nr], %%eax\n"
      "tss_wait4_syscall:\n\t"
      "syscall\n\t"
      "jmp 1f\n"
      "tss_wait4_bail:\n\t"
      "mov $-4, %%rax\n"  // -EINTR
      "1:\n"
      : "=&a"(ret)
      : [flag] "m"(*reinterpret_cast<volatile uint32_t*>(&g_hostSigs)), [nr] "i"(SYS_wait4), "D"((long)pid),
        "S"(status), "d"((long)options), "r"(r10)
      : "rcx", "r11", "memory", "cc");
  return ret;
}

static void OnHostSignal(int sig, siginfo_t*, void* ctx) {
  int e = errno;
  g_hostSigs.fetch_or(1u << sig);
  if ((sig == SIGTERM || sig == SIGINT || sig == SIGHUP) && g_termSince.load() == 0) {
    g_termSig.store(sig);
    g_termSince.store(MonoNs());
  }
  WakeSelfPipe();
  pid_t self = (pid_t)syscall(SYS_gettid);
  if (self != g_mainTid) {
    syscall(SYS_tgkill, getpid(), g_mainTid, sig);
  } else {
    greg_t* ip = &static_cast<ucontext_t*>(ctx)->uc_mcontext.gregs[REG_RIP];
    if (*ip >= (greg_t)tss_wait4_begin && *ip <= (greg_t)tss_wait4_syscall) *ip = (greg_t)tss_wait4_bail;
  }
  errno = e;
}

// The timed form of the blocking wait: a one-shot CLOCK_MONOTONIC timer whose signal
// (SIGALRM, to the main thread only) sets kDeadlineBit and bails out of the wait4
// window exactly as a host signal does, so a deadline (a sleeper, a timer, a CI limit)
// costs a wait no poll, no SIGCHLD and no self-pipe: one timer_settime when the
// deadline moves, none while it stays.
static timer_t g_deadlineTimer;
static bool g_deadlineTimerMade = false;
static int64_t g_armedNs = -1;

static void OnDeadline(int, siginfo_t*, void* ctx) {
  int e = errno;
  g_hostSigs.fetch_or(kDeadlineBit);
  greg_t* ip = &static_cast<ucontext_t*>(ctx)->uc_mcontext.gregs[REG_RIP];
  if (*ip >= (greg_t)tss_wait4_begin && *ip <= (greg_t)tss_wait4_syscall) *ip = (greg_t)tss_wait4_bail;
  errno = e;
}

static void EnsureSelfPipe();

bool ArmWaitDeadline(int64_t deadlineNs) {
  if (!g_deadlineTimerMade) {
    EnsureSelfPipe();
    struct sigaction sa = {};
    sa.sa_sigaction = OnDeadline;
    sigemptyset(&sa.sa_mask);
    // SA_RESTART: the timer may fire while the Sentry blocks elsewhere (the library API's
    // channel read), which must go on; an interrupted wait4 is restarted at its `syscall`
    // instruction, inside the window the handler moves to `bail`, so it still returns.
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    if (sigaction(SIGALRM, &sa, nullptr) != 0) return false;
    struct sigevent sev = {};
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = SIGALRM;
    sev._sigev_un._tid = g_mainTid;
    if (timer_create(CLOCK_MONOTONIC, &sev, &g_deadlineTimer) != 0) return false;
    g_deadlineTimerMade = true;
  }
  // The same deadline within a millisecond (the caller's timeouts are in ms): as armed.
  if (g_armedNs >= 0 && deadlineNs >= g_armedNs - 1000000 && deadlineNs <= g_armedNs + 1000000) return true;
  struct itimerspec it = {};
  it.it_value.tv_sec = deadlineNs / 1000000000;
  it.it_value.tv_nsec = deadlineNs % 1000000000;
  if (it.it_value.tv_sec == 0 && it.it_value.tv_nsec == 0) it.it_value.tv_nsec = 1;
  if (timer_settime(g_deadlineTimer, TIMER_ABSTIME, &it, nullptr) != 0) return false;
  g_armedNs = deadlineNs;
  return true;
}

int64_t ArmedWaitDeadline() { return g_armedNs; }

bool TakeWaitDeadline() {
  if (!(g_hostSigs.fetch_and(~kDeadlineBit) & kDeadlineBit)) return false;
  g_armedNs = -1;  // one-shot: it has fired
  return true;
}

static void EnsureSelfPipe() {
  if (g_selfpipe[0] >= 0) return;
  if (pipe2(g_selfpipe, O_CLOEXEC | O_NONBLOCK) != 0) g_selfpipe[0] = g_selfpipe[1] = -1;
  g_mainTid = (pid_t)syscall(SYS_gettid);
}

// SIGCHLD is only wanted while the loop polls host fds: in the fast path (blocking
// waitpid) the default disposition discards it at no cost on every ptrace stop.
void SetSigchldWakeups(bool on) {
  if (on == g_sigchldOn) return;
  EnsureSelfPipe();
  struct sigaction sa = {};
  sa.sa_handler = on ? OnSigchld : SIG_DFL;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sigaction(SIGCHLD, &sa, nullptr);
  g_sigchldOn = on;
}

// In a child just forked from the Sentry: every signal back to its default disposition
// (Node ignores SIGPIPE; our handlers are for the Sentry only) and nothing blocked.
void ResetSignalsInChild() {
  for (int s = 1; s < 65; s++) {
    if (s == SIGKILL || s == SIGSTOP) continue;
    struct sigaction sa = {};
    sa.sa_handler = SIG_DFL;
    sigaction(s, &sa, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

static Napi::Value InstallSignalHandlers(const Napi::CallbackInfo& info) {
  EnsureSelfPipe();
  const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGWINCH, SIGCONT, SIGUSR1, SIGUSR2};
  for (int s : sigs) {
    struct sigaction sa = {};
    sa.sa_sigaction = OnHostSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO;  // no SA_RESTART: interrupt the loop's waitpid
    sigaction(s, &sa, nullptr);
  }
  return info.Env().Undefined();
}

static Napi::Value TakeHostSignals(const Napi::CallbackInfo& info) {
  g_termSince.store(0);
  return Num(info.Env(), (double)(g_hostSigs.fetch_and(kDeadlineBit) & ~kDeadlineBit));
}

// hostSignalWatchdog(ms): a thread that exits the process (status 128 + signal; the
// stubs and the gofer die with it: PTRACE_O_EXITKILL, PDEATHSIG) when a host
// SIGTERM/SIGINT/SIGHUP stays untaken by the run loop for ms. Once per process.
static Napi::Value HostSignalWatchdog(const Napi::CallbackInfo& info) {
  static bool started = false;
  if (started) return Num(info.Env(), 0);
  int64_t bound = (int64_t)info[0].As<Napi::Number>().DoubleValue() * 1000000;
  pthread_t th;
  auto* arg = new int64_t(bound);
  int r = pthread_create(&th, nullptr, [](void* a) -> void* {
    int64_t b = *static_cast<int64_t*>(a);
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);  // host signals go to the loop, not here
    for (;;) {
      struct timespec ts = {0, 200 * 1000 * 1000};
      nanosleep(&ts, nullptr);
      int64_t since = g_termSince.load();
      if (since != 0 && MonoNs() - since > b) {
        static const char msg[] = "tssandbox: the Sentry did not act on a host signal in time: exiting\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        _exit(128 + g_termSig.load());
      }
    }
    return nullptr;
  }, arg);
  if (r != 0) {
    delete arg;
    return Num(info.Env(), -r);
  }
  pthread_detach(th);
  started = true;
  return Num(info.Env(), 0);
}

static uint8_t* BufArg(const Napi::CallbackInfo& info, int i, size_t* len) {
  Napi::TypedArray ta = info[i].As<Napi::TypedArray>();
  Napi::ArrayBuffer ab = ta.ArrayBuffer();
  *len = ta.ByteLength();
  return static_cast<uint8_t*>(ab.Data()) + ta.ByteOffset();
}

static Napi::Value HostPoll(const Napi::CallbackInfo& info) {
  size_t l;
  int32_t* fds = reinterpret_cast<int32_t*>(BufArg(info, 0, &l));
  int32_t* events = reinterpret_cast<int32_t*>(BufArg(info, 1, &l));
  int32_t* revents = reinterpret_cast<int32_t*>(BufArg(info, 2, &l));
  int count = info[3].As<Napi::Number>().Int32Value();
  int timeout = info[4].As<Napi::Number>().Int32Value();
  struct pollfd p[256];
  if (count > 256) count = 256;
  for (int i = 0; i < count; i++) {
    p[i].fd = fds[i];
    p[i].events = (short)events[i];
    p[i].revents = 0;
  }
  int n;
  do n = poll(p, count, timeout); while (n < 0 && errno == EINTR && timeout == 0);
  if (n < 0) return Num(info.Env(), -errno);
  for (int i = 0; i < count; i++) revents[i] = p[i].revents;
  return Num(info.Env(), n);
}

static Napi::Value HostRead(const Napi::CallbackInfo& info) {
  size_t l;
  int fd = info[0].As<Napi::Number>().Int32Value();
  uint8_t* b = BufArg(info, 1, &l);
  size_t off = (size_t)info[2].As<Napi::Number>().Int64Value();
  size_t len = (size_t)info[3].As<Napi::Number>().Int64Value();
  if (off + len > l) return Num(info.Env(), -EINVAL);
  ssize_t r = read(fd, b + off, len);
  return Num(info.Env(), r < 0 ? -errno : (double)r);
}

static Napi::Value HostWrite(const Napi::CallbackInfo& info) {
  size_t l;
  int fd = info[0].As<Napi::Number>().Int32Value();
  uint8_t* b = BufArg(info, 1, &l);
  size_t off = (size_t)info[2].As<Napi::Number>().Int64Value();
  size_t len = (size_t)info[3].As<Napi::Number>().Int64Value();
  if (off + len > l) return Num(info.Env(), -EINVAL);
  ssize_t r;
  do r = write(fd, b + off, len); while (r < 0 && errno == EINTR);
  return Num(info.Env(), r < 0 ? -errno : (double)r);
}

static Napi::Value HostPread(const Napi::CallbackInfo& info) {
  size_t l;
  int fd = info[0].As<Napi::Number>().Int32Value();
  uint8_t* b = BufArg(info, 1, &l);
  size_t off = (size_t)info[2].As<Napi::Number>().Int64Value();
  size_t len = (size_t)info[3].As<Napi::Number>().Int64Value();
  off_t pos = (off_t)info[4].As<Napi::Number>().Int64Value();
  if (off + len > l) return Num(info.Env(), -EINVAL);
  ssize_t r = pread(fd, b + off, len, pos);
  return Num(info.Env(), r < 0 ? -errno : (double)r);
}

// hostFileCrc32(fd, pos, len): zlib's crc32 of a page-aligned range of a file, read through a
// private read-only map (a checkpoint image's pages, src/snapshot/format.ts: no copy of the
// bytes into the Sentry's heap), or -errno.
static Napi::Value HostFileCrc32(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  off_t pos = (off_t)info[1].As<Napi::Number>().Int64Value();
  size_t len = (size_t)info[2].As<Napi::Number>().Int64Value();
  if (len == 0) return Num(info.Env(), 0);
  void* m = mmap(nullptr, len, PROT_READ, MAP_PRIVATE, fd, pos);
  if (m == MAP_FAILED) return Num(info.Env(), -errno);
  madvise(m, len, MADV_SEQUENTIAL);
  uLong c = crc32(0L, Z_NULL, 0);
  for (size_t at = 0; at < len;) {
    size_t n = len - at < (1u << 30) ? len - at : (1u << 30);
    c = crc32(c, static_cast<const Bytef*>(m) + at, (uInt)n);
    at += n;
  }
  munmap(m, len);
  return Num(info.Env(), (double)c);
}

static Napi::Value HostIoctlWinsize(const Napi::CallbackInfo& info) {
  size_t l;
  int fd = info[0].As<Napi::Number>().Int32Value();
  int32_t* out = reinterpret_cast<int32_t*>(BufArg(info, 1, &l));
  struct winsize ws;
  if (ioctl(fd, TIOCGWINSZ, &ws) != 0) return Num(info.Env(), -errno);
  out[0] = ws.ws_row;
  out[1] = ws.ws_col;
  out[2] = ws.ws_xpixel;
  out[3] = ws.ws_ypixel;
  return Num(info.Env(), 0);
}

// struct termios as the kernel lays it out for TCGETS (36 bytes: 4 flags, c_line, 19 cc).
static Napi::Value HostTcgets(const Napi::CallbackInfo& info) {
  size_t l;
  int fd = info[0].As<Napi::Number>().Int32Value();
  uint8_t* out = BufArg(info, 1, &l);
  if (l < 36) return Num(info.Env(), -EINVAL);
  if (ioctl(fd, TCGETS, out) != 0) return Num(info.Env(), -errno);
  return Num(info.Env(), 0);
}

static Napi::Value HostTcsets(const Napi::CallbackInfo& info) {
  size_t l;
  int fd = info[0].As<Napi::Number>().Int32Value();
  int action = info[1].As<Napi::Number>().Int32Value();  // TCSETS, TCSETSW or TCSETSF
  uint8_t* in = BufArg(info, 2, &l);
  if (l < 36) return Num(info.Env(), -EINVAL);
  if (action != TCSETS && action != TCSETSW && action != TCSETSF) return Num(info.Env(), -EINVAL);
  if (ioctl(fd, action, in) != 0) return Num(info.Env(), -errno);
  return Num(info.Env(), 0);
}

// memfd_create(name, MFD_CLOEXEC): host memory behind a big or mmapped tmpfs file,
// without naming a host path (the confined Sentry opens none).
static Napi::Value HostMemfd(const Napi::CallbackInfo& info) {
  std::string name = info[0].As<Napi::String>().Utf8Value();
  int fd = memfd_create(name.c_str(), MFD_CLOEXEC);
  return Num(info.Env(), fd < 0 ? -errno : fd);
}

void InitHostFileRead(Napi::Env env, Napi::Object exports);  // host_file_read.cc

void InitHost(Napi::Env env, Napi::Object exports) {
  EnsureSelfPipe();
  InitHostFileRead(env, exports);
  exports["hostMemfd"] = Napi::Function::New(env, HostMemfd);
  exports["installSignalHandlers"] = Napi::Function::New(env, InstallSignalHandlers);
  exports["takeHostSignals"] = Napi::Function::New(env, TakeHostSignals);
  exports["hostSignalWatchdog"] = Napi::Function::New(env, HostSignalWatchdog);
  exports["hostPoll"] = Napi::Function::New(env, HostPoll);
  exports["hostRead"] = Napi::Function::New(env, HostRead);
  exports["hostWrite"] = Napi::Function::New(env, HostWrite);
  exports["hostPread"] = Napi::Function::New(env, HostPread);
  exports["hostFileCrc32"] = Napi::Function::New(env, HostFileCrc32);
  exports["hostIoctlWinsize"] = Napi::Function::New(env, HostIoctlWinsize);
  exports["hostTcgets"] = Napi::Function::New(env, HostTcgets);
  exports["hostTcsets"] = Napi::Function::New(env, HostTcsets);
}

}  // namespace tss
