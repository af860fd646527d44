// Syscall-site patching (systrap): a site `mov $nr,%eax; syscall` that trapped once is
// rewritten into `jmp *ptr` through a pointer in the address space's window, so later
// syscalls there reach the stub's trampoline without a signal (native/stub/stub.c
// st_tramp; layout native/stub/systrap_abi.h; the reasoning src/platform/README.md).
//
// What makes it safe:
// - Only the first 5 bytes change (b8 imm32 -> ff 24 25 lo hi); the last two, `0f 05`,
//   are both the high half of the new jump's address and the old `syscall`, so a thread
//   that had run the old `mov` and stands at site+5 still makes its syscall (trapped).
// - The 5 bytes lie in one aligned 8-byte word, replaced by one `lock cmpxchg` run by
//   the address space's injector: another thread executing them sees the old or the new
//   instruction, never half of each. Sites where that does not fit are left alone.
// - The window is the Sentry's memfd, read/exec in the stub; the Sentry's mm keeps the
//   guest out of it. Its entries hold what the Sentry read and checked itself.
// - Private mappings only (the caller asks the Sentry's mm; shared file mappings would
//   carry the patch into the file).
#include "systrap_patch.h"
#include "common.h"
#include "platform_internal.h"
extern "C" {
#include "stub/systrap_abi.h"
}
#include <cerrno>
#include <cpuid.h>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>

namespace tss {

bool PatchEnabled() {
  static int on = [] {
    const char* e = getenv("TSSANDBOX_SYSTRAP_PATCH");
    return e ? atoi(e) != 0 : 1;  // on by default: TSSANDBOX_SYSTRAP_PATCH=0 turns it off
  }();
  return on;
}

void PatchXsaveLayout(uint64_t* mask, uint32_t* size) {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  uint64_t xcr0 = ((uint64_t)hi << 32 | lo) & ~((1ULL << 17) | (1ULL << 18));  // never AMX tiles (XFD)
  uint32_t end = 576;  // legacy area + header
  uint64_t m = xcr0 & 3;
  for (int i = 2; i < 63; i++) {
    if (!(xcr0 >> i & 1)) continue;
    unsigned a, b, c, d;
    __cpuid_count(0xd, i, a, b, c, d);
    if (b + a > kFpMax) continue;  // does not fit the 4 KiB image: not saved (left as it is)
    m |= 1ULL << i;
    if (b + a > end) end = b + a;
  }
  *mask = m;
  *size = end;
}

void PatchInit(PatchSites* p, uint8_t* window, const PatchSites* parent) {
  p->window = window;
  if (parent && parent->window) {
    memcpy(window, parent->window, ST_PATCH_SIZE);
    p->seen = parent->seen;
    p->next = parent->next;
    p->mapped = parent->mapped;
    p->patched = parent->patched;
    p->traps = parent->traps;
  } else {
    memset(window, 0xcc, ST_PATCH_SIZE);
    uint64_t tramp = ST_TRAMP_IP, trampRax = ST_TRAMP_RAX_IP;
    memcpy(window + (ST_PATCH_COMMON - ST_PATCH_BASE), &tramp, 8);
    memcpy(window + (ST_PATCH_COMMON_RAX - ST_PATCH_BASE), &trampRax, 8);
  }
  p->cand = 0;
}

namespace {

bool ReadAt(pid_t pid, uint64_t addr, void* out, size_t n) {
  struct iovec local = {out, n}, remote = {(void*)addr, n};
  return process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)n;
}

// A byte that, before 0xb8, would make it part of another instruction (a REX or
// legacy prefix: `41 b8` is mov to r8d). A real instruction ending in such a byte is
// only a site not patched.
bool PrefixByte(uint8_t b) {
  return (b >= 0x40 && b <= 0x4f) || b == 0x66 || b == 0x67 || b == 0xf0 || b == 0xf2 || b == 0xf3 || b == 0x26 ||
         b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 || b == 0x65;
}

// glibc's syscall(3) before its `syscall`: the argument shuffle's last three moves
// (mov %r8,%r10; mov %r9,%r8; mov 0x8(%rsp),%r9). The site is the last one, 5 bytes
// at an instruction boundary the whole sequence vouches for; the number is in rax.
constexpr uint8_t kRaxSeq[13] = {0x4d, 0x89, 0xc2, 0x4d, 0x89, 0xc8, 0x4c, 0x8b, 0x4c, 0x24, 0x08, 0x0f, 0x05};
constexpr uint8_t kRaxMov[5] = {0x4c, 0x8b, 0x4c, 0x24, 0x08};

}  // namespace

