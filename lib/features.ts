/**
 * What the running kernel can do with pidfds, probed once against the kernel itself
 * (not guessed from its version) and cached, as systemd's `pidfd_check_pidfs()` does.
 * @packageDocumentation
 */
import util from 'node:util'
import { native } from './binding'
import { cloneFlags, constants } from './constants'
import { errnoException, invalidArgValue, pidfsUnsupported, unsupported } from './errors'
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
  /**
   * `name_to_handle_at` and `open_by_handle_at` on pidfds: persistent process handles (Linux
   * 6.14). Both directions or neither: where a sandbox refuses either call this is false, so
   * that `toHandle()` is never offered for handles that `fromHandle()` cannot open here.
   */
  readonly fileHandles: boolean
  /** `FD_PIDFS_ROOT`: opening a handle needs no other pidfd (Linux 6.17). */
  readonly pidfsRoot: boolean
  /** `PIDFD_GET_*_NAMESPACE` ioctls (Linux 6.11). */
  readonly namespaces: boolean
  /** `pidfd_getfd(2)`: copying an fd out of another process (Linux 5.6). */
  readonly getfd: boolean
  /** `PIDFD_SELF_THREAD`/`PIDFD_SELF_THREAD_GROUP` sentinels (Linux 6.15). */
  readonly selfPidfd: boolean
  /**
   * `clone(2)` with `CLONE_PIDFD`: a child made with its pidfd (Linux 5.2). No probe can ask
   * clone() without making a child (before 5.2 the flag bit was ignored), so this follows
   * `pidfd` (5.3): where pidfd_open works, the kernel has it.
   */
  readonly clonePidfd: boolean
  /** `clone3(2)` (Linux 5.3), which {@link spawn} prefers. */
  readonly clone3: boolean
  /**
   * `CLONE_CLEAR_SIGHAND` (Linux 5.5). Probed together with `CLONE_INTO_CGROUP`, so a 5.5 or
   * 5.6 kernel reports false: spawn() then falls back to clone(), as it does before 5.5.
   */
  readonly clearSighand: boolean
  /** `CLONE_INTO_CGROUP`: spawn()'s `cgroup` option (Linux 5.7). */
  readonly intoCgroup: boolean
  /** `CLONE_AUTOREAP`: a child the kernel reaps itself (Linux 7.1). */
  readonly autoReap: boolean
  /** `CLONE_PIDFD_AUTOKILL`: a child killed when its last pidfd closes, spawn()'s `killOnClose` (Linux 7.1). */
  readonly autoKill: boolean
  /** `CLONE_NNP`: a child started with no_new_privs (Linux 7.1). */
  readonly noNewPrivs: boolean
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
    clonePidfd: { since: '5.2', description: 'clone(2) with CLONE_PIDFD' },
    clone3: { since: '5.3', description: 'clone3(2)' },
    clearSighand: { since: '5.5', description: 'CLONE_CLEAR_SIGHAND' },
    intoCgroup: { since: '5.7', description: 'CLONE_INTO_CGROUP' },
    autoReap: { since: '7.1', description: 'CLONE_AUTOREAP' },
    autoKill: { since: '7.1', description: 'CLONE_PIDFD_AUTOKILL (kill on last close)' },
    noNewPrivs: { since: '7.1', description: 'CLONE_NNP' },
  })

/**
 * Why a feature is missing. `kernel`: the kernel does not know the call or flag. `blocked`:
 * a seccomp filter or security policy refused the probe (EPERM, EACCES, or ENOSYS from a
 * syscall this kernel is shown to have). `unsure`: ENOSYS from a syscall the kernel may
 * lack. `failed`: any other errno.
 */
interface Missing {
  readonly kind: 'kernel' | 'blocked' | 'unsure' | 'failed'
  readonly code?: string
  readonly syscall?: string
}

/** A probe's answer: supported, or why not. */
type Verdict = true | Missing

/** One probe of every feature, and whether it may be cached. */
interface Probe {
  readonly features: Features
  readonly missing: Readonly<Partial<Record<FeatureName, Missing>>>
  /** False when a probe ran out of a resource (fds, memory): the next call probes again. */
  readonly stable: boolean
}

const KERNEL: Missing = Object.freeze({ kind: 'kernel' })

/** Errnos with which sandboxes refuse a syscall: the feature is blocked, not absent. */
const REFUSED = ['EPERM', 'EACCES']

