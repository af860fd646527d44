// The kvm platform's machine (see kvm_vm.h): the host's KVM probed once, VMs and vCPUs
// in 64-bit mode with the shim installed (GDT, TSS, IDT, the MSRs of `syscall`).
#include "kvm_mem.h"
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

int g_kvm = -1;
int g_handed = -1;  // /dev/kvm as the native front opened it (Adopt), until Ready takes it
std::string g_why;
bool g_tried = false;
int g_runSize = 0;
kvm_cpuid2* g_cpuid = nullptr;
uint64_t g_cr4 = 0x20 | 0x200 | 0x400;  // PAE, OSFXSR, OSXMMEXCPT
uint64_t g_xcr0 = 3;
uint64_t g_maxGpa = 1ull << 36;
bool g_direct = false;
const char* g_hostKind = "unknown";
// The direct-syscall page's frame in the platform's slot (kvm_abi.h KVM_SYSCALL_PAGE).
constexpr uint64_t kSysPageGpa = 0x12000;

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


bool SetMsrs(int fd, const uint64_t (*m)[2], int n) {
  alignas(8) uint8_t buf[8 + 8 * sizeof(kvm_msr_entry)] = {};
  uint32_t nm = (uint32_t)n;
  memcpy(buf, &nm, 4);
  kvm_msr_entry* e = After8<kvm_msr_entry>(buf);
  for (int i = 0; i < n; i++) e[i].index = (uint32_t)m[i][0], e[i].data = m[i][1];
  return ioctl(fd, TSS_KVM_SET_MSRS, buf) == n;
}

kvm_segment KernelCode() {
  kvm_segment code = {};
  code.limit = 0xffffffff, code.selector = KVM_SEL_KCODE, code.type = 11, code.present = 1, code.s = 1, code.l = 1, code.g = 1;
  return code;
}

kvm_segment KernelData() {
  kvm_segment data = KernelCode();
  data.selector = KVM_SEL_KDATA, data.type = 3, data.l = 0, data.db = 1;
  return data;
}

uint64_t StateVa(const Vcpu* v) { return KVM_SHIM_CPU0 + (uint64_t)v->index * KVM_SHIM_CPU_STRIDE; }

}  // namespace

