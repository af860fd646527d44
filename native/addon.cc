// Entry point of the native addon: registers each area's functions.
#include "common.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tss::InitPtrace(env, exports);
  tss::InitHost(env, exports);
  tss::InitGofer(env, exports);
  tss::InitGoferServer(env, exports);
  tss::InitVdsoClock(env, exports);
  tss::InitSentryConfine(env, exports);
  tss::InitOci(env, exports);
  return exports;
}

NODE_API_MODULE(tssandbox_native, Init)