/** Errnos of a momentary shortage: a probe that fails so says nothing about the kernel. */
const TRANSIENT = ['EMFILE', 'ENFILE', 'ENOMEM', 'EAGAIN', 'EINTR']

/**
 * The first Linux release that has each syscall the probes make, for the ones newer than
 * pidfds: ENOSYS from any other syscall can only come from a filter.
 */
const syscallSince: Readonly<Record<string, string>> = { pidfd_send_signal: '5.1', pidfd_open: '5.3', clone3: '5.3', pidfd_getfd: '5.6' }

let cached: Probe | undefined

function current(): Probe {
  if (cached !== undefined) return cached
  const probed = probe()
  if (probed.stable) cached = probed
  return probed
}

/**
 * Probes the running kernel's pidfd features once (a handful of syscalls on a pidfd of
 * this process) and returns the cached answer afterwards.
 *
 * Never throws. A probe that a seccomp filter or sandbox refuses (EPERM, EACCES, ENOSYS
 * from a syscall the kernel has) makes only its feature, and the features built on it,
 * false; {@link unsupportedReason} says why. A probe that runs out of fds or memory makes
 * its feature false for this call only: the next call probes again.
 *
 * @example
 * ```ts
 * if (!features().pidfs) console.log('no pidfs: process identity is unavailable')
 * ```
 */
export function features(): Features {
  return current().features
}

/**
 * Why `name` is unsupported here, in a few words, or undefined when it is supported:
 * - `'needs Linux 6.13'`: the kernel lacks it;
 * - `'blocked (EPERM from pidfd_getfd)'`: a seccomp filter or sandbox refused the probe
 *   (the errno and the syscall), whatever the kernel;
 * - `'needs Linux 5.6 or blocked (ENOSYS from pidfd_getfd)'`: ENOSYS from a syscall this
 *   kernel may lack, when no other probe showed it new enough to tell;
 * - `'probe failed (EIO from statx)'`: any other error.
 */
export function unsupportedReason(name: FeatureName): string | undefined {
  if (typeof name !== 'string' || !Object.hasOwn(featureInfo, name)) {
    throw invalidArgValue('name', name, `must be one of: ${Object.keys(featureInfo).join(', ')}`)
  }
  const missing = current().missing[name]
  return missing === undefined ? undefined : describeMissing(name, missing)
}

function describeMissing(name: FeatureName, { kind, code, syscall }: Missing): string {
  const { since } = featureInfo[name]
  const cause = `${code} from ${syscall}`
  if (kind === 'blocked') return `blocked (${cause})`
  if (kind === 'unsure') return `needs Linux ${since} or blocked (${cause})`
  if (kind === 'failed') return `probe failed (${cause})`
  return `needs Linux ${since}`
}

/**
 * Throws unless `name` is supported: `ERR_PIDFD_UNSUPPORTED` (`ERR_PIDFS_UNSUPPORTED` for
 * pidfs) whose `reason` is {@link unsupportedReason}'s; or, when the probe merely ran out of
 * fds or memory, that errno (EMFILE, ENOMEM...), as the call itself would have failed.
 */
export function requireFeature(name: FeatureName): void {
  const missing = current().missing[name]
  if (missing === undefined) return
  const { kind, code, syscall } = missing
  if (kind === 'failed' && TRANSIENT.includes(code!)) throw errnoException(code!, syscall!, `probing for ${featureInfo[name].description}`)
  const reason = kind === 'kernel' ? undefined : describeMissing(name, missing)
  if (name === 'pidfs') throw pidfsUnsupported(reason)
  const { description, since } = featureInfo[name]
  throw unsupported(name, description, since, reason)
}

/**
 * Runs one probe, which never throws: true if `attempt` succeeds (and does not return
 * false) or fails with an errno in `yes`; the kernel lacks the feature if it returns false
 * or fails with an errno in `no`; any other error says why the feature cannot be used.
 */
function attempt(run: () => unknown, no: readonly string[] = ['EINVAL'], yes: readonly string[] = []): Verdict {
  try {
    return run() === false ? KERNEL : true
  } catch (error) {
    const { code = String((error as Error).name), syscall = 'the probe' } = error as NodeJS.ErrnoException
    if (yes.includes(code)) return true
    if (no.includes(code)) return KERNEL
    if (REFUSED.includes(code)) return { kind: 'blocked', code, syscall }
    return { kind: code === 'ENOSYS' ? 'unsure' : 'failed', code, syscall }
  }
}

