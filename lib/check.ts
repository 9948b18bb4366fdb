/**
 * `pidfd check`: a battery of checks of what the running kernel really does with pidfds,
 * each on real processes, built on this package's public API.
 * @packageDocumentation
 */
import { type ChildProcess, type ChildProcessByStdio, spawn } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import path from 'node:path'
import type { Readable, Writable } from 'node:stream'
import { constants } from './constants'
import { type FeatureName, featureInfo, features, unsupportedReason } from './features'
import { Pidfd } from './pidfd'
import { findCgroup2Mount, getSpawnMethod, setSpawnMethod, type SpawnOptions, spawn as spawnSubprocess } from './spawn'
import type { Subprocess } from './subprocess'

/**
 * The outcome of one check. `error`: the check could not set itself up (a helper process
 * could not start, fds ran out), which says nothing about the kernel.
 */
export type CheckStatus = 'pass' | 'fail' | 'unsupported' | 'error'

/** One check's result, as `pidfd check --json` prints it. */
export interface CheckResult {
  /** Stable id, e.g. `identity.exec`; `--require` accepts it. */
  id: string
  /** What the check verifies, in a sentence. */
  title: string
  status: CheckStatus
  /** With `fail`: what the kernel should have done, and what it did. */
  expected?: string
  observed?: string
  /** With `unsupported` for want of a kernel feature: the feature and the first Linux release that has it. */
  feature?: FeatureName
  since?: string
  /**
   * With `unsupported`: why, in a few words (`'needs Linux 6.13'`, `'blocked (EPERM from
   * pidfd_getfd)'`); with `error`: what went wrong (`'EMFILE: spawn /usr/bin/node EMFILE'`).
   */
  reason?: string
  durationMs: number
}

/** Thrown by a check whose expectation the kernel did not meet. */
class CheckFailure extends Error {
  constructor(
    readonly expected: string,
    readonly observed: string,
  ) {
    super(`expected ${expected}, observed ${observed}`)
  }
}

/** Thrown when a check cannot set itself up: it reports `error`, not `fail`. */
class SetupError extends Error {}

/**
 * Thrown when a check finds, while running, that it cannot run here: it reports
 * `unsupported` with the reason, and with the feature (and its release) if one is missing.
 */
class Unsupported extends Error {
  constructor(
    readonly reason: string,
    readonly feature?: FeatureName,
  ) {
    super(reason)
  }
}

/**
 * Errnos that say this machine ran out of something, not what the kernel does with pidfds.
 * (EAGAIN is not one: a nonblocking pidfd answers it; a fork that fails with it is a
 * {@link SetupError}.)
 */
const exhausted = new Set(['EMFILE', 'ENFILE', 'ENOMEM'])

/** `CODE: message` of an error (a spawn error's message already names the file). */
function describeError(error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException
  return code === undefined ? String(message ?? error) : `${code}: ${message}`
}

/** Fails unless observed equals expected (compared as JSON; bigints as strings). */
function expectEqual(observed: unknown, expected: unknown, what = ''): void {
  const show = (value: unknown) => JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(value)
  if (show(observed) !== show(expected)) throw new CheckFailure(`${what}${show(expected)}`, `${what}${show(observed)}`)
}

/** Fails unless `attempt` throws an error with one of the codes (running out of fds is no failure). */
function expectCode(attempt: () => unknown, codes: string[], what: string): void {
  try {
    attempt()
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error)
    if (codes.includes(code)) return
    if (exhausted.has(code)) throw error
    throw new CheckFailure(`${what} to fail with ${codes.join(' or ')}`, code)
  }
  throw new CheckFailure(`${what} to fail with ${codes.join(' or ')}`, 'success')
}

// Helpers run this very Node binary, never a PATH lookup: minimal containers have no
// `sleep`, `true` or `sh`. Node takes ~110 ms to boot a script, so no check waits for a
// helper's script unless it must: a process that exits is a sleeper killed at once, and a
// bad option makes Node exit 9 within ~15 ms, before any script runs.

/** Exits 9 at once: Node's exit status for a bad option. */
const EXITS_9 = ['--pidfd-check-bad-option']
/** Sleeps until killed at cleanup; gives up after 30 s, or once this process is gone (stdin closes). */
const SLEEPS = ['-e', "setTimeout(() => {}, 30000); process.stdin.on('end', () => process.exit()).resume()"]
/**
 * Starts an {@link EXITS_9} child and prints its pid (or `error CODE`), then blocks reading
 * stdin, so that the child stays an unreaped zombie until told (a line on stdin); then it
 * reaps the child, as any parent would, and sleeps.
 */
const PARENT_OF_ZOMBIE = [
  '-e',
  `const child = require('node:child_process').spawn(process.execPath, ${JSON.stringify(EXITS_9)}, { stdio: 'ignore' })
if (child.pid === undefined) child.on('error', (error) => { console.log('error ' + error.code); process.exit(1) })
else {
  console.log(child.pid)
  if (require('node:fs').readSync(0, Buffer.alloc(1)) === 0) process.exit()
  ${SLEEPS[1]}
}`,
]

/** `process.execve` (Node 22.15+, 23.11+), when this Node has it. */
const execve = (process as { execve?: (file: string, args: string[]) => never }).execve

/**
 * How a helper can exec after its pidfd is opened, and after a line on stdin: through
 * `process.execve`, else through `/bin/sh` (by absolute path: not PATH); undefined if neither.
 */
