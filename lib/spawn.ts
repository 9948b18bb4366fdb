/**
 * `spawn()`'s options: `child_process.spawn`'s validation and normalisation, in Node 20's
 * order and with its errors (`normalizeSpawnArguments` in lib/child_process.js and
 * `getValidStdio` in lib/internal/child_process.js), plus this library's own options, turned
 * into a {@link SpawnRequest}: everything the native `spawn(plan)` needs except the pipes,
 * which {@link Subprocess} makes once nothing is left to refuse.
 * @packageDocumentation
 */
import type * as childProcess from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import url from 'node:url'
import util from 'node:util'
import os from 'node:os'
import { invalidArgType, invalidArgValue, nodeError, outOfRange } from './errors'
import { requireFeature } from './features'
import { toSignalNumber } from './signals'
import { INT32_MAX } from './validate'
import { convertToValidSignal, startSubprocess, type Subprocess } from './subprocess'

/** What one child fd gets, in `child_process`'s words. */
export type StdioSlot =
  /** A new socketpair; the parent's end becomes a `net.Socket`. */
  | { type: 'pipe' }
  /** /dev/null for 0-2, closed above (as libuv does). */
  | { type: 'ignore' }
  /** A copy of this process's fd. */
  | { type: 'fd'; fd: number }
  /** A copy of a Node handle's fd (a `net.Socket`, a TTY, ...), whose reading is paused, as Node does. */
  | { type: 'wrap'; fd: number; stream: object; handle: object }

/**
 * The `stdio` option, typed as `child_process` types it: a shorthand for fds 0-2, or one
 * entry per child fd. (`{ fd: number }` objects work too, as in Node; `'ipc'` is refused.)
 */
export type StdioOptions = childProcess.StdioOptions

/**
 * Options of {@link spawn}: `child_process.spawn`'s (except IPC), with the same meaning, and
 * a few that only a native spawn can offer.
 */
export interface SpawnOptions {
  /** Working directory of the child (a path or a `file:` URL; a Buffer works too). Default: this process's. */
  cwd?: string | URL
  /** The child's environment. Default `process.env`. Values that are `undefined` are left out. */
  env?: NodeJS.ProcessEnv
  /** The child's `argv[0]`. Default: `file` (or the shell). */
  argv0?: string
  /**
   * The child's fds, as in `child_process`: `'pipe'` (default), `'overlapped'` (the same on
   * Linux), `'ignore'`, `'inherit'`, an fd number, a stream or handle with an fd, or
   * null/undefined (a pipe for 0-2, nothing above); an array can list fds past 2. `'ipc'` is
   * refused: IPC channels are out of scope.
   */
  stdio?: StdioOptions
  /** Runs the child in a new session (`setsid(2)`), as `child_process` does on Unix. Same as `newSession`. */
  detached?: boolean
  /** The child's user id (`setuid(2)`, after `setgroups(0)`). */
  uid?: number
  /** The child's group id (`setgid(2)`). */
  gid?: number
  /** Runs the command line through a shell: `true` for `/bin/sh`, or a shell's path. `-c` and the arguments joined by spaces, as Node does. */
  shell?: boolean | string
  /** Aborting it kills the child with `killSignal` and emits an `AbortError` on `'error'`. */
  signal?: AbortSignal
  /** Kills the child with `killSignal` after this many ms. Default: never. */
  timeout?: number
  /** The signal `timeout` and `signal` send. Default `'SIGTERM'`. */
  killSignal?: NodeJS.Signals | number
  /** Accepted and ignored, as on Linux. */
  windowsHide?: boolean
  /** Accepted and ignored, as on Linux. */
  windowsVerbatimArguments?: boolean
  /** Validated as Node does; without `'ipc'` (refused here) it means nothing, in Node too. */
  serialization?: 'json' | 'advanced'
  /**
   * Puts the child in a process group (`setpgid(2)` before exec): `true` makes it lead a new
   * one (its pgid is its pid), a number joins that group. Cannot be combined with
   * `newSession`/`detached`, which already make it lead a new group.
   */
  processGroup?: boolean | number
  /** Runs the child in a new session (`setsid(2)`): what `detached` means. */
  newSession?: boolean
  /**
   * `PR_SET_PDEATHSIG`: the child gets this signal (`true`: SIGKILL) when the *thread* that
   * spawned it ends: the main thread's end is the process's, a Worker's thread ends with
   * the Worker. Checked against the parent's pid right after it is set, so a parent that
   * died first is noticed. The kernel clears it when the program is set-user-ID or
   * set-group-ID.
   */
  killOnParentDeath?: boolean | NodeJS.Signals | number
  /**
   * A cgroup v2 directory the child starts in (`CLONE_INTO_CGROUP`, Linux 5.7): it is in
   * that cgroup before its first instruction. An absolute path is taken as it is; a relative
   * one is resolved against the cgroup v2 mount (found in /proc/self/mountinfo, e.g.
   * `/sys/fs/cgroup` or `/sys/fs/cgroup/unified`).
   */
  cgroup?: string
  /**
   * Kill-on-last-close (Linux 7.1: `CLONE_PIDFD_AUTOKILL` with `CLONE_AUTOREAP`): the kernel
   * SIGKILLs the child when the last reference to {@link Subprocess.pidfd}'s open file goes:
   * when it is closed (also by `'exit'` handling, which only happens once the child is
   * gone), or when this process ends in any way, `kill -9` included. A copy made with
   * `Pidfd.fromFd(subprocess.pidfd.fd)` (a dup) keeps the child alive; a pidfd opened with
   * `Pidfd.open(pid)` does not. In a Worker, the Worker's end closes it.
   *
   * The kernel reaps the child itself (`waitid` says ECHILD); `exited` and `'exit'` still
   * report how it ended, from `PIDFD_INFO_EXIT`. Unless this process has `CAP_SYS_ADMIN`,
   * the child also gets no_new_privs (`CLONE_NNP`, which the kernel requires then):
   * set-user-ID programs do not gain privileges in it.
   *
   * Throws `ERR_PIDFD_UNSUPPORTED` (`feature: 'autoKill'`, `since: '7.1'`) where the kernel
   * lacks it: there is no fallback that keeps the promise.
   */
  killOnClose?: boolean
}

