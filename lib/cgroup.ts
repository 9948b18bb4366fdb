/**
 * Killing a whole cgroup v2, and finding a process's cgroup: for trees that live in a
 * cgroup of their own (for example one made with `spawn()`'s `cgroup` option), where no
 * process can leave by double-forking.
 * @packageDocumentation
 */
import fs from 'node:fs'
import os from 'node:os'
import { join, resolve } from 'node:path'
import { native } from './binding'
import { errnoException, invalidArgType, invalidArgValue, nodeError, type NodeError, unsupported } from './errors'
import { currentPid, pollExited } from './exit'
import { checkPidfd, Pidfd } from './pidfd'
import { toSignalNumber } from './signals'
import { findCgroup2Mount } from './spawn'

/** `statfs(2)` `f_type` of cgroup v2 (`CGROUP2_SUPER_MAGIC`). */
const CGROUP2_SUPER_MAGIC = 0x63677270

/** `Error [ERR_CGROUP2_UNAVAILABLE]`: no cgroup v2 here, or not this path. */
function cgroupUnavailable(message: string): Error & NodeError {
  return nodeError(Error, 'ERR_CGROUP2_UNAVAILABLE', message)
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException).code
}

/** The cgroup v2 mount, or ERR_CGROUP2_UNAVAILABLE. */
function mount(): string {
  const found = findCgroup2Mount()
  if (found === null) throw cgroupUnavailable('No cgroup v2 hierarchy is mounted here (no cgroup2 line in /proc/self/mountinfo)')
  return found
}

/**
 * The cgroup v2 directory of a process, as an absolute path under the v2 mount (e.g.
 * `/sys/fs/cgroup/unified/app` on a hybrid system, `/sys/fs/cgroup/app` on a pure v2 one):
 * the `0::` line of `/proc/PID/cgroup`, read through the pidfd's current pid and trusted
 * only if the process is still unreaped afterwards. Inside a cgroup namespace the path is
 * the one that namespace sees.
 *
 * @throws ESRCH once the process has been reaped; `ERR_CGROUP2_UNAVAILABLE` where cgroup
 *   v2 is not mounted or the process is in no v2 cgroup; `ERR_INVALID_ARG_TYPE` for a
 *   non-Pidfd; `ERR_PIDFD_CLOSED`.
 *
 * @example
 * ```ts
 * const dir = cgroupOf(child.pidfd) // '/sys/fs/cgroup/app.scope'
 * ```
 */
export function cgroupOf(pidfd: Pidfd): string {
  const fd = checkPidfd(pidfd, 'pidfd').fd
  const root = mount()
  const pid = currentPid(fd)
  const gone = () => errnoException('ESRCH', 'open', `/proc/PID/cgroup: the process has been reaped`)
  if (pid === null) throw gone()
  let text: string
  try {
    text = fs.readFileSync(`/proc/${pid}/cgroup`, 'latin1')
  } catch (error) {
    if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ESRCH') throw gone()
    throw error
  }
  if (currentPid(fd) !== pid) throw gone()
  const line = text.split('\n').find((entry) => entry.startsWith('0::'))
  if (line === undefined) throw cgroupUnavailable(`Process ${pid} is in no cgroup v2 (no 0:: line in /proc/${pid}/cgroup)`)
  return resolve(root, `.${line.slice(3)}`) // no trailing slash, even for the root ('0::/')
}

/** This process's cgroup v2 directory, or null if it is in none. */
function ownCgroup(): string | null {
  const line = fs
    .readFileSync('/proc/self/cgroup', 'latin1')
    .split('\n')
    .find((entry) => entry.startsWith('0::'))
  return line === undefined ? null : resolve(mount(), `.${line.slice(3)}`)
}

