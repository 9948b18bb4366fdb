// Waiting on a pidfd: waitid(2) with P_PIDFD, and poll(2) for its readiness.
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "addon.h"
#include "compat.h"
#include "errno.h"

namespace pidfd {

namespace {

// `waitid(P_PIDFD, fd, &info, options)` (Linux 5.4). Returns { pid, code, status } from
// the siginfo (si_pid, si_code: CLD_*, si_status), or null when WNOHANG found no state
// change. Blocks unless WNOHANG is set or the pidfd is O_NONBLOCK (then EAGAIN).
// Errors: ECHILD (not a child of this process, or already reaped), EINVAL (bad options,
// or P_PIDFD unknown before 5.4), EAGAIN, EBADF.
Napi::Value Waitid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Int32Arg(info, 0, "fd");
  int options = Int32Arg(info, 1, "options");
  siginfo_t si;
  std::memset(&si, 0, sizeof si);
  long rc;
  do rc = syscall(SYS_waitid, P_PIDFD, fd, &si, options, nullptr);
  while (rc < 0 && errno == EINTR);  // a signal handler ran (a blocking wait, or a storm)
  if (rc < 0) throw ErrnoException(env, errno, "waitid");
  if (si.si_pid == 0) return env.Null();
  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", Napi::Number::New(env, si.si_pid));
  result.Set("code", Napi::Number::New(env, si.si_code));
  result.Set("status", Napi::Number::New(env, si.si_status));
  return result;
}

// `poll(2)` on fd alone with a zero timeout: returns revents. A pidfd reports POLLIN once
// the process has exited (5.3) and POLLHUP once it has been reaped (6.9).
Napi::Value Poll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct pollfd pfd = {Int32Arg(info, 0, "fd"), static_cast<short>(Int32Arg(info, 1, "events")), 0};
  int rc;
  // Even with a zero timeout, poll fails with EINTR when a signal arrives during the call.
  do rc = poll(&pfd, 1, 0);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) throw ErrnoException(env, errno, "poll");
  return Napi::Number::New(env, pfd.revents);
}

}  // namespace

void InitWait(Napi::Env env, Napi::Object exports) {
  exports.Set("waitid", Napi::Function::New<Waitid>(env, "waitid"));
  exports.Set("poll", Napi::Function::New<Poll>(env, "poll"));
}

}  // namespace pidfd