function execer(): readonly string[] | undefined {
  const then = [process.execPath, ...SLEEPS]
  if (execve !== undefined) {
    return [process.execPath, '-e', `process.stdin.once('data', () => process.execve(process.execPath, ${JSON.stringify(then)}))`]
  }
  try {
    fs.accessSync('/bin/sh', fs.constants.X_OK)
    return ['/bin/sh', '-c', 'read go && exec "$@"', 'sh', ...then]
  } catch {
    return undefined
  }
}

/** The environment of helpers, without NODE_OPTIONS (a `--require` would slow every helper down). */
function helperEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  return env
}

/** A helper process and a pidfd on it, opened before anything could reap it. */
interface Helper {
  child: ChildProcessByStdio<Writable, Readable, null> & { pid: number }
  pidfd: Pidfd
}

/** Everything a check starts, so that it is cleaned up whatever happens. */
class Scope {
  readonly children = new Set<ChildProcess>()
  /** Children made with this package's own spawn() (the `spawn.*` checks). */
  readonly subprocesses = new Set<Subprocess>()
  readonly pidfds = new Set<Pidfd>()
  /** Run by {@link Scope.cleanup} once every child is reaped (removing a cgroup it was in). */
  readonly deferred: Array<() => void> = []
  /** Set by {@link Scope.cleanup}: a check that goes on afterwards (on SIGINT) starts nothing more. */
  closed = false

  /**
   * Starts `file` (this Node binary unless said otherwise) with `args`, stdin and stdout
   * piped, and opens a pidfd on it before anything could reap it.
   * @throws SetupError if it cannot start (ENOENT, EMFILE, EAGAIN, ...), with the spawn
   *   error's code and message.
   */
  async start(args: readonly string[], file = process.execPath): Promise<Helper> {
    if (this.closed) throw new SetupError('interrupted')
    let child: ChildProcessByStdio<Writable, Readable, null>
    try {
      child = spawn(file, args, { stdio: ['pipe', 'pipe', 'ignore'], env: helperEnv() })
    } catch (error) {
      throw new SetupError(describeError(error)) // ENOMEM and the like are thrown, not emitted
    }
    this.children.add(child)
    // A child that could not start has no pid and gets an 'error' event on the next tick.
    if (child.pid === undefined) {
      const [error] = (await once(child, 'error')) as [Error]
      throw new SetupError(describeError(error))
    }
    child.stdin.on('error', () => {}) // EPIPE: the helper exited, as some are meant to
    return { child: child as Helper['child'], pidfd: this.track(Pidfd.fromChildProcess(child)) }
  }

  /** A child that sleeps until the check is over. */
  sleeper(): Promise<Helper> {
    return this.start(SLEEPS)
  }

  /** A child that exits at once: killed, which is quicker than any program ending itself. */
  async exiting(): Promise<Helper> {
    const helper = await this.sleeper()
    helper.pidfd.sendSignal('SIGKILL')
    return helper
  }

  track(pidfd: Pidfd): Pidfd {
    this.pidfds.add(pidfd)
    return pidfd
  }

  /** Kills what the check started, waits until Node has reaped it, and closes every pidfd. */
  async cleanup(): Promise<void> {
    this.closed = true
    // Only a child with a pid is signalled: ChildProcess.kill() without one signals pid 0,
    // our whole process group. One with a pid has not been reaped (Node reaps it and sets
    // exitCode or signalCode at once), so its pid is still its own.
    const running = [...this.children].filter((c) => c.pid !== undefined && c.exitCode === null && c.signalCode === null)
    for (const child of running) child.kill('SIGKILL')
    // A Subprocess is signalled through its pidfd; its exited settles once it is reaped.
    const spawned = [...this.subprocesses].filter((c) => c.pid !== undefined && c.exitCode === null && c.signalCode === null)
    for (const child of spawned) child.kill('SIGKILL')
    await Promise.all([...running.map((child) => once(child, 'exit')), ...spawned.map((child) => child.exited.catch(() => {}))])
    for (const child of this.subprocesses) for (const stream of child.stdio ?? []) stream?.destroy()
    this.subprocesses.clear()
    for (const pidfd of this.pidfds) pidfd.close()
    this.pidfds.clear()
    for (const undo of this.deferred.splice(0)) {
      try {
        undo()
      } catch {
        // Best effort, as killing is: nothing more can be done about it here.
      }
    }
  }
}

/**
 * The first line a helper prints ('' if it exits first).
 * @throws SetupError after 5 s: a helper can hang while starting (Node does when it cannot
 *   create its threads, under RLIMIT_NPROC).
 */
async function firstLine(child: { readonly stdout: Readable | null }, timeoutMs = 5000): Promise<string> {
  const read = async () => {
    let text = ''
    for await (const chunk of child.stdout!) {
      text += String(chunk)
      if (text.includes('\n')) break
    }
    return text.split('\n')[0]!
  }
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SetupError(`the helper printed nothing within ${timeoutMs / 1000} s`)), timeoutMs)
  })
  try {
    return await Promise.race([read(), late])
  } finally {
    clearTimeout(timer)
  }
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4))

/** Blocks (Node cannot reap meanwhile) until the process has exited: it is a zombie then. */
function blockUntilExited(pidfd: Pidfd, timeoutMs = 5000): void {
  const deadline = Date.now() + timeoutMs
  while (!pidfd.hasExited()) {
    if (Date.now() > deadline) throw new CheckFailure('the process to exit', 'still running')
    Atomics.wait(sleepCell, 0, 0, 1)
  }
}

async function reaped(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) await once(child, 'exit')
}

// ---- the spawn.* checks: children made by this package's spawn() ----------------------