/**
 * What a feature built on others gets from them: true if all are supported, else the first
 * missing one's reason (a kernel that lacks a prerequisite lacks the feature too, and says
 * so with the feature's own release).
 */
function after(...prerequisites: Verdict[]): Verdict {
  return prerequisites.find((verdict) => verdict !== true) ?? true
}

/** {@link attempt}, once every prerequisite is supported. */
function probeAfter(prerequisite: Verdict, run: () => unknown, no?: readonly string[], yes?: readonly string[]): Verdict {
  return prerequisite === true ? attempt(run, no, yes) : prerequisite
}

function probe(): Probe {
  let fd = -1
  const opened = attempt(() => (fd = native.pidfdOpen(process.pid, 0)), [])
  if (opened !== true) {
    // No pidfd, no other probe: every feature is missing for the same reason.
    return settle(Object.fromEntries(Object.keys(featureInfo).map((name) => [name, opened])) as Record<FeatureName, Verdict>, releaseWithoutPidfd())
  }
  try {
    return settle(probeWith(fd), '5.3')
  } finally {
    native.close(fd)
  }
}

/**
 * How new the kernel is shown to be by the calls that need no pidfd, to tell a pidfd_open
 * (5.3) refused with ENOSYS from one the kernel lacks: pidfd_getfd (5.6) knows that fd -1 is
 * bad, and PIDFD_SELF_THREAD (6.15) works.
 */
function releaseWithoutPidfd(): string {
  if (attempt(() => native.pidfdSendSignal(constants.PIDFD_SELF_THREAD, 0, 0), ['EBADF']) === true) return '6.15'
  if (attempt(() => native.pidfdGetfd(-1, 0), [], ['EBADF']) === true) return '5.6'
  return '0.0'
}

/** The size of `struct clone_args` with its `cgroup` field (CLONE_ARGS_SIZE_VER2). */
const CLONE_ARGS_SIZE_VER2 = 88

/**
 * Asks clone3 about `flags` without making a process (see {@link Native.clone3Errno}): it
 * succeeds on EBADF (every flag known; the cgroup fd is looked up last) and throws the
 * errno otherwise. `size` 0 only asks whether clone3 exists.
 */
function clone3Knows(flags: bigint, size = CLONE_ARGS_SIZE_VER2): () => void {
  return () => {
    const errno = native.clone3Errno(flags, size)
    const code = errno === 0 ? 'made a process' : util.getSystemErrorName(-errno)
    if (code !== (size === 0 ? 'EINVAL' : 'EBADF')) throw Object.assign(new Error(code), { code, syscall: 'clone3' })
  }
}

/** The clone3 probes: each a flag (or flags) the kernel either knows or answers EINVAL to. */
function probeClone(): Pick<Record<FeatureName, Verdict>, 'clone3' | 'clearSighand' | 'intoCgroup' | 'autoReap' | 'autoKill' | 'noNewPrivs'> {
  const clone3 = attempt(clone3Knows(0n, 0), [])
  const intoCgroup = probeAfter(clone3, clone3Knows(0n))
  // The 7.1 flags' own rules: AUTOKILL needs CLONE_PIDFD and AUTOREAP, and CAP_SYS_ADMIN
  // unless CLONE_NNP is set (with it, an EPERM can only come from a filter).
  const autoReap = probeAfter(intoCgroup, clone3Knows(cloneFlags.CLONE_AUTOREAP))
  return {
    clone3,
    clearSighand: probeAfter(clone3, clone3Knows(cloneFlags.CLONE_CLEAR_SIGHAND)),
    intoCgroup,
    autoReap,
    autoKill: probeAfter(autoReap, clone3Knows(cloneFlags.CLONE_PIDFD | cloneFlags.CLONE_AUTOREAP | cloneFlags.CLONE_NNP | cloneFlags.CLONE_PIDFD_AUTOKILL)),
    noNewPrivs: probeAfter(intoCgroup, clone3Knows(cloneFlags.CLONE_NNP)),
  }
}