/** Everything {@link Subprocess} needs to make one child. @internal */
export interface SpawnRequest {
  /** `spawnfile`: the file, or the shell. */
  file: string
  /** `spawnargs`: argv, argv[0] included. */
  args: string[]
  /** Candidates to execve, in order (PATH searched). */
  paths: string[]
  env: string[]
  cwd: string | null
  stdio: StdioSlot[]
  /** Node's uid/gid option (an int32), or null. */
  uid: number | null
  gid: number | null
  setsid: boolean
  pgid: number
  pdeathSignal: number
  killOnClose: boolean
  cgroup: string | null
  timeout: number | undefined
  killSignal: number
  signal: AbortSignal | undefined
  method: number
}

/** `execvp`'s PATH when the environment has none (glibc's `_CS_PATH`). */
const DEFAULT_PATH = '/bin:/usr/bin'

/** Values of `plan.method` by name, for `PIDFD_SPAWN_METHOD`. */
const methods: Readonly<Record<string, number>> = { auto: 0, clone3: 1, clone: 2, posix_spawn: 3 }

let spawnMethod = methodFromEnv(process.env.PIDFD_SPAWN_METHOD)

function methodFromEnv(value: string | undefined): number {
  if (value === undefined || value === '') return 0
  const method = Object.hasOwn(methods, value) ? methods[value]! : Number(value)
  if (Number.isInteger(method) && method >= 0 && method <= 3) return method
  process.emitWarning(`Ignoring PIDFD_SPAWN_METHOD=${value}: use auto, clone3, clone or posix_spawn`, { code: 'PIDFD_SPAWN_METHOD' })
  return 0
}

/**
 * Forces how children are made, for tests of each fallback: `'clone3'`, `'clone'` (glibc's
 * clone() with CLONE_PIDFD), `'posix_spawn'` (+ pidfd_open), or `'auto'` (the best that
 * works). Also read once from `PIDFD_SPAWN_METHOD` at load.
 * @internal
 */
