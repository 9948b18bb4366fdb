// The pidfd syscalls: pidfd_open(2), pidfd_send_signal(2), pidfd_getfd(2).
#include <unistd.h>

#include <cerrno>

#include "addon.h"
#include "compat.h"
#include "errno.h"

namespace pidfd {

namespace {

// `pidfd_open(2)`: creates a file descriptor that refers to a process (O_CLOEXEC).
// Errors: ESRCH (no such process; 6.16+ also for a reaped one), EINVAL (bad flags, or
// pid is not a thread-group leader before 6.16), ENOENT (not a leader, 6.16+),
// EMFILE/ENFILE, ENOSYS (before 5.3).
Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid = Int32Arg(info, 0, "pid");
  unsigned int flags = Uint32Arg(info, 1, "flags");
  int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, flags));
  if (fd < 0) throw ErrnoException(env, errno, "pidfd_open");
  StateOf(env).Own(fd);
  return Napi::Number::New(env, fd);
}

// `pidfd_send_signal(2)`: sends a signal to the process fd refers to. info is always
// NULL (the kernel then fills in what kill(2) would). Errors: ESRCH (exited), EPERM,
// EINVAL (bad signal or flags), EBADF, ENOSYS (before 5.1).
Napi::Value PidfdSendSignal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Int32Arg(info, 0, "fd");
  int sig = Int32Arg(info, 1, "signal");
  unsigned int flags = Uint32Arg(info, 2, "flags");
  if (syscall(SYS_pidfd_send_signal, fd, sig, nullptr, flags) < 0)
    throw ErrnoException(env, errno, "pidfd_send_signal");
  return env.Undefined();
}

// `pidfd_getfd(fd, target, 0)` (Linux 5.6): a duplicate, in this process, of fd number
// `target` of the process fd refers to (O_CLOEXEC). Not owned: the caller closes it.
// Errors: EPERM (no PTRACE_MODE_ATTACH_REALCREDS over it), EBADF (no such target fd),
// ESRCH (exited), ENOSYS (before 5.6).
Napi::Value PidfdGetfd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Int32Arg(info, 0, "fd");
  int target = Int32Arg(info, 1, "targetFd");
  int copy = static_cast<int>(syscall(SYS_pidfd_getfd, fd, target, 0));
  if (copy < 0) throw ErrnoException(env, errno, "pidfd_getfd");
  return Napi::Number::New(env, copy);
}

}  // namespace

void InitPidfd(Napi::Env env, Napi::Object exports) {
  exports.Set("pidfdOpen", Napi::Function::New<PidfdOpen>(env, "pidfdOpen"));
  exports.Set("pidfdSendSignal", Napi::Function::New<PidfdSendSignal>(env, "pidfdSendSignal"));
  exports.Set("pidfdGetfd", Napi::Function::New<PidfdGetfd>(env, "pidfdGetfd"));
}

}  // namespace pidfd
