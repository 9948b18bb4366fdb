/**
 * Process trees through pidfds: listing a process's children and descendants race-free, and
 * killing a whole tree, including what it forks while it is being killed. The policy behind
 * `Pidfd#children()`, `Pidfd#descendants()` and `Pidfd#killTree()`.
 *
 * **Where the tree comes from.** The kernel's `/proc/PID/task/TID/children` files where it
 * has them (CONFIG_PROC_CHILDREN), else one pass over `/proc/[0-9]+/stat` per walk step.
 * Either only proposes pids: each one is opened with `pidfd_open`, then its parent pid is
 * read again through the new pidfd (`PIDFD_GET_INFO`, Linux 6.13; before that
 * `/proc/PID/stat`, trusted only if the process is still unreaped after the read), and the
 * parent must still be alive after that. A candidate that fails is closed and dropped: a pid
 * reused meanwhile is never reported, or signalled, under the tree's name.
 *
 * **Why a forking tree cannot escape.** {@link killTree} sends SIGSTOP through its pidfd to
 * every member the moment it is found. A pending SIGSTOP is not enough: the kernel checks
 * for pending signals when a `fork()` starts (since Linux 4.19 only a fatal one aborts a
 * fork under way), so a member in the middle of one still adds its child after the signal
 * was sent. So a member's children are read as
 * final only once `/proc/PID/task/TID/stat` shows every thread of it stopped (`T`), or it
 * has exited: a stopped process runs no code and cannot fork. The walk repeats, waiting a
 * millisecond between passes while stops are pending, until every member that could be
 * stopped is final and a pass finds no new one; then every member gets the signal, and
 * SIGCONT unless the signal was SIGKILL or a stop signal. A member this process may not
 * signal (EPERM) cannot be stopped: it is listed on every pass, but what it forks after the
 * last one escapes.
 * @packageDocumentation
 */
import os from 'node:os'
import { native } from './binding'
import { invalidArgType, invalidArgValue, outOfRange } from './errors'
import { pollExited } from './exit'
import { features } from './features'
import { Pidfd } from './pidfd'
import { ChildLister, isHalted, openChildOf } from './proc'
import { signalName, toSignalNumber } from './signals'
import type { ExitStatus } from './status'
import { INT32_MAX, validateOptions } from './validate'

/** An array of Pidfds the caller owns, which `using` closes all at once. */
export type PidfdList<T> = T[] & Disposable

/** One process below the one {@link Pidfd.descendants} was called on. */
export interface TreeNode {
  /** The process. Owned by the caller: close it (or the whole list, or `using`). */
  pidfd: Pidfd
  /** Its pid when it was found. */
  pid: number
  /** Its parent: the Pidfd `descendants()` was called on, or the `pidfd` of an earlier node. */
  parent: Pidfd
  /** Its parent's pid when it was found. */
  parentPid: number
  /** 1 for a child, 2 for a grandchild, and so on. */
  depth: number
}

/** Options of {@link Pidfd.killTree}. */
export interface KillTreeOptions {
  /**
   * Waits up to this many ms for every member signalled to exit, then sends `killSignal` to
   * those still alive (walking their subtrees again, stopped, first), and waits as long
   * again. Without it, `killTree` resolves as soon as every member has been signalled.
   */
  timeout?: number
  /** The signal for members still alive after `timeout`. Default `'SIGKILL'`. */
  killSignal?: NodeJS.Signals | number
}

/** One process {@link Pidfd.killTree} found in the tree, and what became of it. */
export interface KilledProcess {
  /**
   * `"PID:INODE"` (see {@link Pidfd.processId}) on kernels with pidfs (Linux 6.9+); before
   * that, the pid alone (as a string), which names the process only while it is unreaped.
   */
  processId: string
  /** Its pid when it was found. */
  pid: number
  /** Its parent's pid when it was found; null for the root. */
  parentPid: number | null
  /**
   * The last signal sent to it (the root's name as Node names it, or its number), or null if
   * none could be: see `error`.
   */
  signal: NodeJS.Signals | number | null
  /** True if it outlived `timeout` and got `killSignal`. */
  escalated: boolean
  /** True if it had exited when `killTree` resolved. */
  exited: boolean
  /**
   * How it ended, when known by the time `killTree` resolved: with `timeout`, for members
   * that exited and whose status the kernel could tell at once (see {@link ExitStatus});
   * otherwise null.
   */
  status: ExitStatus | null
  /**
   * Why it could not be stopped or signalled: EPERM for a process of another user, for
   * example. The other members are signalled all the same.
   */
  error?: NodeJS.ErrnoException
}

