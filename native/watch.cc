// Exit notification on the event loop: a uv_poll_t on the pidfd, on this environment's
// own loop (never uv_default_loop(), which is wrong inside a Worker).
//
// A watch is one-shot: the poll is stopped the moment it fires, before JS is called, so a
// level-triggered pidfd (readable for as long as its zombie is not reaped) can never spin
// the loop. JS is called through napi_make_callback with the watch's async context, so
// promise reactions run right after it. At environment teardown an async cleanup hook
// stops and closes every poll handle, and teardown waits for their close callbacks.
#include <fcntl.h>
#include <uv.h>

#include "addon.h"
#include "errno.h"

namespace pidfd {

struct Watch {
  uv_poll_t poll;
  int fd;
  State* state;
  napi_env env;
  napi_ref callback;
  napi_async_context context;
  uint32_t id;
};

namespace {

void OnClosed(uv_handle_t* handle) {
  Watch* watch = static_cast<Watch*>(handle->data);
  State* state = watch->state;
  napi_delete_reference(watch->env, watch->callback);
  napi_async_destroy(watch->env, watch->context);
  delete watch;
  if (--state->open_poll_handles == 0 && state->tearing_down) napi_remove_async_cleanup_hook(state->cleanup_hook);
}

// Stops polling (libuv removes the fd from epoll right away, so the fd may be closed after
// this returns) and closes the handle; its memory goes in OnClosed.
void Dispose(Watch* watch) {
  watch->state->watches.erase(watch->id);
  uv_poll_stop(&watch->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&watch->poll), OnClosed);
}

void OnPoll(uv_poll_t* handle, int status, int events) {
  Watch* watch = static_cast<Watch*>(handle->data);
  napi_env env = watch->env;
  uv_poll_stop(handle);
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) == napi_ok) {
    napi_value callback, receiver, argv[2];
    if (napi_get_reference_value(env, watch->callback, &callback) == napi_ok && callback != nullptr &&
        napi_get_global(env, &receiver) == napi_ok && napi_create_int32(env, status, &argv[0]) == napi_ok &&
        napi_create_int32(env, events, &argv[1]) == napi_ok) {
      // The callback (lib/exit.ts) never throws. A failure here means JS cannot run any
      // more (the environment is being torn down): nobody is listening, which is fine.
      if (napi_make_callback(env, watch->context, receiver, callback, 2, argv, nullptr) != napi_ok) {
        napi_value ignored;
        napi_get_and_clear_last_exception(env, &ignored);
      }
    }
    napi_close_handle_scope(env, scope);
  }
  // The callback may have disposed of the watch already (through unwatch).
  if (watch->state->watches.count(watch->id) != 0) Dispose(watch);
}

// watch(fd, events, callback): polls fd for `events` (UV_READABLE, UV_DISCONNECT, ...)
// and calls callback(status, events) once. Returns the watch id. Errors: those of
// uv_poll_init/uv_poll_start (EEXIST if this loop already polls fd, EBADF).
Napi::Value StartWatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Int32Arg(info, 0, "fd");
  int events = Int32Arg(info, 1, "events");
  if (!info[2].IsFunction()) throw Napi::TypeError::New(env, "The \"callback\" argument must be a function");
  State& state = StateOf(env);
  uv_loop_t* loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) throw Napi::Error::New(env, "no event loop");
  Watch* watch = new Watch{};
  watch->fd = fd;
  watch->state = &state;
  watch->env = env;
  watch->poll.data = watch;
  // uv_poll_init sets O_NONBLOCK on the open file, which every dup of it shares: put the
  // caller's mode back (a pidfd is never read, libuv does not need it).
  int fl = fcntl(fd, F_GETFL);
  int rc = uv_poll_init(loop, &watch->poll, fd);
  if (rc < 0) {
    delete watch;
    throw ErrnoException(env, -rc, "uv_poll_init");
  }
  if (fl >= 0 && !(fl & O_NONBLOCK)) fcntl(fd, F_SETFL, fl);
  state.open_poll_handles++;
  napi_create_reference(env, info[2], 1, &watch->callback);
  napi_async_init(env, nullptr, Napi::String::New(env, "PidfdWatch"), &watch->context);
  watch->id = state.next_watch_id++;
  state.watches[watch->id] = watch;
  rc = uv_poll_start(&watch->poll, events, OnPoll);
  if (rc < 0) {
    Dispose(watch);
    throw ErrnoException(env, -rc, "uv_poll_start");
  }
  return Napi::Number::New(env, watch->id);
}

Watch* Find(const Napi::CallbackInfo& info) {
  uint32_t id = Uint32Arg(info, 0, "id");
  auto& watches = StateOf(info.Env()).watches;
  auto it = watches.find(id);
  return it == watches.end() ? nullptr : it->second;
}

// unwatch(id): stops and closes the watch; its callback will not be called. Idempotent.
Napi::Value StopWatch(const Napi::CallbackInfo& info) {
  if (Watch* watch = Find(info)) Dispose(watch);
  return info.Env().Undefined();
}

// refWatch(id, ref): whether the watch keeps the event loop alive (uv_ref/uv_unref).
Napi::Value RefWatch(const Napi::CallbackInfo& info) {
  if (Watch* watch = Find(info)) {
    auto* handle = reinterpret_cast<uv_handle_t*>(&watch->poll);
    if (info[1].ToBoolean()) uv_ref(handle);
    else uv_unref(handle);
  }
  return info.Env().Undefined();
}

// Environment teardown: close every poll handle, and let teardown go on once all are closed.
void Cleanup(napi_async_cleanup_hook_handle handle, void* arg) {
  State* state = static_cast<State*>(arg);
  state->cleanup_hook = handle;
  state->tearing_down = true;
  while (!state->watches.empty()) Dispose(state->watches.begin()->second);
  if (state->open_poll_handles == 0) napi_remove_async_cleanup_hook(handle);
}

}  // namespace

void UnwatchFd(State& state, int fd) {
  for (auto it = state.watches.begin(); it != state.watches.end();) {
    Watch* watch = (it++)->second;  // Dispose erases the entry: step past it first
    if (watch->fd == fd) Dispose(watch);
  }
}

void InitWatch(Napi::Env env, Napi::Object exports) {
  napi_add_async_cleanup_hook(env, Cleanup, &StateOf(env), nullptr);
  exports.Set("watch", Napi::Function::New<StartWatch>(env, "watch"));
  exports.Set("unwatch", Napi::Function::New<StopWatch>(env, "unwatch"));
  exports.Set("refWatch", Napi::Function::New<RefWatch>(env, "refWatch"));
  exports.Set("UV_READABLE", Napi::Number::New(env, UV_READABLE));
  exports.Set("UV_DISCONNECT", Napi::Number::New(env, UV_DISCONNECT));
}

}  // namespace pidfd