export function setSpawnMethod(method: 'auto' | 'clone3' | 'clone' | 'posix_spawn'): void {
  if (!Object.hasOwn(methods, method)) throw invalidArgValue('method', method, "must be one of: 'auto', 'clone3', 'clone', 'posix_spawn'")
  spawnMethod = methods[method]!
}

/**
 * The method {@link setSpawnMethod} (or `PIDFD_SPAWN_METHOD`) forced, `'auto'` if none: so
 * that a caller can force one for a single spawn() and put the previous one back.
 * @internal
 */
export function getSpawnMethod(): 'auto' | 'clone3' | 'clone' | 'posix_spawn' {
  return Object.keys(methods).find((name) => methods[name] === spawnMethod) as 'auto' | 'clone3' | 'clone' | 'posix_spawn'
}

/**
 * Starts `file` as a child process with its pidfd, made in one step: a drop-in for
 * `child_process.spawn` (same options, validation errors, object surface and events), with
 * a {@link Subprocess.pidfd} that can never signal a recycled pid, an {@link Subprocess.exited}
 * promise, and children reaped by this library as soon as they exit.
 *
 * Spawning does not copy this process's page tables (`CLONE_VM | CLONE_VFORK`), so it costs
 * the same whatever the heap size. As with `child_process`, a missing file or cwd, a file
 * without execute permission and running out of fds or processes arrive as an `'error'`
 * event; other failures throw.
 *
 * @example
 * ```ts
 * import { spawn } from 'pidfd'
 *
 * const child = spawn('ls', ['-l'], { stdio: ['ignore', 'pipe', 'inherit'] })
 * child.stdout.pipe(process.stdout)
 * const { code, signal } = await child.exited
 * ```
 */
export function spawn(file: string, options?: SpawnOptions): Subprocess
export function spawn(file: string, args?: readonly string[] | null, options?: SpawnOptions): Subprocess
export function spawn(file: string, args?: readonly string[] | SpawnOptions | null, options?: SpawnOptions): Subprocess {
  return startSubprocess(parseSpawnArguments(file, args, options))
}

function validateString(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value)
}

function validateBooleanOption(value: unknown, name: string): void {
  if (typeof value !== 'boolean') throw invalidArgType(name, 'of type boolean', value)
}

/** Node's validateArgumentNullCheck: strings only. */
function nullCheck(value: unknown, name: string): void {
  if (typeof value === 'string' && value.includes('\u0000')) throw invalidArgValue(name, value, 'must be a string without null bytes')
}

/** Node's isInt32. */
function isInt32(value: unknown): value is number {
  return value === ((value as number) | 0)
}

/** Node's isURL: the duck test toPathIfFileURL applies. */
function isURL(value: unknown): value is URL {
  const candidate = value as { href?: unknown; protocol?: unknown; auth?: unknown; path?: unknown } | null | undefined
  return Boolean(candidate?.href && candidate.protocol && candidate.auth === undefined && candidate.path === undefined)
}

/**
 * `child_process.spawn`'s argument handling, check for check and in the same order, then
 * this library's options.
 * @internal
 */
