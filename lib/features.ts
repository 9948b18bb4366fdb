/**
 * What the running kernel can do with pidfds, probed once against the kernel itself
 * (not guessed from its version) and cached, as systemd's `pidfd_check_pidfs()` does.
 * @packageDocumentation
 */
import { native } from './binding'
import { constants } from './constants'
import { pidfsUnsupported, unsupported } from './errors'
import { getInfo, nameToHandle, openHandle } from './info'
import { statx } from './stat'

/** The kernel's pidfd features. Every field is a probe result, not a version guess. */
export interface Features {
  /** `pidfd_open(2)` and `pidfd_send_signal(2)` work (Linux 5.3). */
  readonly pidfd: boolean
  /** `pidfd_open(pid, PIDFD_NONBLOCK)` is accepted (Linux 5.10). */
  readonly nonblock: boolean
  /** pidfds live on pidfs, one inode per process: identity works (Linux 6.9). */
  readonly pidfs: boolean
  /** `pidfd_open(tid, PIDFD_THREAD)`: pidfds for single threads (Linux 6.9). */
  readonly threadPidfd: boolean
  /** `pidfd_send_signal(2)` takes the `PIDFD_SIGNAL_*` scope flags (Linux 6.9). */
  readonly signalScopes: boolean
  /** `statx(2)` on a pidfd reports the process's own inode in `stx_ino` (Linux 6.9). */
  readonly statxIno: boolean
  /** `waitid(P_PIDFD, ...)`: waiting on a child through its pidfd (Linux 5.4). */
  readonly waitid: boolean
  /** `ioctl(PIDFD_GET_INFO)`: pid, credentials and cgroup of a process (Linux 6.13). */
  readonly getInfo: boolean
  /**
   * `PIDFD_INFO_EXIT`: the exit status of a reaped process (Linux 6.15). The bit only ever
   * comes back for a reaped process, so this is probed through what arrived with it in the
   * same release: `PIDFD_SELF_*` (or, from 6.16, `PIDFD_INFO_COREDUMP`).
   */
  readonly infoExit: boolean
  /** `PIDFD_INFO_COREDUMP`: whether and how a process dumped core (Linux 6.16). */
  readonly infoCoredump: boolean
  /** `name_to_handle_at`/`open_by_handle_at` on pidfds: persistent process handles (Linux 6.14). */
  readonly fileHandles: boolean
  /** `FD_PIDFS_ROOT`: opening a handle needs no other pidfd (Linux 6.17). */
  readonly pidfsRoot: boolean
  /** `PIDFD_GET_*_NAMESPACE` ioctls (Linux 6.11). */
  readonly namespaces: boolean
  /** `pidfd_getfd(2)`: copying an fd out of another process (Linux 5.6). */
  readonly getfd: boolean
  /** `PIDFD_SELF_THREAD`/`PIDFD_SELF_THREAD_GROUP` sentinels (Linux 6.15). */
  readonly selfPidfd: boolean
}

/** The name of one feature, as {@link features} reports it and errors name it. */
export type FeatureName = keyof Features

/** What each feature is and the first Linux release that has it. */
export const featureInfo: Readonly<Record<FeatureName, { readonly since: string; readonly description: string }>> =
  Object.freeze({
    pidfd: { since: '5.3', description: 'pidfd_open(2)' },
    nonblock: { since: '5.10', description: 'PIDFD_NONBLOCK' },
    pidfs: { since: '6.9', description: 'pidfs' },
    threadPidfd: { since: '6.9', description: 'PIDFD_THREAD (thread pidfds)' },
    signalScopes: { since: '6.9', description: 'pidfd_send_signal(2) scope flags' },
    statxIno: { since: '6.9', description: 'statx(2) inode of a pidfd' },
    waitid: { since: '5.4', description: 'waitid(P_PIDFD)' },
    getInfo: { since: '6.13', description: 'PIDFD_GET_INFO' },
    infoExit: { since: '6.15', description: 'PIDFD_INFO_EXIT' },
    infoCoredump: { since: '6.16', description: 'PIDFD_INFO_COREDUMP' },
    fileHandles: { since: '6.14', description: 'pidfs file handles' },
    pidfsRoot: { since: '6.17', description: 'FD_PIDFS_ROOT' },
    namespaces: { since: '6.11', description: 'PIDFD_GET_*_NAMESPACE' },
    getfd: { since: '5.6', description: 'pidfd_getfd(2)' },
    selfPidfd: { since: '6.15', description: 'PIDFD_SELF_* sentinels' },
  })

