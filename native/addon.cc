// Module entry: per-environment state and the exports of every syscall family.
#include "addon.h"

#include <unistd.h>

namespace pidfd {

namespace {

Napi::TypeError NotANumber(Napi::Env env, const char* name) {
  return Napi::TypeError::New(env, std::string("The \"") + name + "\" argument must be a number");
}

}  // namespace

State::~State() {
  // Runs at environment teardown (Worker exit, process exit): close what JS still owns.
  for (size_t fd = 0; fd < owned_fds.size(); fd++)
    if (owned_fds[fd]) close(static_cast<int>(fd));
  FreeChildStack(*this);
}

bool State::Own(int fd) {
  if (static_cast<size_t>(fd) >= owned_fds.size()) owned_fds.resize(fd + 64);
  if (owned_fds[fd]) return false;
  owned_fds[fd] = true;
  return true;
}

void State::Disown(int fd) {
  if (static_cast<size_t>(fd) < owned_fds.size()) owned_fds[fd] = false;
  if (static_cast<size_t>(fd) < child_fds.size()) child_fds[fd] = false;
}

void State::OwnChild(int fd) {
  Own(fd);
  if (static_cast<size_t>(fd) >= child_fds.size()) child_fds.resize(fd + 64);
  child_fds[fd] = true;
}

// napi_get_value_* refuse non-numbers themselves, so one call both checks and converts.
int32_t Int32Arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  int32_t result;
  if (napi_get_value_int32(info.Env(), info[index], &result) != napi_ok) throw NotANumber(info.Env(), name);
  return result;
}

uint32_t Uint32Arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  uint32_t result;
  if (napi_get_value_uint32(info.Env(), info[index], &result) != napi_ok) throw NotANumber(info.Env(), name);
  return result;
}

}  // namespace pidfd

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new pidfd::State());
  pidfd::InitFd(env, exports);
  pidfd::InitPidfd(env, exports);
  pidfd::InitStat(env, exports);
  pidfd::InitWait(env, exports);
  pidfd::InitInfo(env, exports);
  pidfd::InitWatch(env, exports);
  pidfd::InitHandle(env, exports);
  pidfd::InitSpawn(env, exports);
  pidfd::InitReaper(env, exports);
  return exports;
}

NODE_API_MODULE(pidfd, InitAddon)
