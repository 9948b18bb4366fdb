// pidfs file handles: name_to_handle_at(2), open_by_handle_at(2) (Linux 6.14+).
#include <fcntl.h>

#include <cerrno>
#include <cstring>

#include "addon.h"
#include "compat.h"
#include "errno.h"

namespace pidfd {

namespace {

struct Handle {
  struct file_handle header;
  unsigned char bytes[MAX_HANDLE_SZ];
};

// `name_to_handle_at(fd, "", &handle, &mount_id, AT_EMPTY_PATH)`. Writes State::stat_slots:
// float64 0 handle_type, 1 handle_bytes; the handle's bytes from slot 2 on. On pidfs the
// type is FILEID_KERNFS (0xfe) and the 8 bytes are the inode. Errors: EOPNOTSUPP (no
// handles for pidfds before 6.14), EOVERFLOW, EBADF.
Napi::Value NameToHandleAt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Int32Arg(info, 0, "fd");
  Handle handle;
  handle.header.handle_bytes = MAX_HANDLE_SZ;
  int mount_id;
  if (name_to_handle_at(fd, "", &handle.header, &mount_id, AT_EMPTY_PATH) < 0)
    throw ErrnoException(env, errno, "name_to_handle_at");
  int64_t* s = StateOf(env).stat_slots;
  PutDouble(s, 0, handle.header.handle_type);
  PutDouble(s, 1, handle.header.handle_bytes);
  std::memcpy(&s[2], handle.header.f_handle, handle.header.handle_bytes);
  return env.Undefined();
}

// `open_by_handle_at(mount_fd, handle, flags | O_CLOEXEC)` with the handle built from
// (type, bytes): a new owned fd. mount_fd is any pidfd, or FD_PIDFS_ROOT on 6.17+.
// Errors: ESTALE (the process was reaped), EBADF (FD_PIDFS_ROOT before 6.17), EINVAL,
// EPERM.
Napi::Value OpenByHandleAt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int mount_fd = Int32Arg(info, 0, "mountFd");
  int type = Int32Arg(info, 1, "type");
  if (!info[2].IsTypedArray()) throw Napi::TypeError::New(env, "The \"bytes\" argument must be a Uint8Array");
  Napi::Uint8Array bytes = info[2].As<Napi::Uint8Array>();
  int flags = Int32Arg(info, 3, "flags");
  if (bytes.ByteLength() > MAX_HANDLE_SZ) throw Napi::RangeError::New(env, "handle too long");
  Handle handle;
  handle.header.handle_bytes = static_cast<unsigned int>(bytes.ByteLength());
  handle.header.handle_type = type;
  std::memcpy(handle.header.f_handle, bytes.Data(), bytes.ByteLength());
  int fd = open_by_handle_at(mount_fd, &handle.header, flags | O_CLOEXEC);
  if (fd < 0) throw ErrnoException(env, errno, "open_by_handle_at");
  StateOf(env).Own(fd);
  return Napi::Number::New(env, fd);
}

}  // namespace

void InitHandle(Napi::Env env, Napi::Object exports) {
  exports.Set("nameToHandleAt", Napi::Function::New<NameToHandleAt>(env, "nameToHandleAt"));
  exports.Set("openByHandleAt", Napi::Function::New<OpenByHandleAt>(env, "openByHandleAt"));
  exports.Set("FD_PIDFS_ROOT", Napi::Number::New(env, FD_PIDFS_ROOT));
}

}  // namespace pidfd
