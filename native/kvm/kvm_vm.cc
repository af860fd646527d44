// The kvm platform's machine (see kvm_vm.h): VMs, vCPUs in 64-bit mode with the shim
// installed, guest memory and page tables.
//
// Guest-physical layout of a VM: slot 0 at 0 is the platform's own memory (page
// tables, the shim's code, IDT, per-vCPU state/GDT/TSS/stack pages), never mapped
// into the guest's user half; slot 1 at kAnonGpa is the address space's anonymous
// memory (one sparse memfd, mapped into the Sentry too); every host-file mapping gets a
// memslot of its own above kFileGpa (the Sentry's MAP_PRIVATE/MAP_SHARED mapping of
// the file: the host does copy-on-write and page cache). Page-table entries are made
// lazily from the mirror of the guest's mappings (FillFault), for user addresses only.
#include "kvm_vm.h"
#include "kvm_abi.h"
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

extern "C" const uint8_t kvm_shim_start[], kvm_shim_end[], kvm_shim_syscall[], kvm_shim_resume[],
    kvm_shim_vectors[];

namespace tss {
namespace kvm {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kPlatLen = 64ull << 20;
constexpr uint64_t kShimGpa = 0x10000, kIdtGpa = 0x11000, kCpuGpa = 0x20000, kPtGpa = 0x200000;
constexpr uint64_t kAnonGpa = 4ull << 30, kAnonLen = 64ull << 30;
constexpr uint64_t kFileGpa = kAnonGpa + kAnonLen;
constexpr uint64_t kUserEnd = 0x800000000000ull;
constexpr uint64_t P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, NX = 1ull << 63;
constexpr uint64_t kAddr = 0x000ffffffffff000ull;

int g_kvm = -1;
int g_handed = -1;  // /dev/kvm as the native front opened it (Adopt), until Ready takes it
std::string g_why;
bool g_tried = false;
int g_runSize = 0;
kvm_cpuid2* g_cpuid = nullptr;
uint64_t g_cr4 = 0x20 | 0x200 | 0x400;  // PAE, OSFXSR, OSXMMEXCPT
uint64_t g_xcr0 = 3;
uint64_t g_maxGpa = 1ull << 36;

uint64_t XGetBv() {
  uint32_t a, d;
  __asm__ volatile("xgetbv" : "=a"(a), "=d"(d) : "c"(0));
  return ((uint64_t)d << 32) | a;
}

// The entries of a flexible-array struct start 8 bytes in, as in C (see kvm_vm.h).
template <typename T>
T* After8(void* h) {
  return reinterpret_cast<T*>(static_cast<uint8_t*>(h) + 8);
}

kvm_cpuid_entry2* Leaf(uint32_t fn, uint32_t idx) {
  kvm_cpuid_entry2* e = After8<kvm_cpuid_entry2>(g_cpuid);
  for (uint32_t i = 0; i < g_cpuid->nent; i++)
    if (e[i].function == fn && e[i].index == idx) return &e[i];
  return nullptr;
}

std::string Err(const char* what) { return std::string(what) + ": " + strerror(errno); }

uint64_t* Table(As* as, uint64_t gpa) { return reinterpret_cast<uint64_t*>(as->plat + gpa); }

uint64_t AllocPt(As* as) {
  uint64_t g;
  if (!as->freePt.empty()) {
    g = as->freePt.back();
    as->freePt.pop_back();
  } else {
    if (as->platNext + kPage > as->platLen) return 0;
    g = as->platNext;
    as->platNext += kPage;
  }
  memset(as->plat + g, 0, kPage);
  return g;
}

// The PTE slot for va (tables made on the way when create), or null.
uint64_t* Walk(As* as, uint64_t va, bool create) {
  bool user = va < kUserEnd;
  uint64_t t = as->pml4;
  for (int shift = 39; shift > 12; shift -= 9) {
    uint64_t* e = Table(as, t) + ((va >> shift) & 511);
    if (!(*e & P)) {
      if (!create) return nullptr;
      uint64_t n = AllocPt(as);
      if (!n) return nullptr;
      *e = n | P | RW | (user ? US : 0);
    }
    t = *e & kAddr;
  }
  return Table(as, t) + ((va >> 12) & 511);
}

// Every vCPU of as clears the n PTEs at gpa pte (mapping va on) itself before it returns
// to ring 3, and invlpgs them (kvm_abi.h ST_INVL).
void AddInval(As* as, uint64_t va, uint64_t n, uint64_t pte) {
  uint64_t kva = KVM_SHIM_PTWIN + pte;
  for (Vcpu* v : as->vcpus) {
    if (!v) continue;
    std::vector<uint64_t>& q = v->pendInval;
    size_t k = q.size();
    if (k && q[k - 3] + q[k - 2] * kPage == va && q[k - 1] + q[k - 2] * 8 == kva) q[k - 2] += n;
    else q.insert(q.end(), {va, n, kva});
  }
}

// The list overflowed: KVM drops every shadow page of the platform's slot when it is
// registered again, so none can hold a PTE the platform cleared.
void ReRegister(As* as) {  // (ReRegisterPlat)
  kvm_userspace_memory_region r0 = {0, 0, 0, 0, (uint64_t)(uintptr_t)as->plat};
  ioctl(as->vm, KVM_SET_USER_MEMORY_REGION, &r0);
  r0.memory_size = as->platLen;
  ioctl(as->vm, KVM_SET_USER_MEMORY_REGION, &r0);
}

// Clears the user PTEs of [start, end), skipping absent tables whole.
void ClearPtes(As* as, uint64_t start, uint64_t end) {
  uint64_t va = start;
  while (va < end) {
    uint64_t t = as->pml4;
    int shift = 39;
    bool skipped = false;
    for (; shift > 12; shift -= 9) {
      uint64_t e = Table(as, t)[(va >> shift) & 511];
      if (!(e & P)) {
        uint64_t span = 1ull << shift;
        va = (va & ~(span - 1)) + span;
        skipped = true;
        break;
      }
      t = e & kAddr;
    }
    if (skipped) continue;
    uint64_t* pt = Table(as, t);
    uint64_t run = 0, runAt = 0, runIdx = 0;
    for (uint64_t i = (va >> 12) & 511; i < 512 && va < end; i++, va += kPage) {
      if (pt[i] & P) {
        if (!run) runAt = va, runIdx = i;
        run++;
      } else if (run) {
        AddInval(as, runAt, run, t + runIdx * 8);
        run = 0;
      }
      pt[i] = 0;
    }
    if (run) AddInval(as, runAt, run, t + runIdx * 8);
  }
}

// A 2 MiB supervisor page (the platform's memory as the shim sees it).
void MapKernelLarge(As* as, uint64_t va, uint64_t gpa) {
  uint64_t t = as->pml4;
  for (int shift = 39; shift > 21; shift -= 9) {
    uint64_t* e = Table(as, t) + ((va >> shift) & 511);
    if (!(*e & P)) *e = AllocPt(as) | P | RW;
    t = *e & kAddr;
  }
  Table(as, t)[(va >> 21) & 511] = gpa | P | RW | A | D | 0x80 /* PS */ | NX;
}

void MapKernel(As* as, uint64_t va, uint64_t gpa, bool write, bool exec) {
  uint64_t* e = Walk(as, va, true);
  if (e) *e = gpa | P | A | (write ? RW | D : 0) | (exec ? 0 : NX);
}

uint64_t Pte(const Mapping& m, uint64_t start, uint64_t page) {
  uint64_t gpa = m.b->gpa + m.boff + (page - start);
  uint64_t e = gpa | P | US | A;
  if (m.prot & 2) e |= RW | D;
  if (!(m.prot & 4)) e |= NX;
  return e;
}

int AllocSlot(As* as) {
  if (!as->freeSlots.empty()) {
    int s = as->freeSlots.back();
    as->freeSlots.pop_back();
    return s;
  }
  return as->nextSlot++;
}

long AllocAnon(As* as, uint64_t len, uint64_t* off) {
  for (auto it = as->anonFree.begin(); it != as->anonFree.end(); ++it) {
    if (it->second < len) continue;
    *off = it->first;
    uint64_t rest = it->second - len, at = it->first + len;
    as->anonFree.erase(it);
    if (rest) as->anonFree[at] = rest;
    return 0;
  }
  if (as->anonNext + len > as->anonLen) return -ENOMEM;
  *off = as->anonNext;
  as->anonNext += len;
  return 0;
}

void FreeAnon(As* as, uint64_t off, uint64_t len) {
  fallocate(as->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
  auto next = as->anonFree.lower_bound(off);
  if (next != as->anonFree.end() && next->first == off + len) {
    len += next->second;
    as->anonFree.erase(next);
  }
  auto prev = as->anonFree.lower_bound(off);
  if (prev != as->anonFree.begin()) {
    --prev;
    if (prev->first + prev->second == off) {
      prev->second += len;
      return;
    }
  }
  as->anonFree[off] = len;
}

// Drops the memory of [off, off+len) of b (the range is no longer mapped anywhere).
void Release(Backing* b, uint64_t off, uint64_t len) {
  if (b->anon)
    fallocate(b->as->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(b->memfdOff + off), (off_t)len);
  else if (!b->shared)
    madvise(b->host + off, len, MADV_DONTNEED);
}

// Splits the mirror so that no piece straddles addr.
void SplitAt(As* as, uint64_t addr) {
  auto it = as->maps.upper_bound(addr);
  if (it == as->maps.begin()) return;
  --it;
  if (it->first >= addr || it->second.end <= addr) return;
  Mapping right = it->second;
  right.boff += addr - it->first;
  it->second.end = addr;
  as->maps.emplace(addr, right);
}

// Takes the pieces of [addr, end) out of the mirror (their memory stays with them).
std::vector<std::pair<uint64_t, Mapping>> Detach(As* as, uint64_t addr, uint64_t end) {
  SplitAt(as, addr);
  SplitAt(as, end);
  std::vector<std::pair<uint64_t, Mapping>> out;
  for (auto it = as->maps.lower_bound(addr); it != as->maps.end() && it->first < end;) {
    out.emplace_back(it->first, it->second);
    it = as->maps.erase(it);
  }
  ClearPtes(as, addr, end);
  FlushAll(as);
  return out;
}

const Mapping* Find(As* as, uint64_t addr, uint64_t* start) {
  auto it = as->maps.upper_bound(addr);
  if (it == as->maps.begin()) return nullptr;
  --it;
  if (addr >= it->second.end) return nullptr;
  *start = it->first;
  return &it->second;
}

bool SetMsrs(int fd, const uint64_t (*m)[2], int n) {
  alignas(8) uint8_t buf[8 + 8 * sizeof(kvm_msr_entry)] = {};
  uint32_t nm = (uint32_t)n;
  memcpy(buf, &nm, 4);
  kvm_msr_entry* e = After8<kvm_msr_entry>(buf);
  for (int i = 0; i < n; i++) e[i].index = (uint32_t)m[i][0], e[i].data = m[i][1];
  return ioctl(fd, TSS_KVM_SET_MSRS, buf) == n;
}

bool Canonical(uint64_t a) { return a < kUserEnd || a >= 0xffff800000000000ull; }

}  // namespace

int KvmFd() { return g_kvm; }

bool Adopt(int fd) {
  if (g_tried || g_handed >= 0 || fd < 0) return false;
  g_handed = fd;
  return true;
}

bool Ready(std::string* why) {
  if (g_tried) {
    if (why) *why = g_why;
    return g_kvm >= 0;
  }
  g_tried = true;
  // The front's fd when it handed one (the Sentry, unprivileged outside its user namespace,
  // may not open root's /dev/kvm); else the library's and the old path's own open.
  int fd = g_handed >= 0 ? g_handed : open("/dev/kvm", O_RDWR | O_CLOEXEC);
  g_handed = -1;
  if (fd < 0) {
    g_why = errno == ENOENT ? "/dev/kvm does not exist (no KVM on this host)" : Err("cannot open /dev/kvm");
  } else if (ioctl(fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
    g_why = "/dev/kvm: KVM API version is not 12";
  } else if (ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) <= 0 || ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) <= 0) {
    g_why = "/dev/kvm: KVM lacks user memory or read-only memslots";
  } else if ((g_runSize = ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0)) <= 0) {
    g_why = Err("KVM_GET_VCPU_MMAP_SIZE");
  } else {
    int n = 256;
    g_cpuid = static_cast<kvm_cpuid2*>(calloc(1, 8 + n * sizeof(kvm_cpuid_entry2)));
    g_cpuid->nent = n;
    if (ioctl(fd, TSS_KVM_GET_SUPPORTED_CPUID, g_cpuid) < 0) {
      g_why = Err("KVM_GET_SUPPORTED_CPUID");
    } else {
      kvm_cpuid_entry2* l1 = Leaf(1, 0);
      kvm_cpuid_entry2* l7 = Leaf(7, 0);
      kvm_cpuid_entry2* ld = Leaf(0xd, 0);
      kvm_cpuid_entry2* lx = Leaf(0x80000008, 0);
      if (l1 && (l1->ecx & (1u << 26)) && ld) {  // XSAVE
        g_cr4 |= 1u << 18;                        // OSXSAVE
        g_xcr0 = XGetBv() & (((uint64_t)ld->edx << 32) | ld->eax);
      }
      if (l7 && (l7->ebx & (1u << 7))) g_cr4 |= 1u << 20;   // SMEP: ring 0 never runs user pages
      if (l7 && (l7->ebx & (1u << 20))) g_cr4 |= 1u << 21;  // SMAP: nor reads them
      if (l7) l7->ebx &= ~1u;  // no FSGSBASE (CR4.FSGSBASE stays off: bases are the Sentry's)
      if (lx) g_maxGpa = 1ull << (lx->eax & 0xff);
      if (kFileGpa + (64ull << 30) > g_maxGpa) g_why = "guest physical address space too small";
      else g_kvm = fd;
    }
  }
  if (g_kvm < 0 && fd >= 0) close(fd);
  if (why) *why = g_why;
  return g_kvm >= 0;
}

