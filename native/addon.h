#pragma once

#include <napi.h>

#include <cstdint>
#include <cstring>
#include <unordered_map>
#include <vector>

namespace pidfd {

struct Watch;

// Everything one environment (the main thread or a Worker) owns. No mutable statics:
// each environment gets its own State through napi_set_instance_data.
struct State {
  // Every fd handed to JS as owned, indexed by fd number (fds are small and dense, and
  // this costs no allocation per open); closed when the environment is torn down, so a
  // terminated Worker leaks nothing.
  std::vector<bool> owned_fds;
  bool Own(int fd);  // false if fd was owned already
  void Disown(int fd);
  // The owned fds that are pidfds of children this environment must reap (spawn()'s, except
  // autoreaped ones): at a Worker's teardown those still running go to the reaper
  // (native/reaper.cc) instead of becoming zombies nobody reaps.
  std::vector<bool> child_fds;
  void OwnChild(int fd);
  // Shared result slots (fstat, statx, PIDFD_GET_INFO, name_to_handle_at): filled
  // natively, read through typed-array views by lib/stat.ts and lib/info.ts.
  Napi::Reference<Napi::ArrayBuffer> stat_buffer;
  int64_t* stat_slots = nullptr;
  // Active exit watchers by id (native/watch.cc), and how many poll handles are not yet
  // closed; the async cleanup hook waits for that count to reach zero.
  std::unordered_map<uint32_t, Watch*> watches;
  uint32_t next_watch_id = 1;
  size_t open_poll_handles = 0;
  napi_async_cleanup_hook_handle cleanup_hook = nullptr;
  bool tearing_down = false;
  // The stack children start on (native/spawn.cc), mapped on first spawn.
  void* child_stack = nullptr;

  ~State();
};

inline State& StateOf(Napi::Env env) { return *env.GetInstanceData<State>(); }

// Stops and closes every watch polling fd (native/watch.cc). Called before fd is closed:
// libuv must never poll a number that a later open() may reuse.
void UnwatchFd(State& state, int fd);

// Writes a double into an int64 result slot (the slots are read through typed-array views).
inline void PutDouble(int64_t* slots, size_t index, double value) { std::memcpy(&slots[index], &value, sizeof value); }

// Argument checks shared by every binding: a wrong type throws a TypeError, never crashes.
int32_t Int32Arg(const Napi::CallbackInfo& info, size_t index, const char* name);
uint32_t Uint32Arg(const Napi::CallbackInfo& info, size_t index, const char* name);

// Each syscall family registers its bindings on the exports object.
void InitFd(Napi::Env env, Napi::Object exports);
void InitPidfd(Napi::Env env, Napi::Object exports);
void InitStat(Napi::Env env, Napi::Object exports);
void InitWait(Napi::Env env, Napi::Object exports);
void InitInfo(Napi::Env env, Napi::Object exports);
void InitWatch(Napi::Env env, Napi::Object exports);
void InitHandle(Napi::Env env, Napi::Object exports);
void InitSpawn(Napi::Env env, Napi::Object exports);
void InitReaper(Napi::Env env, Napi::Object exports);
void FreeChildStack(State& state);

}  // namespace pidfd