uint32_t PatchAfter() {
  static const uint32_t n = [] {
    const char* v = getenv("TSSANDBOX_SYSTRAP_PATCH_AFTER");
    long k = v ? atol(v) : 64;
    return (uint32_t)(k < 1 ? 1 : k > 1000000 ? 1000000 : k);
  }();
  return n;
}

bool PatchNote(PatchSites* p, pid_t leader, uint64_t ret, uint64_t nr) {
  p->cand = 0;
  if (!p->window || ret < 0x10008 || ret > 0x7ffffffff000ULL) return false;
  if (ret > 0x7ff000000000ULL && ret < ST_FRAMES_BASE + ST_REGION_SIZE + 8) return false;  // the stub's own
  if (ret >= ST_PATCH_BASE && ret < ST_PATCH_BASE + ST_PATCH_SIZE) return false;
  if (p->seen.size() >= 65536) return false;  // bounded: a guest making code at will
  if (p->seen.count(ret)) return false;
  if (PatchAfter() > 1) {
    if (p->traps.size() >= 65536) p->traps.clear();
    uint32_t& n = p->traps[ret];
    if (++n < PatchAfter()) return false;
    p->traps.erase(ret);
  }
  auto ins = p->seen.emplace(ret, -1);
  if (!ins.second) return false;
  uint64_t site = ret - 7;
  if ((site & 7) > 3 || p->next >= ST_PATCH_NSITES) return false;
  uint8_t q[sizeof kRaxSeq];
  if (!ReadAt(leader, ret - sizeof q, q, sizeof q)) return false;
  // syscall(3) sites: on unless TSSANDBOX_SYSTRAP_PATCH_RAX=0 (to compare the two).
  static const bool raxSites = [] { const char* v = getenv("TSSANDBOX_SYSTRAP_PATCH_RAX"); return !v || strcmp(v, "0") != 0; }();
  if (raxSites && memcmp(q, kRaxSeq, sizeof q) == 0) {
    p->cand = site;
    p->candNr = kRaxSite;
    return true;
  }
  const uint8_t* b = q + sizeof q - 8;  // site - 1 .. ret
  uint32_t imm;
  memcpy(&imm, b + 2, 4);
  if (nr >= 1024 || PrefixByte(b[0]) || b[1] != 0xb8 || imm != nr || b[6] != 0x0f || b[7] != 0x05) return false;
  p->cand = site;
  p->candNr = nr;
  return true;
}

void PatchUnview(const PatchSites* p, uint64_t addr, uint8_t* buf, size_t n) {
  if (p->patched.empty() || n == 0) return;
  for (auto it = p->patched.lower_bound(addr >= 4 ? addr - 4 : 0); it != p->patched.end() && it->first < addr + n; ++it) {
    uint8_t orig[5] = {0xb8};
    if (it->second == kRaxSite) memcpy(orig, kRaxMov, 5);
    else memcpy(orig + 1, &it->second, 4);
    for (unsigned j = 0; j < 5; j++) {
      uint64_t at = it->first + j;
      if (at >= addr && at < addr + n) buf[at - addr] = orig[j];
    }
  }
}

void PatchForget(PatchSites* p, uint64_t start, uint64_t end) {
  for (auto it = p->patched.lower_bound(start); it != p->patched.end() && it->first < end;) it = p->patched.erase(it);
  for (auto it = p->traps.begin(); it != p->traps.end();) {
    if (it->first - 7 >= start && it->first - 7 < end) it = p->traps.erase(it);
    else ++it;
  }
  if (p->seen.empty()) return;
  for (auto it = p->seen.begin(); it != p->seen.end();) {
    if (it->first - 7 >= start && it->first - 7 < end) it = p->seen.erase(it);
    else ++it;
  }
}