HostMem::~HostMem() {
  if (p) munmap(p, len);
  if (fd >= 0) close(fd);
}

Backing::~Backing() {
  if (anon) {
    FreeAnon(as, memfdOff, len);
  } else {
    kvm_userspace_memory_region r = {(uint32_t)slot, 0, gpa, 0, (uint64_t)(uintptr_t)host};
    ioctl(as->vm, KVM_SET_USER_MEMORY_REGION, &r);
    as->freeSlots.push_back(slot);
  }
}

As* NewAs(int id, std::string* why) {
  if (!Ready(why)) return nullptr;
  As* as = new As();
  as->id = id;
  as->vm = ioctl(g_kvm, KVM_CREATE_VM, 0);
  if (as->vm < 0) {
    *why = Err("KVM_CREATE_VM");
    delete as;
    return nullptr;
  }
  ioctl(as->vm, KVM_SET_TSS_ADDR, 0xfffbd000ul);  // Intel without unrestricted guest; AMD ignores it
  as->plat = static_cast<uint8_t*>(mmap(nullptr, kPlatLen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
  as->memfd = memfd_create("tssandbox-kvm", MFD_CLOEXEC);
  if (as->plat == MAP_FAILED || as->memfd < 0 || ftruncate(as->memfd, (off_t)kAnonLen) < 0) {
    *why = Err("guest memory");
    as->plat = as->plat == MAP_FAILED ? nullptr : as->plat;
    FreeAs(as);
    return nullptr;
  }
  as->platLen = kPlatLen;
  as->anon = static_cast<uint8_t*>(mmap(nullptr, kAnonLen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, as->memfd, 0));
  as->anonLen = kAnonLen;
  as->anonMem = std::make_shared<HostMem>();
  as->anonMem->fd = as->memfd;
  if (as->anon != MAP_FAILED) as->anonMem->p = as->anon, as->anonMem->len = kAnonLen;
  kvm_userspace_memory_region r0 = {0, 0, 0, kPlatLen, (uint64_t)(uintptr_t)as->plat};
  kvm_userspace_memory_region r1 = {1, 0, kAnonGpa, kAnonLen, (uint64_t)(uintptr_t)as->anon};
  if (as->anon == MAP_FAILED || ioctl(as->vm, KVM_SET_USER_MEMORY_REGION, &r0) < 0 ||
      ioctl(as->vm, KVM_SET_USER_MEMORY_REGION, &r1) < 0) {
    *why = Err("KVM_SET_USER_MEMORY_REGION");
    if (as->anon == MAP_FAILED) as->anon = nullptr;
    FreeAs(as);
    return nullptr;
  }
  as->fileGpaNext = kFileGpa;
  as->platNext = kPtGpa;
  as->pml4 = AllocPt(as);
  // The shim: its code read-only, the IDT read-only, both supervisor-only.
  size_t n = (size_t)(kvm_shim_end - kvm_shim_start);
  memcpy(as->plat + kShimGpa, kvm_shim_start, n);
  MapKernel(as, KVM_SHIM_BASE, kShimGpa, false, true);
  uint64_t* idt = Table(as, kIdtGpa);
  for (int v = 0; v < 32; v++) {
    uint64_t h = KVM_SHIM_BASE + (uint64_t)(kvm_shim_vectors - kvm_shim_start) + 16 * (uint64_t)v;
    uint64_t attr = v == 3 ? 0xee : 0x8e;  // int3 may be raised from ring 3
    idt[2 * v] = (h & 0xffff) | ((uint64_t)KVM_SEL_KCODE << 16) | (attr << 40) | (((h >> 16) & 0xffff) << 48);
    idt[2 * v + 1] = h >> 32;
  }
  MapKernel(as, KVM_SHIM_IDT, kIdtGpa, false, false);
  for (uint64_t o = 0; o < kPlatLen; o += 2ull << 20) MapKernelLarge(as, KVM_SHIM_PTWIN + o, o);
  return as;
}

void FreeAs(As* as) {
  for (Vcpu* v : as->vcpus)
    if (v) FreeVcpu(v);
  as->maps.clear();  // file backings leave their memslots
  if (as->anonMem) as->anonMem.reset();  // unmapped once no child's view needs it
  else if (as->memfd >= 0) close(as->memfd);
  if (as->plat) munmap(as->plat, as->platLen);
  if (as->vm >= 0) close(as->vm);
  delete as;
}

Vcpu* NewVcpu(As* as, int ctx, std::string* why) {
  int index = -1;
  for (int i = 0; i < KVM_SHIM_MAX_CPUS; i++) {
    bool used = false;
    for (Vcpu* v : as->vcpus) used = used || (v && v->index == i);
    if (!used) {
      index = i;
      break;
    }
  }
  if (index < 0) {
    *why = "too many vCPUs";
    return nullptr;
  }
  Vcpu* v = new Vcpu();
  v->ctx = ctx;
  v->as = as;
  v->index = index;
  v->fd = ioctl(as->vm, KVM_CREATE_VCPU, as->nextVcpuId++);
  if (v->fd < 0) {
    *why = Err("KVM_CREATE_VCPU");
    delete v;
    return nullptr;
  }
  v->runSize = (size_t)g_runSize;
  void* run = mmap(nullptr, v->runSize, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
  if (run == MAP_FAILED || ioctl(v->fd, TSS_KVM_SET_CPUID2, g_cpuid) < 0) {
    *why = Err("vCPU set-up");
    if (run != MAP_FAILED) munmap(run, v->runSize);
    close(v->fd);
    delete v;
    return nullptr;
  }
  v->run = static_cast<kvm_run*>(run);
  uint64_t gpa = kCpuGpa + (uint64_t)index * KVM_SHIM_CPU_STRIDE;
  uint64_t va = KVM_SHIM_CPU0 + (uint64_t)index * KVM_SHIM_CPU_STRIDE;
  memset(as->plat + gpa, 0, KVM_SHIM_CPU_STRIDE);
  for (uint64_t o = 0; o < KVM_SHIM_CPU_STRIDE; o += kPage) MapKernel(as, va + o, gpa + o, true, false);
  v->state = as->plat + gpa;
  uint64_t kstack = va + KVM_SHIM_CPU_STRIDE;
  memcpy(v->state + ST_KSTACK, &kstack, 8);
  // GDT at +0x1000, TSS at +0x1800.
  uint64_t* gdt = reinterpret_cast<uint64_t*>(as->plat + gpa + 0x1000);
  uint64_t tss = va + 0x1800;
  gdt[KVM_SEL_KCODE / 8] = 0x00af9b000000ffffull;
  gdt[KVM_SEL_KDATA / 8] = 0x00cf93000000ffffull;
  gdt[KVM_SEL_UDATA / 8] = 0x00cff3000000ffffull;
  gdt[KVM_SEL_UCODE / 8] = 0x00affb000000ffffull;
  gdt[KVM_SEL_TSS / 8] = 0x67 | ((tss & 0xffffff) << 16) | (0x8bull << 40) | (((tss >> 24) & 0xff) << 56);
  gdt[KVM_SEL_TSS / 8 + 1] = tss >> 32;
  uint8_t* t = as->plat + gpa + 0x1800;
  memcpy(t + 4, &kstack, 8);  // rsp0
  uint16_t iomap = 104;       // past the limit: no I/O bitmap, ring 3 `in`/`out` fault
  memcpy(t + 102, &iomap, 2);

  kvm_sregs s;
  if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
    *why = Err("KVM_GET_SREGS");
    FreeVcpu(v);
    return nullptr;
  }
  kvm_segment code = {};
  code.limit = 0xffffffff, code.selector = KVM_SEL_KCODE, code.type = 11, code.present = 1, code.s = 1, code.l = 1, code.g = 1;
  kvm_segment data = code;
  data.selector = KVM_SEL_KDATA, data.type = 3, data.l = 0, data.db = 1;
  s.cs = code;
  s.ds = s.es = s.ss = data;
  s.fs = data;
  s.fs.selector = 0, s.fs.base = 0;
  s.gs = data;
  s.gs.selector = 0, s.gs.base = va;  // the state page while in ring 0 (kvm_shim_resume's swapgs gives the user's)
  s.tr = {};
  s.tr.base = tss, s.tr.limit = 0x67, s.tr.selector = KVM_SEL_TSS, s.tr.type = 11, s.tr.present = 1;
  s.ldt = {};
  s.ldt.unusable = 1;
  s.gdt.base = va + 0x1000, s.gdt.limit = (KVM_SEL_TSS + 16) - 1;
  s.idt.base = KVM_SHIM_IDT, s.idt.limit = 0xfff;
  s.cr0 = 0x80000001u | 0x2 | 0x10 | 0x20 | (1u << 16) | (1u << 18);  // PG PE MP ET NE WP AM
  s.cr3 = as->pml4;
  s.cr4 = g_cr4;
  // LME LMA SCE NXE. On this nested host (Intel, KVM in KVM) `syscall` from ring 3 lands
  // at the LSTAR target still at CPL 3 (whatever EFER.SCE says): a user fetch fault on the
  // shim's supervisor page, which kvm_run.cc takes as the syscall it is.
  s.efer = 0x500 | 0x1 | 0x800;
  const uint64_t msrs[][2] = {
      {0xc0000081, ((uint64_t)KVM_SEL_KCODE << 32) | (0x23ull << 48)},                // STAR
      {0xc0000082, KVM_SHIM_BASE + (uint64_t)(kvm_shim_syscall - kvm_shim_start)},  // LSTAR
      {0xc0000083, 0},                                                              // CSTAR
      {0xc0000084, 0x47700},  // SFMASK: TF IF DF IOPL NT AC
      {0xc0000102, 0},        // KERNEL_GS_BASE: the user's gs base
  };
  kvm_xcrs x = {};
  x.nr_xcrs = 1;
  x.xcrs[0] = {0, 0, g_xcr0};
  kvm_regs r = {};
  r.rip = KVM_SHIM_BASE + (uint64_t)(kvm_shim_resume - kvm_shim_start);
  r.rsp = kstack;
  r.rflags = 2;
  if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0 || !SetMsrs(v->fd, msrs, 5) ||
      ((g_cr4 & (1u << 18)) && ioctl(v->fd, KVM_SET_XCRS, &x) < 0) || ioctl(v->fd, KVM_SET_REGS, &r) < 0) {
    *why = Err("vCPU registers");
    FreeVcpu(v);
    return nullptr;
  }
  // The guest's TSC is the host's (the Sentry's vDSO page scales host TSC readings).
  uint64_t zero = 0;
  kvm_device_attr a = {0, KVM_VCPU_TSC_CTRL, KVM_VCPU_TSC_OFFSET, (uint64_t)(uintptr_t)&zero};
  if (ioctl(v->fd, KVM_SET_DEVICE_ATTR, &a) < 0) {
    const uint64_t tsc[][2] = {{0x10, __builtin_ia32_rdtsc()}};
    SetMsrs(v->fd, tsc, 1);
  }
  v->regs.cs = KVM_SEL_UCODE;
  v->regs.ss = KVM_SEL_UDATA;
  v->regs.eflags = 0x202;
  as->vcpus.push_back(v);
  return v;
}

void FreeVcpu(Vcpu* v) {
  As* as = v->as;
  for (auto& p : as->vcpus)
    if (p == v) p = nullptr;
  if (v->run) munmap(v->run, v->runSize);
  if (v->fd >= 0) close(v->fd);
  delete v;
}

void ReRegisterPlat(As* as) { ReRegister(as); }

int ProtAt(As* as, uint64_t addr) {
  uint64_t start;
  const Mapping* m = Find(as, addr, &start);
  return m ? m->prot : -1;
}

uint64_t VaOfGpa(As* as, uint64_t gpa) {
  for (auto& kv : as->maps) {
    const Mapping& m = kv.second;
    uint64_t g = m.b->gpa + m.boff;
    if (gpa >= g && gpa < g + (m.end - kv.first)) return kv.first + (gpa - g);
  }
  return 0;
}

bool ApplyPending(Vcpu* v) {
  uint64_t* cnt = reinterpret_cast<uint64_t*>(v->state + ST_INVL_N);
  uint64_t* r = reinterpret_cast<uint64_t*>(v->state + ST_INVL);
  bool ok = true;
  for (size_t i = 0; i < v->pendInval.size(); i += 3) {
    if (*cnt >= ST_INVL_MAX) {
      ok = false;
      break;
    }
    memcpy(r + 3 * *cnt, &v->pendInval[i], 24);
    ++*cnt;
  }
  if (!v->pendInval.empty()) v->pendFlags |= FL_INVL;
  v->pendInval.clear();
  v->state[ST_FLAGS] |= (uint8_t)v->pendFlags;
  v->pendFlags = 0;
  return ok;
}

uint64_t SyscallEntry() { return KVM_SHIM_BASE + (uint64_t)(kvm_shim_syscall - kvm_shim_start); }

void FlushAll(As* as) {
  for (Vcpu* v : as->vcpus)
    if (v) v->pendFlags |= FL_FLUSH;
}

long MmAnon(As* as, uint64_t addr, uint64_t len, int prot, bool shared) {
  if (addr % kPage || len % kPage || !len || addr + len > kUserEnd || addr + len < addr) return -EINVAL;
  uint64_t off;
  long e = AllocAnon(as, len, &off);
  if (e < 0) return e;
  MmUnmap(as, addr, len);
  auto b = std::make_shared<Backing>();
  b->as = as, b->host = as->anon + off, b->len = len, b->gpa = kAnonGpa + off, b->memfdOff = off, b->shared = shared;
  as->maps[addr] = Mapping{addr + len, prot, b, 0};
  return (long)addr;
}

long MmFile(As* as, int fd, uint64_t addr, uint64_t len, int prot, bool shared, uint64_t off) {
  if (addr % kPage || len % kPage || !len || addr + len > kUserEnd || addr + len < addr) return -EINVAL;
  bool writable = !shared || (prot & 2);
  void* h = mmap(nullptr, len, PROT_READ | (writable ? PROT_WRITE : 0), shared ? MAP_SHARED : MAP_PRIVATE, fd, (off_t)off);
  if (h == MAP_FAILED) return -errno;
  uint64_t gpa = (as->fileGpaNext + (2ull << 20) - 1) & ~((2ull << 20) - 1);
  if (gpa + len > g_maxGpa) {
    munmap(h, len);
    return -ENOMEM;
  }
  int slot = AllocSlot(as);
  kvm_userspace_memory_region r = {(uint32_t)slot, writable ? 0u : (uint32_t)KVM_MEM_READONLY, gpa, len, (uint64_t)(uintptr_t)h};
  if (ioctl(as->vm, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
    long e = -errno;
    munmap(h, len);
    as->freeSlots.push_back(slot);
    return e == -EINVAL ? -ENOMEM : e;  // out of memslots
  }
  as->fileGpaNext = gpa + len;
  MmUnmap(as, addr, len);
  auto b = std::make_shared<Backing>();
  b->as = as, b->host = static_cast<uint8_t*>(h), b->len = len, b->gpa = gpa, b->slot = slot;
  b->anon = false, b->shared = shared, b->writable = writable;
  b->keep = std::make_shared<HostMem>();
  b->keep->p = b->host, b->keep->len = len;
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    uint64_t size = (uint64_t)st.st_size;
    b->validLen = size <= off ? 0 : std::min<uint64_t>(len, (size - off + kPage - 1) & ~(kPage - 1));
  }
  as->maps[addr] = Mapping{addr + len, prot, b, 0};
  return (long)addr;
}

// A memslot of as over host memory [h, h+len) (kept alive by keep): its backing, or null.
static std::shared_ptr<Backing> View(As* as, uint8_t* h, uint64_t len, bool writable, std::shared_ptr<HostMem> keep) {
  uint64_t gpa = (as->fileGpaNext + (2ull << 20) - 1) & ~((2ull << 20) - 1);
  if (gpa + len > g_maxGpa) return nullptr;
  int slot = AllocSlot(as);
  kvm_userspace_memory_region r = {(uint32_t)slot, writable ? 0u : (uint32_t)KVM_MEM_READONLY, gpa, len, (uint64_t)(uintptr_t)h};
  if (ioctl(as->vm, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
    as->freeSlots.push_back(slot);
    return nullptr;
  }
  as->fileGpaNext = gpa + len;
  auto b = std::make_shared<Backing>();
  b->as = as, b->host = h, b->len = len, b->gpa = gpa, b->slot = slot;
  b->anon = false, b->shared = true, b->writable = writable, b->keep = std::move(keep);
  return b;
}

// Copies [src, src+len) of the Sentry's memory to dst: only the data extents of an
// anonymous memfd range (off in fd), everything of a file's mapping (by the kernel:
// a page past the file's end copies as zeros, never SIGBUS).
static void CopyPrivate(const Backing* b, uint64_t boff, uint8_t* dst, uint64_t len) {
  const uint8_t* src = b->host + boff;
  if (b->anon) {
    off_t base = (off_t)(b->memfdOff + boff), end = base + (off_t)len;
    for (off_t at = base; at < end;) {
      off_t d = lseek(b->as->memfd, at, SEEK_DATA);
      if (d < 0 || d >= end) break;
      off_t hole = lseek(b->as->memfd, d, SEEK_HOLE);
      if (hole < 0 || hole > end) hole = end;
      memcpy(dst + (d - base), src + (d - base), (size_t)(hole - d));
      at = hole;
    }
    return;
  }
  pid_t self = getpid();
  for (uint64_t o = 0; o < len; o += kPage) {
    struct iovec l = {dst + o, kPage}, r = {const_cast<uint8_t*>(src) + o, kPage};
    if (process_vm_readv(self, &l, 1, &r, 1, 0) != (ssize_t)kPage) break;
  }
}

long ForkMemory(As* parent, As* child) {
  for (auto& kv : parent->maps) {
    const Mapping& m = kv.second;
    uint64_t start = kv.first, len = m.end - start;
    if (m.b->shared) {
      auto b = View(child, m.b->host + m.boff, len, m.b->writable, m.b->anon ? parent->anonMem : m.b->keep);
      if (!b) return -ENOMEM;
      if (m.b->validLen != ~0ull) b->validLen = m.b->validLen > m.boff ? m.b->validLen - m.boff : 0;
      child->maps[start] = Mapping{m.end, m.prot, b, 0};
      continue;
    }
    long r = MmAnon(child, start, len, m.prot, false);
    if (r < 0) return r;
    CopyPrivate(m.b.get(), m.boff, child->maps[start].b->host, len);
  }
  return 0;
}


long MmUnmap(As* as, uint64_t addr, uint64_t len) {
  if (addr % kPage || addr >= kUserEnd) return -EINVAL;
  len = (len + kPage - 1) & ~(kPage - 1);
  uint64_t end = addr + len > kUserEnd ? kUserEnd : addr + len;
  for (auto& p : Detach(as, addr, end)) Release(p.second.b.get(), p.second.boff, p.second.end - p.first);
  return 0;
}

long MmProtect(As* as, uint64_t addr, uint64_t len, int prot) {
  if (addr % kPage) return -EINVAL;
  len = (len + kPage - 1) & ~(kPage - 1);
  uint64_t end = addr + len;
  if (end > kUserEnd || end < addr) return -ENOMEM;
  for (uint64_t a = addr; a < end;) {
    uint64_t s;
    const Mapping* m = Find(as, a, &s);
    if (!m) return -ENOMEM;
    if ((prot & 2) && !m->b->writable) return -EACCES;
    a = m->end;
  }
  SplitAt(as, addr);
  SplitAt(as, end);
  for (auto it = as->maps.lower_bound(addr); it != as->maps.end() && it->first < end; ++it) it->second.prot = prot;
  ClearPtes(as, addr, end);
  FlushAll(as);
  return 0;
}

long MmRemap(As* as, uint64_t old, uint64_t oldLen, uint64_t newLen, bool move, uint64_t newAddr) {
  oldLen = (oldLen + kPage - 1) & ~(kPage - 1);
  newLen = (newLen + kPage - 1) & ~(kPage - 1);
  if (old % kPage || !newLen || (move && newAddr % kPage)) return -EINVAL;
  const Mapping* last = nullptr;
  for (uint64_t a = old; a < old + oldLen;) {
    uint64_t s;
    const Mapping* m = Find(as, a, &s);
    if (!m) return -EFAULT;
    last = m;
    a = m->end;
  }
  if (!last) return -EFAULT;
  int prot = last->prot;
  bool grow = newLen > oldLen;
  if (grow && !last->b->anon) return -ENOMEM;  // a file mapping would need its fd again
  bool shared = last->b->shared;
  uint64_t to = move ? newAddr : old;
  if (move) {
    auto pieces = Detach(as, old, old + oldLen);
    MmUnmap(as, newAddr, oldLen);
    for (auto& p : pieces) {
      Mapping m = p.second;
      uint64_t at = newAddr + (p.first - old);
      m.end = newAddr + (m.end - old);
      as->maps[at] = m;
    }
  }
  if (newLen < oldLen) MmUnmap(as, to + newLen, oldLen - newLen);
  if (grow) {
    long r = MmAnon(as, to + oldLen, newLen - oldLen, prot, shared);
    if (r < 0) return r;
  }
  return (long)to;
}

long MmAdvise(As* as, uint64_t addr, uint64_t len, int advice) {
  if (advice != 4 /* DONTNEED */ && advice != 8 /* FREE */) return 0;
  len = (len + kPage - 1) & ~(kPage - 1);
  uint64_t end = addr + len;
  SplitAt(as, addr);
  SplitAt(as, end);
  for (auto it = as->maps.lower_bound(addr); it != as->maps.end() && it->first < end; ++it)
    if (!it->second.b->shared) Release(it->second.b.get(), it->second.boff, it->second.end - it->first);
  return 0;
}

int FillFault(As* as, uint64_t addr, uint64_t err) {
  if (addr >= kUserEnd) return kRefused;
  uint64_t start;
  const Mapping* m = Find(as, addr, &start);
  if (!m) return kRefused;
  if ((err & 2) && !(m->prot & 2)) return kRefused;
  if ((err & 16) && !(m->prot & 4)) return kRefused;
  if (!(m->prot & 7)) return kRefused;
  if (m->boff + ((addr & ~(kPage - 1)) - start) >= m->b->validLen) return kPastEof;
  // This page and its neighbours in a 64-page window (each fault is an exit: dear here).
  uint64_t page = addr & ~(kPage - 1);
  uint64_t lo = page & ~(64 * kPage - 1), hi = lo + 64 * kPage;
  if (lo < start) lo = start;
  if (hi > m->end) hi = m->end;
  if (m->b->validLen != ~0ull && hi > start + (m->b->validLen - m->boff)) hi = start + (m->b->validLen - m->boff);
  for (uint64_t p = lo; p < hi; p += kPage) {
    uint64_t* e = Walk(as, p, true);
    if (!e) return p > page ? kFilled : kRefused;
    if (p == page || !(*e & P)) *e = Pte(*m, start, p);
  }
  return kFilled;
}

long Access(As* as, uint64_t addr, uint8_t* buf, size_t len, bool write) {
  size_t done = 0;
  while (done < len) {
    uint64_t a = addr + done, start;
    const Mapping* m = a < addr ? nullptr : Find(as, a, &start);
    if (!m || !(m->prot & 7) || (write && !(m->prot & 2))) break;
    size_t n = len - done;
    if (n > m->end - a) n = (size_t)(m->end - a);
    uint8_t* h = m->b->host + m->boff + (a - start);
    if (m->b->anon) {
      if (write) memcpy(h, buf + done, n);
      else memcpy(buf + done, h, n);
    } else {
      // A file page past its end would be SIGBUS in the Sentry: the kernel's copy says EFAULT.
      struct iovec l = {buf + done, n}, r = {h, n};
      pid_t self = getpid();
      ssize_t k = write ? process_vm_writev(self, &l, 1, &r, 1, 0) : process_vm_readv(self, &l, 1, &r, 1, 0);
      if (k <= 0) break;
      done += (size_t)k;
      if ((size_t)k < n) break;
      continue;
    }
    done += n;
  }
  return done ? (long)done : -EFAULT;
}

int WritableIov(As* as, uint64_t addr, size_t len, struct iovec* iov, int max) {
  int n = 0;
  size_t done = 0;
  while (done < len && n < max) {
    uint64_t a = addr + done, start;
    const Mapping* m = a < addr ? nullptr : Find(as, a, &start);
    if (!m || !(m->prot & 2)) break;
    size_t k = len - done;
    if (k > m->end - a) k = (size_t)(m->end - a);
    iov[n++] = {m->b->host + m->boff + (a - start), k};
    done += k;
  }
  return n;
}

uint8_t* HostPtr(As* as, uint64_t addr, size_t len, bool write) {
  uint64_t start;
  const Mapping* m = Find(as, addr, &start);
  if (!m || addr + len > m->end || !(m->prot & 7) || (write && !(m->prot & 2)) || !m->b->anon) return nullptr;
  return m->b->host + m->boff + (addr - start);
}

bool CanonicalUser(uint64_t a) { return Canonical(a); }

}  // namespace kvm
}  // namespace tss