/** Makes an array disposable: `using list = pidfd.children()` closes every Pidfd in it. */
function disposable<T>(items: T[], close: (item: T) => void): PidfdList<T> {
  return Object.defineProperty(items, Symbol.dispose, {
    value: () => {
      for (const item of items) close(item)
    },
  }) as PidfdList<T>
}

/** The pid of a live root, or null if it has exited (its children are someone else's now). */
function livePid(root: Pidfd): number | null {
  if (pollExited(root.fd)) return null
  return root.pid
}

/** Closes every Pidfd in list, whatever happens. */
function closeAll(list: Iterable<Pidfd>): void {
  for (const pidfd of list) pidfd.close()
}

/** @internal `Pidfd#children()`. */
export function children(root: Pidfd): PidfdList<Pidfd> {
  const fd = root.fd
  const pid = livePid(root)
  const found: Pidfd[] = []
  if (pid !== null) {
    try {
      for (const candidate of new ChildLister().childrenOf(pid)) {
        const child = openChildOf(candidate, pid, fd)
        if (child !== null) found.push(child)
      }
    } catch (error) {
      closeAll(found)
      throw error
    }
  }
  return disposable(found, (pidfd) => pidfd.close())
}

/** @internal `Pidfd#descendants()`: breadth first, so every parent comes before its children. */
export function descendants(root: Pidfd): PidfdList<TreeNode> {
  const pid = livePid(root)
  const nodes: TreeNode[] = []
  if (pid !== null) {
    const lister = new ChildLister()
    try {
      let level: { pidfd: Pidfd; pid: number }[] = [{ pidfd: root, pid }]
      for (let depth = 1; level.length > 0; depth++) {
        const next: { pidfd: Pidfd; pid: number }[] = []
        for (const parent of level) {
          for (const candidate of lister.childrenOf(parent.pid)) {
            const child = openChildOf(candidate, parent.pid, parent.pidfd.fd)
            if (child === null) continue
            nodes.push({ pidfd: child, pid: candidate, parent: parent.pidfd, parentPid: parent.pid, depth })
            next.push({ pidfd: child, pid: candidate })
          }
        }
        level = next
      }
    } catch (error) {
      closeAll(nodes.map((node) => node.pidfd))
      throw error
    }
  }
  return disposable(nodes, (node) => node.pidfd.close())
}

const SIGSTOP = os.constants.signals.SIGSTOP
const SIGCONT = os.constants.signals.SIGCONT
const SIGKILL = os.constants.signals.SIGKILL
/** Signals after which the members stay stopped: no SIGCONT. */
const STOPPING = new Set([SIGSTOP, os.constants.signals.SIGTSTP, os.constants.signals.SIGTTIN, os.constants.signals.SIGTTOU])

/**
 * How long the walk waits, after its last new member, for members sent SIGSTOP to actually
 * stop, in ms. A member may never stop: one blocked in the kernel, such as a parent in
 * `vfork()` whose child was stopped before its exec. Past this, what was found is signalled.
 */
const STOP_WAIT_MS = 250

/** How many passes the walk makes at most (a bound against a member that forks forever unstopped). */
const MAX_PASSES = 10_000

/** A process killTree holds: its own Pidfd (closed at the end), and what was done to it. */
interface Member {
  pidfd: Pidfd
  pid: number
  parentPid: number | null
  processId: string
  /** SIGSTOP was delivered (or the process has exited): it will stop. */
  stopSent: boolean
  /** Its children were read after it had halted (or exited): the list cannot grow any more. */
  final: boolean
  signal: number | null
  escalated: boolean
  error: NodeJS.ErrnoException | undefined
  /** Set once its pidfd was seen readable: it exited. */
  gone: boolean
  status: ExitStatus | null
}

function newMember(pidfd: Pidfd, pid: number, parentPid: number | null): Member {
  return {
    pidfd,
    pid,
    parentPid,
    processId: features().pidfs ? `${pid}:${pidfd.id}` : String(pid),
    stopSent: false,
    final: false,
    signal: null,
    escalated: false,
    error: undefined,
    gone: false,
    status: null,
  }
}

