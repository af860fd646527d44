// The sandbox's clock, shared by the Sentry and every guest's vDSO (native/vdso/).
//
// Guest time is a line through the TSC: mono_ns = base_ns + ((tsc - base_tsc) * mult)
// >> shift, published in a sealed memfd page that guests map read-only. A thread of
// the Sentry re-anchors the line every 50 ms so it tracks the host's CLOCK_MONOTONIC:
// each new line starts where the old one stands at that instant (so the clock never
// jumps back) and its slope is nudged, at most 500 ppm, to absorb the error. The
// Sentry reads its own clock from the same line (VdsoNowNs), so a vDSO read and a
// trapped clock_gettime never disagree. Where the TSC is not a safe clock (no invariant
// TSC, or the host does not use it as its clocksource) the page stays disabled and
// both sides use CLOCK_MONOTONIC: the vDSO then makes the syscall.
#include "common.h"
#include "vdso/vdso_data.h"

#include <atomic>
#include <cerrno>
#include <cpuid.h>
#include <cstring>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

namespace tss {
namespace {

constexpr uint32_t kShift = 32;
constexpr int64_t kPeriodNs = 50'000'000;        // re-anchor interval
constexpr double kConvergeNs = 500'000'000.0;    // absorb an error over this long
constexpr double kMaxSlew = 500e-6;              // at most 500 ppm off the nominal rate
constexpr int64_t kCalibrateNs = 5'000'000;      // first estimate of the TSC rate (refined as it runs)

vdso_data* g_page = nullptr;
int g_fd = -1;
int64_t g_bootMono = 0;  // host CLOCK_MONOTONIC at the sandbox's boot
std::atomic<bool> g_enabled{false};

int64_t HostMono() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
int64_t HostReal() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
inline uint64_t Rdtsc() {
  uint32_t lo, hi;
  __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
  return ((uint64_t)hi << 32) | lo;
}

// An invariant TSC that the host kernel itself trusts as its clocksource.
bool TscUsable() {
  unsigned a, b, c, d;
  if (!__get_cpuid(0x80000007, &a, &b, &c, &d) || !(d & (1u << 8))) return false;
  int fd = open("/sys/devices/system/clocksource/clocksource0/current_clocksource", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[16] = {};
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  return n >= 3 && strncmp(buf, "tsc", 3) == 0 && (buf[3] == '\n' || buf[3] == 0);
}

uint64_t LineAt(const vdso_data* p, uint64_t tsc) {
  uint64_t delta = tsc > p->base_tsc ? tsc - p->base_tsc : 0;
  return p->base_ns + (uint64_t)(((unsigned __int128)delta * p->mult) >> p->shift);
}

// Only the clock thread writes the page.
void Publish(uint64_t tsc, uint64_t ns, double nsPerTick) {
  g_page->seq++;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  g_page->base_tsc = tsc;
  g_page->base_ns = ns;
  g_page->mult = (uint64_t)(nsPerTick * (double)(1ull << kShift));
  g_page->shift = kShift;
  g_page->enabled = 1;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  g_page->seq++;
}

void SleepNs(int64_t ns) {
  struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

void* ClockThread(void*) {
  // Calibrate on a short baseline, then keep refining the nominal rate on a growing one.
  const uint64_t t0 = Rdtsc();
  const int64_t m0 = HostMono() - g_bootMono;
  SleepNs(kCalibrateNs);
  uint64_t t = Rdtsc();
  int64_t m = HostMono() - g_bootMono;
  if (t <= t0 || m <= m0) return nullptr;
  Publish(t, (uint64_t)m, (double)(m - m0) / (double)(t - t0));
  g_enabled.store(true, std::memory_order_release);
  for (;;) {
    SleepNs(kPeriodNs);
    t = Rdtsc();
    m = HostMono() - g_bootMono;
    const double nominal = (double)(m - m0) / (double)(t - t0);
    const uint64_t est = LineAt(g_page, t);
    double slew = ((double)m - (double)est) / kConvergeNs;
    if (slew > kMaxSlew) slew = kMaxSlew;
    if (slew < -kMaxSlew) slew = -kMaxSlew;
    Publish(t, est, nominal * (1.0 + slew));
  }
  return nullptr;
}

int Start() {
  if (g_fd >= 0) return g_fd;
  int fd = memfd_create("tssandbox-vdso-data", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -errno;
  void* p = MAP_FAILED;
  if (ftruncate(fd, 4096) == 0) p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  // No writable mapping can be made after this one: the guest maps it read-only and
  // cannot mprotect it writable (the seal takes away VM_MAYWRITE).
  if (p == MAP_FAILED || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE) != 0) {
    int e = errno;
    if (p != MAP_FAILED) munmap(p, 4096);
    close(fd);
    return -e;
  }
  g_page = static_cast<vdso_data*>(p);
  g_page->version = VDSO_DATA_VERSION;
  g_page->coarse_res_ns = 4'000'000;  // src/kernel/time/clocks.ts COARSE_RES_NS
  g_page->realtime_offset_ns = HostReal() - (HostMono() - g_bootMono);
  g_fd = fd;
  if (TscUsable()) {
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    if (pthread_create(&th, &attr, ClockThread, nullptr) == 0) pthread_setname_np(th, "tss-clock");
    pthread_attr_destroy(&attr);
  }
  return fd;
}

// ns since the sandbox booted, from the published line (or CLOCK_MONOTONIC before it).
double NowNs() {
  if (g_enabled.load(std::memory_order_acquire)) {
    for (;;) {
      uint32_t seq = __atomic_load_n(&g_page->seq, __ATOMIC_ACQUIRE);
      if (seq & 1) continue;
      uint64_t ns = LineAt(g_page, Rdtsc());
      __atomic_thread_fence(__ATOMIC_ACQUIRE);
      if (__atomic_load_n(&g_page->seq, __ATOMIC_RELAXED) == seq) return (double)ns;
    }
  }
  return (double)(HostMono() - g_bootMono);
}

Napi::Value VdsoStart(const Napi::CallbackInfo& info) { return Num(info.Env(), Start()); }
Napi::Value VdsoNowNs(const Napi::CallbackInfo& info) { return Num(info.Env(), NowNs()); }
Napi::Value VdsoRealtimeOffsetNs(const Napi::CallbackInfo& info) {
  int64_t off = g_page ? g_page->realtime_offset_ns : HostReal() - (HostMono() - g_bootMono);
  return Napi::BigInt::New(info.Env(), off);
}
// vdsoSetBoot(ns): the sandbox's clock reads ns now (a restored checkpoint goes on where
// its clock stood). Only before vdsoStart: the clock thread owns the line after it.
Napi::Value VdsoSetBoot(const Napi::CallbackInfo& info) {
  if (g_fd >= 0) return Num(info.Env(), -EBUSY);
  double ns = info[0].As<Napi::Number>().DoubleValue();
  if (!(ns >= 0)) return Num(info.Env(), -EINVAL);
  g_bootMono = HostMono() - (int64_t)ns;
  return Num(info.Env(), 0);
}
Napi::Value VdsoEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), g_enabled.load(std::memory_order_acquire));
}

}  // namespace

void InitVdsoClock(Napi::Env env, Napi::Object exports) {
  g_bootMono = HostMono();
  exports["vdsoStart"] = Napi::Function::New(env, VdsoStart);
  exports["vdsoNowNs"] = Napi::Function::New(env, VdsoNowNs);
  exports["vdsoSetBoot"] = Napi::Function::New(env, VdsoSetBoot);
  exports["vdsoRealtimeOffsetNs"] = Napi::Function::New(env, VdsoRealtimeOffsetNs);
  exports["vdsoEnabled"] = Napi::Function::New(env, VdsoEnabled);
}

}  // namespace tss
