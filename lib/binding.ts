/**
 * Loads the native addon and types it, once, in one place.
 *
 * The addon is thin: each function checks argument types, makes one syscall and returns
 * the raw result or throws an ErrnoException (`code`, negative `errno`, `syscall`).
 * Meaning, defaults and policy live in the TypeScript modules.
 * @internal
 * @packageDocumentation
 */
import path from 'node:path'
import nodeGypBuild from 'node-gyp-build'

/** One child for {@link Native.spawn} to make (native/spawn.cc); every field is required. */
export interface SpawnPlan {
  /** Executables to try in order (PATH already searched, as execvp would); one that fails with ENOEXEC runs through /bin/sh. */
  paths: string[]
  /** argv, argv[0] included. */
  argv: string[]
  /** The environment, as "NAME=value" strings. */
  env: string[]
  /** The child's working directory, or null for this process's. */
  cwd: string | null
  /** Child fd i becomes a copy of this process's fd stdio[i]; -1: /dev/null; -2: left closed. Fds past the end are closed. */
  stdio: number[]
  /** setgid/setuid in the child (raw syscalls, after setgroups(0)), or -1 (only -1) to keep ours. */
  uid: number
  gid: number
  /** setsid() in the child. */
  setsid: boolean
  /** setpgid(0, pgid) in the child: 0 makes it lead a new group; -1: none. */
  pgid: number
  /** PR_SET_PDEATHSIG in the child (then getppid() is checked against this process), 0: none. */
  pdeathSignal: number
  /** A cgroup v2 directory fd for CLONE_INTO_CGROUP, or -1. */
  cgroupFd: number
  /** Extra clone3 flags (CLONE_AUTOREAP, CLONE_NNP, CLONE_PIDFD_AUTOKILL...), or 0n. */
  flags: bigint
  /** How to make the child: 0 the best available, 1 clone3 only, 2 clone() only, 3 posix_spawn + pidfd_open only. */
  method: number
}

/** The native module's exports (see native/*.cc for each function's contract). */
export interface Native {
  /**
   * Makes a child with its pidfd (clone3 with CLONE_PIDFD | CLONE_VM | CLONE_VFORK, falling
   * back to clone() and to posix_spawn + pidfd_open): returns once the child has exec'd. The
   * pidfd is owned (O_CLOEXEC). exit_signal is 0 until exec, which makes it SIGCHLD (a
   * child that fails before exec sends none): wait with __WALL. Throws an ErrnoException whose `syscall` names the failing step:
   * in the child 'execve', 'chdir', 'setgroups', 'setgid', 'setuid', 'setsid', 'setpgid',
   * 'dup3', 'open' (/dev/null), 'prctl'; in this process 'clone3', 'clone', 'posix_spawn',
   * 'pidfd_open', 'mmap'. A child that failed is reaped and its pidfd closed before the throw.
   */
  spawn(plan: SpawnPlan): { pid: number; pidfd: number; method: number }
  /**
   * What clone3 answers to `flags` (CLONE_INTO_CGROUP added, on a cgroup fd that cannot be
   * open, with `size` bytes of clone_args): 0 or a positive errno. EBADF means every flag is
   * known; size 0 only asks whether clone3 exists (EINVAL). Never makes a process.
   */
  clone3Errno(flags: bigint, size: number): number
  /** Marks an owned fd as a pidfd of a child to reap: at a Worker's teardown the reaper thread takes it over if it still runs. */
  ownChild(fd: number): void
  /** `socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC)`: two new fds, not owned (for 'pipe' stdio). */
  socketpair(): [number, number]
  /** `pidfd_open(pid, flags)`: a new owned O_CLOEXEC fd. */
  pidfdOpen(pid: number, flags: number): number
  /** `pidfd_send_signal(fd, sig, NULL, flags)`. */
  pidfdSendSignal(fd: number, sig: number, flags: number): void
  /** `fcntl(fd, F_DUPFD_CLOEXEC, 0)`: a new owned fd. */
  dupCloexec(fd: number): number
  /** Takes ownership of fd (closed at environment teardown); false if already owned. */
  own(fd: number): boolean
  /** `close(fd)`, releasing ownership. */
  close(fd: number): void
  /** `fstat(fd)` into {@link Native.statBuffer}. */
  fstat(fd: number): void
  /** `statx(fd, "", AT_EMPTY_PATH, mask)` into {@link Native.statBuffer}. */
  statx(fd: number, mask: number): void
  /** `fstatfs(fd)`: returns f_type. */
  fstatfs(fd: number): number
  /** Result slots of fstat, statx and pidfdGetInfo; layouts in native/stat.cc and native/info.cc. */
  readonly statBuffer: ArrayBuffer
  /** `waitid(P_PIDFD, fd, &si, options)`: the siginfo fields, or null (WNOHANG, no change). */
  waitid(fd: number, options: number): { pid: number; code: number; status: number } | null
  /** `poll(fd, events, 0)`: revents. */
  poll(fd: number, events: number): number
  /** `ioctl(fd, PIDFD_GET_INFO)` with mask, into {@link Native.statBuffer}. */
  pidfdGetInfo(fd: number, mask: number): void
  /** Polls fd for `events` on this environment's loop and calls back once; returns the watch id. */
  watch(fd: number, events: number, callback: (status: number, events: number) => void): number
  /** Stops a watch without calling back. Idempotent. */
  unwatch(id: number): void
  /** uv_ref/uv_unref on a watch. */
  refWatch(id: number, ref: boolean): void
  readonly UV_READABLE: number
  readonly UV_DISCONNECT: number
  /** `pidfd_getfd(fd, target, 0)`: a new fd, not owned (the caller closes it). */
  pidfdGetfd(fd: number, target: number): number
  /** `ioctl(fd, PIDFD_GET_<type>_NAMESPACE, 0)`, type 1-10: a new fd, not owned. */
  pidfdGetNamespace(fd: number, type: number): number
  /** `name_to_handle_at(fd, "", ..., AT_EMPTY_PATH)` into {@link Native.statBuffer}. */
  nameToHandleAt(fd: number): void
  /** `open_by_handle_at(mountFd, {type, bytes}, flags | O_CLOEXEC)`: a new owned fd. */
  openByHandleAt(mountFd: number, type: number, bytes: Uint8Array, flags: number): number
  /** `FD_PIDFS_ROOT`: the pidfs root as a mount fd for open_by_handle_at (Linux 6.17). */
  readonly FD_PIDFS_ROOT: number
}

export const native: Native = nodeGypBuild(path.join(__dirname, '..')) as Native