/** An absolute cgroup v2 directory for path: relative ones are taken under the v2 mount. */
function resolveCgroup(dir: string): string {
  const absolute = resolve(mount(), dir) // an absolute dir as it is, without a trailing slash
  let fd: number
  try {
    fd = fs.openSync(absolute, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY)
  } catch (error) {
    if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR') {
      throw invalidArgValue('path', dir, 'is not a cgroup directory')
    }
    throw error
  }
  try {
    if (native.fstatfs(fd) !== CGROUP2_SUPER_MAGIC) {
      throw cgroupUnavailable(`${absolute} is not in a cgroup v2 hierarchy${findCgroup2Mount() === null ? ' (none is mounted)' : ` (cgroup v2 is mounted at ${findCgroup2Mount()})`}`)
    }
  } finally {
    fs.closeSync(fd)
  }
  if (!fs.existsSync(join(absolute, 'cgroup.freeze'))) {
    throw invalidArgValue('path', dir, 'is the root cgroup, which cannot be killed or frozen')
  }
  // Killed, this process would die with it; frozen, it could never thaw it again.
  const own = ownCgroup()
  if (own !== null && (own === absolute || own.startsWith(`${absolute}/`))) {
    throw invalidArgValue('path', dir, `holds this process (in ${own})`)
  }
  return absolute
}

/** Writes a cgroup control file; EACCES/EPERM/EROFS become a clear error naming the file. */
function writeControl(file: string, value: string): void {
  try {
    fs.writeFileSync(file, value)
  } catch (error) {
    const code = errorCode(error)
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      const denied = error as NodeJS.ErrnoException
      denied.message = `${denied.message} (${file} is not writable by this process: delegate the cgroup to its user, or run as root)`
    }
    throw error
  }
}

/** `cgroup.events` key `key` (`populated`, `frozen`) as a boolean. */
function event(dir: string, key: string): boolean {
  const text = fs.readFileSync(join(dir, 'cgroup.events'), 'latin1')
  return new RegExp(`^${key} 1$`, 'm').test(text)
}

/**
 * Resolves once `cgroup.events` says `key` is `want`: woken by inotify on the file (the
 * kernel notifies each change), with a read every 100 ms as a safety net.
 */
async function until(dir: string, key: string, want: boolean): Promise<void> {
  if (event(dir, key) === want) return
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      try {
        if (event(dir, key) !== want) return
      } catch (error) {
        // The cgroup was removed: nothing is left in it.
        if (errorCode(error) !== 'ENOENT' && errorCode(error) !== 'ENODEV') return finish(() => reject(error))
      }
      finish(resolve)
    }
    const watcher = fs.watch(join(dir, 'cgroup.events'), check)
    const timer = setInterval(check, 100)
    const finish = (then: () => void) => {
      watcher.close()
      clearInterval(timer)
      then()
    }
    check()
  })
}

/** Every pid in the cgroup and its descendant cgroups. */
function procsOf(dir: string): number[] {
  const pids = fs
    .readFileSync(join(dir, 'cgroup.procs'), 'latin1')
    .split('\n')
    .filter((line) => line !== '')
    .map(Number)
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) pids.push(...procsOf(join(dir, entry.name)))
  }
  return pids
}

/** What {@link killCgroup} did. */
export interface CgroupKillResult {
  /** The cgroup's absolute path. */
  path: string
  /** `'cgroup.kill'` for SIGKILL (Linux 5.14), `'freeze'` for any other signal. */
  method: 'cgroup.kill' | 'freeze'
  /**
   * With `'freeze'`: the processes signalled, by pid, with the error of those that could not
   * be (EPERM); the cgroup is frozen meanwhile, so this is all of them. Empty with
   * `'cgroup.kill'`, which the kernel does at once without naming anyone.
   */
  processes: { pid: number; error?: NodeJS.ErrnoException }[]
}