export function parseSpawnArguments(file: unknown, argsArg: unknown, optionsArg: unknown): SpawnRequest {
  // normalizeSpawnArguments
  validateString(file, 'file')
  nullCheck(file, 'file')
  if (file.length === 0) throw invalidArgValue('file', file, 'cannot be empty')
  let args: unknown[]
  let options = optionsArg
  if (Array.isArray(argsArg)) {
    args = argsArg.slice()
  } else if (argsArg == null) {
    args = []
  } else if (typeof argsArg !== 'object') {
    throw invalidArgType('args', 'of type object', argsArg)
  } else {
    options = argsArg
    args = []
  }
  for (let i = 0; i < args.length; i++) nullCheck(args[i], `args[${i}]`)
  if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) {
    throw invalidArgType('options', 'of type object', options)
  }
  // Own enumerable properties only, each read once, as Node's spread copy does.
  const opts: Record<string, unknown> = { __proto__: null, ...(options as object | undefined) }
  let cwd: unknown = opts.cwd
  if (cwd != null) {
    if (isURL(cwd)) cwd = url.fileURLToPath(cwd)
    if (typeof cwd !== 'string' && !util.types.isUint8Array(cwd)) throw invalidArgType('options.cwd', 'of type string or an instance of Buffer or URL', cwd)
    if (typeof cwd === 'string' ? cwd.includes('\u0000') : (cwd as Uint8Array).includes(0)) {
      throw invalidArgValue('options.cwd', cwd, 'must be a string, Uint8Array, or URL without null bytes')
    }
  }
  if (opts.detached != null) validateBooleanOption(opts.detached, 'options.detached')
  if (opts.uid != null && !isInt32(opts.uid)) throw invalidArgType('options.uid', 'int32', opts.uid)
  if (opts.gid != null && !isInt32(opts.gid)) throw invalidArgType('options.gid', 'int32', opts.gid)
  const shell = opts.shell
  if (shell != null && typeof shell !== 'boolean' && typeof shell !== 'string') {
    throw invalidArgType('options.shell', 'one of type boolean or string', shell)
  }
  if (opts.argv0 != null) {
    validateString(opts.argv0, 'options.argv0')
    nullCheck(opts.argv0, 'options.argv0')
  }
  if (opts.windowsHide != null) validateBooleanOption(opts.windowsHide, 'options.windowsHide')
  if (opts.windowsVerbatimArguments != null) validateBooleanOption(opts.windowsVerbatimArguments, 'options.windowsVerbatimArguments')
  let spawnfile = file
  if (shell) {
    nullCheck(shell, 'options.shell')
    const command = [file, ...args].join(' ')
    spawnfile = typeof shell === 'string' ? shell : '/bin/sh'
    args = ['-c', command]
  }
  args.unshift(typeof opts.argv0 === 'string' ? opts.argv0 : spawnfile)
  const env = environment(opts.env)

  // spawn()
  const timeout = opts.timeout
  if (timeout != null && !(Number.isInteger(timeout) && (timeout as number) >= 0)) throw outOfRange('timeout', 'an unsigned integer', timeout)
  const signal = opts.signal
  if (signal !== undefined && (signal === null || typeof signal !== 'object' || !('aborted' in signal))) {
    throw invalidArgType('options.signal', 'an instance of AbortSignal', signal)
  }
  const killSignalOption = opts.killSignal
  let killSignal = os.constants.signals.SIGTERM
  if (typeof killSignalOption === 'string' || typeof killSignalOption === 'number') killSignal = convertToValidSignal(killSignalOption)
  else if (killSignalOption != null) throw invalidArgType('options.killSignal', 'one of type string or number', killSignalOption)

  // ChildProcess.prototype.spawn
  const stdio = parseStdio(opts.stdio || 'pipe')
  const serialization = opts.serialization
  if (serialization !== undefined && serialization !== 'json' && serialization !== 'advanced') {
    throw invalidArgValue('options.serialization', serialization, "must be one of: undefined, 'json', 'advanced'")
  }
  // V8's ToString, as the native layer of child_process converts each argument (a hole of
  // a sparse array too: Array.from visits it, map would skip it).
  const argv = Array.from(args, (arg) => `${arg as string}`)

  // This library's options.
  const newSession = opts.newSession
  if (newSession !== undefined) validateBooleanOption(newSession, 'options.newSession')
  const setsid = opts.detached === true || newSession === true
  const pgid = parseProcessGroup(opts.processGroup, setsid)
  const pdeathSignal = parseKillOnParentDeath(opts.killOnParentDeath)
  const killOnClose = opts.killOnClose
  if (killOnClose !== undefined) validateBooleanOption(killOnClose, 'options.killOnClose')
  const cgroup = opts.cgroup
  if (cgroup !== undefined) {
    validateString(cgroup, 'options.cgroup')
    nullCheck(cgroup, 'options.cgroup')
    if (cgroup.length === 0) throw invalidArgValue('options.cgroup', cgroup, 'cannot be empty')
  }

  // An empty cwd means none, as in child_process. A Buffer or Uint8Array one is a UTF-8 path
  // here; child_process 20 validates it and then ignores it.
  const cwdString = cwd == null ? '' : typeof cwd === 'string' ? cwd : Buffer.from(cwd as Uint8Array).toString()
  if (killOnClose === true) requireFeature('autoKill')
  return {
    file: spawnfile,
    args: argv,
    paths: searchPath(spawnfile, env),
    env,
    cwd: cwdString === '' ? null : cwdString,
    stdio,
    uid: opts.uid == null ? null : (opts.uid as number),
    gid: opts.gid == null ? null : (opts.gid as number),
    setsid,
    pgid,
    pdeathSignal,
    killOnClose: killOnClose === true,
    cgroup: cgroup === undefined ? null : cgroupPath(cgroup),
    timeout: timeout == null ? undefined : (timeout as number),
    killSignal,
    signal: signal as AbortSignal | undefined,
    method: spawnMethod,
  }
}