std::string Err(const char* what) { return std::string(what) + ": " + strerror(errno); }
uint64_t MaxGpa() { return g_maxGpa; }
uint64_t GuestXcr0() { return g_xcr0; }

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
      const char* d = getenv("TSS_KVM_DIRECT");
      g_hostKind = HostKind();
      g_direct = g_kvm >= 0 && !(d && strcmp(d, "0") == 0) && SyscallStaysInRing3(fd) == 1;
    }
  }
  if (g_kvm < 0 && fd >= 0) close(fd);
  if (why) *why = g_why;
  return g_kvm >= 0;
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
  as->anonMem = std::make_shared<HostMem>();
  as->anonMem->fd = as->memfd;
  if (as->anon != MAP_FAILED) as->anonMem->p = as->anon, as->anonMem->len = kAnonLen;
  kvm_userspace_memory_region r0 = {0, 0, 0, kPlatLen, (uint64_t)(uintptr_t)as->plat};
  // The memfd's memslots come as its allocator reaches them (kvm_memory.cc GrowAnon).
  if (as->anon == MAP_FAILED || ioctl(as->vm, KVM_SET_USER_MEMORY_REGION, &r0) < 0) {
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
  if (g_direct) {
    // The direct-syscall page: ring 3 may run it (and read it: two bytes, no secret).
    static const uint8_t entry[] = {0xe6, KVM_SYSCALL_PORT, 0x0f, 0x0b};  // out %al,$port; ud2
    memcpy(as->plat + kSysPageGpa, entry, sizeof entry);
    uint64_t* e = Walk(as, KVM_SYSCALL_PAGE, true);
    if (e) *e = kSysPageGpa | P | US | A;
  }
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
  // Direct syscalls read and write their registers in kvm_run (no GET/SET_REGS ioctl).
  if (g_direct && ioctl(g_kvm, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS) & KVM_SYNC_X86_REGS) {
    v->run->kvm_valid_regs = KVM_SYNC_X86_REGS;
    v->syncRegs = true;
  }
  uint64_t gpa = kCpuGpa + (uint64_t)index * KVM_SHIM_CPU_STRIDE;
  uint64_t va = StateVa(v);
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
  // With direct syscalls the TSS ends in a 4-byte I/O bitmap that lets ring 3 use
  // KVM_SYSCALL_PORT alone (ports past it are beyond the limit: refused); else no bitmap.
  uint64_t tssLimit = g_direct ? 104 + 4 - 1 : 0x67;
  gdt[KVM_SEL_TSS / 8] = tssLimit | ((tss & 0xffffff) << 16) | (0x8bull << 40) | (((tss >> 24) & 0xff) << 56);
  gdt[KVM_SEL_TSS / 8 + 1] = tss >> 32;
  uint8_t* t = as->plat + gpa + 0x1800;
  memcpy(t + 4, &kstack, 8);  // rsp0
  uint16_t iomap = 104;       // without direct syscalls past the limit: ring 3 `in`/`out` fault
  memcpy(t + 102, &iomap, 2);
  if (g_direct) {
    memset(t + 104, 0xff, 4);
    t[104 + KVM_SYSCALL_PORT / 8] &= (uint8_t) ~(1u << (KVM_SYSCALL_PORT % 8));
  }

  kvm_sregs s;
  if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
    *why = Err("KVM_GET_SREGS");
    FreeVcpu(v);
    return nullptr;
  }
  kvm_segment code = KernelCode(), data = KernelData();
  s.cs = code;
  s.ds = s.es = s.ss = data;
  s.fs = data;
  s.fs.selector = 0, s.fs.base = 0;
  s.gs = data;
  s.gs.selector = 0, s.gs.base = va;  // the state page while in ring 0 (kvm_shim_resume's swapgs gives the user's)
  s.tr = {};
  s.tr.base = tss, s.tr.limit = (uint32_t)tssLimit, s.tr.selector = KVM_SEL_TSS, s.tr.type = 11, s.tr.present = 1;
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
      {0xc0000082, g_direct ? KVM_SYSCALL_PAGE : SyscallEntry()},  // LSTAR
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

bool EnterShim(Vcpu* v, const kvm_regs& k, kvm_sregs* s) {
  user_regs_struct r = {};
  r.rax = k.rax, r.rbx = k.rbx, r.rcx = k.rcx, r.rdx = k.rdx, r.rsi = k.rsi, r.rdi = k.rdi, r.rsp = k.rsp;
  r.rbp = k.rbp, r.r8 = k.r8, r.r9 = k.r9, r.r10 = k.r10, r.r11 = k.r11, r.r12 = k.r12, r.r13 = k.r13;
  r.r14 = k.r14, r.r15 = k.r15, r.rip = k.rip, r.eflags = k.rflags;
  memcpy(v->state + ST_REGS, &r, sizeof r);
  // As after the shim's own swapgs: gs the state page, KERNEL_GS_BASE the user's gs base.
  const uint64_t msrs[][2] = {{0xc0000102, s->gs.base}};
  s->cs = KernelCode();
  s->ss = KernelData();
  s->gs.base = StateVa(v);
  kvm_regs e = {};
  e.rip = KVM_SHIM_BASE + (uint64_t)(kvm_shim_resume - kvm_shim_start);
  e.rsp = StateVa(v) + KVM_SHIM_CPU_STRIDE;
  e.rflags = 2;
  return SetMsrs(v->fd, msrs, 1) && ioctl(v->fd, KVM_SET_SREGS, s) == 0 && ioctl(v->fd, KVM_SET_REGS, &e) == 0;
}

uint64_t SyscallEntry() { return KVM_SHIM_BASE + (uint64_t)(kvm_shim_syscall - kvm_shim_start); }
bool DirectSyscalls() { return g_direct; }
const char* ReadyHostKind() { return g_hostKind; }

}  // namespace kvm
}  // namespace tss
