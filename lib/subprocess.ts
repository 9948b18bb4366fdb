/**
 * The `Subprocess` class: what {@link spawn} returns. A drop-in for `child_process`'s
 * `ChildProcess` (same properties, methods and events, in the same order with the same
 * arguments), made with its pidfd and reaped by this library as soon as it exits.
 * @packageDocumentation
 */
import { EventEmitter } from 'node:events'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import type { Readable, Writable } from 'node:stream'
import util from 'node:util'
import { isMainThread } from 'node:worker_threads'
import { native, type SpawnPlan } from './binding'
import { cloneFlags, constants } from './constants'
import { AbortError, illegalConstructor, invalidArgValue, invalidThis, unknownSignal } from './errors'
import { Pidfd, pidfdOfChild } from './pidfd'
import { getInfo } from './info'
import { fromSiginfo, unavailable, type ExitStatus } from './status'
import type { SpawnRequest, StdioSlot } from './spawn'

/** The errnos child_process reports as an `'error'` event rather than a throw (Node 20). */
const errorEventCodes = new Set(['EACCES', 'EAGAIN', 'EMFILE', 'ENFILE', 'ENOENT'])

/** Out of fds: child_process stops before setting up stdio. */
const outOfFdsCodes = new Set(['EMFILE', 'ENFILE'])

const REAP_FLAGS = constants.WEXITED | constants.WNOHANG | constants.__WALL

/** `plan.method` of glibc's clone(), forced through PIDFD_SPAWN_METHOD or setSpawnMethod. */
const CLONE_METHOD = 2

/** How long a Worker's exit waits for children it signalled (killOnParentDeath) to die, in ms. */
const WORKER_EXIT_WAIT_MS = 250

/** Node's ErrnoException: message `'<syscall> <CODE>'`, negative `errno`. */
function uvException(errno: number, syscall: string): NodeJS.ErrnoException {
  const code = util.getSystemErrorName(errno)
  const error: NodeJS.ErrnoException = new Error(`${syscall} ${code}`)
  error.errno = errno
  error.code = code
  error.syscall = syscall
  return error
}

/** Node's convertToValidSignal: a signal number Node has a name for, or a name in any case. */
export function convertToValidSignal(signal: unknown): number {
  const signals = os.constants.signals as Record<string, number>
  if (typeof signal === 'number' && namedSignals.has(signal)) return signal
  if (typeof signal === 'string' && Object.hasOwn(signals, signal.toUpperCase())) return signals[signal.toUpperCase()]!
  throw unknownSignal(String(signal))
}

const namedSignals = new Set(Object.values(os.constants.signals as Record<string, number>))

/** Closes the fds that are set. */
function closeAll(fds: Iterable<number | undefined>): void {
  for (const fd of fds) if (fd !== undefined) native.close(fd)
}

/** Opening the cgroup failed (fs's error, with its path): thrown as it is, unless out of fds. */
function isCgroupError(error: unknown, cgroup: string | null): boolean {
  const { code, path } = error as NodeJS.ErrnoException
  return cgroup !== null && path === cgroup && !outOfFdsCodes.has(code!)
}

/** The events of a {@link Subprocess} and their arguments, as `ChildProcess` emits them. */
export interface SubprocessEvents {
  /** The child is running (emitted on the next tick after spawn()). */
  spawn: []
  /** The child has been reaped: its exit code, or the signal that ended it. */
  exit: [code: number | null, signal: NodeJS.Signals | null]
  /** After `'exit'` (or `'error'` for a failed spawn), once every stdio pipe has closed. */
  close: [code: number | null, signal: NodeJS.Signals | null]
  /** Spawning failed (ENOENT, EACCES, EAGAIN, EMFILE, ENFILE), `kill()` was refused, or `signal` aborted. */
  error: [error: Error]
}

/** The children of this Worker still unreaped, for its exit (unused on the main thread). */
const unreaped = new Set<Subprocess>()
let exitHookInstalled = false

let create: (request: SpawnRequest) => Subprocess
let reapAtExit: (subprocess: Subprocess) => void

