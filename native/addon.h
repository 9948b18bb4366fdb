#pragma once

#include <napi.h>

#include <cstdint>
#include <vector>

namespace pidfd {

// Everything one environment (the main thread or a Worker) owns. No mutable statics:
// each environment gets its own State through napi_set_instance_data.
struct State {
  // Every fd handed to JS as owned, indexed by fd number (fds are small and dense, and
  // this costs no allocation per open); closed when the environment is torn down, so a
  // terminated Worker leaks nothing.
  std::vector<bool> owned_fds;
  bool Own(int fd);  // false if fd was owned already
  void Disown(int fd);
  // Shared result slots for fstat/statx: filled natively, read by lib/stat.ts.
  Napi::Reference<Napi::ArrayBuffer> stat_buffer;
  int64_t* stat_slots = nullptr;

  ~State();
};

inline State& StateOf(Napi::Env env) { return *env.GetInstanceData<State>(); }

// Argument checks shared by every binding: a wrong type throws a TypeError, never crashes.
int32_t Int32Arg(const Napi::CallbackInfo& info, size_t index, const char* name);
uint32_t Uint32Arg(const Napi::CallbackInfo& info, size_t index, const char* name);

// Each syscall family registers its bindings on the exports object.
void InitFd(Napi::Env env, Napi::Object exports);
void InitPidfd(Napi::Env env, Napi::Object exports);
void InitStat(Napi::Env env, Napi::Object exports);

}  // namespace pidfd
