/**
 * Exit notification and exit status for any process: the policy behind `Pidfd#exited`.
 *
 * A pidfd becomes readable when its process exits. Then, in order:
 *
 * 1. `waitid(WEXITED | WNOHANG | WNOWAIT)`: for a child of this process, the exact status,
 *    read without reaping it, so `child_process` still reaps it and fires `'exit'`.
 * 2. Not our child (ECHILD), or already reaped: `PIDFD_GET_INFO` with `PIDFD_INFO_EXIT`
 *    (Linux 6.15+), which the kernel fills once the process has been reaped.
 * 3. Reaped but the kernel kept no status (before 6.15): a `ChildProcess` given to
 *    `Pidfd.fromChildProcess` still tells it through its `'exit'` event; otherwise the status
 *    is unavailable, and `exited` says so instead of waiting for what cannot come.
 * 4. Exited but not yet reaped by its parent (a zombie): `/proc/PID/stat` shows a zombie's
 *    exit code to a process allowed to trace it (checked through `/proc/PID/io`, which
 *    demands the same right), and the pid cannot be reused until the reap, which is checked
 *    after reading. Otherwise, with pidfs (6.9+, POLLHUP at reap), it waits for the reap
 *    without spinning, then goes back to step 2; a zombie still unreaped after
 *    {@link ZOMBIE_WAIT_MS} settles as unavailable. Out of fds (EMFILE), /proc cannot be
 *    read: it tries again every {@link PROC_RETRY_MS} meanwhile.
 *
 * Every step but the /proc reads works on the pidfd alone and needs no new fd.
 *
 * @packageDocumentation
 */
import fs from 'node:fs'
import os from 'node:os'
import type { ChildProcess } from 'node:child_process'
import { native } from './binding'
import { constants } from './constants'
import { fdinfoPid } from './fdinfo'
import { features } from './features'
import { getInfo, type PidfdInfo } from './info'
import { type ExitStatus, fromSiginfo, fromWaitStatus, unavailable } from './status'

/** How long a process that exited is waited for to be reaped by its parent, in ms. */
export const ZOMBIE_WAIT_MS = 5_000

/** How often a zombie's /proc entry is read again while this process is out of fds, in ms. */
const PROC_RETRY_MS = 50

/** True if the pidfd's process has exited: a pidfd is readable (POLLIN) from then on. */
export function pollExited(fd: number): boolean {
  return (native.poll(fd, constants.POLLIN) & (constants.POLLIN | constants.POLLHUP)) !== 0
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException).code
}

/**
 * The pid of the pidfd's process as this pid namespace sees it now; null once it has been
 * reaped or when it is not visible here. From `PIDFD_GET_INFO` (no fd needed), else fdinfo.
 */
export function currentPid(fd: number): number | null {
  if (features().getInfo) {
    try {
      return getInfo(fd, constants.PIDFD_INFO_PID).pid ?? null
    } catch (error) {
      if (errorCode(error) === 'ESRCH' || errorCode(error) === 'EREMOTE') return null
      throw error
    }
  }
  const pid = fdinfoPid(fd)
  return pid > 0 ? pid : null
}

/** Why a zombie's status could not be read now but may be later: this process is out of fds. */
class OutOfFds {
  constructor(readonly code: string) {}
}

/** What the tracker needs from its Pidfd. */
export interface TrackedProcess {
  /** The Pidfd: held while watching, so that garbage collection cannot close fd meanwhile. */
  owner: object
  fd: number
  /** The pid it was opened with, if known (used to read a zombie's /proc entry). */
  pid: number | undefined
  child: ChildProcess | undefined
}

/**
 * Watches one pidfd for its process's exit and settles a promise with the status, once.
 * Owned by a Pidfd, which calls {@link ExitTracker.cancel} before it closes the fd.
 */