let cached: Features | undefined

/**
 * Probes the running kernel's pidfd features once (a handful of syscalls on a pidfd of
 * this process) and returns the cached answer afterwards.
 *
 * @example
 * ```ts
 * if (!features().pidfs) console.log('no pidfs: process identity is unavailable')
 * ```
 */
export function features(): Features {
  return (cached ??= probe())
}

/**
 * Why `name` is unsupported here, in a few words (`'needs Linux 6.13'`, or
 * `'blocked (EPERM from pidfd_getfd)'` when a seccomp filter or sandbox refused the probe),
 * or undefined when it is supported.
 */
export function unsupportedReason(name: FeatureName): string | undefined {
  if (features()[name]) return undefined
  return `needs Linux ${featureInfo[name].since}`
}

/** Throws `ERR_PIDFD_UNSUPPORTED` naming `name` unless the kernel has it. */
export function requireFeature(name: FeatureName): void {
  if (!features()[name]) {
    if (name === 'pidfs') throw pidfsUnsupported()
    const { description, since } = featureInfo[name]
    throw unsupported(name, description, since)
  }
}

/**
 * True if `attempt` succeeds or fails with an errno in `yes`; false if the kernel answers
 * with one in `no` (it does not know the call or flag); other errors propagate.
 */
function accepts(attempt: () => void, no = ['EINVAL'], yes: string[] = []): boolean {
  try {
    attempt()
    return true
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? ''
    if (yes.includes(code)) return true
    if (no.includes(code)) return false
    throw error
  }
}

function probe(): Features {
  let fd: number
  try {
    fd = native.pidfdOpen(process.pid, 0)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code !== 'ENOSYS' && code !== 'EPERM') throw error // EPERM: a seccomp filter forbids it
    // No pidfds at all: every feature is missing.
    return Object.freeze(Object.fromEntries(Object.keys(featureInfo).map((name) => [name, false])) as unknown as Features)
  }
  try {
    const openWith = (flags: number) => () => native.close(native.pidfdOpen(process.pid, flags))
    const pidfs = native.fstatfs(fd) === constants.PID_FS_MAGIC
    // Unknown ioctl: ENOTTY on anonymous-inode pidfds (before 6.9), EINVAL on pidfs before 6.13.
    // One call answers both: the COREDUMP bit comes back on a live process from 6.16.
    let infoMask = 0
    const hasGetInfo = accepts(() => (infoMask = getInfo(fd, constants.PIDFD_INFO_PID | constants.PIDFD_INFO_COREDUMP).mask), ['ENOTTY', 'EINVAL'])
    const infoCoredump = (infoMask & constants.PIDFD_INFO_COREDUMP) !== 0
    const selfPidfd = accepts(() => native.pidfdSendSignal(constants.PIDFD_SELF_THREAD, 0, 0), ['EBADF'])
    // ENOTSUP is Node's name for EOPNOTSUPP (both 95 on Linux).
    const fileHandles = pidfs && accepts(() => native.nameToHandleAt(fd), ['ENOTSUP'])
    return Object.freeze({
      pidfd: true,
      nonblock: accepts(openWith(constants.PIDFD_NONBLOCK)),
      pidfs,
      threadPidfd: accepts(openWith(constants.PIDFD_THREAD)),
      signalScopes: accepts(() => native.pidfdSendSignal(fd, 0, constants.PIDFD_SIGNAL_THREAD_GROUP)),
      statxIno: pidfs && (statx(fd, constants.STATX_INO).mask & constants.STATX_INO) !== 0,
      // This process is not its own child: ECHILD once P_PIDFD is known, EINVAL before.
      waitid: accepts(() => native.waitid(fd, constants.WEXITED | constants.WNOHANG), ['EINVAL'], ['ECHILD']),
      getInfo: hasGetInfo,
      infoExit: hasGetInfo && (infoCoredump || selfPidfd),
      infoCoredump,
      fileHandles,
      pidfsRoot: fileHandles && accepts(() => native.close(openHandle(native.FD_PIDFS_ROOT, nameToHandle(fd))), ['EBADF']),
      namespaces: accepts(() => native.close(native.pidfdGetNamespace(fd, 10)), ['ENOTTY', 'EINVAL'], ['ENOTSUP']),
      getfd: accepts(() => native.close(native.pidfdGetfd(fd, fd)), ['ENOSYS']),
      selfPidfd,
    })
  } finally {
    native.close(fd)
  }
}