/**
 * A child process made by {@link spawn}, shaped like `child_process`'s `ChildProcess`: the
 * same properties, `kill()`, `ref()`, `unref()`, and the events `'spawn'`, `'exit'`
 * (code, signal), `'close'` (code, signal; after `'exit'` and once every stdio pipe has
 * closed) and `'error'`, in the same order. It has no IPC channel (`connected` is always
 * false).
 *
 * Beyond `ChildProcess`: {@link Subprocess.pidfd}, created with the child, through which
 * {@link Subprocess.kill} signals (it can never reach a recycled pid), and
 * {@link Subprocess.exited}. The child is reaped as soon as it exits, whether or not anyone
 * listens; a running child keeps the event loop alive unless {@link Subprocess.unref} is
 * called, as with `child_process`.
 *
 * @example
 * ```ts
 * await using child = spawn('sleep', ['10']) // killed, then awaited, at the end of the block
 * console.log(child.pid, child.pidfd?.processId)
 * ```
 */
export class Subprocess extends EventEmitter<SubprocessEvents> implements Disposable, AsyncDisposable {
  /** The child's pid; undefined if spawning failed. */
  pid: number | undefined
  /**
   * The parent's end of the child's fd 0 with `'pipe'` stdio (a `net.Socket`), else null.
   * Undefined, as in Node, when spawning failed for want of fds (EMFILE, ENFILE).
   */
  stdin!: Writable | null
  /** The parent's end of the child's fd 1 with `'pipe'` stdio, else null (see {@link Subprocess.stdin}). */
  stdout!: Readable | null
  /** The parent's end of the child's fd 2 with `'pipe'` stdio, else null (see {@link Subprocess.stdin}). */
  stderr!: Readable | null
  /** One entry per child fd: the `net.Socket` of a `'pipe'`, else null. */
  stdio!: Array<Readable | Writable | null>
  /** The exit code once the child has exited; null while it runs or if a signal ended it. A failed spawn sets it to the negative errno, as Node does. */
  exitCode: number | null = null
  /** The name of the signal that ended the child, or null. */
  signalCode: NodeJS.Signals | null = null
  /** True once {@link Subprocess.kill} has delivered a signal (any signal, as in Node). */
  killed = false
  /** The file executed (the shell with `shell`). */
  spawnfile: string
  /** The child's full argv, argv[0] included. */
  spawnargs: string[]
  /** Always false: spawn() makes no IPC channel. */
  readonly connected = false

  /** Created with the child; closed once it has been reaped. */
  #pidfd: Pidfd | undefined
  /**
   * A pidfd of our own, made as the user closes {@link Subprocess.pidfd} while the child
   * runs: a dup of it, or with `killOnClose` (where a dup would keep the child alive) a
   * second pidfd on the same process.
   */
  #own: Pidfd | undefined
  /** With `killOnClose`: how the child ended, when it was gone before its pidfd closed. */
  #endedBeforeClose: ExitStatus | undefined
  #retry: NodeJS.Timeout | undefined
  #killOnClose: boolean
  /** True from a successful spawn until the child is reaped. */
  #running = false
  #ref = true
  #closesNeeded = 1
  #closesGot = 0
  #pdeathSignal: number
  #exited: Promise<ExitStatus>
  #resolveExited!: (status: ExitStatus) => void
  #rejectExited!: (error: Error) => void
  #timer: NodeJS.Timeout | undefined
  #abortCleanup: (() => void) | undefined

