/**
 * The `Pidfd` class: one owned pidfd, a race-free handle on one process.
 * @packageDocumentation
 */
import { ChildProcess } from 'node:child_process'
import util from 'node:util'
import { native } from './binding'
import { constants } from './constants'
import {
  abortError,
  errnoException,
  illegalConstructor,
  invalidArgType,
  invalidArgValue,
  invalidThis,
  outOfRange,
  pidfdClosed,
  timeoutError,
} from './errors'
import { currentPid, ExitTracker, pollExited } from './exit'
import { fromSiginfo, type ExitStatus } from './status'
import { fdinfoPid, isAnonPidfd } from './fdinfo'
import { copyHandle, getInfo, handleType, INFO_MASK, nameToHandle, openHandle, type PidfdInfo } from './info'
import { features, requireFeature } from './features'
import { type SignalScope, signalName, toScopeFlag, toSignalNumber } from './signals'
import { fstat, fstatIdentity, type PidfdStats, statx, type StatxResult } from './stat'
import { INT32_MAX, validateBoolean, validateInteger, validateOptions } from './validate'
import { terminate, type TerminateOptions, type TerminateResult } from './terminate'
import { children, descendants, killTree, type KilledProcess, type KillTreeOptions, type PidfdList, type TreeNode } from './tree'

/** Options of {@link Pidfd.open}. */
export interface OpenOptions {
  /**
   * `PIDFD_NONBLOCK` (Linux 5.10): `waitid(2)` on the pidfd fails with EAGAIN instead of
   * blocking while the process runs. Default false.
   */
  nonblock?: boolean
  /**
   * `PIDFD_THREAD` (Linux 6.9): `pid` names one thread (a TID) and the pidfd refers to that
   * thread only: it becomes readable when the thread exits, and signals go to the thread.
   * Default false.
   */
  thread?: boolean
}

/** Options of {@link Pidfd.wait}. */
export interface WaitOptions {
  /** Rejects the wait with an `AbortError` when aborted. Other waits are not disturbed. */
  signal?: AbortSignal
  /** Rejects the wait with a `TimeoutError` (`code: 'ETIMEDOUT'`) after this many ms. */
  timeout?: number
}

/** Options of {@link Pidfd.waitid}: which state changes to wait for, and how. */
export interface WaitidOptions {
  /** `WEXITED`: processes that ended. Default true. */
  exited?: boolean
  /** `WSTOPPED`: processes stopped by a signal. */
  stopped?: boolean
  /** `WCONTINUED`: processes resumed by SIGCONT. */
  continued?: boolean
  /** `WNOHANG`: return null at once instead of blocking when nothing changed. */
  nohang?: boolean
  /** `WNOWAIT`: leave the child waitable (do not reap it). */
  nowait?: boolean
}

/** What {@link Pidfd.waitid} returns: the siginfo of the state change (rustix's words). */
export interface WaitidResult {
  /** `si_pid`. */
  pid: number
  /** `si_code`, named: exited, killed (by a signal), dumped (core), trapped, stopped, continued. */
  kind: 'exited' | 'killed' | 'dumped' | 'trapped' | 'stopped' | 'continued'
  /** `si_status`: the exit code for `exited`, else the signal number. */
  status: number
  /** The exit code for `exited`, else null. */
  code: number | null
  /** The signal's name for the other kinds, else null. */
  signal: NodeJS.Signals | null
}

const waitidKinds = ['exited', 'killed', 'dumped', 'trapped', 'stopped', 'continued'] as const

/** The namespace types {@link Pidfd.namespace} opens, in `PIDFD_GET_*_NAMESPACE` order. */
export type NamespaceType =
  | 'cgroup'
  | 'ipc'
  | 'mnt'
  | 'net'
  | 'pid'
  | 'pid_for_children'
  | 'time'
  | 'time_for_children'
  | 'user'
  | 'uts'

const namespaceTypes: readonly NamespaceType[] = [
  'cgroup',
  'ipc',
  'mnt',
  'net',
  'pid',
  'pid_for_children',
  'time',
  'time_for_children',
  'user',
  'uts',
]

/** Options of {@link Pidfd.sendSignal}. */
export interface SendSignalOptions {
  /**
   * Who receives the signal (Linux 6.9). `'thread'`: the thread the pidfd names;
   * `'thread-group'`: its whole process; `'process-group'`: every process in its process
   * group (the process must lead one, else ESRCH). Default: the thread group, or the
   * thread for a thread pidfd (`{ thread: true }`).
   */
  scope?: SignalScope
}

const kCreate = Symbol('Pidfd.create')

/** True for a real Pidfd: not a Proxy of one, not an object made from its prototype. */
let isPidfd: (value: unknown) => value is Pidfd

/**
 * @internal For `spawn()`: the Pidfd of a child it just made, on the pidfd `native.spawn`
 * returned (owned natively already), knowing the child's pid. `beforeClose` runs first thing
 * in `close()`, while the fd is still open (it must not throw).
 */
export let pidfdOfChild: (fd: number, pid: number, beforeClose: () => void) => Pidfd

// Registering with a FinalizationRegistry costs a fifth of a syscall, so it waits for a
// microtask: a Pidfd closed within the task that opened it never pays. Until then it sits in
// this list, which drops closed entries whenever it doubles, so an open/close loop keeps it
// short.
let unregistered: Pidfd[] = []
let compactAt = 64