/** Every probe but pidfd_open's, each isolated: one refused call leaves the others alone. */
function probeWith(fd: number): Record<FeatureName, Verdict> {
  const openWith = (flags: number) => () => native.close(native.pidfdOpen(process.pid, flags))
  const pidfs = attempt(() => native.fstatfs(fd) === constants.PID_FS_MAGIC)
  // Unknown ioctl: ENOTTY on anonymous-inode pidfds (before 6.9), EINVAL on pidfs before 6.13.
  // One call answers both: the COREDUMP bit comes back on a live process from 6.16.
  let infoMask = 0
  const getInfoVerdict = attempt(() => (infoMask = getInfo(fd, constants.PIDFD_INFO_PID | constants.PIDFD_INFO_COREDUMP).mask), ['ENOTTY', 'EINVAL'])
  const infoCoredump = probeAfter(getInfoVerdict, () => (infoMask & constants.PIDFD_INFO_COREDUMP) !== 0)
  const selfPidfd = attempt(() => native.pidfdSendSignal(constants.PIDFD_SELF_THREAD, 0, 0), ['EBADF'])
  // Both directions, or neither: a handle this process could make but never open again
  // (open_by_handle_at refused) would advertise toHandle() for a fromHandle() that fails.
  // ENOTSUP is Node's name for EOPNOTSUPP (both 95 on Linux): no pidfs handles before 6.14.
  let handle: Buffer | undefined
  const fileHandles = probeAfter(
    pidfs,
    () => {
      handle = nameToHandle(fd)
      native.close(openHandle(fd, handle))
    },
    ['ENOTSUP'],
  )
  return {
    pidfd: true,
    nonblock: attempt(openWith(constants.PIDFD_NONBLOCK)),
    pidfs,
    threadPidfd: attempt(openWith(constants.PIDFD_THREAD)),
    signalScopes: attempt(() => native.pidfdSendSignal(fd, 0, constants.PIDFD_SIGNAL_THREAD_GROUP)),
    statxIno: probeAfter(pidfs, () => (statx(fd, constants.STATX_INO).mask & constants.STATX_INO) !== 0),
    // This process is not its own child: ECHILD once P_PIDFD is known, EINVAL before.
    waitid: attempt(() => native.waitid(fd, constants.WEXITED | constants.WNOHANG), ['EINVAL'], ['ECHILD']),
    getInfo: getInfoVerdict,
    // PIDFD_INFO_EXIT is only ever set for a reaped process: what came in the same release
    // (PIDFD_SELF_*, 6.15) or later (PIDFD_INFO_COREDUMP, 6.16) shows it is there.
    infoExit: infoCoredump === true ? true : after(getInfoVerdict, selfPidfd),
    infoCoredump,
    fileHandles,
    pidfsRoot: probeAfter(fileHandles, () => native.close(openHandle(native.FD_PIDFS_ROOT, handle!)), ['EBADF']),
    namespaces: attempt(() => native.close(native.pidfdGetNamespace(fd, 10)), ['ENOTTY', 'EINVAL'], ['ENOTSUP']),
    getfd: attempt(() => native.close(native.pidfdGetfd(fd, fd)), []),
    selfPidfd,
    clonePidfd: true,
    ...probeClone(),
  }
}

/** Release `a` is at least `b` ('6.13' style). */
function atLeast(a: string, b: string): boolean {
  const [aMajor, aMinor] = a.split('.').map(Number) as [number, number]
  const [bMajor, bMinor] = b.split('.').map(Number) as [number, number]
  return aMajor > bMajor || (aMajor === bMajor && aMinor >= bMinor)
}

/**
 * Turns verdicts into the cached answer. ENOSYS is ambiguous: a syscall older than the
 * newest feature that worked (or older than pidfds) exists here, so a filter refused it.
 */
function settle(verdicts: Record<FeatureName, Verdict>, floor: string): Probe {
  let newest = floor
  for (const [name, verdict] of Object.entries(verdicts)) {
    const { since } = featureInfo[name as FeatureName]
    if (verdict === true && atLeast(since, newest)) newest = since
  }
  const missing: Partial<Record<FeatureName, Missing>> = {}
  let stable = true
  for (const [name, verdict] of Object.entries(verdicts) as [FeatureName, Verdict][]) {
    if (verdict === true) continue
    const exists = verdict.kind === 'unsure' && atLeast(newest, syscallSince[verdict.syscall!] ?? '0.0')
    missing[name] = Object.freeze(exists ? { ...verdict, kind: 'blocked' } : verdict)
    if (verdict.kind === 'failed' && TRANSIENT.includes(verdict.code!)) stable = false
  }
  const found = Object.fromEntries(Object.keys(verdicts).map((name) => [name, !(name in missing)]))
  return { features: Object.freeze(found) as unknown as Features, missing: Object.freeze(missing), stable }
}
