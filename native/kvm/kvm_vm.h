// The kvm platform's machine: one KVM VM per guest address space, one vCPU per guest
// thread, guest memory that is the Sentry's own (kvm_vm.cc), page tables the platform
// builds from its mirror of the address space's mappings, the ring-0 shim (shim.S).
#pragma once
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <pthread.h>
#include <string>
#include <vector>

// The ioctls whose structs end in a flexible array: C++ sizes those structs differently
// from C (linux/kvm.h's __DECLARE_FLEX_ARRAY), and the size is part of the number.
#define TSS_KVM_GET_SUPPORTED_CPUID _IOWR(KVMIO, 0x05, uint64_t)
#define TSS_KVM_SET_CPUID2 _IOW(KVMIO, 0x90, uint64_t)
#define TSS_KVM_SET_MSRS _IOW(KVMIO, 0x89, uint64_t)
// kvm_xsave's region is 4096 bytes in C; C++ counts its flexible `extra` too (4100), and
// KVM refused that number (EINVAL): no FP state was ever read, written or inherited.
struct TssXsave {
  uint32_t region[1024];
};
#define TSS_KVM_GET_XSAVE _IOR(KVMIO, 0xa4, TssXsave)
#define TSS_KVM_SET_XSAVE _IOW(KVMIO, 0xa5, TssXsave)