  /** @internal Use {@link spawn}. */
  constructor(token: typeof kCreate, request: SpawnRequest) {
    super()
    if (token !== kCreate) throw illegalConstructor('spawn()')
    this.spawnfile = request.file
    this.spawnargs = request.args
    this.#pdeathSignal = request.pdeathSignal
    this.#killOnClose = request.killOnClose
    this.#exited = new Promise<ExitStatus>((resolve, reject) => {
      this.#resolveExited = resolve
      this.#rejectExited = reject
    })
    this.#exited.catch(() => {}) // a failed spawn also emits 'error': not awaiting this is fine
    this.#start(request)
    this.#armKillers(request)
  }

  /** Makes the child, or arranges the `'error'` event, or throws, as `ChildProcess#spawn` does. */
  #start(request: SpawnRequest): void {
    // setuid((uid_t)-1) fails with EINVAL, which Node reports by throwing; other negative ids
    // are refused the same way rather than left to wrap around.
    for (const id of [request.uid, request.gid]) if (id !== null && id < 0) throw uvException(-os.constants.errno.EINVAL, 'spawn')
    // clone() has no CLONE_INTO_CGROUP, and native.spawn's forced clone() path does not
    // refuse it: never start the child outside the cgroup asked for.
    if (request.method === CLONE_METHOD && request.cgroup !== null) throw uvException(-os.constants.errno.ENOTSUP, 'spawn')
    const slots = request.stdio
    for (const slot of slots) {
      if ((slot.type === 'fd' || slot.type === 'wrap') && slot.fd < 0) throw uvException(-os.constants.errno.EINVAL, 'spawn')
    }
    const parentEnds: Array<number | undefined> = []
    const childEnds: number[] = []
    let cgroupFd = -1
    let result: { pid: number; pidfd: number } | undefined
    let failure: number | undefined
    try {
      if (request.cgroup !== null) cgroupFd = openCgroup(request.cgroup)
      const plan: number[] = []
      for (let i = 0; i < slots.length; i++) {
        const slot = slots[i]!
        if (slot.type === 'pipe') {
          const [parent, child] = native.socketpair()
          parentEnds[i] = parent
          childEnds.push(child)
          plan.push(child)
        } else {
          plan.push(slot.type === 'ignore' ? (i < 3 ? -1 : -2) : slot.fd)
        }
      }
      result = spawnChild(this.#plan(request, plan, cgroupFd))
    } catch (error) {
      const errno = (error as NodeJS.ErrnoException | null)?.errno
      // fs's error for the cgroup, or no errno at all: as it is.
      const own = typeof errno !== 'number' || isCgroupError(error, request.cgroup)
      if (own || !errorEventCodes.has(util.getSystemErrorName(errno))) {
        closeAll(parentEnds)
        throw own ? error : uvException(errno, 'spawn')
      }
      failure = errno
    } finally {
      closeAll(childEnds)
      if (cgroupFd >= 0) fs.closeSync(cgroupFd)
    }
    if (failure !== undefined) {
      process.nextTick(() => this.#onSpawnError(failure))
      // As Node: no point setting up stdio without fds; pid and stdio stay undefined.
      if (outOfFdsCodes.has(util.getSystemErrorName(failure))) return closeAll(parentEnds)
    } else {
      this.#running = true
      this.pid = result!.pid
      this.#pidfd = pidfdOfChild(result!.pidfd, result!.pid, () => this.#beforePidfdClose())
      this.#watchExit(this.#pidfd)
      if (!isMainThread) trackForWorkerExit(this)
      process.nextTick(() => this.emit('spawn'))
    }
    this.#setUpStdio(slots, parentEnds)
  }

  #plan(request: SpawnRequest, stdio: number[], cgroupFd: number): SpawnPlan {
    return {
      paths: request.paths,
      argv: request.args,
      env: request.env,
      cwd: request.cwd,
      stdio,
      uid: request.uid ?? -1,
      gid: request.gid ?? -1,
      setsid: request.setsid,
      pgid: request.pgid,
      pdeathSignal: request.pdeathSignal,
      cgroupFd,
      flags: request.killOnClose ? cloneFlags.CLONE_AUTOREAP | cloneFlags.CLONE_PIDFD_AUTOKILL : 0n,
      method: request.method,
    }
  }

  /** The parent's ends of the pipes as sockets, exactly as child_process makes them. */
  #setUpStdio(slots: StdioSlot[], parentEnds: Array<number | undefined>): void {
    const stdio: Array<net.Socket | null> = []
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i]!
      const fd = parentEnds[i]
      if (slot.type === 'wrap') pauseWrapped(slot.stream, slot.handle)
      if (fd === undefined) {
        stdio.push(null)
        continue
      }
      // Like child_process's createSocket(): readable from 1 up; writable is the default.
      const socket = new net.Socket({ fd, readable: i > 0 })
      if (i > 0) {
        this.#closesNeeded++
        socket.on('close', () => this.#maybeClose())
      }
      stdio.push(socket)
    }
    this.stdin = stdio[0] ?? null
    this.stdout = stdio[1] ?? null
    this.stderr = stdio[2] ?? null
    this.stdio = stdio
  }

  /** `timeout` and `signal`, as child_process.spawn arms them after spawning. */
  #armKillers(request: SpawnRequest): void {
    const { killSignal, signal, timeout } = request
    if (timeout !== undefined && timeout > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined
        try {
          this.kill(killSignal)
        } catch (error) {
          this.emit('error', error as Error)
        }
      }, timeout)
    }
    if (signal !== undefined) {
      const onAbort = () => {
        this.#abortCleanup = undefined
        try {
          if (this.kill(killSignal)) this.emit('error', new AbortError(undefined, { cause: signal.reason }))
        } catch (error) {
          this.emit('error', error as Error)
        }
      }
      if (signal.aborted) {
        process.nextTick(onAbort)
      } else {
        signal.addEventListener('abort', onAbort, { once: true })
        this.#abortCleanup = () => signal.removeEventListener('abort', onAbort)
      }
    }
  }

  #disarmKillers(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#abortCleanup?.()
    this.#abortCleanup = undefined
  }

  /** Node's onexit for a spawn that failed: the errno as exitCode, `'error'`, then `'close'`. */
  #onSpawnError(errno: number): void {
    this.exitCode = errno
    this.stdin?.destroy()
    this.#disarmKillers()
    const error = uvException(errno, `spawn ${this.spawnfile}`) as NodeJS.ErrnoException & { spawnargs: string[] }
    error.path = this.spawnfile
    error.spawnargs = this.spawnargs.slice(1)
    this.#rejectExited(error)
    this.emit('error', error)
    process.nextTick(flushStdio, this)
    this.#maybeClose()
  }

  /**
   * Watches the pidfd for the child's exit; reaps it then, whoever listens. The events go
   * out on the next tick, as Node's do from its callbacks: after the 'spawn' tick queued at
   * spawn, and a throwing listener is an uncaught exception, not a rejected promise.
   */
  #watchExit(pidfd: Pidfd): void {
    pidfd.exited.then(
      (status) => {
        const reaped = this.#reap(status)
        process.nextTick(() => this.#onExit(reaped))
      },
      () => this.#onPidfdClosed(),
    )
  }

  /** Reaps the exited child (unless the user or the kernel did): its status. */
  #reap(status: ExitStatus): ExitStatus {
    const target = this.#target()
    if (!this.#running || this.#killOnClose || target === undefined) return status
    try {
      const info = native.waitid(target.fd, REAP_FLAGS)
      if (info !== null) return fromSiginfo(info.code, info.status)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ECHILD') throw error
    }
    return status
  }

  /**
   * {@link Subprocess.pidfd} is being closed while the child runs (its fd still open): keep
   * a pidfd of our own to reap the child and report its exit. A dup, which a Worker's
   * teardown hands to the reaper thread like the original. With `killOnClose` a dup would
   * keep the child alive: a second pidfd, opened by pid and confirmed to be the same
   * process (the kernel reaps such a child, so its pid may already name another).
   */
  #beforePidfdClose(): void {
    if (!this.#running || this.#own !== undefined) return
    const pidfd = this.#pidfd!
    try {
      if (!this.#killOnClose) {
        this.#own = Pidfd.fromFd(pidfd.fd)
        native.ownChild(this.#own.fd)
        return
      }
      const own = Pidfd.open(this.pid!)
      if (own.equals(pidfd)) return void (this.#own = own)
      own.close()
    } catch {
      // Out of fds (retried by pid in #onPidfdClosed), or with killOnClose, gone (ESRCH).
    }
    if (this.#killOnClose) this.#endedBeforeClose = endedStatus(pidfd.fd)
  }

  /** {@link Subprocess.pidfd} was closed while the child ran: watch our own pidfd instead. */
  #onPidfdClosed(): void {
    if (!this.#running) return
    if (this.#own === undefined && this.#killOnClose) {
      // Gone before its pidfd closed, or no fd left to follow it with.
      const status = this.#endedBeforeClose ?? unavailable('no fd was left to follow the child once its pidfd was closed (EMFILE)')
      return process.nextTick(() => this.#onExit(status))
    }
    if (this.#own === undefined) {
      // Out of fds when the pidfd closed. pidfd_open by pid is safe here: only this library
      // reaps the child, so until then its pid cannot name anyone else.
      try {
        this.#own = Pidfd.open(this.pid!)
        native.ownChild(this.#own.fd)
      } catch {
        this.#retry = setTimeout(() => this.#onPidfdClosed(), 50)
        if (!this.#ref) this.#retry.unref()
        return
      }
    }
    if (!this.#ref) this.#own.unref()
    this.#watchExit(this.#own)
  }

  /** The Pidfd on the running child: its own, or, once the user closed that, ours. */
  #target(): Pidfd | undefined {
    if (this.#pidfd !== undefined && !this.#pidfd.closed) return this.#pidfd
    return this.#own
  }

  /** The child has been reaped: Node's onexit. */
  #onExit(status: ExitStatus): void {
    if (!this.#running) return
    this.#running = false
    unreaped.delete(this)
    this.#release()
    this.#disarmKillers()
    // As Node reports it: a signal Node has no name for leaves signalCode null and the
    // exitCode 0 (libuv's exit_status for a signalled process); `exited` keeps the number.
    if (status.signal !== null) this.signalCode = status.signal
    else this.exitCode = status.code ?? (status.signalNumber !== null ? 0 : null)
    this.#resolveExited(status)
    this.stdin?.destroy()
    this.emit('exit', this.exitCode, this.signalCode)
    process.nextTick(flushStdio, this)
    this.#maybeClose()
  }

  /** Closes the pidfds (which stops their watches): the child is gone. */
  #release(): void {
    this.#pidfd?.close()
    this.#own?.close()
    this.#own = undefined
    clearTimeout(this.#retry)
  }

  #maybeClose(): void {
    if (++this.#closesGot === this.#closesNeeded) this.emit('close', this.exitCode, this.signalCode)
  }

  /**
   * The pidfd made with the child (`CLONE_PIDFD`), open from spawn until the child is
   * reaped (just before `'exit'`); undefined if spawning failed. Keep a copy past the exit
   * with `Pidfd.fromFd(subprocess.pidfd.fd)`. Closing it early is allowed: the child is
   * still reaped, and `kill()` still works.
   */
  get pidfd(): Pidfd | undefined {
    if (!(#exited in this)) throw invalidThis('Subprocess')
    return this.#pidfd
  }

  /**
   * Resolves with how the child ended once it has been reaped (right before `'exit'`);
   * rejects with the spawn error when spawning failed (the same error `'error'` gets; not
   * awaiting it is fine). Unlike `'exit'` it keeps the signal number of signals Node has no
   * name for, and whether a core was dumped.
   */
  get exited(): Promise<ExitStatus> {
    if (!(#exited in this)) throw invalidThis('Subprocess')
    return this.#exited
  }

  /**
   * Sends a signal to the child through its pidfd, as `ChildProcess#kill` does through its
   * pid: returns true if it was delivered, false if the child has already been reaped or
   * never started (no signal is sent then: never to pid 0). Sets {@link Subprocess.killed}.
   *
   * @param signal - A name (any case) or a number Node has a name for; 0 only checks.
   *   Default `'SIGTERM'`.
   * @throws `ERR_UNKNOWN_SIGNAL` for an unknown signal. EPERM arrives as an `'error'` event
   *   (`kill EPERM`), as in Node.
   */
  kill(signal?: NodeJS.Signals | number): boolean {
    const sig = signal === 0 ? 0 : convertToValidSignal(signal === undefined ? 'SIGTERM' : signal)
    const target = this.#target()
    // No pidfd left on a running child: killOnClose's, once its pidfd closed, is dying.
    if (!this.#running || target === undefined) return false
    try {
      target.sendSignal(sig)
    } catch (error) {
      const errno = (error as NodeJS.ErrnoException | null)?.errno
      if (typeof errno !== 'number') throw error
      const code = util.getSystemErrorName(errno)
      if (code === 'ESRCH') return false // already exited, not yet reaped: Node's "already dead"
      if (code === 'EINVAL' || code === 'ENOSYS') throw uvException(errno, 'kill')
      this.emit('error', uvException(errno, 'kill'))
      return false
    }
    this.killed = true
    return true
  }

  /** Lets a running child keep the event loop alive (the default). */
  ref(): void {
    this.#setRef(true)
  }

  /** Lets the program exit while the child runs; it is still reaped if it exits first. */
  unref(): void {
    this.#setRef(false)
  }

  #setRef(ref: boolean): void {
    this.#ref = ref
    if (!this.#running) return
    for (const pidfd of [this.#pidfd, this.#own]) {
      if (pidfd === undefined || pidfd.closed) continue
      if (ref) pidfd.ref()
      else pidfd.unref()
    }
    if (ref) this.#retry?.ref()
    else this.#retry?.unref()
  }

  /** `ChildProcess`'s `[Symbol.dispose]`: SIGTERM unless already killed. */
  [Symbol.dispose](): void {
    if (!this.killed) this.kill()
  }

  /** For `await using`: SIGTERM if still running, then waits until the child has been reaped. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#running) this.kill()
    await this.#exited.catch(() => {})
  }

  static {
    create = (request) => new Subprocess(kCreate, request)
    reapAtExit = (subprocess) => subprocess.#reapAtExit()
  }

  /**
   * A Worker is ending (its `process` 'exit'): reap what has exited. A child with
   * `killOnParentDeath` is about to get its signal from the kernel (the spawning thread
   * ends): send it now and wait briefly, so that nobody is left to reap it as a zombie.
   */
  #reapAtExit(): void {
    const target = this.#target()
    // killOnClose: the Worker's end closes the pidfd, the kernel kills and reaps the child.
    if (!this.#running || this.#killOnClose || target === undefined) return
    const fd = target.fd
    if (native.waitid(fd, REAP_FLAGS) !== null || this.#pdeathSignal === 0) return
    try {
      native.pidfdSendSignal(fd, this.#pdeathSignal, 0)
    } catch {
      return
    }
    const sleeper = new Int32Array(new SharedArrayBuffer(4))
    for (let waited = 0; waited < WORKER_EXIT_WAIT_MS; waited++) {
      if (native.waitid(fd, REAP_FLAGS) !== null) return
      Atomics.wait(sleeper, 0, 0, 1)
    }
  }
}

const kCreate = Symbol('Subprocess.create')

/**
 * native.spawn, and once more with CLONE_NNP where CLONE_PIDFD_AUTOKILL was refused for want
 * of CAP_SYS_ADMIN (EPERM before any process is made): the kernel takes it without the
 * capability when the child cannot gain privileges.
 */
function spawnChild(plan: SpawnPlan): { pid: number; pidfd: number } {
  try {
    return native.spawn(plan)
  } catch (error) {
    const { code, syscall } = error as NodeJS.ErrnoException
    if ((plan.flags & cloneFlags.CLONE_PIDFD_AUTOKILL) === 0n || code !== 'EPERM' || syscall !== 'clone3') throw error
    return native.spawn({ ...plan, flags: plan.flags | cloneFlags.CLONE_NNP })
  }
}

/** A killOnClose child gone before its pidfd closed: its status from PIDFD_INFO_EXIT. */
function endedStatus(fd: number): ExitStatus {
  try {
    const { exit } = getInfo(fd, constants.PIDFD_INFO_EXIT)
    if (exit !== undefined) return exit
  } catch {
    // ESRCH cannot happen on 7.1+ (exit information outlives the reap); nothing else to try.
  }
  return unavailable('the child ended as its pidfd was closed, and the kernel had no exit information for it yet')
}

/** Makes a Subprocess from a parsed request. @internal */
export function startSubprocess(request: SpawnRequest): Subprocess {
  return create(request)
}

function trackForWorkerExit(subprocess: Subprocess): void {
  unreaped.add(subprocess)
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const child of unreaped) {
      try {
        reapAtExit(child)
      } catch {
        // Best effort while the Worker ends.
      }
    }
  })
}

/** Node's flushStdio: streams nobody read are resumed so that they end and close. */
function flushStdio(subprocess: Subprocess): void {
  const stdio = subprocess.stdio
  if (stdio == null) return
  for (const stream of stdio) {
    if (stream !== null && (stream as Readable).readable) (stream as Readable).resume()
  }
}

/** What child_process does to a stream whose handle becomes a child's stdio: stop reading it here. */
function pauseWrapped(stream: object, handle: object): void {
  const wrap = handle as { reading?: boolean; readStop?: () => void }
  if (typeof wrap.readStop === 'function') {
    wrap.reading = false
    wrap.readStop()
  }
  const readable = stream as Partial<Readable> & { _readableState?: { reading: boolean } }
  if (typeof readable.pause === 'function') {
    readable.pause()
    ;(readable as { readableFlowing: boolean | null }).readableFlowing = false
    if (readable._readableState !== undefined) readable._readableState.reading = false
  }
}

/** Opens a cgroup v2 directory for `CLONE_INTO_CGROUP` (O_CLOEXEC); fs's errors as they are. */
function openCgroup(dir: string): number {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY)
  let magic: number
  try {
    magic = native.fstatfs(fd)
  } catch (error) {
    fs.closeSync(fd)
    throw error
  }
  if (magic !== CGROUP2_SUPER_MAGIC) {
    fs.closeSync(fd)
    throw invalidArgValue('options.cgroup', dir, 'is not a cgroup v2 directory')
  }
  return fd
}

/** `CGROUP2_SUPER_MAGIC`, the `f_type` of a cgroup v2 filesystem. */
const CGROUP2_SUPER_MAGIC = 0x63677270
