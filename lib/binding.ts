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

/** The native module's exports (see native/*.cc for each function's contract). */
export interface Native {
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