namespace tss {
namespace kvm {

struct As;

// Host memory the Sentry mapped for guests (an anonymous memfd, a file's mapping): kept
// alive by every VM that registered a memslot over it (fork shares MAP_SHARED memory).
struct HostMem {
  uint8_t* p = nullptr;
  size_t len = 0;
  int fd = -1;
  // An address space's anonymous memfd: its ranges handed out and free (a frozen range,
  // shared by a fork's two sides, goes back here when both are done with it).
  uint64_t next = 0;
  std::map<uint64_t, uint64_t> free;  // offset -> length
  ~HostMem();
};

// A range of an anonymous memfd that no one writes any more: the private memory of a
// forked address space, which parent and child each map MAP_PRIVATE (the host copies a
// page on its first write, for whichever side writes it).
struct Frozen {
  std::shared_ptr<HostMem> pool;
  uint64_t off = 0, len = 0;
  ~Frozen();
};

// What backs a guest mapping: a range of the address space's anonymous memfd (in its
// one big memslot), or a host file mapped into the Sentry with a memslot of its own.
struct Backing {
  As* as = nullptr;
  uint8_t* host = nullptr;  // the Sentry's view
  uint64_t len = 0;
  uint64_t gpa = 0;         // guest-physical address of host[0]
  uint64_t memfdOff = 0;    // anon: offset in the memfd
  int slot = -1;            // file: its memslot
  bool anon = true;
  bool given = false;       // anon: its range went to a Frozen (fork), which frees it
  bool cow = false;         // a private view of frozen (host is the Sentry's MAP_PRIVATE mapping)
  std::shared_ptr<Frozen> frozen;
  bool shared = false;
  bool writable = true;     // the Sentry's view (and the memslot) allow writes
  std::shared_ptr<HostMem> keep;  // file or shared view: the host memory behind host
  uint64_t validLen = ~0ull;  // file: bytes of host the file backs (past them: SIGBUS)
  ~Backing();
};

// One piece of the platform's mirror of the guest's mappings.
struct Mapping {
  uint64_t end;
  int prot;
  std::shared_ptr<Backing> b;
  uint64_t boff;  // offset of this piece's start in b
  int onFork = 0;  // kForkCopy, or MADV_DONTFORK's kForkSkip, MADV_WIPEONFORK's kForkWipe
  bool guard = false;  // MADV_GUARD_INSTALL: every touch faults (kept across fork)
};

enum { kForkCopy = 0, kForkSkip = 1, kForkWipe = 2 };

struct Vcpu;

struct As {
  int vm = -1;
  int id = 0;                 // the Sentry's name for the address space (its first ctx)
  uint8_t* plat = nullptr;    // platform slot (page tables, shim, state pages), GPA 0
  uint64_t platLen = 0, platNext = 0;
  std::vector<uint64_t> freePt;
  uint64_t pml4 = 0;          // GPA of the top table
  int memfd = -1;             // anonymous memory, memslot 1
  uint8_t* anon = nullptr;
  std::shared_ptr<HostMem> anonMem;  // owns memfd and anon, and their allocator
  uint64_t anonSlotEnd = 0;          // memfd bytes registered as memslots (slot 1 and on)
  uint64_t fileGpaNext = 0;
  std::vector<int> freeSlots;
  int nextSlot = 2;
  std::map<uint64_t, Mapping> maps;  // by start
  std::vector<Vcpu*> vcpus;
  int nextVcpuId = 0;  // KVM never frees a vCPU id: a thread's successor takes a new one
  bool dead = false;
  uint64_t peakKb = 0;  // the most ResidentKb has found
  bool shoot = false;  // PTEs cleared since the last Shootdown: running vCPUs may hold them
};

enum ExitWhy { kWhyNone = 0, kWhyShim, kWhyKick, kWhyFault, kWhyFatal, kWhyPort };

struct Vcpu {
  int ctx = 0;
  As* as = nullptr;
  int index = 0;
  int fd = -1;
  kvm_run* run = nullptr;
  size_t runSize = 0;
  uint8_t* state = nullptr;  // host view of the state page
  pthread_t th{};
  bool started = false;
  std::atomic<int> st{0};    // kStopped / kRun / kPosted / kQuit
  std::atomic<int> sleeping{0};
  // Filled by the vCPU thread before it posts.
  int why = kWhyNone;
  int shimKind = 0;
  kvm_regs kregs{};          // kick/fault/port: the registers as KVM holds them
  bool portOut = false;      // port: an `out` (else an `in`) to KVM_SYSCALL_PORT
  bool syncRegs = false;     // KVM leaves the registers in run->s.regs at each exit
  bool fromSync = false;     // this stop's registers came from there: its resume goes back there
  uint64_t faultGpa = 0;     // a fault KVM could not map (KVM_EXIT_MEMORY_FAULT), or 0
  std::string fatal;
  // The Sentry's copy of the registers while stopped.
  user_regs_struct regs{};
  bool regsInKvm = false;    // stopped outside the shim: resume with KVM_SET_REGS
  bool vsys = false;         // this stop is a call into the vsyscall page, at vsysEntry
  uint64_t vsysEntry = 0;
  uint64_t fsBase = 0, gsBase = 0;
  // What the shim must do at its next return to ring 3 (FL_*, PTE clears), kept here
  // and written to the state page only while the vCPU is stopped (ApplyPending).
  uint64_t pendFlags = 0;
  std::vector<uint64_t> pendInval;  // (va, pages, pte kva) triples
  // Set by the Sentry before it signals a running vCPU's thread: a kick to report (Kick),
  // a shootdown to apply in place (Shootdown), cleared by that thread once done.
  // The vCPU thread's own getrusage(RUSAGE_THREAD) after its last exit: the host's page
  // faults on guest memory (KVM faults them in for the guest) and its context switches.
  std::atomic<uint64_t> minflt{0}, majflt{0}, nvcsw{0}, nivcsw{0};
  std::atomic<int> kicked{0};
  std::atomic<int> shoot{0};
};

enum { kStopped = 0, kRun = 1, kPosted = 2, kQuit = 3 };

// Host facts probed once (the /dev/kvm fd is opened before the Sentry confines itself).
bool Ready(std::string* why);
int KvmFd();
// The XCR0 every vCPU runs with (the host's, as far as KVM supports it).
uint64_t GuestXcr0();
// Takes fd (the native front's O_RDWR /dev/kvm) as the one Ready uses instead of opening
// its own; false (fd not taken) once Ready has run or one was taken already.
bool Adopt(int fd);

As* NewAs(int id, std::string* why);
void FreeAs(As* as);
Vcpu* NewVcpu(As* as, int ctx, std::string* why);
void FreeVcpu(Vcpu* v);

// The child's memory at fork: MAP_SHARED pieces shared (memslots over the same host
// memory), private anonymous ones copy-on-write (kvm_fork.cc), private file mappings
// copied. The parent's PTEs of what became copy-on-write are cleared (Shootdown after). 0 or -errno.
long ForkMemory(As* parent, As* child);
// mmap/munmap/mprotect/mremap/madvise of the guest, on the platform's mirror and page tables.
long MmAnon(As* as, uint64_t addr, uint64_t len, int prot, bool shared);
long MmFile(As* as, int fd, uint64_t addr, uint64_t len, int prot, bool shared, uint64_t off);
long MmUnmap(As* as, uint64_t addr, uint64_t len);
long MmProtect(As* as, uint64_t addr, uint64_t len, int prot);
long MmRemap(As* as, uint64_t old, uint64_t oldLen, uint64_t newLen, bool move, uint64_t newAddr);
long MmAdvise(As* as, uint64_t addr, uint64_t len, int advice);
// A guest page fault at addr (error code err): kFilled (PTE made), kRefused (SIGSEGV),
// kPastEof (a file page past its end: SIGBUS).
enum { kRefused = 0, kFilled = 1, kPastEof = 2 };
int FillFault(As* as, uint64_t addr, uint64_t err);
// The Sentry's reads and writes of guest memory (respecting protections): bytes or -EFAULT.
long Access(As* as, uint64_t addr, uint8_t* buf, size_t len, bool write);
// The Sentry's views of the writable guest range [addr, addr+len) as iovecs (at most
// max; fewer when the range ends in memory the guest cannot write): how many.
int WritableIov(As* as, uint64_t addr, size_t len, struct iovec* iov, int max);
// The host pointer for one guest byte range inside one page-aligned mapping piece (cas).
uint8_t* HostPtr(As* as, uint64_t addr, size_t len, bool write);
void FlushAll(As* as);
// The guest memory of as the host holds now (kB): its memfd's pages and the resident
// pages of its private views (copy-on-write, files); updates as->peakKb.
uint64_t ResidentKb(As* as);
// The guest's protection at addr (its mirror), or -1 where nothing is mapped.
int ProtAt(As* as, uint64_t addr);
// The guest address a guest-physical address of a mapping stands for, or 0.
uint64_t VaOfGpa(As* as, uint64_t gpa);
// Moves v's pending shim work into its state page (v stopped); false: the PTE queue
// overflowed (the caller re-registers the platform's slot: ReRegisterPlat).
bool ApplyPending(Vcpu* v);
void ReRegisterPlat(As* as);
// v, stopped by KVM in ring 3 with registers k and s, set to enter the shim's resume path,
// which applies v's state page work (ApplyPending) and returns to ring 3 where it was.
bool EnterShim(Vcpu* v, const kvm_regs& k, kvm_sregs* s);
// The shim's syscall entry (LSTAR on hosts without direct syscalls).
uint64_t SyscallEntry();
// Whether guest syscalls exit from ring 3 through KVM_SYSCALL_PAGE (kvm_abi.h), decided
// by Ready: the host keeps a ring-3 `syscall` in ring 3 (kvm_pvm), and TSS_KVM_DIRECT
// is not 0.
bool DirectSyscalls();
// Ready's test of that on a throwaway VM (kvm_probe.cc): 1 yes, 0 no, -1 could not run it.
int SyscallStaysInRing3(int kvm);
// The module behind /dev/kvm (kvm_pvm, kvm_intel, kvm_amd, unknown), as Ready found it.
const char* HostKind();
const char* ReadyHostKind();

}  // namespace kvm
}  // namespace tss
