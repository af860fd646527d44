// Entry point of the native addon: registers each area's functions.
#include "common.h"

namespace tss {
void InitNetHost(Napi::Env env, Napi::Object exports);  // native/net_host.cc
void InitNetSock(Napi::Env env, Napi::Object exports);  // native/net_sock.cc
void InitSystrap(Napi::Env env, Napi::Object exports);  // native/systrap_platform.cc
void InitKvm(Napi::Env env, Napi::Object exports);  // native/kvm/kvm_napi.cc
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tss::InitPtrace(env, exports);
  tss::InitHost(env, exports);
  tss::InitGofer(env, exports);
  tss::InitGoferServer(env, exports);
  tss::InitVdsoClock(env, exports);
  tss::InitSentryConfine(env, exports);
  tss::InitOci(env, exports);
  tss::InitNetHost(env, exports);
  tss::InitNetSock(env, exports);
  tss::InitSystrap(env, exports);
  tss::InitKvm(env, exports);
  return exports;
}

NODE_API_MODULE(tssandbox_native, Init)