/** True (and marked) once the member's process has exited: a zombie or reaped. */
function hasGone(member: Member): boolean {
  if (!member.gone && pollExited(member.pidfd.fd)) member.gone = true
  return member.gone
}

/**
 * Sends sig to a member. ESRCH (reaped meanwhile) marks it gone; EPERM and the like are
 * kept on the member, once. True if the signal was delivered.
 */
function signalMember(member: Member, sig: number): boolean {
  try {
    member.pidfd.sendSignal(sig)
    return true
  } catch (error) {
    const errno = error as NodeJS.ErrnoException
    if (errno.code === 'ESRCH') member.gone = true
    else member.error ??= errno
    return false
  }
}

/** Sends SIGSTOP to a member (again: a SIGCONT from elsewhere may have resumed it). */
function stopMember(member: Member): void {
  member.final = false
  member.stopSent = signalMember(member, SIGSTOP) || hasGone(member)
}

/** True if the member can fork no more until resumed: it has exited, or every thread of it is stopped. */
function halted(member: Member): boolean {
  if (hasGone(member)) return true
  // A read that named another process (the pid reused) needs the member reaped first, and a
  // member that has exited cannot fork either: a true answer holds either way.
  return member.stopSent && isHalted(member.pid)
}

/** Every process killTree holds, and the live ones by pid. */
class Members {
  readonly all: Member[] = []
  readonly #byPid = new Map<number, Member>()

  add(member: Member): void {
    this.all.push(member)
    this.#byPid.set(member.pid, member)
  }

  /** True if pid is a member still alive: the same process, since it cannot have been reaped. */
  hasLive(pid: number): boolean {
    const member = this.#byPid.get(pid)
    return member !== undefined && !hasGone(member)
  }
}

/**
 * The walk. Each pass first checks which members have halted (every thread stopped, or
 * exited), then reads the children of every member not yet final; each new child is opened,
 * checked against its parent (see proc.ts) and sent SIGSTOP at once. A member's list counts
 * as final only if it was read after the member had halted: a member with SIGSTOP merely
 * pending may be in the middle of a `fork()` whose child joins the list a moment later.
 * It ends when every member that could be stopped is final (a member this process may not
 * signal is read again on every pass, but waits for nothing), or, if some never stop (see
 * {@link STOP_WAIT_MS}), that long after the last new member.
 *
 * This process (and so its own descendants) is never a member.
 */
async function collect(members: Members): Promise<void> {
  let lastFound = Date.now()
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const pending = members.all.filter((member) => !member.final)
    // Halted before this pass reads their children: what it reads is final.
    const halt = pending.map((member) => member.error === undefined && halted(member))
    const lister = new ChildLister()
    let found = 0
    for (let i = 0; i < pending.length; i++) {
      const parent = pending[i]!
      if (hasGone(parent)) {
        parent.final = true
        continue
      }
      for (const pid of lister.childrenOf(parent.pid)) {
        if (pid === process.pid || members.hasLive(pid)) continue
        const child = openChildOf(pid, parent.pid, parent.pidfd.fd)
        if (child === null) continue
        const member = newMember(child, pid, parent.pid)
        members.add(member)
        stopMember(member)
        found++
      }
      if (halt[i] === true && !hasGone(parent)) parent.final = true
    }
    if (found > 0) {
      lastFound = Date.now()
      continue
    }
    const waiting = members.all.some((member) => !member.final && member.error === undefined && !hasGone(member))
    if (!waiting || Date.now() - lastFound >= STOP_WAIT_MS) return
    // Some SIGSTOPs have not taken effect yet: let their targets run to the stop.
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
}

/**
 * Resolves once every member signalled is gone, or after ms; never rejects. A member that
 * could not be signalled (EPERM) is not waited for.
 */
function waitGone(members: Member[], ms: number): Promise<void> {
  const watches: number[] = []
  let timer: NodeJS.Timeout | undefined
  return new Promise<void>((resolve) => {
    let left = 0
    const done = () => {
      clearTimeout(timer)
      for (const id of watches) native.unwatch(id)
      resolve()
    }
    for (const member of members) {
      if (member.error !== undefined || hasGone(member)) continue
      left++
      watches.push(
        native.watch(member.pidfd.fd, native.UV_READABLE, () => {
          member.gone = true
          if (--left === 0) done()
        }),
      )
    }
    if (left === 0) return done()
    timer = setTimeout(done, ms)
  })
}

