// Constants and layouts newer than the 6.1 uapi headers this project builds against.
// Never include <linux/pidfd.h> here: it clashes with <fcntl.h>.
#pragma once

#include <fcntl.h>
#include <sys/syscall.h>

#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424  // Linux 5.1
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434  // Linux 5.3
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438  // Linux 5.6
#endif

// pidfd_open(2) flags: the kernel defines them as the open(2) flags below.
#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK  // Linux 5.10
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL  // Linux 6.9
#endif

// pidfd_send_signal(2) scope flags, Linux 6.9.
#ifndef PIDFD_SIGNAL_THREAD
#define PIDFD_SIGNAL_THREAD (1UL << 0)
#define PIDFD_SIGNAL_THREAD_GROUP (1UL << 1)
#define PIDFD_SIGNAL_PROCESS_GROUP (1UL << 2)
#endif

// statfs(2) f_type of pidfs, Linux 6.9.
#ifndef PID_FS_MAGIC
#define PID_FS_MAGIC 0x50494446
#endif

// waitid(2) idtype for a pidfd, Linux 5.4.
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

// ioctl(PIDFD_GET_INFO), Linux 6.13. The struct is extensible: the kernel fills in what it
// knows, up to the size encoded in the ioctl number, and says what it filled in `mask`.
// Layout as of Linux 6.19 (PIDFD_INFO_SIZE_VER2, 80 bytes): the largest one whose layout
// is settled; only fields whose mask bit comes back set are meaningful.
#include <linux/ioctl.h>
#include <linux/types.h>

struct pidfd_info_v2 {
  __u64 mask;
  __u64 cgroupid;
  __u32 pid;
  __u32 tgid;
  __u32 ppid;
  __u32 ruid;
  __u32 rgid;
  __u32 euid;
  __u32 egid;
  __u32 suid;
  __u32 sgid;
  __u32 fsuid;
  __u32 fsgid;
  __s32 exit_code;        // PIDFD_INFO_EXIT (6.15): a wait(2) status
  __u32 coredump_mask;    // PIDFD_INFO_COREDUMP (6.16)
  __u32 coredump_signal;  // PIDFD_INFO_COREDUMP_SIGNAL (6.19)
  __u64 supported_mask;   // PIDFD_INFO_SUPPORTED_MASK (6.19)
};
static_assert(sizeof(pidfd_info_v2) == 80, "PIDFD_INFO_SIZE_VER2");

#define PIDFS_IOCTL_MAGIC 0xFF
#define PIDFD_GET_INFO_V2 _IOWR(PIDFS_IOCTL_MAGIC, 11, struct pidfd_info_v2)

// Namespace ioctls on a pidfd, Linux 6.11: each returns a new fd for that namespace. The
// argument must be 0 (fs/pidfs.c answers EINVAL otherwise).
#define PIDFD_GET_CGROUP_NAMESPACE _IO(PIDFS_IOCTL_MAGIC, 1)
#define PIDFD_GET_IPC_NAMESPACE _IO(PIDFS_IOCTL_MAGIC, 2)
#define PIDFD_GET_MNT_NAMESPACE _IO(PIDFS_IOCTL_MAGIC, 3)
#define PIDFD_GET_NET_NAMESPACE _IO(PIDFS_IOCTL_MAGIC, 4)
#define PIDFD_GET_PID_NAMESPACE _IO(PIDFS_IOCTL_MAGIC, 5)
#define PIDFD_GET_PID_FOR_CHILDREN_NAMESPACE _IO(PIDFS_IOCTL_MAGIC, 6)
#define PIDFD_GET_TIME_NAMESPACE _IO(PIDFS_IOCTL_MAGIC, 7)
#define PIDFD_GET_TIME_FOR_CHILDREN_NAMESPACE _IO(PIDFS_IOCTL_MAGIC, 8)
#define PIDFD_GET_USER_NAMESPACE _IO(PIDFS_IOCTL_MAGIC, 9)
#define PIDFD_GET_UTS_NAMESPACE _IO(PIDFS_IOCTL_MAGIC, 10)

// pidfs file handles, Linux 6.14: FILEID_KERNFS with the 64-bit inode number.
#define PIDFS_FILEID_KERNFS 0xfe
#ifndef MAX_HANDLE_SZ
#define MAX_HANDLE_SZ 128
#endif
#ifndef FD_PIDFS_ROOT
#define FD_PIDFS_ROOT -10002  // Linux 6.17: open_by_handle_at() needs no pidfd as mount fd
#endif
