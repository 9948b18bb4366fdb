/**
 * What the running kernel can do with pidfds, probed once against the kernel itself
 * (not guessed from its version) and cached, as systemd's `pidfd_check_pidfs()` does.
 * @packageDocumentation
 */
import { native } from './binding'
import { constants } from './constants'
import { pidfsUnsupported, unsupported } from './errors'
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
    return Object.freeze({
      pidfd: false,
      nonblock: false,
      pidfs: false,
      threadPidfd: false,
      signalScopes: false,
      statxIno: false,
      waitid: false,
      getInfo: false,
    })
  }
  try {
    const openWith = (flags: number) => () => native.close(native.pidfdOpen(process.pid, flags))
    const pidfs = native.fstatfs(fd) === constants.PID_FS_MAGIC
    return Object.freeze({
      pidfd: true,
      nonblock: accepts(openWith(constants.PIDFD_NONBLOCK)),
      pidfs,
      threadPidfd: accepts(openWith(constants.PIDFD_THREAD)),
      signalScopes: accepts(() => native.pidfdSendSignal(fd, 0, constants.PIDFD_SIGNAL_THREAD_GROUP)),
      statxIno: pidfs && (statx(fd, constants.STATX_INO).mask & constants.STATX_INO) !== 0,
      // This process is not its own child: ECHILD once P_PIDFD is known, EINVAL before.
      waitid: accepts(() => native.waitid(fd, constants.WEXITED | constants.WNOHANG), ['EINVAL'], ['ECHILD']),
      // Unknown ioctl: ENOTTY on anonymous-inode pidfds (before 6.9), EINVAL on pidfs before 6.13.
      getInfo: accepts(() => native.pidfdGetInfo(fd, constants.PIDFD_INFO_PID), ['ENOTTY', 'EINVAL']),
    })
  } finally {
    native.close(fd)
  }
}
