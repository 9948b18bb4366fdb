// File descriptor ownership: dup, adopt, close; and socketpair for stdio pipes. Every fd
// JS owns is in State::owned_fds.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "addon.h"
#include "errno.h"

namespace pidfd {

namespace {

// `fcntl(fd, F_DUPFD_CLOEXEC, 0)`: a new owned fd on the same open file.
// Errors: EBADF (fd not open), EMFILE.
Napi::Value DupCloexec(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Int32Arg(info, 0, "fd");
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) throw ErrnoException(env, errno, "fcntl");
  StateOf(env).Own(copy);
  return Napi::Number::New(env, copy);
}

// Takes ownership of fd: it is closed at environment teardown unless closed before.
// Returns false, changing nothing, if this environment owns fd already. No syscall.
Napi::Value Own(const Napi::CallbackInfo& info) {
  int fd = Int32Arg(info, 0, "fd");
  return Napi::Boolean::New(info.Env(), StateOf(info.Env()).Own(fd));
}

// `close(2)`, after stopping any watch on fd, whoever closes it (close(), the GC safety
// net): a poll left on the number would fire for whatever reuses it. Linux releases the fd
// even when close reports EINTR (so it is never retried), and only EBADF (closed behind
// our back) is an error worth reporting.
Napi::Value Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Int32Arg(info, 0, "fd");
  State& state = StateOf(env);
  UnwatchFd(state, fd);
  state.Disown(fd);
  if (close(fd) < 0 && errno == EBADF) throw ErrnoException(env, errno, "close");
  return env.Undefined();
}

// `socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC)`: two connected fds, as libuv makes for
// child_process's 'pipe' stdio. Not owned: the caller hands them on. Errors: EMFILE, ENFILE.
Napi::Value Socketpair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) throw ErrnoException(env, errno, "socketpair");
  Napi::Array pair = Napi::Array::New(env, 2);
  pair.Set(0u, Napi::Number::New(env, fds[0]));
  pair.Set(1u, Napi::Number::New(env, fds[1]));
  return pair;
}

}  // namespace

void InitFd(Napi::Env env, Napi::Object exports) {
  exports.Set("dupCloexec", Napi::Function::New<DupCloexec>(env, "dupCloexec"));
  exports.Set("own", Napi::Function::New<Own>(env, "own"));
  exports.Set("close", Napi::Function::New<Close>(env, "close"));
  exports.Set("socketpair", Napi::Function::New<Socketpair>(env, "socketpair"));
}

}  // namespace pidfd
