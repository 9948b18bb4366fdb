/**
 * `pidfd check`: a battery of checks of what the running kernel really does with pidfds,
 * each on real processes, built on this package's public API.
 * @packageDocumentation
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import { constants } from './constants'
import { type FeatureName, featureInfo, features } from './features'
import { Pidfd } from './pidfd'

/** The outcome of one check. */
export type CheckStatus = 'pass' | 'fail' | 'unsupported'

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
  /** With `unsupported`: the missing feature and the first Linux release that has it. */
  feature?: FeatureName
  since?: string
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

/** Fails unless observed equals expected (compared as JSON; bigints as strings). */
function expectEqual(observed: unknown, expected: unknown, what = ''): void {
  const show = (value: unknown) => JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(value)
  if (show(observed) !== show(expected)) throw new CheckFailure(`${what}${show(expected)}`, `${what}${show(observed)}`)
}

/** Fails unless `attempt` throws an error with one of the codes. */
function expectCode(attempt: () => unknown, codes: string[], what: string): void {
  try {
    attempt()
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error)
    if (codes.includes(code)) return
    throw new CheckFailure(`${what} to fail with ${codes.join(' or ')}`, code)
  }
  throw new CheckFailure(`${what} to fail with ${codes.join(' or ')}`, 'success')
}

/** Everything a check starts, so that it is cleaned up whatever happens. */
class Scope {
  readonly children = new Set<ChildProcess>()
  readonly pidfds = new Set<Pidfd>()

  /** Starts a child (argv as given, with stdin and stdout piped) and opens a pidfd on it. */
  start(command: string, args: string[] = []): { child: ChildProcess & { pid: number }; pidfd: Pidfd } {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'ignore'] }) as ChildProcess & { pid: number }
    this.children.add(child)
    return { child, pidfd: this.track(Pidfd.fromChildProcess(child)) }
  }

  /** A child that sleeps until the check is over. */
  sleeper(): { child: ChildProcess & { pid: number }; pidfd: Pidfd } {
    return this.start('sleep', ['30'])
  }

  track(pidfd: Pidfd): Pidfd {
    this.pidfds.add(pidfd)
    return pidfd
  }

  async cleanup(): Promise<void> {
    for (const pidfd of this.pidfds) pidfd.close()
    this.pidfds.clear()
    const running = [...this.children].filter((c) => c.exitCode === null && c.signalCode === null)
    for (const child of running) child.kill('SIGKILL')
    await Promise.all(running.map((child) => once(child, 'exit')))
  }
}