/** The exit status of each gone member, where the kernel can tell it at once (see exit.ts). */
async function collectStatuses(members: Member[]): Promise<void> {
  const settled = members
    .filter((member) => member.gone)
    .map((member) =>
      member.pidfd.exited.then(
        (status) => (member.status = status),
        () => {},
      ),
    )
  // The status of a child, a reaped process (6.15+) or a zombie this process may inspect
  // settles within microtasks; that of a zombie whose parent has not reaped it yet could
  // take up to ZOMBIE_WAIT_MS: not waited for.
  await Promise.race([Promise.all(settled), new Promise((resolve) => setImmediate(resolve))])
}

/** `options.timeout` and the like: a number of ms, 0 to 2^31-1. */
export function validateTimeout(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value)
  if (!(value >= 0 && value <= INT32_MAX)) throw outOfRange(name, `>= 0 && <= ${INT32_MAX}`, value)
  return value
}

/**
 * @internal `Pidfd#killTree()`: validates at once (bad input throws before anything is
 * sent), then walks and signals.
 */
export function killTree(root: Pidfd, signal: unknown = 'SIGTERM', options?: KillTreeOptions): Promise<KilledProcess[]> {
  const sig = toSignalNumber(signal)
  let timeout: number | undefined
  let killSig = SIGKILL
  if (validateOptions(options) !== undefined) {
    // Each option read once: a getter cannot answer differently to the check and the use.
    const { timeout: ms, killSignal } = options!
    timeout = validateTimeout(ms, 'options.timeout')
    if (killSignal !== undefined) killSig = toSignalNumber(killSignal, 'options.killSignal')
  }
  const rootFd = root.fd
  if (pollExited(rootFd)) return Promise.resolve([])
  const rootPid = root.pid
  if (rootPid === process.pid) throw invalidArgValue('pidfd', root, 'is this process: killTree() would stop itself')
  if (rootPid === null) return Promise.resolve([])
  // A Pidfd of our own for the root too: the caller's keeps its own exit watch, and may be
  // closed meanwhile (a spawn() child's is, once reaped).
  return walkAndSignal(Pidfd.fromFd(rootFd), rootPid, sig, timeout, killSig)
}

async function walkAndSignal(rootCopy: Pidfd, rootPid: number, sig: number, timeout: number | undefined, killSig: number): Promise<KilledProcess[]> {
  const members = new Members()
  try {
    const rootMember = newMember(rootCopy, rootPid, null)
    members.add(rootMember)
    stopMember(rootMember)
    await collect(members)
    const first = [...members.all]
    signalAll(first, sig)
    if (timeout !== undefined) {
      await waitGone(first, timeout)
      const alive = first.filter((member) => member.error === undefined && !hasGone(member))
      if (alive.length > 0) {
        // What they forked since the first signal (a handler's child, a loop that ignores
        // SIGTERM) is walked and stopped too before killSignal.
        for (const member of alive) stopMember(member)
        await collect(members)
        const targets = [...alive, ...members.all.slice(first.length)]
        for (const member of targets) member.escalated = true
        signalAll(targets, killSig)
        await waitGone(targets, timeout)
      }
      for (const member of members.all) hasGone(member)
      await collectStatuses(members.all)
    } else {
      for (const member of members.all) hasGone(member)
    }
    return members.all.map(report)
  } catch (error) {
    // Never leave a tree stopped behind an error.
    for (const member of members.all) if (member.stopSent && !member.gone) signalMember(member, SIGCONT)
    throw error
  } finally {
    closeAll(members.all.map((member) => member.pidfd))
    if (members.all.length === 0) rootCopy.close()
  }
}

/** Sends sig to every member, then SIGCONT where the signal neither kills nor stops. */
function signalAll(members: Member[], sig: number): void {
  for (const member of members) {
    if (member.gone) continue
    if (signalMember(member, sig)) member.signal = sig
  }
  if (sig === SIGKILL || STOPPING.has(sig)) return
  for (const member of members) if (member.stopSent && !member.gone) signalMember(member, SIGCONT)
}

function report(member: Member): KilledProcess {
  const result: KilledProcess = {
    processId: member.processId,
    pid: member.pid,
    parentPid: member.parentPid,
    signal: member.signal === null ? null : (signalName(member.signal) ?? member.signal),
    escalated: member.escalated,
    exited: member.gone,
    status: member.status,
  }
  if (member.error !== undefined) result.error = member.error
  return result
}
