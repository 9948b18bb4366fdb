/**
 * Reading the process tree from /proc: who is whose child. Every answer is only a list of
 * candidates (pids are numbers, and numbers get reused); {@link openChildOf} turns a
 * candidate into a Pidfd and proves, after the open, that it is still the child asked for.
 * @internal
 * @packageDocumentation
 */
import fs from 'node:fs'
import { constants } from './constants'
import { currentPid, pollExited } from './exit'
import { features } from './features'
import { getInfo } from './info'
import { Pidfd } from './pidfd'

/** One buffer for every /proc/PID/stat read: a stat line is well under 4 KiB. */
const statBuffer = Buffer.allocUnsafe(4096)

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException).code
}

/** Errnos that mean "this process is gone" when reading its /proc entry. */
function isGone(error: unknown): boolean {
  const code = errorCode(error)
  return code === 'ENOENT' || code === 'ESRCH'
}

/**
 * `/proc/PID/stat`, or null if the process is gone. Out of fds (EMFILE) and other failures
 * throw: a member silently skipped would escape a kill.
 */
function readStat(pid: number): string | null {
  let fd: number
  try {
    fd = fs.openSync(`/proc/${pid}/stat`, 'r')
  } catch (error) {
    if (isGone(error)) return null
    throw error
  }
  try {
    const length = fs.readSync(fd, statBuffer, 0, statBuffer.length, 0)
    return statBuffer.toString('latin1', 0, length)
  } catch (error) {
    if (isGone(error)) return null
    throw error
  } finally {
    fs.closeSync(fd)
  }
}

/** The state letter and parent pid of a `/proc/PID/stat` line (fields 3 and 4, after "(comm)"). */
function parseStat(text: string): { state: string; ppid: number } {
  const close = text.lastIndexOf(')')
  const state = text[close + 2]!
  const start = close + 4
  const end = text.indexOf(' ', start)
  return { state, ppid: Number(text.slice(start, end)) }
}

/**
 * States in which a task runs no code of its own, so cannot fork: stopped (`T`), stopped by
 * a tracer (`t`), a zombie (`Z`) or dead (`X`).
 */
const HALTED = new Set(['T', 't', 'Z', 'X'])

/** The state letter of a thread's `/proc/PID/task/TID/stat`, or null if it is gone. */
function threadState(pid: number, tid: string): string | null {
  let text: string
  try {
    text = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1')
  } catch (error) {
    if (isGone(error)) return null
    throw error
  }
  return text[text.lastIndexOf(')') + 2]!
}

/**
 * True if no thread of process `pid` can fork now: every one is stopped or has exited (see
 * {@link HALTED}); also true once the process is gone. A process with a SIGSTOP pending is
 * not halted yet: a `fork()` it is in the middle of may still add a child, which is why
 * killTree reads a member's children only after this says true.
 *
 * The caller checks afterwards, through the pidfd, that the process was not reaped meanwhile
 * (then the pid may have named another process during the read).
 */
export function isHalted(pid: number): boolean {
  const text = readStat(pid)
  if (text === null) return true
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  // A leader that called pthread_exit() is a zombie while its other threads run: read them all.
  if (Number(fields[17]) === 1) return HALTED.has(fields[0]!)
  let tids: string[]
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`)
  } catch (error) {
    if (isGone(error)) return true
    throw error
  }
  for (const tid of tids) {
    const state = threadState(pid, tid)
    if (state !== null && !HALTED.has(state)) return false
  }
  return true
}

let childrenFiles: boolean | undefined

/**
 * Whether the kernel has `/proc/PID/task/TID/children` (CONFIG_PROC_CHILDREN, not set on every
 * kernel): probed once on this process.
 */
export function hasChildrenFiles(): boolean {
  childrenFiles ??= fs.existsSync(`/proc/self/task/${process.pid}/children`)
  return childrenFiles
}

/**
 * For tests: whether to use the children files (false: the `/proc/[0-9]+/stat` scan, as on
 * a kernel without CONFIG_PROC_CHILDREN), or undefined to probe again.
 */
export function setChildrenFiles(use: boolean | undefined): void {
  childrenFiles = use
}

/** The pids `/proc/PID/task/* /children` lists for pid (every thread's children), [] if gone. */
function childrenFromTasks(pid: number): number[] {
  let tasks: string[]
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`)
  } catch (error) {
    if (isGone(error)) return []
    throw error
  }
  const pids: number[] = []
  for (const tid of tasks) {
    let text: string
    try {
      text = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1')
    } catch (error) {
      if (isGone(error)) continue
      throw error
    }
    for (const word of text.split(' ')) if (word !== '' && word !== '\n') pids.push(Number(word))
  }
  return pids
}

/** Every process's parent, from one pass over `/proc/[0-9]* /stat`: parent pid to child pids. */
function scanParents(): Map<number, number[]> {
  const byParent = new Map<number, number[]>()
  for (const name of fs.readdirSync('/proc')) {
    const first = name.charCodeAt(0)
    if (first < 48 || first > 57) continue
    const pid = Number(name)
    const text = readStat(pid)
    if (text === null) continue
    const { ppid } = parseStat(text)
    const list = byParent.get(ppid)
    if (list === undefined) byParent.set(ppid, [pid])
    else list.push(pid)
  }
  return byParent
}

/**
 * A source of candidate children, made once per walk step: the children files where the
 * kernel has them (one read per parent), else one `/proc` scan shared by every parent asked
 * about in that step.
 */
export class ChildLister {
  #scan: Map<number, number[]> | undefined

  /** Candidates for the children of `ppid`, as /proc shows them now (or at this step's scan). */
  childrenOf(ppid: number): number[] {
    if (hasChildrenFiles()) return childrenFromTasks(ppid)
    this.#scan ??= scanParents()
    return this.#scan.get(ppid) ?? []
  }
}

/**
 * The parent pid of the process `fd` refers to (pid `pid` when it was opened), read after
 * the open: from `PIDFD_GET_INFO` (6.13+) on the pidfd itself, else from `/proc/PID/stat`,
 * trusted only if the process is still unreaped afterwards (so the pid was still its own).
 * Null if it has been reaped.
 */
export function parentPidOf(fd: number, pid: number): number | null {
  if (features().getInfo) {
    try {
      return getInfo(fd, constants.PIDFD_INFO_PID).ppid ?? null
    } catch (error) {
      const code = errorCode(error)
      if (code === 'ESRCH' || code === 'EREMOTE') return null
      throw error
    }
  }
  const text = readStat(pid)
  if (text === null || currentPid(fd) !== pid) return null
  return parseStat(text).ppid
}

/**
 * Opens candidate `pid` and returns its Pidfd only if, after the open, its parent is still
 * `parentPid` and that parent (`parentFd`) has not exited: then the pid could not have been
 * reused in between, and the process is the parent's child. Null (nothing left open)
 * otherwise.
 */
export function openChildOf(pid: number, parentPid: number, parentFd: number): Pidfd | null {
  let child: Pidfd
  try {
    child = Pidfd.open(pid)
  } catch (error) {
    // Gone (ESRCH), or a thread id (EINVAL; ENOENT on 6.16+) from a children file.
    const code = errorCode(error)
    if (code === 'ESRCH' || code === 'EINVAL' || code === 'ENOENT') return null
    throw error
  }
  try {
    // The parent is checked last: an exited parent's children have been reparented, and its
    // pid may already name another process whose children would pass the first test.
    if (parentPidOf(child.fd, pid) === parentPid && !pollExited(parentFd)) return child
  } catch (error) {
    child.close()
    throw error
  }
  child.close()
  return null
}
