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