let warnedLeak = false

/**
 * Safety net for a Pidfd that is garbage-collected without `close()`: its fd is closed
 * and a warning is printed once. Node itself stopped closing `FileHandle`s this way
 * (DEP0137): rely on `close()` or `using`, not on this.
 */
const leakRegistry = new FinalizationRegistry<number>((fd) => {
  native.close(fd)
  if (!warnedLeak) {
    warnedLeak = true
    process.emitWarning(`Closing pidfd ${fd} on garbage collection; call close() or use \`using\``, {
      code: 'PIDFD_CLOSED_ON_GC',
    })
  }
})

/**
 * A pidfd: a file descriptor that refers to one process (or, with `{ thread: true }`, one
 * thread) for as long as it is open, whatever happens to its pid. Signals sent through it
 * can never reach a process that merely reused the pid.
 *
 * A Pidfd owns its fd and closes it exactly once, on {@link Pidfd.close} (or at the end of a
 * `using` block). Any use after that throws `ERR_PIDFD_CLOSED` without reaching the kernel.
 *
 * @example
 * ```ts
 * import { Pidfd } from 'pidfd'
 * import { spawn } from 'node:child_process'
 *
 * const child = spawn('sleep', ['10'])
 * using pidfd = Pidfd.open(child.pid!)
 * pidfd.sendSignal('SIGTERM') // reaches this child, never a process that reused its pid
 * ```
 */
export class Pidfd implements Disposable {
  /** The owned fd; -1 once closed. */
  #fd: number
  /** The pid it was opened with, when known. */
  #pid: number | undefined
  /** `[st_dev, st_ino]` on pidfs, read once: a pidfd's inode never changes. */
  #identity: [dev: bigint, ino: bigint] | undefined
  /** Whether {@link leakRegistry} watches this Pidfd. */
  #registered = false
  /** The exit watcher behind {@link Pidfd.exited}, made on first use. */
  #exit: ExitTracker | undefined
  /** Whether a pending exit watch keeps the event loop alive. */
  #ref = true
  /** The ChildProcess this pidfd was made from, whose 'exit' event is the last resort. */
  #child: ChildProcess | undefined
  /** spawn()'s hook: runs once, before the fd is closed (see {@link pidfdOfChild}). */
  #beforeClose: (() => void) | undefined

