// Exit 0 when this host can make CPUID fault (ARCH_SET_CPUID), 1 when it cannot.
#include <asm/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) { return syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1) == 0 ? 0 : 1; }
