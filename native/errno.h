#pragma once

#include <napi.h>

namespace pidfd {

// The one place an errno becomes a JS Error. Shaped like Node's own UVException:
// message "ESRCH: no such process, pidfd_send_signal", errno -3, code "ESRCH",
// syscall "pidfd_send_signal".
Napi::Error ErrnoException(Napi::Env env, int err, const char* syscall);

}  // namespace pidfd