  /** @internal Use {@link Pidfd.open}, {@link Pidfd.fromFd} or {@link Pidfd.adoptFd}. */
  constructor(token: typeof kCreate, fd: number, pid: number | undefined) {
    if (token !== kCreate) throw illegalConstructor('Pidfd.open(), Pidfd.fromFd() or Pidfd.adoptFd()')
    this.#fd = fd
    this.#pid = pid
    if (unregistered.push(this) === 1) queueMicrotask(Pidfd.#registerPending)
    else if (unregistered.length >= compactAt) Pidfd.#compactPending()
  }

  /** Registers every pending Pidfd still open with {@link leakRegistry}. */
  static #registerPending(): void {
    for (const pidfd of unregistered) {
      if (pidfd.#fd >= 0) {
        leakRegistry.register(pidfd, pidfd.#fd, pidfd)
        pidfd.#registered = true
      }
    }
    unregistered = []
    compactAt = 64
  }

  /** Drops closed Pidfds from the pending list. */
  static #compactPending(): void {
    unregistered = unregistered.filter((pidfd) => pidfd.#fd >= 0)
    compactAt = Math.max(64, unregistered.length * 2)
  }

  /**
   * Opens a pidfd for the process `pid` with `pidfd_open(2)` (O_CLOEXEC).
   *
   * For a child of this process this is race-free as long as nobody has reaped it yet: a
   * zombie can still be opened. After the reap, the pid may already name another process.
   *
   * @param pid - A process id (a thread id with `{ thread: true }`), 1 to 2^31-1.
   * @throws ESRCH if no such process exists; EINVAL (ENOENT on Linux 6.16+) if `pid` is a
   *   thread but not a thread-group leader and `thread` is not set; EMFILE when out of fds;
   *   `ERR_PIDFD_UNSUPPORTED` if the kernel lacks pidfds or the requested flag.
   */
  static open(pid: number, options?: OpenOptions): Pidfd {
    validateInteger(pid, 'pid', 1, INT32_MAX)
    let flags = 0
    if (options !== undefined) {
      validateOptions(options)
      if (validateBoolean(options.nonblock, 'options.nonblock')) {
        requireFeature('nonblock')
        flags |= constants.PIDFD_NONBLOCK
      }
      if (validateBoolean(options.thread, 'options.thread')) {
        requireFeature('threadPidfd')
        flags |= constants.PIDFD_THREAD
      }
    }
    let fd: number
    try {
      fd = native.pidfdOpen(pid, flags)
    } catch (error) {
      // pidfd_open has no EPERM of its own: both mean a kernel without it or a filter refusing
      // it, which the probe tells apart.
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ENOSYS' || code === 'EPERM') requireFeature('pidfd')
      throw error
    }
    return new Pidfd(kCreate, fd, pid)
  }

  /**
   * Wraps a duplicate (`F_DUPFD_CLOEXEC`) of an existing pidfd: the caller keeps `fd` and
   * stays responsible for closing it.
   *
   * @throws EBADF if `fd` is not open; `ERR_INVALID_ARG_VALUE` if it is not a pidfd.
   */
  static fromFd(fd: number): Pidfd {
    validatePidfdArg(fd)
    return new Pidfd(kCreate, native.dupCloexec(fd), undefined)
  }

  /**
   * Takes ownership of an existing pidfd: the returned Pidfd closes `fd`, and the caller
   * must not use or close it any more.
   *
   * @throws EBADF if `fd` is not open; `ERR_INVALID_ARG_VALUE` if it is not a pidfd, or if
   *   a Pidfd already owns it.
   */
  static adoptFd(fd: number): Pidfd {
    validatePidfdArg(fd)
    if (!native.own(fd)) throw invalidArgValue('fd', fd, 'is already owned by a Pidfd')
    return new Pidfd(kCreate, fd, undefined)
  }

  /**
   * Opens a pidfd for a `child_process.ChildProcess`, and checks with the kernel that it
   * names that child.
   *
   * Certain when called in the same tick as `spawn()`: Node reaps its children only from the
   * event loop, so the pid still belongs to this child, running or a zombie. Later it is
   * best-effort, because Node reaps every exited child in one pass before it emits their
   * `'exit'` events: in a sibling's `'exit'` handler this child may already be reaped
   * (though its `exitCode` is still null) and its pid free for reuse. So after opening, the
   * pidfd must name a child of this process that nobody has reaped
   * (`waitid(P_PIDFD, WEXITED | WNOHANG | WNOWAIT)`, Linux 5.4+); otherwise it is closed
   * and ESRCH is thrown. That rules out every process that is not a child of this one;
   * only a child this process spawned itself after the reap could still take the pid.
   * Where that matters, call it synchronously after `spawn()`.
   *
   * This library never reaps a `child_process` child: `'exit'` still fires. The ChildProcess
   * also serves as the last source of the exit status on kernels that keep none after
   * Node has reaped it (before 6.15).
   *
   * @throws `ERR_INVALID_ARG_TYPE` if `child` is not a ChildProcess; `ERR_INVALID_ARG_VALUE`
   *   if it has no pid (spawning failed); ESRCH if it has already exited and been reaped.
   */
  static fromChildProcess(child: ChildProcess): Pidfd {
    if (!(child instanceof ChildProcess)) throw invalidArgType('child', 'an instance of ChildProcess', child)
    const pid = child.pid
    if (typeof pid !== 'number') throw invalidArgValue('child', pid, 'has no pid (spawning it failed)')
    validateInteger(pid, 'child.pid', 1, INT32_MAX)
    const reaped = () => errnoException('ESRCH', 'pidfd_open', `child process ${pid} has already exited and been reaped`)
    if (child.exitCode !== null || child.signalCode !== null) throw reaped()
    let pidfd: Pidfd
    try {
      pidfd = Pidfd.open(pid)
    } catch (error) {
      throw (error as NodeJS.ErrnoException).code === 'ESRCH' ? reaped() : error
    }
    if (!isUnreapedChild(pidfd.#fd)) {
      pidfd.close()
      throw reaped()
    }
    pidfd.#child = child
    return pidfd
  }

  /**
   * Reopens a process from a handle made by {@link Pidfd.toHandle}, in this or another
   * program, for as long as the process has not been reaped (Linux 6.14+).
   *
   * @throws ESTALE once the process has been reaped; `ERR_INVALID_ARG_TYPE` if `handle` is
   *   not a Uint8Array; `ERR_INVALID_ARG_VALUE` for a handle of the wrong length or type;
   *   `ERR_PIDFD_UNSUPPORTED` before 6.14.
   */
  static fromHandle(handle: Uint8Array): Pidfd {
    // Not instanceof: a Proxy passes that test, then fails on every typed-array accessor.
    if (!util.types.isUint8Array(handle)) throw invalidArgType('handle', 'an instance of Buffer or Uint8Array', handle)
    // A private copy: what the caller's object says of its own buffer is not trusted.
    const copy = copyHandle(handle)
    if (handleType(copy) !== constants.FILEID_KERNFS) throw invalidArgValue('handle', handle, 'is not a pidfs file handle (type 0xfe)')
    requireFeature('fileHandles')
    if (features().pidfsRoot) return new Pidfd(kCreate, openHandle(native.FD_PIDFS_ROOT, copy), undefined)
    // Before 6.17 any pidfd serves as the mount fd: one on this process does.
    const mount = native.pidfdOpen(process.pid, 0)
    try {
      return new Pidfd(kCreate, openHandle(mount, copy), undefined)
    } finally {
      native.close(mount)
    }
  }

  /**
   * Opens the process a `"PID:INODE"` process id names (see {@link Pidfd.processId}), and
   * only that process: if the pid now belongs to another one, nothing is left open and the
   * error is ESRCH-coded. This is util-linux's race-free `kill PID:INODE`.
   *
   * @throws `ERR_INVALID_ARG_TYPE`/`ERR_INVALID_ARG_VALUE`/`ERR_OUT_OF_RANGE` for a malformed
   *   id, before any syscall; ESRCH if the process is gone or its pid was reused;
   *   `ERR_PIDFS_UNSUPPORTED` without pidfs.
   */
  static openProcessId(processId: string): Pidfd {
    if (typeof processId !== 'string') throw invalidArgType('processId', 'of type string', processId)
    const match = /^(\d+):(\d+)$/.exec(processId)
    if (match === null) throw invalidArgValue('processId', processId, 'must be "PID:INODE" (two decimal numbers)')
    const pid = Number(match[1])
    const inode = BigInt(match[2]!)
    if (pid < 1 || pid > INT32_MAX || inode < 1n || inode > 0xffffffffffffffffn) {
      throw outOfRange('processId', `a pid >= 1 && <= ${INT32_MAX} and an inode >= 1 && <= 2^64-1`, processId)
    }
    requireFeature('pidfs')
    const pidfd = Pidfd.open(pid)
    if (pidfd.id !== inode) {
      pidfd.close()
      throw errnoException('ESRCH', 'pidfd_open', `pid ${pid} now belongs to another process than ${processId}`)
    }
    return pidfd
  }

  /** The fd, borrowed: valid until {@link Pidfd.close}. Do not close it yourself. */
  get fd(): number {
    return Pidfd.#live(this)
  }

  /** True once {@link Pidfd.close} has run. */
  get closed(): boolean {
    return Pidfd.#own(this) < 0
  }

  /**
   * Closes the fd. Idempotent: later calls do nothing. A pending {@link Pidfd.wait} rejects
   * with `ERR_PIDFD_CLOSED`, and so does a pending {@link Pidfd.exited}, marked handled so
   * that nobody has to await it.
   */
  close(): void {
    if (Pidfd.#own(this) >= 0 && this.#beforeClose !== undefined) {
      const beforeClose = this.#beforeClose
      this.#beforeClose = undefined
      beforeClose()
    }
    const fd = Pidfd.#own(this)
    if (fd < 0) return
    this.#exit?.cancel(pidfdClosed) // stops the poll before the fd goes
    this.#fd = -1
    if (this.#registered) leakRegistry.unregister(this)
    native.close(fd)
  }

  /** Same as {@link Pidfd.close}, so that `using pidfd = Pidfd.open(pid)` closes it. */
  [Symbol.dispose](): void {
    Pidfd.prototype.close.call(this)
  }

  /**
   * Sends a signal with `pidfd_send_signal(2)`. It reaches this process (or thread) or
   * nobody: never a process that reused the pid.
   *
   * @param signal - A name as `process.kill` takes it (`'SIGKILL'`) or a number 0-64.
   *   `0` sends nothing and only checks that the process exists and may be signalled.
   *   Default `'SIGTERM'`.
   * @throws ESRCH once the process has been reaped (a zombie still accepts signals, and
   *   ignores them); EPERM if this process may not signal it; `ERR_UNKNOWN_SIGNAL`,
   *   `ERR_OUT_OF_RANGE` for a bad signal; `ERR_INVALID_ARG_VALUE` for a bad scope;
   *   `ERR_PIDFD_UNSUPPORTED` for a scope on a kernel before 6.9.
   */
  sendSignal(signal: NodeJS.Signals | number = 'SIGTERM', options?: SendSignalOptions): void {
    const sig = toSignalNumber(signal)
    let flags = 0
    if (options !== undefined && validateOptions(options)!.scope !== undefined) {
      flags = toScopeFlag(options.scope)
      requireFeature('signalScopes')
    }
    native.pidfdSendSignal(Pidfd.#live(this), sig, flags)
  }

  /**
   * Resolves once, when the process exits, with how it ended: a memoised promise, watched
   * on the event loop (no thread, no polling loop, no SIGCHLD scan). See {@link ExitStatus}
   * for when the status cannot be had. This library never reaps the process: a
   * `child_process` child still gets its `'exit'` event.
   *
   * A process that is not a child of this one resolves with its status once its parent
   * reaps it (Linux 6.15+), or at once when this process may read its zombie's /proc entry.
   * A zombie that stays unreaped resolves as unavailable after {@link ZOMBIE_WAIT_MS}.
   *
   * While pending it keeps the event loop alive, unless {@link Pidfd.unref} was called, and
   * it keeps this Pidfd (and its fd) from being garbage-collected, ref'd or not, as an
   * active handle does in Node: `await Pidfd.open(pid).exited` needs no variable.
   * It rejects with `ERR_PIDFD_CLOSED` if the Pidfd is closed first (already handled: an
   * unawaited `exited` does not crash the program).
   *
   * @example
   * ```ts
   * const { code, signal } = await Pidfd.open(pid).exited
   * ```
   */
  get exited(): Promise<ExitStatus> {
    return Pidfd.#tracker(this).promise
  }

  /**
   * Like {@link Pidfd.exited}, but abortable: rejects with Node's `AbortError` when
   * `options.signal` aborts, or with a `TimeoutError` (`code: 'ETIMEDOUT'`) after
   * `options.timeout` ms. Aborting one wait does not disturb other waits or `exited`.
   */
  wait(options?: WaitOptions): Promise<ExitStatus> {
    let signal: AbortSignal | undefined
    let timeout: number | undefined
    if (options !== undefined) {
      validateOptions(options)
      // Each option read once: a getter cannot answer differently to the check and the use.
      signal = options.signal
      if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an instance of AbortSignal', signal)
      timeout = options.timeout
      if (timeout !== undefined) {
        if (typeof timeout !== 'number') throw invalidArgType('options.timeout', 'of type number', timeout)
        if (!(timeout >= 0 && timeout <= INT32_MAX)) throw outOfRange('options.timeout', `>= 0 && <= ${INT32_MAX}`, timeout)
      }
    }
    Pidfd.#own(this)
    const aborted = signal?.aborted === true // before anything starts watching
    const exited = Pidfd.#tracker(this).promise
    if (aborted) return Promise.reject(abortError(signal!.reason))
    if (signal === undefined && timeout === undefined) return exited
    return new Promise<ExitStatus>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      const onAbort = () => finish(() => reject(abortError(signal!.reason)))
      const finish = (then: () => void) => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        then()
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      if (timeout !== undefined) {
        timer = setTimeout(() => finish(() => reject(timeoutError(timeout!))), timeout)
        if (!this.#ref) timer.unref()
      }
      exited.then(
        (status) => finish(() => resolve(status)),
        (error: Error) => finish(() => reject(error)),
      )
    })
  }

  /**
   * Whether the process has exited, without blocking: a zero-timeout `poll(2)` on the pidfd
   * (readable at exit). A zombie counts as exited.
   */
  hasExited(): boolean {
    const fd = Pidfd.#live(this)
    return this.#exit?.exitSeen === true || pollExited(fd)
  }

  /** Lets a pending {@link Pidfd.exited} keep the event loop alive (the default). Returns this. */
  ref(): this {
    Pidfd.#own(this)
    this.#ref = true
    this.#exit?.setRef(true)
    return this
  }

  /**
   * Lets the program exit while {@link Pidfd.exited} is pending, as `timer.unref()` does.
   * The pending watch still holds the Pidfd until the process exits or `close()` is called.
   * Returns this.
   */
  unref(): this {
    Pidfd.#own(this)
    this.#ref = false
    this.#exit?.setRef(false)
    return this
  }

  /**
   * `waitid(P_PIDFD, fd, ...)`, the raw view, for callers who reap children themselves. Only
   * a child of this process can be waited for (ECHILD otherwise). Without `nohang` it blocks
   * the event loop until the state changes (EAGAIN on a `{ nonblock: true }` pidfd). Without
   * `nowait` it reaps the child: never do that to a `child_process` child, whose `'exit'`
   * event would then never fire.
   *
   * @returns The state change, or null with `nohang` when there was none.
   */
  waitid(options: WaitidOptions = { exited: true }): WaitidResult | null {
    validateOptions(options)
    const flags =
      (validateBoolean(options.exited ?? true, 'options.exited') ? constants.WEXITED : 0) |
      (validateBoolean(options.stopped, 'options.stopped') ? constants.WSTOPPED : 0) |
      (validateBoolean(options.continued, 'options.continued') ? constants.WCONTINUED : 0) |
      (validateBoolean(options.nohang, 'options.nohang') ? constants.WNOHANG : 0) |
      (validateBoolean(options.nowait, 'options.nowait') ? constants.WNOWAIT : 0)
    if ((flags & (constants.WEXITED | constants.WSTOPPED | constants.WCONTINUED)) === 0) {
      throw invalidArgValue('options', options, 'must ask for at least one of exited, stopped and continued')
    }
    // __WALL: waitid skips children with no exit signal without it (spawn()'s, before exec).
    const info = native.waitid(Pidfd.#live(this), flags | constants.__WALL)
    if (info === null) return null
    const kind = waitidKinds[info.code - constants.CLD_EXITED]!
    const result: WaitidResult = {
      pid: info.pid,
      kind,
      status: info.status,
      code: kind === 'exited' ? info.status : null,
      signal: kind === 'exited' ? null : signalName(info.status),
    }
    // A reaping wait ends the process's story: tell exited, which can no longer ask.
    if ((kind === 'exited' || kind === 'killed' || kind === 'dumped') && (flags & constants.WNOWAIT) === 0) {
      this.#exit?.settleWith(fromSiginfo(info.code, info.status))
    }
    return result
  }

  /**
   * `PIDFD_GET_INFO` (Linux 6.13): the process's pid, parent, credentials and cgroup while
   * it lives (or is a zombie), its exit status once it has been reaped (6.15), its core
   * dump state (6.16). Only the fields the kernel reported are present.
   *
   * @throws EREMOTE if the process is outside this process's pid namespace; ESRCH once it
   *   has been reaped on kernels that keep nothing (6.13, 6.14); `ERR_PIDFD_UNSUPPORTED`
   *   before 6.13.
   */
  info(): PidfdInfo {
    const fd = Pidfd.#live(this)
    requireFeature('getInfo')
    return getInfo(fd, INFO_MASK)
  }

  /**
   * The process's pid as this process's pid namespace sees it now, or null once it has
   * been reaped (or if it is not visible in this namespace). From `PIDFD_GET_INFO`, or the
   * kernel's fdinfo before 6.13.
   */
  get pid(): number | null {
    return currentPid(Pidfd.#live(this))
  }

  /**
   * `pidfd_getfd(2)` (Linux 5.6): a copy, in this process, of the process's fd number
   * `targetFd`, with O_CLOEXEC. The caller owns it and must close it (`fs.closeSync`).
   * Needs the right to ptrace the process (PTRACE_MODE_ATTACH_REALCREDS).
   *
   * @throws EPERM without that right; EBADF if it has no such fd; `ERR_PIDFD_UNSUPPORTED`
   *   before 5.6.
   */
  getfd(targetFd: number): number {
    validateInteger(targetFd, 'targetFd', 0, INT32_MAX)
    const fd = Pidfd.#live(this)
    requireFeature('getfd')
    return native.pidfdGetfd(fd, targetFd)
  }

  /**
   * A namespace of the process, opened with the `PIDFD_GET_*_NAMESPACE` ioctls (Linux
   * 6.11): a new fd (O_CLOEXEC) that the caller owns and must close, usable with
   * `setns(2)` and comparable (by inode) with `/proc/PID/ns/<type>`.
   *
   * @throws `ERR_INVALID_ARG_VALUE` for an unknown type; ENOTSUP (EOPNOTSUPP) if the kernel has no
   *   such namespace type; EACCES without the right to inspect the process;
   *   `ERR_PIDFD_UNSUPPORTED` before 6.11.
   */
  namespace(type: NamespaceType): number {
    const index = namespaceTypes.indexOf(type)
    if (index < 0) {
      throw invalidArgValue('type', type, `must be one of: ${namespaceTypes.map((t) => `'${t}'`).join(', ')}`)
    }
    const fd = Pidfd.#live(this)
    requireFeature('namespaces')
    return native.pidfdGetNamespace(fd, index + 1)
  }

  /**
   * A pidfs file handle for the process (Linux 6.14): 12 bytes (the handle type as a
   * little-endian uint32, then the inode) that can be stored anywhere (for example as
   * `handle.toString('base64')`) and turned back into a pidfd by {@link Pidfd.fromHandle},
   * by any program, until the process is reaped.
   *
   * @throws `ERR_PIDFD_UNSUPPORTED` before 6.14.
   */
  toHandle(): Buffer {
    const fd = Pidfd.#live(this)
    requireFeature('fileHandles')
    return nameToHandle(fd)
  }

  /** `fstat(2)` of the pidfd, shaped like `fs.fstatSync(fd, { bigint: true })`. */
  stat(): PidfdStats {
    return fstat(Pidfd.#live(this))
  }

  /**
   * `statx(2)` of the pidfd.
   *
   * @param mask - The `constants.STATX_*` fields wanted. Default: basic stats, birth time
   *   and mount id. The result's `mask` says which ones the kernel filled in.
   */
  statx(mask: number = STATX_DEFAULT_MASK): StatxResult {
    // Bit 31 is STATX__RESERVED: the kernel refuses it (EINVAL).
    validateInteger(mask, 'mask', 0, 0x7fffffff)
    return statx(Pidfd.#live(this), mask)
  }

  /**
   * Whether pidfds live on pidfs on this kernel (Linux 6.9+): the condition for
   * {@link Pidfd.id}, {@link Pidfd.equals} and {@link Pidfd.processId}.
   */
  get isPidfs(): boolean {
    Pidfd.#live(this)
    return features().pidfs
  }

  /**
   * The process's pidfs inode number: the same for every pidfd of the process, kept across
   * exit, reap and exec, and never given to another process while the system runs (on
   * 64-bit kernels).
   *
   * @throws `ERR_PIDFS_UNSUPPORTED` on a kernel without pidfs (before 6.9), where every pidfd
   *   shares one inode.
   */
  get id(): bigint {
    return Pidfd.#identityOf(this)[1]
  }

  /**
   * True if both pidfds refer to the same process: the same pidfs inode (`st_dev` and
   * `st_ino`), whatever the pids say.
   *
   * @throws `ERR_PIDFS_UNSUPPORTED` on a kernel without pidfs: never a false answer.
   */
  equals(other: Pidfd): boolean {
    if (!isPidfd(other)) throw invalidArgType('other', 'an instance of Pidfd', other)
    Pidfd.#live(other) // a closed argument is ERR_PIDFD_CLOSED on every kernel, before the pidfs check
    const [dev, ino] = Pidfd.#identityOf(this)
    const [otherDev, otherIno] = Pidfd.#identityOf(other)
    return ino === otherIno && dev === otherDev
  }

  /**
   * The process id string `"PID:INODE"`, as util-linux (`kill PID:INODE`) and systemd write
   * it: the pid it was opened with, or, for {@link Pidfd.fromFd}/{@link Pidfd.adoptFd}, the
   * pid the kernel reports; and the pidfs inode. Unlike a pid, it never names another
   * process.
   *
   * @throws `ERR_PIDFS_UNSUPPORTED` without pidfs; ESRCH for an adopted pidfd whose
   *   process was reaped before its pid was read.
   */
  get processId(): string {
    const ino = Pidfd.#identityOf(this)[1]
    if (this.#pid === undefined) {
      const pid = fdinfoPid(this.#fd)
      if (pid <= 0) {
        throw errnoException('ESRCH', 'pidfd', pid < 0 ? 'the process was reaped' : 'the process is in another pid namespace')
      }
      this.#pid = pid
    }
    return `${this.#pid}:${ino}`
  }

  /**
   * Stops the process politely, then for sure: sends `signal` (default `'SIGTERM'`), waits
   * up to `timeout` ms (default 5000) for it to exit, then sends `killSignal` (default
   * `'SIGKILL'`) and waits as long again. Resolves with its {@link ExitStatus} and
   * `escalated: true` if `killSignal` was needed. Works for children and non-children
   * alike, through the pidfd only: it can never signal a recycled pid. A process already
   * gone resolves at once with its status, and nothing is sent. The waits are the
   * {@link Pidfd.exited} watch: no polling. A process that has exited but whose parent has
   * not reaped it yet counts as exited (its status may take up to {@link ZOMBIE_WAIT_MS}).
   *
   * @param options.abort - Aborting it rejects with Node's `AbortError` and sends nothing
   *   more (a signal already sent stays sent).
   * @throws `ERR_INVALID_ARG_TYPE`, `ERR_OUT_OF_RANGE`, `ERR_UNKNOWN_SIGNAL` for bad
   *   options, `ERR_PIDFD_CLOSED` after close, before anything is sent; rejects with EPERM
   *   if this process may not signal it, and with a `TimeoutError` (`code: 'ETIMEDOUT'`) if
   *   it outlives a `killSignal` it can catch (or is stuck in the kernel).
   *
   * @example
   * ```ts
   * const { code, signal, escalated } = await child.pidfd.terminate({ timeout: 2000 })
   * ```
   */
  terminate(options?: TerminateOptions): Promise<TerminateResult> {
    Pidfd.#own(this)
    return terminate(this, options)
  }

  /**
   * The process's current children, each opened as a Pidfd the caller owns (close them,
   * or the whole list: `using kids = pidfd.children()`). [] once the process has exited.
   *
   * Race-free: the kernel's list (`/proc/PID/task/* /children` where it has them,
   * CONFIG_PROC_CHILDREN; else a scan of `/proc/[0-9]+/stat`) only proposes pids. Each is
   * opened first, then its parent is read again through the new pidfd (`PIDFD_GET_INFO`, or
   * `/proc/PID/stat` checked against a reap before Linux 6.13) and must still be this
   * process, which must still be alive: a pid reused meanwhile is dropped, never returned
   * under this process's name. A child that exits meanwhile may or may not be listed.
   *
   * @throws `ERR_PIDFD_CLOSED`; EMFILE if this process runs out of fds (nothing is left open).
   */
  children(): PidfdList<Pidfd> {
    Pidfd.#live(this)
    return children(this)
  }

  /**
   * The whole tree below the process, breadth first (every parent before its children):
   * `{ pidfd, pid, parent, parentPid, depth }` per process, `parent` being this Pidfd or an
   * earlier node's `pidfd`. Each node is checked as {@link Pidfd.children} checks its
   * children, against its own parent. The caller owns every `pidfd` in it (`using tree =
   * pidfd.descendants()` closes them all). A snapshot: a tree that forks meanwhile may have
   * more; {@link Pidfd.killTree} is the one that stops it first.
   *
   * @throws `ERR_PIDFD_CLOSED`; EMFILE if this process runs out of fds (nothing is left open).
   */
  descendants(): PidfdList<TreeNode> {
    Pidfd.#live(this)
    return descendants(this)
  }

  /**
   * Signals the process and every descendant, including those forked while it runs: each
   * member is stopped with SIGSTOP through its pidfd the moment it is found, and its
   * children are read as final only once every thread of it shows as stopped (a stopped
   * process cannot fork; one with SIGSTOP merely pending may be finishing a fork). The tree
   * is walked again until a pass finds no new member, then every member gets `signal`
   * (default `'SIGTERM'`) and, unless it is SIGKILL or a stop signal, SIGCONT so that it can
   * act on it. Every signal goes through a pidfd: never to a recycled pid. How the tree is
   * read and checked: see {@link Pidfd.children}.
   *
   * With `options.timeout`, it then waits up to that many ms for every member to exit
   * (on their exit watches), stops and walks what is still alive again, sends `killSignal`
   * (default `'SIGKILL'`) and waits as long again. Without it, it resolves once every
   * member has been signalled.
   *
   * Resolves with one {@link KilledProcess} per member, the root first: identity
   * (`"PID:INODE"` with pidfs; the pid alone before Linux 6.9), parent pid, the signal
   * sent, whether it exited and, with `timeout`, its status where the kernel could tell it.
   * A member this process may not signal (EPERM: another user's) is reported with `error`,
   * and the others are signalled all the same. A process that has already exited has no
   * tree left to find: `[]`.
   *
   * Limits: a tree is what `/proc` says of parents, so a process whose parent exits
   * before it is found (a double fork, a daemon) has left the tree; run what must die
   * together in a cgroup and use {@link killCgroup}. This process and its own descendants
   * are never stopped or signalled; killTree on this process itself throws. Members stopped
   * by someone else before the call are resumed by the SIGCONT. It reaps nothing: members
   * that are this process's children are reaped by whoever spawned them. It holds one fd
   * per member while it runs.
   *
   * @throws `ERR_UNKNOWN_SIGNAL`, `ERR_OUT_OF_RANGE`, `ERR_INVALID_ARG_TYPE` for bad
   *   arguments, `ERR_INVALID_ARG_VALUE` for this process itself, `ERR_PIDFD_CLOSED`, at the
   *   call, before anything is sent; rejects with EMFILE if the tree needs more fds than
   *   this process may open (every member stopped is resumed first).
   *
   * @example
   * ```ts
   * const killed = await child.pidfd.killTree('SIGTERM', { timeout: 3000 })
   * console.log(killed.filter((p) => p.escalated).length, 'needed SIGKILL')
   * ```
   */
  killTree(signal: NodeJS.Signals | number = 'SIGTERM', options?: KillTreeOptions): Promise<KilledProcess[]> {
    Pidfd.#own(this) // arguments first, then ERR_PIDFD_CLOSED, as everywhere
    return killTree(this, signal, options)
  }

  /** For `util.inspect` and `console.log`. */
  [util.inspect.custom](): string {
    if (!isPidfd(this)) return 'Pidfd { <not a Pidfd> }'
    if (this.#fd < 0) return 'Pidfd { closed }'
    return `Pidfd { fd: ${this.#fd}${this.#pid === undefined ? '' : `, pid: ${this.#pid}`} }`
  }

  // The private helpers are static: calling a private instance method on a fake or a Proxy
  // throws a TypeError without a code before its body could check anything.

  static #tracker(self: Pidfd): ExitTracker {
    Pidfd.#own(self)
    if (self.#exit === undefined) {
      // The tracker holds this Pidfd while it watches, so that the GC safety net cannot close
      // the fd under a pending wait.
      self.#exit = new ExitTracker({ owner: self, fd: Pidfd.#live(self), pid: self.#pid, child: self.#child }, self.#ref)
      self.#exit.promise.catch(() => {}) // handled: closing first must not crash a program that never awaited it
    }
    return self.#exit
  }

  /** self's fd, -1 once closed; ERR_INVALID_THIS for a method called on a fake or Proxy. */
  static #own(self: Pidfd): number {
    if (!isPidfd(self)) throw invalidThis('Pidfd')
    return self.#fd
  }

  /** self's fd, or ERR_PIDFD_CLOSED; ERR_INVALID_THIS for a method called on a fake or Proxy. */
  static #live(self: Pidfd): number {
    const fd = Pidfd.#own(self)
    if (fd < 0) throw pidfdClosed()
    return fd
  }

  static {
    isPidfd = (value) => typeof value === 'object' && value !== null && #fd in value
    pidfdOfChild = (fd, pid, beforeClose) => {
      const pidfd = new Pidfd(kCreate, fd, pid)
      pidfd.#beforeClose = beforeClose
      return pidfd
    }
  }

  static #identityOf(self: Pidfd): [dev: bigint, ino: bigint] {
    const fd = Pidfd.#live(self)
    if (self.#identity === undefined) {
      requireFeature('pidfs')
      self.#identity = fstatIdentity(fd)
    }
    return self.#identity
  }
}

/** The `statx(2)` fields {@link Pidfd.statx} asks for by default. */
const STATX_DEFAULT_MASK = constants.STATX_BASIC_STATS | constants.STATX_BTIME | constants.STATX_MNT_ID

/** Checks that fd is an open pidfd: on pidfs by its filesystem magic, before 6.9 by its anonymous inode name. */
function validatePidfdArg(fd: number): void {
  validateInteger(fd, 'fd', 0, INT32_MAX)
  if (native.fstatfs(fd) === constants.PID_FS_MAGIC) return
  if (!features().pidfs && isAnonPidfd(fd)) return
  throw invalidArgValue('fd', fd, 'is not a pidfd')
}

/**
 * True if `a` and `b` are the same process, by pidfs inode. Each may be a Pidfd or a pid;
 * a pid is opened, compared and closed here.
 *
 * @throws ESRCH if a pid names no process; `ERR_PIDFS_UNSUPPORTED` on a kernel without pidfs.
 *
 * @example
 * ```ts
 * sameProcess(pidfd, 1234) // is pid 1234 still the process pidfd was opened on?
 * ```
 */
export function sameProcess(a: Pidfd | number, b: Pidfd | number): boolean {
  // Both validated before anything is opened.
  for (const [value, name] of [[a, 'a'], [b, 'b']] as const) {
    if (typeof value === 'number') validateInteger(value, name, 1, INT32_MAX)
    else asPidfd(value, name)
  }
  requireFeature('pidfs')
  const left = typeof a === 'number' ? Pidfd.open(a) : a
  try {
    const right = typeof b === 'number' ? Pidfd.open(b) : b
    try {
      return left.equals(right)
    } finally {
      if (right !== b) right.close()
    }
  } finally {
    if (left !== a) left.close()
  }
}


/** True if fd is a child of this process that nobody has reaped (running or a zombie). */
function isUnreapedChild(fd: number): boolean {
  try {
    native.waitid(fd, constants.WEXITED | constants.WNOHANG | constants.WNOWAIT | constants.__WALL)
    return true
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ECHILD') return false
    if (code === 'EINVAL') return true // no waitid(P_PIDFD) before 5.4: nothing more to check
    throw error
  }
}

/**
 * @internal `value` if it is a real Pidfd (open or closed), else `ERR_INVALID_ARG_TYPE`
 * naming `name`.
 */
export function checkPidfd(value: unknown, name: string): Pidfd {
  return asPidfd(value, name, 'an instance of Pidfd')
}

function asPidfd(value: unknown, name: string, expected = 'of type number or an instance of Pidfd'): Pidfd {
  if (isPidfd(value)) return value
  throw invalidArgType(name, expected, value)
}