/** The `NAME=value` pairs, as normalizeSpawnArguments builds them (prototype keys included). */
function environment(envOption: unknown): string[] {
  const env = (envOption || process.env) as Record<string, unknown>
  const pairs: string[] = []
  for (const key in env) {
    const value = env[key]
    if (value !== undefined) {
      nullCheck(key, `options.env['${key}']`)
      nullCheck(value, `options.env['${key}']`)
      pairs.push(`${key}=${value as string}`)
    }
  }
  // NODE_V8_COVERAGE always reaches the child, so that coverage of a program that spawns
  // with a chosen environment still works (Node does this too).
  const coverage = process.env.NODE_V8_COVERAGE
  if (coverage && envOption && !Object.hasOwn(envOption, 'NODE_V8_COVERAGE')) {
    const at = pairs.findIndex((pair) => pair.startsWith('NODE_V8_COVERAGE='))
    if (at >= 0) pairs.splice(at, 1)
    pairs.push(`NODE_V8_COVERAGE=${coverage}`)
  }
  return pairs
}

/** The one-entry memo of {@link searchPath}: the same PATH is split once. */
let lastPath: { value: string; dirs: string[] } | undefined

/**
 * execvp's candidates for `file`: itself if it contains a slash, else each PATH entry joined
 * with it (an empty entry: the file itself, relative to the child's cwd). PATH is what the
 * child's getenv would see: the first `PATH=` entry of its environment, else glibc's default.
 */
export function searchPath(file: string, env: readonly string[]): string[] {
  if (file.includes('/')) return [file]
  let value = DEFAULT_PATH
  for (const pair of env) {
    if (pair.startsWith('PATH=')) {
      value = pair.slice(5)
      break
    }
  }
  if (lastPath?.value !== value) lastPath = { value, dirs: value.split(':') }
  return lastPath.dirs.map((dir) => (dir === '' ? file : `${dir}/${file}`))
}

/** getValidStdio (asynchronous spawn): each entry as a {@link StdioSlot}; 'ipc' refused. */
function parseStdio(option: unknown): StdioSlot[] {
  let entries: unknown[]
  if (typeof option === 'string') {
    switch (option) {
      case 'ignore':
      case 'overlapped':
      case 'pipe':
        entries = [option, option, option]
        break
      case 'inherit':
        entries = [0, 1, 2]
        break
      default:
        throw invalidArgValue('stdio', option, 'is invalid')
    }
  } else if (Array.isArray(option)) {
    entries = option.slice() // Node pads the caller's array; this one is ours
  } else {
    throw invalidArgValue('stdio', option, 'is invalid')
  }
  while (entries.length < 3) entries.push(undefined)
  const slots: StdioSlot[] = []
  for (let i = 0; i < entries.length; i++) {
    let entry = entries[i]
    if (entry == null) entry = i < 3 ? 'pipe' : 'ignore'
    if (entry === 'ignore') {
      slots.push({ type: 'ignore' })
    } else if (entry === 'pipe' || entry === 'overlapped' || (typeof entry === 'number' && entry < 0)) {
      slots.push({ type: 'pipe' })
    } else if (entry === 'ipc') {
      throw invalidArgValue(`stdio[${i}]`, entry, "is not supported: spawn() has no IPC channel (use child_process.fork or spawn for 'ipc')")
    } else if (entry === 'inherit') {
      slots.push({ type: 'fd', fd: i })
    } else if (typeof entry === 'number' || typeof (entry as { fd?: unknown }).fd === 'number') {
      // Int32, as the native layer of child_process reads it.
      slots.push({ type: 'fd', fd: (typeof entry === 'number' ? entry : (entry as { fd: number }).fd) | 0 })
    } else {
      const handle = wrapHandle(entry)
      if (handle !== undefined) {
        slots.push({ type: 'wrap', fd: handle.fd, stream: entry as object, handle })
      } else if (util.types.isArrayBufferView(entry) || typeof entry === 'string') {
        throw nodeError(TypeError, 'ERR_INVALID_SYNC_FORK_INPUT', `Asynchronous forks do not support Buffer, TypedArray, DataView or string input: ${util.inspect(entry)}`)
      } else {
        throw invalidArgValue('stdio', entry, 'is invalid')
      }
    }
  }
  return slots
}

