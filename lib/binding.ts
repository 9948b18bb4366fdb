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
  /** Result slots of fstat and statx; layout in native/stat.cc. */
  readonly statBuffer: ArrayBuffer
}

export const native: Native = nodeGypBuild(path.join(__dirname, '..')) as Native
