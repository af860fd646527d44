// A tiny seccomp-BPF builder shared by the Gofer's and the Sentry's own filters
// (native/gofer_server.cc, native/sentry_confine.cc). Allocation-free (the gofer uses it
// in a forked child of a multi-threaded process): the program lives in a caller buffer.
//
// Shape of every filter: check the architecture (x86-64 only; anything else, and the
// x32 ABI, is killed), then one comparison per listed syscall, then the default action.
#pragma once
#include <cstddef>
#include <cstdint>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>

namespace tss {

struct BpfProg {
  struct sock_filter* ins;
  size_t cap;
  size_t n = 0;
  bool overflow = false;
  BpfProg(struct sock_filter* buf, size_t c) : ins(buf), cap(c) {}
  void Put(uint16_t code, uint32_t k, uint8_t jt = 0, uint8_t jf = 0) {
    if (n >= cap) {
      overflow = true;
      return;
    }
    ins[n++] = (struct sock_filter){code, jt, jf, k};
  }
  // Loads the syscall number after checking the architecture.
  void Prologue() {
    Put(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    Put(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
    Put(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    Put(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    // x32 syscalls (bit 30) are another table: never.
    Put(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1);
    Put(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
  }
  // nr -> action (the accumulator must hold the syscall number).
  void Rule(uint32_t nr, uint32_t action) {
    Put(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1);
    Put(BPF_RET | BPF_K, action);
  }
  // nr allowed only when the low 32 bits of argument `arg` equal v (e.g. a socket fd);
  // otherwise `other`. Either way it returns: no later rule needs the number again.
  void RuleArgEq(uint32_t nr, int arg, uint32_t v, uint32_t action, uint32_t other) {
    Put(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 4);
    Put(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(offsetof(struct seccomp_data, args) + 8 * arg));
    Put(BPF_JMP | BPF_JEQ | BPF_K, v, 0, 1);
    Put(BPF_RET | BPF_K, action);
    Put(BPF_RET | BPF_K, other);
  }
  void Ret(uint32_t action) { Put(BPF_RET | BPF_K, action); }
  struct sock_fprog Prog() { return (struct sock_fprog){(unsigned short)n, ins}; }
};

inline uint32_t RetErrno(int e) { return SECCOMP_RET_ERRNO | ((uint32_t)e & SECCOMP_RET_DATA); }

}  // namespace tss