/** Node's libuv handle classes that can be a child's stdio ('wrap'). */
const wrapTypes = new Set(['Pipe', 'TTY', 'TCP', 'UDP'])

function isWrap(value: unknown): value is { fd: number } {
  return typeof value === 'object' && value !== null && wrapTypes.has((value as object).constructor?.name) && typeof (value as { fd?: unknown }).fd === 'number'
}

/** getHandleWrapType's search: the entry itself, its `handle`, or its `_handle`. */
function wrapHandle(entry: unknown): { fd: number } | undefined {
  if (isWrap(entry)) return entry
  const { handle, _handle } = entry as { handle?: unknown; _handle?: unknown }
  if (isWrap(handle)) return handle
  if (isWrap(_handle)) return _handle
  return undefined
}

/** `processGroup` as a `plan.pgid`: 0 leads a new group, -1 none. */
function parseProcessGroup(value: unknown, setsid: boolean): number {
  if (value === undefined || value === false) return -1
  if (value !== true && typeof value !== 'number') throw invalidArgType('options.processGroup', 'one of type boolean or number', value)
  if (setsid) {
    throw invalidArgValue('options.processGroup', value, 'cannot be combined with newSession or detached (a new session already makes the child lead a new process group)')
  }
  if (value === true) return 0
  if (!Number.isInteger(value)) throw outOfRange('options.processGroup', 'an integer', value)
  if (value < 1 || value > INT32_MAX) throw outOfRange('options.processGroup', `>= 1 && <= ${INT32_MAX}`, value)
  return value
}

/** `killOnParentDeath` as a `plan.pdeathSignal`: 0 for none. */
function parseKillOnParentDeath(value: unknown): number {
  if (value === undefined || value === false) return 0
  if (value === true) return os.constants.signals.SIGKILL
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw invalidArgType('options.killOnParentDeath', 'one of type boolean, string, or number', value)
  }
  const signal = toSignalNumber(value, 'options.killOnParentDeath')
  if (signal === 0) throw outOfRange('options.killOnParentDeath', 'a signal, not 0', value)
  return signal
}

/** The cgroup v2 mount point, read once from /proc/self/mountinfo; null if there is none. */
let cgroup2Mount: string | null | undefined

/**
 * Where cgroup v2 is mounted in this mount namespace: the first `cgroup2` line of
 * /proc/self/mountinfo (`/sys/fs/cgroup` on pure v2 systems, `/sys/fs/cgroup/unified` on
 * hybrid ones).
 * @internal
 */
export function findCgroup2Mount(): string | null {
  if (cgroup2Mount !== undefined) return cgroup2Mount
  cgroup2Mount = null
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'latin1').split('\n')) {
    // id parent major:minor root mount-point options [optional...] - fstype source super-options
    const fields = line.split(' ')
    const separator = fields.indexOf('-')
    if (separator > 0 && fields[separator + 1] === 'cgroup2') {
      // mountinfo escapes space, tab, newline and backslash as \ooo.
      cgroup2Mount = fields[4]!.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))
      break
    }
  }
  return cgroup2Mount
}

function cgroupPath(cgroup: string): string {
  if (path.isAbsolute(cgroup)) return cgroup
  const mount = findCgroup2Mount()
  if (mount === null) throw invalidArgValue('options.cgroup', cgroup, 'is relative, and no cgroup v2 hierarchy is mounted here')
  return path.join(mount, cgroup)
}