/** The first line a child prints. */
async function firstLine(child: ChildProcess): Promise<string> {
  let text = ''
  for await (const chunk of child.stdout!) {
    text += String(chunk)
    if (text.includes('\n')) break
  }
  return text.split('\n')[0]!
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

interface Check {
  id: string
  title: string
  /** The feature the check needs: without it the result is `unsupported`. */
  needs?: FeatureName
  run(scope: Scope): void | Promise<void>
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
      const { child, pidfd } = scope.start('true')
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
      const { child } = scope.start('true')
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
    run: (scope) => {
      const { child, pidfd } = scope.sleeper()
      expectEqual(scope.track(Pidfd.open(child.pid)).id, pidfd.id, 'inode: ')
    },
  },
  {
    id: 'identity.different',
    title: 'pidfds of different processes have different inodes',
    needs: 'pidfs',
    run: (scope) => {
      const a = scope.sleeper().pidfd
      const b = scope.sleeper().pidfd
      expectEqual(a.equals(b), false, 'equal: ')
    },
  },
  {
    id: 'identity.exit',
    title: 'the inode stays the same across exit and reap',
    needs: 'pidfs',
    run: async (scope) => {
      const { child, pidfd } = scope.start('true')
      const id = pidfd.id
      await reaped(child)
      expectEqual(pidfd.stat().ino, id, 'inode after reap: ')
    },
  },
  {
    id: 'identity.exec',
    title: 'the inode stays the same across exec',
    needs: 'pidfs',
    run: async (scope) => {
      const { child, pidfd } = scope.start('sh', ['-c', 'echo started; exec sleep 30'])
      const id = pidfd.id
      await firstLine(child)
      const deadline = Date.now() + 5000
      while (fs.readFileSync(`/proc/${child.pid}/comm`, 'latin1').trim() !== 'sleep') {
        if (Date.now() > deadline) throw new CheckFailure('exec', 'no exec within 5 s')
        Atomics.wait(sleepCell, 0, 0, 1)
      }
      expectEqual(scope.track(Pidfd.open(child.pid)).id, id, 'inode after exec: ')
    },
  },
  {
    id: 'identity.process-id',
    title: 'a "PID:INODE" process id reopens exactly that process',
    needs: 'pidfs',
    run: (scope) => {
      const { pidfd } = scope.sleeper()
      expectEqual(scope.track(Pidfd.openProcessId(pidfd.processId)).equals(pidfd), true, 'equal: ')
    },
  },
  {
    id: 'identity.process-id-stale',
    title: 'a process id of a reaped process is refused with ESRCH',
    needs: 'pidfs',
    run: async (scope) => {
      const { child, pidfd } = scope.start('true')
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
      const { child, pidfd } = scope.start('sh', ['-c', 'trap "exit 7" USR1; echo ready; while :; do sleep 0.01; done'])
      await firstLine(child)
      pidfd.sendSignal('SIGUSR1')
      expectEqual((await pidfd.wait({ timeout: 5000 })).code, 7, 'exit code after SIGUSR1: ')
    },
  },
  {
    id: 'signal.probe',
    title: 'signal 0 checks a live process and sends nothing',
    needs: 'pidfd',
    run: (scope) => {
      const { pidfd } = scope.sleeper()
      pidfd.sendSignal(0)
      expectEqual(pidfd.hasExited(), false, 'exited: ')
    },
  },
  {
    id: 'signal.zombie',
    title: 'a zombie still accepts (and ignores) signals',
    needs: 'pidfd',
    run: async (scope) => {
      const { child, pidfd } = scope.start('true')
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
      const { child, pidfd } = scope.start('true')
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
    run: (scope) => {
      const { pidfd } = scope.sleeper()
      expectCode(() => pidfd.sendSignal(0, { scope: 'process-group' }), ['ESRCH'], 'signalling its group')
    },
  },
  {
    id: 'poll.exit',
    title: 'a pidfd becomes readable when its process exits',
    needs: 'pidfd',
    run: async (scope) => {
      const { child, pidfd } = scope.sleeper()
      expectEqual(pidfd.hasExited(), false, 'readable while running: ')
      child.kill('SIGKILL')
      blockUntilExited(pidfd)
      await reaped(child)
    },
  },
  {
    id: 'poll.reaped',
    title: 'the reap is visible: the pidfd reports no pid any more',
    needs: 'pidfd',
    run: async (scope) => {
      const { child, pidfd } = scope.start('true')
      await reaped(child)
      expectEqual(pidfd.pid, null, 'pid after reap: ')
    },
  },
  {
    id: 'waitid.child',
    title: 'waitid(P_PIDFD, WNOWAIT) reports a child’s exit without reaping it',
    needs: 'waitid',
    run: async (scope) => {
      const { child, pidfd } = scope.start('sh', ['-c', 'exit 5'])
      blockUntilExited(pidfd)
      const first = pidfd.waitid({ nowait: true, nohang: true })
      const again = pidfd.waitid({ nowait: true, nohang: true })
      expectEqual([first?.kind, first?.code, again?.code], ['exited', 5, 5])
      await reaped(child)
    },
  },
  {
    id: 'waitid.not-child',
    title: 'waitid(P_PIDFD) on a process that is not a child fails with ECHILD',
    needs: 'waitid',
    run: (scope) => expectCode(() => scope.track(Pidfd.open(process.ppid)).waitid({ nohang: true }), ['ECHILD'], 'waitid on the parent'),
  },
  {
    id: 'waitid.stopped',
    title: 'waitid(P_PIDFD, WSTOPPED) reports a stopped child',
    needs: 'waitid',
    run: (scope) => {
      const { child, pidfd } = scope.sleeper()
      child.kill('SIGSTOP')
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
      const { child, pidfd } = scope.start('sh', ['-c', 'exit 3'])
      const fromNode = once(child, 'exit')
      const status = await pidfd.wait({ timeout: 5000 })
      expectEqual([status.code, (await fromNode)[0]], [3, 3])
    },
  },
  {
    id: 'exited.signal',
    title: 'exited reports death by a signal',
    needs: 'waitid',
    run: async (scope) => {
      const { pidfd } = scope.sleeper()
      pidfd.sendSignal('SIGKILL')
      expectEqual((await pidfd.wait({ timeout: 5000 })).signal, 'SIGKILL')
    },
  },
  {
    id: 'exited.not-child',
    title: 'exited reports the status of a process its own parent reaped (PIDFD_INFO_EXIT)',
    needs: 'infoExit',
    run: async (scope) => {
      // The grandchild exits once told to (after it is opened); the shell reaps it. Caught
      // as a zombie first, exited may take the status from /proc: then ask the kernel again
      // once the shell has reaped it.
      const { child } = scope.start('sh', ['-c', 'exec 3<&0; (read go <&3; exit 9) & echo $!; wait; exec sleep 30'])
      const grandchild = scope.track(Pidfd.open(Number(await firstLine(child))))
      child.stdin!.write('go\n')
      const status = await grandchild.wait({ timeout: 5000 })
      expectEqual(status.code, 9, 'exit code: ')
      const deadline = Date.now() + 5000
      while (grandchild.pid !== null) {
        if (Date.now() > deadline) throw new CheckFailure('the shell to reap it', 'not reaped within 5 s')
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
      const { child, pidfd } = scope.start('sh', ['-c', 'exit 6'])
      await reaped(child)
      const info = pidfd.info()
      expectEqual([info.exit?.code, info.pid], [6, undefined])
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
    run: (scope) => {
      const { pidfd } = scope.sleeper()
      expectEqual(scope.track(Pidfd.fromHandle(pidfd.toHandle())).equals(pidfd), true, 'equal: ')
    },
  },
  {
    id: 'handle.stale',
    title: 'the file handle of a reaped process fails with ESTALE',
    needs: 'fileHandles',
    run: async (scope) => {
      const { child, pidfd } = scope.start('true')
      const handle = pidfd.toHandle()
      await reaped(child)
      expectCode(() => Pidfd.fromHandle(handle), ['ESTALE'], 'opening the handle')
    },
  },
  {
    id: 'namespace.net',
    title: 'PIDFD_GET_NET_NAMESPACE opens the namespace /proc/PID/ns/net shows',
    needs: 'namespaces',
    run: (scope) => {
      const { child, pidfd } = scope.sleeper()
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
]

/** The scope of the check running now, for {@link abortChecks}. */
let running: Scope | undefined

/** Kills and closes what the running check started (on SIGINT): nothing is left behind. */
export async function abortChecks(): Promise<void> {
  await running?.cleanup()
}

/** Runs every check in order, each cleaned up whatever happens; reports each as it ends. */
export async function runChecks(onResult?: (result: CheckResult) => void): Promise<CheckResult[]> {
  const found = features()
  const results: CheckResult[] = []
  for (const check of checks) {
    const started = process.hrtime.bigint()
    const base = { id: check.id, title: check.title }
    let result: CheckResult
    if (check.needs !== undefined && !found[check.needs]) {
      result = { ...base, status: 'unsupported', feature: check.needs, since: featureInfo[check.needs].since, durationMs: 0 }
    } else {
      const scope = (running = new Scope())
      try {
        await check.run(scope)
        result = { ...base, status: 'pass', durationMs: 0 }
      } catch (error) {
        const failure = error instanceof CheckFailure ? error : new CheckFailure('no error', String((error as Error).message ?? error))
        result = { ...base, status: 'fail', expected: failure.expected, observed: failure.observed, durationMs: 0 }
      } finally {
        await scope.cleanup()
        running = undefined
      }
    }
    result.durationMs = Number(process.hrtime.bigint() - started) / 1e6
    results.push(result)
    onResult?.(result)
  }
  return results
}
