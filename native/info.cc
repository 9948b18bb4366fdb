// The pidfs ioctls: PIDFD_GET_INFO, who a process is and, once reaped, how it ended
// (Linux 6.13+); PIDFD_GET_*_NAMESPACE, its namespaces (Linux 6.11+).
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

#include "addon.h"
#include "compat.h"
#include "errno.h"

namespace pidfd {

namespace {

// `ioctl(fd, PIDFD_GET_INFO, &info)` with info.mask = mask, on a zeroed 80-byte struct.
// Writes State::stat_slots: float64 0 mask (what came back), 2-12 pid, tgid, ppid, ruid,
// rgid, euid, egid, suid, sgid, fsuid, fsgid, 13 exit_code, 14 coredump_mask,
// 15 coredump_signal, 16 supported_mask; uint64 1 cgroupid. Errors: ENOTTY (before 6.13
// on anonymous-inode pidfds), EINVAL (6.9-6.12 pidfs, unknown ioctl), ESRCH (reaped, and
// no exit information asked for or kept), EREMOTE (not in this pid namespace), EBADF.
Napi::Value PidfdGetInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Int32Arg(info, 0, "fd");
  uint32_t mask = Uint32Arg(info, 1, "mask");
  struct pidfd_info_v2 pi;
  std::memset(&pi, 0, sizeof pi);
  pi.mask = mask;
  if (ioctl(fd, PIDFD_GET_INFO_V2, &pi) < 0) throw ErrnoException(env, errno, "ioctl");
  int64_t* s = StateOf(env).stat_slots;
  PutDouble(s, 0, static_cast<double>(pi.mask));
  std::memcpy(&s[1], &pi.cgroupid, sizeof pi.cgroupid);
  const __u32 ids[] = {pi.pid, pi.tgid, pi.ppid, pi.ruid, pi.rgid, pi.euid, pi.egid, pi.suid, pi.sgid, pi.fsuid, pi.fsgid};
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) PutDouble(s, 2 + i, ids[i]);
  PutDouble(s, 13, pi.exit_code);
  PutDouble(s, 14, pi.coredump_mask);
  PutDouble(s, 15, pi.coredump_signal);
  PutDouble(s, 16, static_cast<double>(pi.supported_mask));
  return env.Undefined();
}

// `ioctl(fd, PIDFD_GET_<type>_NAMESPACE, 0)` (Linux 6.11), `type` 1-10 in the order of
// the PIDFD_GET_*_NAMESPACE numbers: a new fd for that namespace of the process. Not
// owned: the caller closes it. Errors: ENOTTY/EINVAL (before 6.11), EOPNOTSUPP (that
// namespace type is compiled out), EACCES (no PTRACE_MODE_READ_FSCREDS), ESRCH (exited).
Napi::Value PidfdGetNamespace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Int32Arg(info, 0, "fd");
  uint32_t type = Uint32Arg(info, 1, "type");
  if (type < 1 || type > 10) throw Napi::RangeError::New(env, "The \"type\" argument must be 1 to 10");
  int ns = ioctl(fd, _IO(PIDFS_IOCTL_MAGIC, type), 0);
  if (ns < 0) throw ErrnoException(env, errno, "ioctl");
  return Napi::Number::New(env, ns);
}

}  // namespace

void InitInfo(Napi::Env env, Napi::Object exports) {
  exports.Set("pidfdGetInfo", Napi::Function::New<PidfdGetInfo>(env, "pidfdGetInfo"));
  exports.Set("pidfdGetNamespace", Napi::Function::New<PidfdGetNamespace>(env, "pidfdGetNamespace"));
}

}  // namespace pidfd
