// config.json's linux.resources on the host: the container's Sentry, before it forks its
// Gofer and stub and before it is confined, makes the sandbox's cgroup as `run --memory
// / --pids-limit`'s front does (launch_cgroup.h: the same leaf, limits, reserve and
// reaper), joins it, and so the Sentry, the Gofer and every stub are inside and charged.
// It knows no image yet and has run no guest code; once confined (chroot, no
// capabilities) it can neither reach the cgroup's files nor leave it. `update` (the
// runtime's command, unconfined) rewrites the limits with ociCgroupLimits. `delete` removes
// it (ociRemoveCgroup, oci_cgroup_rm.h) and ends its reaper; the reaper (one for every
// leaf), forked before the join, removes it where no delete comes (a create that failed).
#include "common.h"
#include "launch_cgroup.h"
#include "oci_cgroup_rm.h"
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <unistd.h>

namespace tss {

namespace {

using tss_launch::SandboxCgroup;
using tss_launch::SandboxLimits;
using tss_launch::WriteText;

// cpu: v1's cpu controller (shares, quota, period), v2's cpu.max / cpu.weight. v1's cpu
// hierarchy is separate: its leaf is made and joined here, limit or not (a host without
// the controller runs a container that asked for none unbounded in CPU).
struct Cpu {
  long long shares = -1, quota = 0, period = -1;
  bool Any() const { return shares > 0 || quota > 0 || period > 0; }
};

bool V1CpuLeaf(char* dir, size_t cap) {
  char own[4096];
  if (!tss_launch::OwnCgroup("cpu", own, sizeof own)) return false;
  char parent[4300];
  const char* mnt = access("/sys/fs/cgroup/cpu,cpuacct", F_OK) == 0 ? "/sys/fs/cgroup/cpu,cpuacct" : "/sys/fs/cgroup/cpu";
  snprintf(parent, sizeof parent, "%s%s", mnt, strcmp(own, "/") == 0 ? "" : own);
  return tss_launch::MakeLeaf(parent, getpid(), dir, cap);
}

bool WriteCpu(const char* dir, bool v2, const Cpu& c) {
  char v[64];
  if (v2) {
    if (c.quota > 0 || c.period > 0) {
      long long period = c.period > 0 ? c.period : 100000;
      if (c.quota > 0) snprintf(v, sizeof v, "%lld %lld", c.quota, period);
      else snprintf(v, sizeof v, "max %lld", period);
      if (!WriteText(dir, "cpu.max", v)) return false;
    }
    // runc's conversion of cpu.shares (2..262144) to cpu.weight (1..10000).
    if (c.shares > 0) {
      long long w = 1 + ((c.shares - 2) * 9999) / 262142;
      snprintf(v, sizeof v, "%lld", w < 1 ? 1 : w > 10000 ? 10000 : w);
      if (!WriteText(dir, "cpu.weight", v)) return false;
    }
    return true;
  }
  if (c.period > 0) {
    snprintf(v, sizeof v, "%lld", c.period);
    if (!WriteText(dir, "cpu.cfs_period_us", v)) return false;
  }
  if (c.quota > 0) {
    snprintf(v, sizeof v, "%lld", c.quota);
    if (!WriteText(dir, "cpu.cfs_quota_us", v)) return false;
  }
  if (c.shares > 0) {
    snprintf(v, sizeof v, "%lld", c.shares);
    if (!WriteText(dir, "cpu.shares", v)) return false;
  }
  return true;
}

long long Arg(const Napi::CallbackInfo& info, int i) {
  return info.Length() > (size_t)i && info[i].IsNumber() ? (long long)info[i].As<Napi::Number>().DoubleValue() : -1;
}

Cpu CpuArgs(const Napi::CallbackInfo& info, int at) {
  Cpu c;
  c.shares = Arg(info, at);
  c.quota = Arg(info, at + 1);
  c.period = Arg(info, at + 2);
  return c;
}

// "PID:START" of a reaper just forked (its start time is fixed at the fork), for delete.
std::string ReaperEntry(pid_t pid) {
  char start[32];
  ociProcStart(pid, start, sizeof start);
  return std::to_string(pid) + ":" + start;
}

Napi::Value Result(Napi::Env env, const SandboxCgroup& cg, const char* cpu, const std::string& reapers) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("v2", Napi::Boolean::New(env, cg.v2));
  o.Set("memory", Napi::String::New(env, cg.mem));
  o.Set("pids", Napi::String::New(env, cg.pids));
  o.Set("cpu", Napi::String::New(env, cpu));
  o.Set("reapers", Napi::String::New(env, reapers));
  return o;
}

// ociSandboxCgroup(memory, pids, cpuShares, cpuQuota, cpuPeriod) (-1: unset): the cgroup
// made, its reaper started, this process in it: {v2, memory, pids, cpu} directories, or
// a string saying which step failed (nothing is left then).
Napi::Value SandboxCgroupFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SandboxLimits lim;
  lim.memory = Arg(info, 0);
  lim.pids = Arg(info, 1);
  Cpu cpu = CpuArgs(info, 2);
  SandboxCgroup cg;
  char why[256] = "";
  if (!tss_launch::MakeSandboxCgroup(getpid(), lim, getuid(), getgid(), &cg, why, sizeof why)) return Napi::String::New(env, why);
  // v2: the one leaf; v1: a leaf of the cpu hierarchy too, with no cpu limit asked as
  // well (as runc joins every controller a later `update` may set; best effort then).
  if (cg.v2) snprintf(cg.cpu, sizeof cg.cpu, "%s", cg.mem);
  else if (!V1CpuLeaf(cg.cpu, sizeof cg.cpu)) cg.cpu[0] = 0;
  if (cpu.Any() && (!cg.cpu[0] || !WriteCpu(cg.cpu, cg.v2, cpu))) {
    int e = cg.cpu[0] ? errno : ENOENT;
    tss_launch::RemoveCgroup(&cg);
    snprintf(why, sizeof why, "cgroup %s cpu: %s", cg.v2 ? "v2" : "v1", strerror(e));
    return Napi::String::New(env, why);
  }
  // One reaper (forked before the join, so outside) removes every leaf.
  pid_t reaper = 0;
  if (!tss_launch::StartCgroupReaper(getpid(), cg, &reaper)) {
    tss_launch::RemoveCgroup(&cg);
    return Napi::String::New(env, "cgroup: cannot start its reaper");
  }
  std::string reapers = ReaperEntry(reaper);
  char pid[24];
  snprintf(pid, sizeof pid, "%d", (int)getpid());
  if (!tss_launch::JoinCgroup(cg) || (!cg.v2 && cg.cpu[0] && !WriteText(cg.cpu, "cgroup.procs", pid))) {
    snprintf(why, sizeof why, "cgroup %s join: %s", cg.v2 ? "v2" : "v1", strerror(errno));
    return Napi::String::New(env, why);  // the reaper removes it at our exit
  }
  return Result(env, cg, cg.cpu, reapers);
}