/**
 * Signals every process in the cgroup v2 directory `path` and its descendant cgroups.
 * An absolute path is taken as it is; a relative one under the v2 mount (as
 * {@link cgroupOf} and `spawn()`'s `cgroup` option do).
 *
 * - **SIGKILL** (the default) is written to `cgroup.kill` (Linux 5.14): the kernel kills
 *   the whole subtree atomically, including processes forking meanwhile. It resolves once
 *   the cgroup is empty (`populated 0` in `cgroup.events`, which zombies do not hold up).
 * - **Any other signal** cannot go through `cgroup.kill`: the cgroup is frozen
 *   (`cgroup.freeze`, Linux 5.2; no process in it can run, hence fork), every process in
 *   `cgroup.procs` is opened with a pidfd, checked to be in the cgroup after the open,
 *   signalled through it, then the cgroup is thawed so that they can act on it. It
 *   resolves once they have been signalled (and thawed), not when they exit. A cgroup
 *   already frozen before the call stays frozen. Signal 0 only checks that each may be
 *   signalled.
 *
 * @throws (at the call, before anything is written) `ERR_INVALID_ARG_TYPE` for a non-string
 *   path, `ERR_UNKNOWN_SIGNAL`/`ERR_OUT_OF_RANGE` for a bad signal, `ERR_INVALID_ARG_VALUE`
 *   for a path that is not a cgroup directory, is the root cgroup, or holds this process,
 *   `ERR_CGROUP2_UNAVAILABLE` where cgroup v2 is not mounted or the path is not in it,
 *   `ERR_PIDFD_UNSUPPORTED` for SIGKILL before Linux 5.14 (no `cgroup.kill`). Rejects with
 *   EACCES/EPERM/EROFS (the message names the file) where its control files are not
 *   writable.
 *
 * @example
 * ```ts
 * await killCgroup(cgroupOf(child.pidfd))      // SIGKILL, all at once
 * await killCgroup('app.scope', 'SIGTERM')      // freeze, signal each, thaw
 * ```
 */
export function killCgroup(path: string, signal: NodeJS.Signals | number = 'SIGKILL'): Promise<CgroupKillResult> {
  if (typeof path !== 'string') throw invalidArgType('path', 'of type string', path)
  if (path.length === 0 || path.includes('\u0000')) throw invalidArgValue('path', path, 'must be a non-empty path without null bytes')
  const sig = toSignalNumber(signal)
  const dir = resolveCgroup(path)
  if (sig === os.constants.signals.SIGKILL) {
    const file = join(dir, 'cgroup.kill')
    if (!fs.existsSync(file)) throw unsupported('cgroupKill', 'cgroup.kill', '5.14')
    return killAll(dir, file)
  }
  return signalFrozen(dir, sig)
}

async function killAll(dir: string, file: string): Promise<CgroupKillResult> {
  writeControl(file, '1')
  await until(dir, 'populated', false)
  return { path: dir, method: 'cgroup.kill', processes: [] }
}

async function signalFrozen(dir: string, sig: number): Promise<CgroupKillResult> {
  const freeze = join(dir, 'cgroup.freeze')
  // Frozen by someone else before: left frozen (the signals wait for their thaw).
  const wasFrozen = fs.readFileSync(freeze, 'latin1').trim() === '1'
  writeControl(freeze, '1')
  const processes: CgroupKillResult['processes'] = []
  try {
    await until(dir, 'frozen', true)
    for (const pid of procsOf(dir)) {
      let pidfd: Pidfd
      try {
        pidfd = Pidfd.open(pid)
      } catch (error) {
        if (errorCode(error) === 'ESRCH') continue
        throw error
      }
      try {
        if (!inCgroup(pidfd, pid, dir)) continue
        pidfd.sendSignal(sig)
        processes.push({ pid })
      } catch (error) {
        if (errorCode(error) !== 'ESRCH') processes.push({ pid, error: error as NodeJS.ErrnoException })
      } finally {
        pidfd.close()
      }
    }
  } finally {
    if (!wasFrozen) writeControl(freeze, '0')
  }
  return { path: dir, method: 'freeze', processes }
}

/** True if the process pidfd names (pid when opened) is still alive and in dir or below. */
function inCgroup(pidfd: Pidfd, pid: number, dir: string): boolean {
  if (pollExited(pidfd.fd)) return false
  let where: string
  try {
    where = cgroupOf(pidfd)
  } catch (error) {
    if (errorCode(error) === 'ESRCH') return false
    throw error
  }
  return currentPid(pidfd.fd) === pid && (where === dir || where.startsWith(`${dir}/`))
}
