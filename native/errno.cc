#include "errno.h"

#include <uv.h>

#include <cerrno>
#include <string>

namespace pidfd {

namespace {

// Errnos a pidfd caller meets that libuv has no name for: without this table
// ECHILD would surface as "Unknown system error -10".
#define PIDFD_EXTRA_ERRNOS(X)                 \
  X(ECHILD, "no child processes")             \
  X(ESTALE, "stale file handle")              \
  X(EREMOTE, "object is remote")

struct ErrnoName {
  const char* code;
  const char* message;
};

ErrnoName NameOf(int err) {
  switch (err) {
#define PIDFD_ERRNO_CASE(e, text) \
  case e:                         \
    return {#e, text};
    PIDFD_EXTRA_ERRNOS(PIDFD_ERRNO_CASE)
#undef PIDFD_ERRNO_CASE
  }
  int uv_err = uv_translate_sys_error(err);
  return {uv_err_name(uv_err), uv_strerror(uv_err)};
}

}  // namespace

Napi::Error ErrnoException(Napi::Env env, int err, const char* syscall) {
  ErrnoName name = NameOf(err);
  std::string message = std::string(name.code) + ": " + name.message + ", " + syscall;
  Napi::Error error = Napi::Error::New(env, message);
  Napi::Object obj = error.Value();
  obj.Set("errno", Napi::Number::New(env, -err));
  obj.Set("code", Napi::String::New(env, name.code));
  obj.Set("syscall", Napi::String::New(env, syscall));
  return error;
}

}  // namespace pidfd
