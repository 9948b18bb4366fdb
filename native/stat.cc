// File status on a pidfd: fstat(2), statx(2), fstatfs(2).
//
// fstat and statx write into State::stat_slots (the ArrayBuffer exported as
// `statBuffer`) instead of building objects here: lib/stat.ts reads the slots through
// typed-array views, which costs far less than setting properties through N-API.
// The slot numbers below are mirrored in lib/stat.ts.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cstring>

#include "addon.h"
#include "errno.h"

namespace pidfd {

namespace {

constexpr size_t kStatSlots = 32;

int64_t Ms(int64_t sec, int64_t nsec) { return sec * 1000 + nsec / 1000000; }
int64_t Ns(int64_t sec, int64_t nsec) { return sec * 1000000000 + nsec; }

// `fstat(2)`. Slots (int64, as fs.BigIntStats): 0 dev, 1 mode, 2 nlink, 3 uid, 4 gid,
// 5 rdev, 6 blksize, 7 ino (uint64), 8 size, 9 blocks, 10-12 atime/mtime/ctime in ms,
// 13-15 the same in ns. On pidfs, st_ino is the process's inode; mode has no S_IFMT bits.
// Errors: EBADF.
Napi::Value Fstat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Int32Arg(info, 0, "fd");
  struct stat st;
  if (fstat(fd, &st) < 0) throw ErrnoException(env, errno, "fstat");
  int64_t* s = StateOf(env).stat_slots;
  s[0] = st.st_dev;
  s[1] = st.st_mode;
  s[2] = st.st_nlink;
  s[3] = st.st_uid;
  s[4] = st.st_gid;
  s[5] = st.st_rdev;
  s[6] = st.st_blksize;
  std::memcpy(&s[7], &st.st_ino, sizeof st.st_ino);  // read back as uint64
  s[8] = st.st_size;
  s[9] = st.st_blocks;
  s[10] = Ms(st.st_atim.tv_sec, st.st_atim.tv_nsec);
  s[11] = Ms(st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  s[12] = Ms(st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
  s[13] = Ns(st.st_atim.tv_sec, st.st_atim.tv_nsec);
  s[14] = Ns(st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  s[15] = Ns(st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
  return env.Undefined();
}

// `statx(fd, "", AT_EMPTY_PATH, mask)`. Slots 0-21 are float64: 0 mask (what the kernel
// filled in), 1 blksize, 2 nlink, 3 uid, 4 gid, 5 mode, 6 dev major, 7 dev minor,
// 8 rdev major, 9 rdev minor, 10 size, 11 blocks, 12 attributes, 13 attributes_mask,
// 14-21 atime, btime, ctime, mtime as (tv_sec, tv_nsec) pairs. Slots 22-23 are uint64:
// 22 ino, 23 mnt_id. Errors: EBADF, EINVAL (mask has STATX__RESERVED), ENOSYS (before 4.11).
Napi::Value Statx(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Int32Arg(info, 0, "fd");
  unsigned int mask = Uint32Arg(info, 1, "mask");
  struct statx stx;
  if (statx(fd, "", AT_EMPTY_PATH, mask, &stx) < 0) throw ErrnoException(env, errno, "statx");
  int64_t* s = StateOf(env).stat_slots;
  PutDouble(s, 0, stx.stx_mask);
  PutDouble(s, 1, stx.stx_blksize);
  PutDouble(s, 2, stx.stx_nlink);
  PutDouble(s, 3, stx.stx_uid);
  PutDouble(s, 4, stx.stx_gid);
  PutDouble(s, 5, stx.stx_mode);
  PutDouble(s, 6, stx.stx_dev_major);
  PutDouble(s, 7, stx.stx_dev_minor);
  PutDouble(s, 8, stx.stx_rdev_major);
  PutDouble(s, 9, stx.stx_rdev_minor);
  PutDouble(s, 10, static_cast<double>(stx.stx_size));
  PutDouble(s, 11, static_cast<double>(stx.stx_blocks));
  PutDouble(s, 12, static_cast<double>(stx.stx_attributes));
  PutDouble(s, 13, static_cast<double>(stx.stx_attributes_mask));
  const struct statx_timestamp* times[] = {&stx.stx_atime, &stx.stx_btime, &stx.stx_ctime, &stx.stx_mtime};
  for (size_t i = 0; i < 4; i++) {
    PutDouble(s, 14 + 2 * i, static_cast<double>(times[i]->tv_sec));
    PutDouble(s, 15 + 2 * i, times[i]->tv_nsec);
  }
  std::memcpy(&s[22], &stx.stx_ino, sizeof stx.stx_ino);
  std::memcpy(&s[23], &stx.stx_mnt_id, sizeof stx.stx_mnt_id);
  return env.Undefined();
}

// `fstatfs(2)`: returns f_type, the filesystem magic (0x50494446 on pidfs, Linux 6.9+;
// the anonymous-inode magic before). Errors: EBADF.
Napi::Value Fstatfs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Int32Arg(info, 0, "fd");
  struct statfs sfs;
  if (fstatfs(fd, &sfs) < 0) throw ErrnoException(env, errno, "fstatfs");
  return Napi::Number::New(env, static_cast<double>(sfs.f_type));
}

}  // namespace

void InitStat(Napi::Env env, Napi::Object exports) {
  State& state = StateOf(env);
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, kStatSlots * sizeof(int64_t));
  state.stat_buffer = Napi::Persistent(buffer);
  state.stat_slots = static_cast<int64_t*>(buffer.Data());
  exports.Set("statBuffer", buffer);
  exports.Set("fstat", Napi::Function::New<Fstat>(env, "fstat"));
  exports.Set("statx", Napi::Function::New<Statx>(env, "statx"));
  exports.Set("fstatfs", Napi::Function::New<Fstatfs>(env, "fstatfs"));
}

}  // namespace pidfd