long PatchMapWindow(PatchSites* p, pid_t leader, int memfd) {
  long r = MmapHostFdIn(leader, memfd, (long)ST_PATCH_BASE, (long)ST_PATCH_SIZE, PROT_READ | PROT_EXEC,
                        MAP_SHARED | MAP_FIXED, (long)ST_REGION_SIZE);
  if (r != (long)ST_PATCH_BASE) return r < 0 ? r : -EIO;
  p->mapped = true;
  return 0;
}

long PatchApply(PatchSites* p, pid_t leader, int memfd, int prot) {
  uint64_t site = p->cand, nr = p->candNr;
  p->cand = 0;
  if (!site || p->next >= ST_PATCH_NSITES) return -EINVAL;
  if (!p->mapped) {
    long r = PatchMapWindow(p, leader, memfd);
    if (r < 0) return r;
  }
  uint64_t ret = site + 7, word = site & ~7ULL, page = word & ~0xfffULL;
  unsigned k = (unsigned)(site - word);
  uint64_t oldWord;
  if (!ReadAt(leader, word, &oldWord, 8)) return -EFAULT;
  uint8_t bytes[8];
  memcpy(bytes, &oldWord, 8);
  uint32_t imm;
  memcpy(&imm, bytes + k + 1, 4);
  bool rax = nr == kRaxSite;
  if (rax ? memcmp(bytes + k, kRaxMov, 5) != 0 : bytes[k] != 0xb8 || imm != nr) return -EAGAIN;
  int i = p->next;
  // The entry: movabs $(ret | nr << 48), %rcx; jmp *ST_PATCH_COMMON; or for a syscall(3)
  // site, mov 0x8(%rsp),%r9 (the instruction the jump replaced); movabs $ret, %rcx;
  // jmp *ST_PATCH_COMMON_RAX (the number is the guest's rax).
  uint8_t* e = p->window + (ST_PATCH_ENTRIES - ST_PATCH_BASE) + (size_t)i * ST_PATCH_ENTRY_SIZE;
  uint8_t* o = e;
  if (rax) memcpy(o, kRaxMov, 5), o += 5;
  uint64_t rcx = rax ? ret : ret | nr << 48;
  uint32_t common = (uint32_t)(rax ? ST_PATCH_COMMON_RAX : ST_PATCH_COMMON);
  o[0] = 0x48, o[1] = 0xb9;
  memcpy(o + 2, &rcx, 8);
  o[10] = 0xff, o[11] = 0x24, o[12] = 0x25;
  memcpy(o + 13, &common, 4);
  static_assert(5 + 17 <= ST_PATCH_ENTRY_SIZE, "entry size");
  uint64_t entry = ST_PATCH_ENTRIES + (uint64_t)i * ST_PATCH_ENTRY_SIZE;
  memcpy(p->window + (size_t)i * 8, &entry, 8);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  // jmp *(ST_PATCH_BASE + 8i): its disp32's high half is the 0f 05 already there.
  uint32_t ptr = (uint32_t)(ST_PATCH_BASE + (uint64_t)i * 8);
  bytes[k] = 0xff, bytes[k + 1] = 0x24, bytes[k + 2] = 0x25;
  bytes[k + 3] = (uint8_t)ptr, bytes[k + 4] = (uint8_t)(ptr >> 8);
  uint64_t newWord;
  memcpy(&newWord, bytes, 8);
  long a[6] = {(long)page, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, 0, 0, 0};
  long r = InjectSyscall(leader, SYS_mprotect, a, nullptr);
  if (r != 0) return r < 0 ? r : -EIO;
  uint64_t seen = 0;
  long c = CasU64(leader, word, oldWord, newWord, &seen);
  a[2] = prot;
  InjectSyscall(leader, SYS_mprotect, a, nullptr);
  if (c < 0) return c;
  if (seen != oldWord) return -EAGAIN;
  p->seen[ret] = i;
  p->patched[site] = (uint32_t)nr;
  p->next++;
  static const bool trace = getenv("TSS_SYSTRAP_PATCH_STATS") != nullptr;
  if (trace && rax) fprintf(stderr, "tss-systrap-patch: %#lx (syscall(3), number in rax) patched, entry %d\n", (unsigned long)site, i);
  else if (trace) fprintf(stderr, "tss-systrap-patch: %#lx (syscall %lu) patched, entry %d\n", (unsigned long)site, (unsigned long)nr, i);
  return 0;
}

}  // namespace tss