export class ExitTracker {
  readonly promise: Promise<ExitStatus>
  #resolve!: (status: ExitStatus) => void
  #reject!: (error: Error) => void
  #settled = false
  #exitSeen = false
  #watchId = 0
  /** The deadline of the wait for a zombie's reap. */
  #timer: NodeJS.Timeout | undefined
  /** The next read of a zombie's /proc entry, while out of fds. */
  #retry: NodeJS.Timeout | undefined
  /** Why the zombie's /proc entry could not be read, for the unavailable status. */
  #procError: string | undefined
  #ref: boolean
  readonly #process: TrackedProcess

  constructor(process: TrackedProcess, ref: boolean) {
    this.#process = process
    this.#ref = ref
    this.promise = new Promise<ExitStatus>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    // Probed now, while fds are likely at hand: the exit path asks later, perhaps out of fds
    // (features() never throws, but an answer cut short by EMFILE is not cached).
    features()
    // Readiness is level-triggered: a process that exited before this point is seen at once.
    if (pollExited(process.fd)) {
      queueMicrotask(() => this.#guarded(() => this.#onExit()))
    } else {
      this.#watch(native.UV_READABLE, () => this.#onExit())
    }
  }

  /** True once the process is known to have exited (even if its status is still awaited). */
  get exitSeen(): boolean {
    return this.#exitSeen || this.#settled
  }

  /** Whether pending watching keeps the event loop alive. */
  setRef(ref: boolean): void {
    this.#ref = ref
    if (this.#watchId !== 0) native.refWatch(this.#watchId, ref)
    for (const timer of [this.#timer, this.#retry]) {
      if (ref) timer?.ref()
      else timer?.unref()
    }
  }

  /** Settles with a status learnt elsewhere (a reaping `waitid` by the user). */
  settleWith(status: ExitStatus): void {
    this.#settle(status)
  }

  /** Stops watching and rejects with the error `error()` builds (the Pidfd is being closed). */
  cancel(error: () => Error): void {
    if (this.#settled) return // no error built: closing after the exit is the common case
    this.#stop()
    this.#settled = true
    this.#reject(error())
  }

  #watch(events: number, then: () => void): void {
    this.#watchId = native.watch(this.#process.fd, events, () => {
      this.#watchId = 0
      this.#guarded(then)
    })
    if (!this.#ref) native.refWatch(this.#watchId, false)
  }

  /** Runs a step from the event loop: an unexpected error settles the status, never escapes. */
  #guarded(step: () => void): void {
    try {
      step()
    } catch (error) {
      this.#settle(unavailable(`reading the status failed: ${(error as Error).message}`))
    }
  }

  #stop(): void {
    if (this.#watchId !== 0) native.unwatch(this.#watchId)
    this.#watchId = 0
    clearTimeout(this.#timer)
    clearTimeout(this.#retry)
    this.#timer = this.#retry = undefined
  }

  #settle(status: ExitStatus): void {
    if (this.#settled) return
    this.#stop()
    this.#settled = true
    this.#resolve(status)
  }

  /** The process has exited (its pidfd is readable): find its status. */
  #onExit(): void {
    if (this.#settled) return
    this.#exitSeen = true
    const { fd } = this.#process
    try {
      const info = native.waitid(fd, constants.WEXITED | constants.WNOHANG | constants.WNOWAIT | constants.__WALL)
      if (info !== null) return this.#settle(fromSiginfo(info.code, info.status))
    } catch (error) {
      // ECHILD: not our child, or already reaped. EINVAL: a thread pidfd, or no P_PIDFD.
      if (errorCode(error) !== 'ECHILD' && errorCode(error) !== 'EINVAL') throw error
    }
    this.#afterReapOrZombie()
  }

  #afterReapOrZombie(): void {
    const { child } = this.#process
    // Reaped first, exit information second: a reap between the two would otherwise read
    // as "reaped without exit information", which 6.15+ never is.
    const reaped = this.#reaped()
    const fromKernel = this.#exitInfo()
    if (fromKernel !== null) return this.#settle(fromKernel)
    if (reaped) {
      if (child !== undefined) return this.#fromChild(child)
      return this.#settle(unavailable('the process was reaped by its parent and this kernel keeps no exit status (PIDFD_INFO_EXIT needs Linux 6.15)'))
    }
    const zombie = this.#zombieStatus()
    if (zombie instanceof OutOfFds) {
      this.#procError = `reading its /proc entry failed with ${zombie.code}`
      this.#retry = setTimeout(() => {
        this.#retry = undefined
        this.#guarded(() => this.#afterReapOrZombie())
      }, PROC_RETRY_MS)
      if (!this.#ref) this.#retry.unref()
    } else if (zombie !== null) {
      return this.#settle(zombie)
    } else if (child !== undefined) {
      return this.#fromChild(child)
    } else if (!features().pidfs) {
      return this.#settle(unavailable('the process exited, is not a child of this process, and this kernel cannot report its reap (POLLHUP needs Linux 6.9)'))
    }
    // A zombie we may not inspect (or not now): wait for its parent to reap it, then ask the
    // kernel. One watch and one deadline, however often this runs.
    if (features().pidfs && this.#watchId === 0) this.#watch(native.UV_DISCONNECT, () => this.#afterReapOrZombie())
    this.#timer ??= setTimeout(() => {
      const why = this.#procError === undefined ? '' : ` (${this.#procError})`
      this.#settle(unavailable(`the process exited but its parent has not reaped it within ${ZOMBIE_WAIT_MS} ms${why}`))
    }, ZOMBIE_WAIT_MS)
    if (!this.#ref) this.#timer.unref()
  }

  /** PIDFD_INFO_EXIT, or null where the kernel has none (yet). */
  #exitInfo(): ExitStatus | null {
    if (!features().getInfo) return null // probed once
    let info: PidfdInfo
    try {
      info = getInfo(this.#process.fd, constants.PIDFD_INFO_EXIT)
    } catch (error) {
      // ESRCH: reaped, and this kernel (6.13, 6.14) keeps no exit information.
      if (errorCode(error) === 'ESRCH') return null
      throw error
    }
    return info.exit ?? null
  }

  #reaped(): boolean {
    if ((native.poll(this.#process.fd, constants.POLLIN) & constants.POLLHUP) !== 0) return true
    // pidfs reports the reap with POLLHUP (6.9+); before it, only fdinfo tells, and reading
    // it takes an fd. Out of fds it is not known yet: the zombie's /proc read that follows
    // fails the same way and is retried.
    if (features().pidfs) return false
    try {
      return fdinfoPid(this.#process.fd) < 0
    } catch (error) {
      if (errorCode(error) === 'EMFILE' || errorCode(error) === 'ENFILE') return false
      throw error
    }
  }

  /**
   * A zombie's exit code from /proc, when this process may read it; null otherwise;
   * {@link OutOfFds} when the read failed for want of an fd (worth another try).
   */
  #zombieStatus(): ExitStatus | OutOfFds | null {
    const { fd } = this.#process
    const pid = this.#process.pid ?? currentPid(fd)
    if (pid === null) return null
    let stat: string
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1')
      // /proc/PID/stat prints exit_code as 0 to whoever may not trace the process;
      // /proc/PID/io refuses them outright (same PTRACE_MODE_READ_FSCREDS check).
      fs.readFileSync(`/proc/${pid}/io`, 'latin1')
    } catch (error) {
      const code = errorCode(error)
      return code === 'EMFILE' || code === 'ENFILE' ? new OutOfFds(code) : null
    }
    // Fields after "(comm)": state is field 3, exit_code field 52.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    if (fields[0] !== 'Z' || fields.length < 50) return null
    // Still unreaped after the reads: the pid was not reused, so they were of this process.
    if (currentPid(fd) !== pid) return null
    return fromWaitStatus(Number(fields[49]), 'procfs')
  }

  #fromChild(child: ChildProcess): void {
    const settleFromChild = () => {
      const signal = child.signalCode
      this.#settle({
        code: signal === null ? child.exitCode : null,
        signal,
        signalNumber: signal === null ? null : (os.constants.signals[signal] ?? null),
        coreDumped: false,
        source: 'child-process',
      })
    }
    if (child.exitCode !== null || child.signalCode !== null) return settleFromChild()
    child.once('exit', settleFromChild)
  }
}
