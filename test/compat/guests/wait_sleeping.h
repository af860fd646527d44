/* Waits until process p sleeps (S in /proc/p/stat): in the call a test wants it blocked in. */
#ifndef TSS_WAIT_SLEEPING_H
#define TSS_WAIT_SLEEPING_H
#include "common.h"
static void wait_sleeping(pid_t p) { await_pid_state(p, 'S'); }
#endif