// ociCgroupLimits(v2, memDir, pidsDir, cpuDir, memory, pids, cpuShares, cpuQuota, cpuPeriod):
// `update`'s new limits (-1: left as they are); 0 or -errno.
Napi::Value CgroupLimitsFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool v2 = info[0].As<Napi::Boolean>().Value();
  std::string mem = info[1].As<Napi::String>().Utf8Value();
  std::string pids = info[2].As<Napi::String>().Utf8Value();
  std::string cpuDir = info[3].As<Napi::String>().Utf8Value();
  long long memory = Arg(info, 4), npids = Arg(info, 5);
  Cpu cpu = CpuArgs(info, 6);
  char v[32];
  if (memory >= 0 && !mem.empty()) {
    snprintf(v, sizeof v, "%lld", tss_launch::HostMemoryLimit(memory));
    if (v2) {
      if (!WriteText(mem.c_str(), "memory.max", v)) return Num(env, -errno);
    } else {
      // v1 keeps memsw >= limit at every step: raising, memsw first; lowering, the limit first.
      bool a = WriteText(mem.c_str(), "memory.limit_in_bytes", v);
      WriteText(mem.c_str(), "memory.memsw.limit_in_bytes", v);
      if (!a && !WriteText(mem.c_str(), "memory.limit_in_bytes", v)) return Num(env, -errno);
    }
  }
  if (npids >= 0 && !pids.empty()) {
    SandboxLimits lim;
    lim.pids = npids;
    snprintf(v, sizeof v, "%lld", tss_launch::HostPidsLimit(lim));
    if (!WriteText(pids.c_str(), "pids.max", v)) return Num(env, -errno);
  }
  if (cpu.Any() && !cpuDir.empty() && !WriteCpu(cpuDir.c_str(), v2, cpu)) return Num(env, -errno);
  return Num(env, 0);
}

// ociRemoveCgroup(memDir, pidsDir, cpuDir, reapers): delete's removal of the container's
// host cgroup (oci_cgroup_rm.h), once its Sentry is gone; 0 or -errno.
Napi::Value RemoveCgroupFn(const Napi::CallbackInfo& info) {
  std::string d[3];
  for (int i = 0; i < 3; i++) d[i] = info[i].IsString() ? info[i].As<Napi::String>().Utf8Value() : "";
  std::string reapers = info[3].IsString() ? info[3].As<Napi::String>().Utf8Value() : "";
  const char* dirs[3] = {d[0].c_str(), d[1].c_str(), d[2].c_str()};
  return Num(info.Env(), ociRemoveSandboxCgroup(dirs, 3, reapers.c_str()));
}

}  // namespace

void InitOciCgroup(Napi::Env env, Napi::Object exports) {
  exports["ociSandboxCgroup"] = Napi::Function::New(env, SandboxCgroupFn);
  exports["ociCgroupLimits"] = Napi::Function::New(env, CgroupLimitsFn);
  exports["ociRemoveCgroup"] = Napi::Function::New(env, RemoveCgroupFn);
}

}  // namespace tss
