/**
 * Raw kernel constants, for users who speak the syscall ABI. The friendly API takes
 * option objects instead (`{ nonblock: true }`, `{ scope: 'thread' }`).
 * @packageDocumentation
 */
import fs from 'node:fs'

/** Raw values of the flags, masks and magics this package passes to or reads from the kernel. */
export const constants = Object.freeze({
  /** `pidfd_open(2)` flag: a non-blocking pidfd (Linux 5.10). Equal to `O_NONBLOCK`. */
  PIDFD_NONBLOCK: fs.constants.O_NONBLOCK,
  /** `pidfd_open(2)` flag: a pidfd for one thread, not its thread group (Linux 6.9). Equal to `O_EXCL`. */
  PIDFD_THREAD: fs.constants.O_EXCL,
  /** `pidfd_send_signal(2)` flag: signal the thread the pidfd names (Linux 6.9). */
  PIDFD_SIGNAL_THREAD: 1 << 0,
  /** `pidfd_send_signal(2)` flag: signal its whole thread group (Linux 6.9). */
  PIDFD_SIGNAL_THREAD_GROUP: 1 << 1,
  /** `pidfd_send_signal(2)` flag: signal its whole process group (Linux 6.9). */
  PIDFD_SIGNAL_PROCESS_GROUP: 1 << 2,
  /** `statfs(2)` `f_type` of pidfs, the filesystem pidfds live on since Linux 6.9. */
  PID_FS_MAGIC: 0x50494446,
  /** `statx(2)` mask bits (`<linux/stat.h>`). */
  STATX_TYPE: 0x1,
  STATX_MODE: 0x2,
  STATX_NLINK: 0x4,
  STATX_UID: 0x8,
  STATX_GID: 0x10,
  STATX_ATIME: 0x20,
  STATX_MTIME: 0x40,
  STATX_CTIME: 0x80,
  STATX_INO: 0x100,
  STATX_SIZE: 0x200,
  STATX_BLOCKS: 0x400,
  STATX_BASIC_STATS: 0x7ff,
  STATX_BTIME: 0x800,
  STATX_MNT_ID: 0x1000,
  /** `waitid(2)` options (`<sys/wait.h>`). */
  WNOHANG: 0x1,
  WSTOPPED: 0x2,
  WEXITED: 0x4,
  WCONTINUED: 0x8,
  WNOWAIT: 0x01000000,
  /** Wait for every kind of child, also those with no exit signal (a `spawn()` child that failed before exec). */
  __WALL: 0x40000000,
  /** `waitid(2)` `si_code` values: how the child changed state. */
  CLD_EXITED: 1,
  CLD_KILLED: 2,
  CLD_DUMPED: 3,
  CLD_TRAPPED: 4,
  CLD_STOPPED: 5,
  CLD_CONTINUED: 6,
  /** `poll(2)` events a pidfd reports: POLLIN at exit, POLLHUP once reaped (6.9). */
  POLLIN: 0x1,
  POLLHUP: 0x10,
  /** `PIDFD_GET_INFO` mask bits (`<linux/pidfd.h>`). */
  PIDFD_INFO_PID: 1 << 0,
  PIDFD_INFO_CREDS: 1 << 1,
  PIDFD_INFO_CGROUPID: 1 << 2,
  PIDFD_INFO_EXIT: 1 << 3,
  PIDFD_INFO_COREDUMP: 1 << 4,
  /** `coredump_mask` bits of `PIDFD_GET_INFO` (Linux 6.16). */
  PIDFD_COREDUMPED: 1 << 0,
  PIDFD_COREDUMP_SKIP: 1 << 1,
  PIDFD_COREDUMP_USER: 1 << 2,
  PIDFD_COREDUMP_ROOT: 1 << 3,
  /** `handle_type` of a pidfs file handle (`FILEID_KERNFS`). */
  FILEID_KERNFS: 0xfe,
  /** `PIDFD_SELF_THREAD`: "this thread" for pidfd_send_signal and friends (Linux 6.15). */
  PIDFD_SELF_THREAD: -10000,
})

/**
 * `clone3(2)` flags (`<linux/sched.h>`) as bigints, since some lie past 32 bits. Internal:
 * {@link constants} holds only numbers.
 * @internal
 */
export const cloneFlags = Object.freeze({
  CLONE_PIDFD: 0x1000n,
  CLONE_CLEAR_SIGHAND: 1n << 32n,
  CLONE_INTO_CGROUP: 1n << 33n,
  /** The child is reaped by the kernel when it exits; needs `exit_signal` 0 (Linux 7.1). */
  CLONE_AUTOREAP: 1n << 34n,
  /** The child starts with no_new_privs set (Linux 7.1). */
  CLONE_NNP: 1n << 35n,
  /** The child is SIGKILLed when the last reference to its clone pidfd goes (Linux 7.1). */
  CLONE_PIDFD_AUTOKILL: 1n << 36n,
})