/** Release `a` is at least `b` ('5.10' style). */
function atLeast(a: string, b: string): boolean {
  const [aMajor, aMinor] = a.split('.').map(Number) as [number, number]
  const [bMajor, bMinor] = b.split('.').map(Number) as [number, number]
  return aMajor > bMajor || (aMajor === bMajor && aMinor >= bMinor)
}

/** The newest release the kernel is shown to be by {@link features} ('0.0' if none). */
function shownRelease(): string {
  const found = features()
  let newest = '0.0'
  for (const name of Object.keys(featureInfo) as FeatureName[]) {
    if (found[name] && atLeast(featureInfo[name].since, newest)) newest = featureInfo[name].since
  }
  return newest
}

/**
 * What a spawn that the kernel or a seccomp filter refused means, in features.ts's words:
 * EPERM or EACCES is a block; ENOSYS is one where `syscall` is shown to exist, else maybe an
 * older kernel; EINVAL (an unknown flag) or E2BIG (a `struct clone_args` larger than the
 * kernel knows, nonzero past its end) is a kernel without `flag`, unless the kernel is shown
 * to be new enough to have it: then it is no refusal (undefined), and the check fails.
 */
function refusal(error: unknown, syscall: 'clone' | 'clone3', feature: FeatureName, flag: FeatureName): Unsupported | undefined {
  const { code } = error as NodeJS.ErrnoException
  const shown = shownRelease()
  if (code === 'EPERM' || code === 'EACCES') return new Unsupported(`blocked (${code} from ${syscall})`, feature)
  if (code === 'ENOSYS') {
    const { since } = featureInfo[feature]
    return new Unsupported(atLeast(shown, since) ? `blocked (ENOSYS from ${syscall})` : `needs Linux ${since} or blocked (ENOSYS from ${syscall})`, feature)
  }
  const { since } = featureInfo[flag]
  if ((code === 'EINVAL' || code === 'E2BIG') && !atLeast(shown, since)) return new Unsupported(`needs Linux ${since}`, flag)
  return undefined
}

/**
 * Starts this Node binary with `args` through spawn(), with `method` forced for that one
 * call (spawn() makes the child synchronously) and the previous method put back.
 * @throws what spawn() throws or emits as `'error'` (the child then has no pid): as
 *   `classify` turns it into {@link Unsupported}, else a {@link SetupError} when this
 *   machine ran out of something, else as it is (the check fails).
 */
async function spawnHelper(
  scope: Scope,
  method: 'clone' | 'clone3',
  args: readonly string[],
  options: SpawnOptions,
  classify: (error: unknown) => Unsupported | undefined,
  around: () => () => void = () => () => {},
): Promise<Subprocess & { pid: number; pidfd: Pidfd }> {
  if (scope.closed) throw new SetupError('interrupted')
  const fail = (error: unknown): never => {
    const unsupported = classify(error)
    if (unsupported !== undefined) throw unsupported
    const { code } = error as NodeJS.ErrnoException
    if (exhausted.has(code ?? '') || code === 'EAGAIN') throw new SetupError(describeError(error))
    throw error
  }
  const previous = getSpawnMethod()
  let child: Subprocess
  const undo = around()
  try {
    setSpawnMethod(method)
    child = spawnSubprocess(process.execPath, args, { env: helperEnv(), ...options })
  } catch (error) {
    return fail(error)
  } finally {
    setSpawnMethod(previous)
    undo()
  }
  scope.subprocesses.add(child)
  // A child that could not start has no pid and gets an 'error' event on the next tick.
  if (child.pid === undefined) return fail((await once(child, 'error'))[0])
  return child as Subprocess & { pid: number; pidfd: Pidfd }
}

/** How a child ended, once it is reaped; a failure if that takes more than 5 s. */
async function exitOf(child: Subprocess, timeoutMs = 5000): Promise<Awaited<Subprocess['exited']>> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CheckFailure('the child to exit', `still running after ${timeoutMs / 1000} s`)), timeoutMs)
  })
  try {
    return await Promise.race([child.exited, late])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * spawn.clone-pidfd and spawn.clone3: a child made by `method` comes with a pidfd that names
 * it (fdinfo's Pid, `pidfd.pid`, and on pidfs the inode of a pidfd_open of its pid), and a
 * signal sent through it kills it (SIGUSR2: a Node without a handler for it dies of it
 * whenever it arrives, so no need to wait for it to boot), as waitid(P_PIDFD) then reports.
 * With `handled`, this process has a SIGUSR2 handler while the child is made, so the
 * child's death shows that it did not keep it.
 */
async function spawnedWithPidfd(scope: Scope, method: 'clone' | 'clone3', classify: (error: unknown) => Unsupported | undefined, handled = false): Promise<void> {
  const handler = () => {}
  const around = () => {
    if (!handled) return () => {}
    process.on('SIGUSR2', handler)
    return () => process.off('SIGUSR2', handler)
  }
  // stdin piped: the sleeper ends when its stdin does, and /dev/null would end it at once.
  const child = await spawnHelper(scope, method, SLEEPS, { stdio: ['pipe', 'ignore', 'ignore'] }, classify, around)
  const { pidfd } = child
  const fdinfo = /^Pid:\s+(-?\d+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${pidfd.fd}`, 'latin1'))
  expectEqual([fdinfo === null ? null : Number(fdinfo[1]), pidfd.pid], [child.pid, child.pid], 'fdinfo Pid and pidfd.pid: ')
  if (features().pidfs) expectEqual(scope.track(Pidfd.open(child.pid)).equals(pidfd), true, 'the same process as pidfd_open(pid): ')
  pidfd.sendSignal('SIGUSR2')
  const status = await exitOf(child)
  expectEqual([status.signal, status.source], ['SIGUSR2', 'waitid'], 'killed by, reported by: ')
}

/** Serial number of the cgroups spawn.into-cgroup makes, for unique names. */
let cgroupSerial = 0

/** What spawn.into-cgroup prepares: the child, where it must be, and where it was when spawn() returned. */
interface InCgroup {
  child: Subprocess & { pid: number }
  /** The cgroup's path as /proc/PID/cgroup shows it (`/…/pidfd-check-PID-N`). */
  expected: string
  /** The child's `0::` line, read by this process as soon as spawn() returned. */
  atSpawn: string
  /**
   * The line the child prints, read from the start: its stdout is discarded once it has
   * exited and nobody reads it (as child_process does).
   */
  reported: Promise<string>
  dir: string
}

/** The `0::` line (cgroup v2) of /proc/PID/cgroup, or null. */
function cgroup2Line(pid: number | 'self'): string | null {
  return fs.readFileSync(`/proc/${pid}/cgroup`, 'latin1').split('\n').find((line) => line.startsWith('0::')) ?? null
}

/** Removes a cgroup directory that may already be gone; a moment's EBUSY (members still leaving) is waited out. */
function removeCgroup(dir: string): void {
  const deadline = Date.now() + 1000
  for (;;) {
    try {
      fs.rmdirSync(dir)
      return
    } catch (error) {
      const { code } = error as NodeJS.ErrnoException
      if (code === 'ENOENT') return
      if (code !== 'EBUSY' || Date.now() > deadline) throw error
      Atomics.wait(sleepCell, 0, 0, 1)
    }
  }
}

/** The child prints the `0::` line of its own /proc/self/cgroup. */
const PRINTS_CGROUP = ['-e', "console.log(require('node:fs').readFileSync('/proc/self/cgroup', 'latin1').split('\\n').find((l) => l.startsWith('0::')) ?? 'none')"]

/**
 * Makes a new cgroup under this process's own cgroup v2 directory (found as spawn() finds
 * the mount) and starts a child in it; the directory is removed when `scope` is cleaned up.
 * @throws Unsupported without a cgroup v2 mount, or a cgroup this process may not create.
 */
async function startInCgroup(scope: Scope): Promise<InCgroup> {
  const mount = findCgroup2Mount()
  if (mount === null) throw new Unsupported('no cgroup v2 hierarchy is mounted here')
  const own = cgroup2Line('self')
  if (own === null) throw new Unsupported('this process is in no cgroup v2 cgroup')
  const parent = path.resolve(mount, `.${own.slice(3)}`)
  let dir: string
  let name: string
  for (;;) {
    name = `pidfd-check-${process.pid}-${cgroupSerial++}`
    dir = path.join(parent, name)
    try {
      fs.mkdirSync(dir)
      break
    } catch (error) {
      const { code } = error as NodeJS.ErrnoException
      if (code === 'EEXIST' && cgroupSerial < 100) continue // another process's (the same pid in another pid namespace)
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new Unsupported(`this process's cgroup is not under the cgroup v2 mount (${parent} is missing)`)
      if (['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EAGAIN'].includes(code!)) throw new Unsupported(`cannot create a cgroup in ${parent} (${code})`)
      throw new SetupError(describeError(error))
    }
  }
  const made = dir
  scope.deferred.push(() => removeCgroup(made))
  const classify = (error: unknown) => {
    const { code } = error as NodeJS.ErrnoException
    if (code === 'EACCES') return new Unsupported(`not allowed to start a process in ${dir} (EACCES from clone3)`)
    if (code === 'EBUSY' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') return new Unsupported(`${dir} cannot take processes (${code} from clone3)`)
    return refusal(error, 'clone3', 'clone3', 'intoCgroup')
  }
  let child: Subprocess & { pid: number }
  try {
    child = await spawnHelper(scope, 'clone3', PRINTS_CGROUP, { stdio: ['ignore', 'pipe', 'ignore'], cgroup: dir }, classify)
  } catch (error) {
    removeCgroup(dir)
    throw error
  }
  const atSpawn = cgroup2Line(child.pid) ?? 'none'
  const reported = firstLine(child)
  reported.catch(() => {}) // reported by the check, when it runs
  return { child, expected: `0::${path.posix.join(own.slice(3), name)}`, atSpawn, reported, dir }
}


interface Check {
  id: string
  title: string
  /** The feature the check needs: without it the result is `unsupported`. */
  needs?: FeatureName
  /** Why this process cannot run the check (not the kernel's doing), if it cannot: `unsupported`. */
  unavailable?: () => string | undefined
  /**
   * Starts a helper before the first check runs, so that one that must boot a script
   * (~110 ms) does so while the other checks run; `run` gets what it resolves with.
   */
  prepare?: (scope: Scope) => Promise<unknown>
  run(scope: Scope, prepared?: unknown): void | Promise<void>
}

/** Every check, in the order they run. */
export const checks: readonly Check[] = [
  {
    id: 'open.self',
    title: 'pidfd_open() opens this process',
    needs: 'pidfd',
    run: (scope) => void scope.track(Pidfd.open(process.pid)).sendSignal(0),
  },
  {
    id: 'open.no-such-pid',
    title: 'pidfd_open() of an unused pid fails with ESRCH',
    needs: 'pidfd',
    run: () => expectCode(() => Pidfd.open(2 ** 31 - 1), ['ESRCH'], 'opening pid 2^31-1'),
  },
  {
    id: 'open.zombie',
    title: 'pidfd_open() opens a zombie that has not been reaped',
    needs: 'pidfd',
    run: async (scope) => {
      const { child, pidfd } = await scope.exiting()
      blockUntilExited(pidfd)
      scope.track(Pidfd.open(child.pid)).close()
      await reaped(child)
    },
  },
  {
    id: 'open.reaped',
    title: 'pidfd_open() of a reaped process fails with ESRCH',
    needs: 'pidfd',
    run: async (scope) => {
      const { child } = await scope.exiting()
      await reaped(child)
      expectCode(() => Pidfd.open(child.pid), ['ESRCH'], 'opening a reaped pid')
    },
  },
  {
    id: 'open.nonblock',
    title: 'PIDFD_NONBLOCK sets O_NONBLOCK',
    needs: 'nonblock',
    run: (scope) => {
      const pidfd = scope.track(Pidfd.open(process.pid, { nonblock: true }))
      const flags = parseInt(/^flags:\s+(\d+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${pidfd.fd}`, 'latin1'))![1]!, 8)
      expectEqual((flags & fs.constants.O_NONBLOCK) !== 0, true, 'O_NONBLOCK set: ')
    },
  },
  {
    id: 'open.thread',
    title: 'PIDFD_THREAD opens a thread that is not a thread-group leader',
    needs: 'threadPidfd',
    run: (scope) => {
      const tid = fs.readdirSync('/proc/self/task').map(Number).find((t) => t !== process.pid)!
      scope.track(Pidfd.open(tid, { thread: true })).sendSignal(0)
    },
  },
  {
    id: 'open.non-leader',
    title: 'pidfd_open() of a non-leader thread without PIDFD_THREAD fails (EINVAL, ENOENT since 6.16)',
    needs: 'pidfd',
    run: () => {
      const tid = fs.readdirSync('/proc/self/task').map(Number).find((t) => t !== process.pid)!
      expectCode(() => Pidfd.open(tid), ['EINVAL', 'ENOENT'], 'opening a non-leader thread')
    },
  },
  {
    id: 'pidfs.magic',
    title: 'pidfds live on pidfs (statfs magic 0x50494446)',
    needs: 'pidfs',
    run: (scope) => expectEqual(scope.track(Pidfd.open(process.pid)).isPidfs, true),
  },
  {
    id: 'identity.same',
    title: 'two pidfds of one process share one inode',
    needs: 'pidfs',
    run: async (scope) => {
      const { child, pidfd } = await scope.sleeper()
      expectEqual(scope.track(Pidfd.open(child.pid)).id, pidfd.id, 'inode: ')
    },
  },
  {
    id: 'identity.different',
    title: 'pidfds of different processes have different inodes',
    needs: 'pidfs',
    run: async (scope) => {
      const a = (await scope.sleeper()).pidfd
      const b = (await scope.sleeper()).pidfd
      expectEqual(a.equals(b), false, 'equal: ')
    },
  },
  {
    id: 'identity.exit',
    title: 'the inode stays the same across exit and reap',
    needs: 'pidfs',
    run: async (scope) => {
      const { child, pidfd } = await scope.exiting()
      const id = pidfd.id
      await reaped(child)
      expectEqual(pidfd.stat().ino, id, 'inode after reap: ')
    },
  },
  {
    id: 'identity.exec',
    title: 'the inode stays the same across exec',
    needs: 'pidfs',
    unavailable: () => (execer() === undefined ? 'needs process.execve (Node 22.15+) or /bin/sh' : undefined),
    run: async (scope) => {
      // The helper execs once told to, so the pidfd is opened before the exec; the exec
      // shows as a new command line.
      const [file, ...args] = execer()!
      const { child, pidfd } = await scope.start(args, file)
      const id = pidfd.id
      const cmdline = () => fs.readFileSync(`/proc/${child.pid}/cmdline`, 'latin1')
      const before = cmdline()
      child.stdin.write('go\n')
      const deadline = Date.now() + 5000
      while ([before, ''].includes(cmdline())) {
        if (Date.now() > deadline) throw new SetupError('the helper did not exec within 5 s')
        await new Promise((resolve) => setTimeout(resolve, 1))
      }
      expectEqual(scope.track(Pidfd.open(child.pid)).id, id, 'inode after exec: ')
    },
  },
  {
    id: 'identity.process-id',
    title: 'a "PID:INODE" process id reopens exactly that process',
    needs: 'pidfs',
    run: async (scope) => {
      const { pidfd } = await scope.sleeper()
      expectEqual(scope.track(Pidfd.openProcessId(pidfd.processId)).equals(pidfd), true, 'equal: ')
    },
  },
  {
    id: 'identity.process-id-stale',
    title: 'a process id of a reaped process is refused with ESRCH',
    needs: 'pidfs',
    run: async (scope) => {
      const { child, pidfd } = await scope.exiting()
      const id = pidfd.processId
      await reaped(child)
      expectCode(() => Pidfd.openProcessId(id), ['ESRCH'], 'opening a reaped process id')
    },
  },
  {
    id: 'stat.fstat',
    title: 'fstat() reports the pidfs inode, with no file-type bits in st_mode',
    needs: 'pidfs',
    run: (scope) => {
      const pidfd = scope.track(Pidfd.open(process.pid))
      const stats = pidfd.stat()
      expectEqual(stats.ino, pidfd.id, 'st_ino: ')
      expectEqual(Number(stats.mode) & fs.constants.S_IFMT, 0, 'S_IFMT bits: ')
    },
  },
  {
    id: 'stat.statx',
    title: 'statx() reports STATX_INO with the same inode as fstat()',
    needs: 'statxIno',
    run: (scope) => {
      const pidfd = scope.track(Pidfd.open(process.pid))
      const stx = pidfd.statx()
      expectEqual((stx.mask & constants.STATX_INO) !== 0, true, 'STATX_INO in mask: ')
      expectEqual(stx.ino, pidfd.stat().ino, 'stx_ino: ')
    },
  },
  {
    id: 'signal.deliver',
    title: 'pidfd_send_signal() delivers a signal',
    needs: 'pidfd',
    run: async (scope) => {
      // SIGUSR2 kills a Node that has no handler for it, whenever it arrives: no need to
      // wait for the helper to boot.
      const { pidfd } = await scope.sleeper()
      pidfd.sendSignal('SIGUSR2')
      expectEqual((await pidfd.wait({ timeout: 5000 })).signal, 'SIGUSR2', 'killed by: ')
    },
  },
  {
    id: 'signal.probe',
    title: 'signal 0 checks a live process and sends nothing',
    needs: 'pidfd',
    run: async (scope) => {
      const { pidfd } = await scope.sleeper()
      pidfd.sendSignal(0)
      expectEqual(pidfd.hasExited(), false, 'exited: ')
    },
  },
  {
    id: 'signal.zombie',
    title: 'a zombie still accepts (and ignores) signals',
    needs: 'pidfd',
    run: async (scope) => {
      const { child, pidfd } = await scope.exiting()
      blockUntilExited(pidfd)
      pidfd.sendSignal('SIGTERM')
      await reaped(child)
    },
  },
  {
    id: 'signal.reaped',
    title: 'signalling a reaped process fails with ESRCH',
    needs: 'pidfd',
    run: async (scope) => {
      const { child, pidfd } = await scope.exiting()
      await reaped(child)
      expectCode(() => pidfd.sendSignal(0), ['ESRCH'], 'signalling after the reap')
    },
  },
  {
    id: 'signal.scope-thread',
    title: "PIDFD_SIGNAL_THREAD ('thread' scope) is accepted",
    needs: 'signalScopes',
    run: (scope) => scope.track(Pidfd.open(process.pid)).sendSignal(0, { scope: 'thread' }),
  },
  {
    id: 'signal.scope-process-group',
    title: 'PIDFD_SIGNAL_PROCESS_GROUP on a process that leads no group fails with ESRCH',
    needs: 'signalScopes',
    run: async (scope) => {
      const { pidfd } = await scope.sleeper()
      expectCode(() => pidfd.sendSignal(0, { scope: 'process-group' }), ['ESRCH'], 'signalling its group')
    },
  },
  {
    id: 'poll.exit',
    title: 'a pidfd becomes readable when its process exits',
    needs: 'pidfd',
    run: async (scope) => {
      const { child, pidfd } = await scope.sleeper()
      expectEqual(pidfd.hasExited(), false, 'readable while running: ')
      pidfd.sendSignal('SIGKILL')
      blockUntilExited(pidfd)
      await reaped(child)
    },
  },
  {
    id: 'poll.reaped',
    title: 'the reap is visible: the pidfd reports no pid any more',
    needs: 'pidfd',
    run: async (scope) => {
      const { child, pidfd } = await scope.exiting()
      await reaped(child)
      expectEqual(pidfd.pid, null, 'pid after reap: ')
    },
  },
  {
    id: 'waitid.child',
    title: 'waitid(P_PIDFD, WNOWAIT) reports a child’s exit without reaping it',
    needs: 'waitid',
    run: async (scope) => {
      const { child, pidfd } = await scope.start(EXITS_9)
      blockUntilExited(pidfd)
      const first = pidfd.waitid({ nowait: true, nohang: true })
      const again = pidfd.waitid({ nowait: true, nohang: true })
      expectEqual([first?.kind, first?.code, again?.code], ['exited', 9, 9])
      await reaped(child)
    },
  },
  {
    id: 'waitid.not-child',
    title: 'waitid(P_PIDFD) on a process that is not a child fails with ECHILD',
    needs: 'waitid',
    // ppid 0: pid 1 of a pid namespace (a container's init), or entered from outside it.
    unavailable: () => (process.ppid === 0 ? 'needs a parent process in its pid namespace' : undefined),
    run: (scope) => expectCode(() => scope.track(Pidfd.open(process.ppid)).waitid({ nohang: true }), ['ECHILD'], 'waitid on the parent'),
  },
  {
    id: 'waitid.stopped',
    title: 'waitid(P_PIDFD, WSTOPPED) reports a stopped child',
    needs: 'waitid',
    run: async (scope) => {
      const { pidfd } = await scope.sleeper()
      pidfd.sendSignal('SIGSTOP')
      const deadline = Date.now() + 5000
      let stopped = null
      while ((stopped = pidfd.waitid({ stopped: true, exited: false, nohang: true })) === null) {
        if (Date.now() > deadline) throw new CheckFailure('a stop', 'none within 5 s')
        Atomics.wait(sleepCell, 0, 0, 1)
      }
      expectEqual([stopped.kind, stopped.signal], ['stopped', 'SIGSTOP'])
    },
  },
  {
    id: 'exited.child',
    title: 'exited reports a child’s exit code and leaves Node its exit event',
    needs: 'waitid',
    run: async (scope) => {
      const { child, pidfd } = await scope.start(EXITS_9)
      const fromNode = once(child, 'exit')
      const status = await pidfd.wait({ timeout: 5000 })
      expectEqual([status.code, (await fromNode)[0]], [9, 9])
    },
  },
  {
    id: 'exited.signal',
    title: 'exited reports death by a signal',
    needs: 'waitid',
    run: async (scope) => {
      const { pidfd } = await scope.sleeper()
      pidfd.sendSignal('SIGKILL')
      expectEqual((await pidfd.wait({ timeout: 5000 })).signal, 'SIGKILL')
    },
  },
  {
    id: 'exited.not-child',
    title: 'exited reports the status of a process its own parent reaped (PIDFD_INFO_EXIT)',
    needs: 'infoExit',
    prepare: (scope) => scope.start(PARENT_OF_ZOMBIE),
    run: async (scope, prepared) => {
      // The grandchild exits at once; its parent, a helper, reaps it once told to (after it
      // is opened). Caught as a zombie, exited may take the status from /proc: then ask the
      // kernel again once the helper has reaped it.
      const { child } = prepared as Helper
      const line = await firstLine(child)
      if (!/^\d+$/.test(line)) throw new SetupError(`the helper could not start its child: ${line || 'no output'}`)
      const grandchild = scope.track(Pidfd.open(Number(line)))
      child.stdin.write('go\n')
      const status = await grandchild.wait({ timeout: 5000 })
      expectEqual(status.code, 9, 'exit code: ')
      const deadline = Date.now() + 5000
      while (grandchild.pid !== null) {
        if (Date.now() > deadline) throw new CheckFailure('its parent to reap it', 'not reaped within 5 s')
        Atomics.wait(sleepCell, 0, 0, 1)
      }
      expectEqual(grandchild.info().exit?.code, 9, 'PIDFD_INFO_EXIT code after the reap: ')
    },
  },
  {
    id: 'info.self',
    title: 'PIDFD_GET_INFO reports this process’s pid, parent and credentials',
    needs: 'getInfo',
    run: (scope) => {
      const info = scope.track(Pidfd.open(process.pid)).info()
      expectEqual([info.pid, info.ppid, info.ruid, typeof info.cgroupId], [process.pid, process.ppid, process.getuid?.(), 'bigint'])
    },
  },
  {
    id: 'info.exit',
    title: 'PIDFD_GET_INFO reports the exit status once reaped, and no pid',
    needs: 'infoExit',
    run: async (scope) => {
      const { child, pidfd } = await scope.start(EXITS_9)
      await reaped(child)
      const info = pidfd.info()
      expectEqual([info.exit?.code, info.pid], [9, undefined])
    },
  },
  {
    id: 'info.coredump',
    title: 'PIDFD_GET_INFO reports core-dump state',
    needs: 'infoCoredump',
    run: (scope) => expectEqual(typeof scope.track(Pidfd.open(process.pid)).info().coredump, 'object'),
  },
  {
    id: 'handle.round-trip',
    title: 'a pidfs file handle reopens the same process',
    needs: 'fileHandles',
    run: async (scope) => {
      const { pidfd } = await scope.sleeper()
      expectEqual(scope.track(Pidfd.fromHandle(pidfd.toHandle())).equals(pidfd), true, 'equal: ')
    },
  },
  {
    id: 'handle.stale',
    title: 'the file handle of a reaped process fails with ESTALE',
    needs: 'fileHandles',
    run: async (scope) => {
      const { child, pidfd } = await scope.exiting()
      const handle = pidfd.toHandle()
      await reaped(child)
      expectCode(() => Pidfd.fromHandle(handle), ['ESTALE'], 'opening the handle')
    },
  },
  {
    id: 'namespace.net',
    title: 'PIDFD_GET_NET_NAMESPACE opens the namespace /proc/PID/ns/net shows',
    needs: 'namespaces',
    run: async (scope) => {
      const { child, pidfd } = await scope.sleeper()
      const fd = pidfd.namespace('net')
      try {
        expectEqual(fs.fstatSync(fd).ino, fs.statSync(`/proc/${child.pid}/ns/net`).ino, 'inode: ')
      } finally {
        fs.closeSync(fd)
      }
    },
  },
  {
    id: 'getfd.self',
    title: 'pidfd_getfd() copies an fd out of a process',
    needs: 'getfd',
    run: (scope) => {
      const pidfd = scope.track(Pidfd.open(process.pid))
      const copy = pidfd.getfd(pidfd.fd)
      try {
        expectEqual(fs.fstatSync(copy).ino, fs.fstatSync(pidfd.fd).ino, 'inode of the copy: ')
      } finally {
        fs.closeSync(copy)
      }
    },
  },
  {
    id: 'spawn.clone-pidfd',
    title: 'a child made by clone() with CLONE_PIDFD comes with a pidfd that names it, signals it and reports its exit',
    needs: 'waitid',
    run: (scope) => spawnedWithPidfd(scope, 'clone', (error) => refusal(error, 'clone', 'clonePidfd', 'clonePidfd')),
  },
  {
    id: 'spawn.clone3',
    title: 'a child made by clone3() comes with its pidfd, and with the default action for a signal this process handles',
    needs: 'waitid',
    run: (scope) => spawnedWithPidfd(scope, 'clone3', (error) => refusal(error, 'clone3', 'clone3', 'clearSighand'), true),
  },
  {
    id: 'spawn.into-cgroup',
    title: 'a child spawned into a cgroup (CLONE_INTO_CGROUP) is in it from its first instruction',
    needs: 'waitid',
    prepare: (scope) => startInCgroup(scope),
    run: async (_, prepared) => {
      // Read twice: by this process as soon as spawn() returned (before the child ran any
      // of Node), and by the child itself.
      const { child, expected, atSpawn, reported, dir } = prepared as InCgroup
      try {
        expectEqual(atSpawn, expected, 'its cgroup when spawn() returned: ')
        expectEqual(await reported, expected, 'the cgroup it reports: ')
        await exitOf(child)
      } finally {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGKILL')
          await child.exited.catch(() => {})
        }
        removeCgroup(dir)
      }
    },
  },
  {
    id: 'spawn.kill-on-close',
    title: 'a child made with CLONE_PIDFD_AUTOKILL lives while a dup of its pidfd is open, even with a pidfd_open one, and dies of SIGKILL when the last dup closes',
    needs: 'autoKill',
    run: async (scope) => {
      const child = await spawnHelper(scope, 'clone3', SLEEPS, { stdio: ['pipe', 'ignore', 'ignore'], killOnClose: true }, (error) => refusal(error, 'clone3', 'autoKill', 'autoKill'))
      const copy = scope.track(Pidfd.fromFd(child.pidfd.fd))
      const opened = scope.track(Pidfd.open(child.pid))
      child.pidfd.close()
      // A kill at the first close would show by now: on 7.2 it comes 0-30 ms after the last.
      await new Promise((resolve) => setTimeout(resolve, 100))
      expectEqual(opened.hasExited(), false, 'exited while a dup of its pidfd was open: ')
      copy.close()
      const status = await exitOf(child)
      expectEqual([status.signal, status.source], ['SIGKILL', 'pidfd-info'], 'killed by, reported by: ')
    },
  },
  {
    id: 'spawn.autoreap',
    title: 'a child made with CLONE_AUTOREAP is reaped by the kernel: its pidfd turns readable, waitid finds nothing (ECHILD), PIDFD_INFO_EXIT has its exit code',
    needs: 'autoKill',
    run: async (scope) => {
      const child = await spawnHelper(scope, 'clone3', ['-e', 'process.exitCode = 3'], { stdio: 'ignore', killOnClose: true }, (error) => refusal(error, 'clone3', 'autoKill', 'autoKill'))
      // A pidfd past the reap (a dup keeps the child alive, but this one exits by itself).
      const copy = scope.track(Pidfd.fromFd(child.pidfd.fd))
      const status = await exitOf(child)
      expectEqual([status.code, status.source], [3, 'pidfd-info'], 'exit code, reported by: ')
      let waited: unknown = 'a status'
      try {
        copy.waitid({ exited: true, nohang: true })
      } catch (error) {
        waited = (error as NodeJS.ErrnoException).code
      }
      expectEqual(waited, 'ECHILD', 'waitid on its pidfd after the exit: ')
      expectEqual(copy.info().exit?.code, 3, 'PIDFD_INFO_EXIT code: ')
    },
  },
]

/** The scopes alive now (the running check's, and that of prepared helpers), for {@link abortChecks}. */
const live = new Set<Scope>()
/** Set by {@link abortChecks}: {@link runChecks} starts no further check. */
let aborted = false

/**
 * Kills and closes what the checks started (on SIGINT), and starts nothing more: nothing
 * is left behind. Only processes the checks started are ever signalled.
 */
export async function abortChecks(): Promise<void> {
  aborted = true
  await Promise.all([...live].map((scope) => scope.cleanup()))
}

/** What a check that threw reports: `error` when it could not set itself up, else `fail`. */
function outcome(error: unknown): Pick<CheckResult, 'status' | 'expected' | 'observed' | 'reason' | 'feature' | 'since'> {
  if (error instanceof CheckFailure) return { status: 'fail', expected: error.expected, observed: error.observed }
  if (error instanceof Unsupported) {
    const { reason, feature } = error
    return feature === undefined ? { status: 'unsupported', reason } : { status: 'unsupported', feature, since: featureInfo[feature].since, reason }
  }
  if (error instanceof SetupError || exhausted.has((error as NodeJS.ErrnoException).code ?? '')) {
    return { status: 'error', reason: error instanceof SetupError ? error.message : describeError(error) }
  }
  return { status: 'fail', expected: 'no error', observed: String((error as Error).message ?? error) }
}

/** The result of a check that cannot run here (`unsupported`), or undefined if it can. */
function skipped(check: Check): CheckResult | undefined {
  const base = { id: check.id, title: check.title, status: 'unsupported', durationMs: 0 } as const
  if (check.needs !== undefined && !features()[check.needs]) {
    return { ...base, feature: check.needs, since: featureInfo[check.needs].since, reason: unsupportedReason(check.needs)! }
  }
  const unavailable = check.unavailable?.()
  return unavailable === undefined ? undefined : { ...base, reason: unavailable }
}

/** Runs every check in order, each cleaned up whatever happens; reports each as it ends. */
export async function runChecks(onResult?: (result: CheckResult) => void): Promise<CheckResult[]> {
  const results: CheckResult[] = []
  aborted = false
  const early = new Scope()
  live.add(early)
  try {
    const prepared = new Map<Check, Promise<unknown>>()
    for (const check of checks) {
      if (check.prepare === undefined || skipped(check) !== undefined) continue
      const helper = check.prepare(early)
      helper.catch(() => {}) // reported by its check, when it runs
      prepared.set(check, helper)
    }
    for (const check of checks) {
      if (aborted) break
      const started = process.hrtime.bigint()
      let result = skipped(check)
      if (result === undefined) {
        const scope = new Scope()
        live.add(scope)
        try {
          await check.run(scope, await prepared.get(check))
          result = { id: check.id, title: check.title, status: 'pass', durationMs: 0 }
        } catch (error) {
          result = { id: check.id, title: check.title, ...outcome(error), durationMs: 0 }
        } finally {
          await scope.cleanup()
          live.delete(scope)
        }
      }
      result.durationMs = Number(process.hrtime.bigint() - started) / 1e6
      results.push(result)
      onResult?.(result)
    }
  } finally {
    await early.cleanup()
    live.delete(early)
  }
  return results
}
