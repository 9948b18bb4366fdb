// killTree() on real process trees: shell pipelines, sh -c chains, a tree of a few hundred
// processes, a tree that forks while it is killed, a member of another user (EPERM), and
// escalation; no fd left open, no zombie left behind.
import { spawnSync } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { features, Pidfd } from '../lib'
import { setChildrenFiles } from '../lib/proc'
import { killChildren, lineFrom, openFdCount, removePackageCopy, scaled, start, until, worldReadablePackage } from './helpers'
import { forkTree, forkTreeSize, grown, marked, newMark, sleeping, stateOf, sweep, tree, errorOf, canMakeTwoUserTree, twoUserTree } from './tree-helpers'
import { zombieChildren } from './spawn-helpers'

/** Every mark a test used: what is left of its tree is swept after each test. */
const marks: string[] = []

function mark(): string {
  const fresh = newMark()
  marks.push(fresh)
  return fresh
}

function openOrNull(pid: number): Pidfd | null {
  try {
    return Pidfd.open(pid)
  } catch {
    return null
  }
}

afterEach(async () => {
  for (const used of marks.splice(0)) sweep(used, openOrNull)
  await killChildren()
})
afterAll(removePackageCopy)

/** Starts a marked `sh -c` tree with its 'exit' watched from the start, and its pidfd. */
function startTree(script: string, stdout: 'pipe' | 'ignore' = 'ignore', which = mark()) {
  const child = tree(script, which, stdout)
  const exit = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  const pidfd = Pidfd.fromChildProcess(child)
  return { child, exit, pidfd, mark: which }
}

describe('killTree', () => {
  it('signals every process of a shell pipeline and an sh -c chain, parents first, and leaves no fd and no zombie', async () => {
    const { child, exit, pidfd, mark: m } = startTree(
      'sleep 1000 | sleep 1000 | sleep 1000 & sh -c "sh -c \\"sleep 1000; true\\"; true" & wait',
    )
    await grown(m, 7, scaled(10_000))
    const fds = openFdCount()
    const killed = await pidfd.killTree('SIGTERM', { timeout: scaled(5000) })
    expect(openFdCount()).toBe(fds)
    expect(killed).toHaveLength(7)
    expect(killed[0]!.pid).toBe(child.pid)
    expect(killed[0]!.parentPid).toBeNull()
    // Every parent is reported before its children.
    const seen = new Set<number>()
    for (const member of killed) {
      if (member.parentPid !== null) expect(seen.has(member.parentPid)).toBe(true)
      seen.add(member.pid)
      expect(member).toMatchObject({ signal: 'SIGTERM', escalated: false, exited: true })
      expect(member.error).toBeUndefined()
      if (features().pidfs) expect(member.processId).toMatch(new RegExp(`^${member.pid}:\\d+$`))
      else expect(member.processId).toBe(String(member.pid))
      expect(member.status?.signal ?? 'SIGTERM').toBe('SIGTERM')
    }
    expect(await exit).toEqual([null, 'SIGTERM'])
    expect(marked(m)).toEqual([])
    pidfd.close()
    expect(zombieChildren()).toEqual([])
  })

  it('resolves once every member is signalled without a timeout, and resumes what it stopped', async () => {
    // SIGUSR1 kills sleep; the shell traps it, and can run its trap only if it was resumed.
    const { child, exit, pidfd, mark: m } = startTree('trap "echo usr1; exit 0" USR1; sleep 1000 & sleep 1000 & wait', 'pipe')
    await until(() => sleeping(m) === 2, 'both sleeps', scaled(10_000))
    const killed = await pidfd.killTree('SIGUSR1')
    expect(killed.map((member) => member.signal)).toEqual(['SIGUSR1', 'SIGUSR1', 'SIGUSR1'])
    expect(await lineFrom(child, /^usr1$/)).toBe('usr1')
    expect(await exit).toEqual([0, null])
    await until(() => marked(m).length === 0, 'the sleeps to die', scaled(5000))
    pidfd.close()
  })

  it('escalates to killSignal for members that outlive the timeout, including what they forked meanwhile', async () => {
    // The shell survives SIGTERM (a trap, which sleep does not inherit as it would an
    // ignored signal) and forks a new sleep each time one dies.
    const { exit, pidfd, mark: m } = startTree('trap "echo term" TERM; while true; do sleep 1000; done')
    await until(() => sleeping(m) === 1, 'the sleep', scaled(10_000))
    const started = Date.now()
    const killed = await pidfd.killTree('SIGTERM', { timeout: 300 })
    expect(Date.now() - started).toBeGreaterThanOrEqual(290)
    const root = killed[0]!
    expect(root).toMatchObject({ signal: 'SIGKILL', escalated: true, exited: true })
    // Its status, unless Node reaped it first on a kernel that keeps none (before 6.15).
    if (root.status?.source !== 'unavailable') expect(root.status).toMatchObject({ signal: 'SIGKILL' })
    // The first sleep died of SIGTERM; the one forked after it got SIGKILL.
    expect(killed.slice(1).map((member) => [member.signal, member.escalated])).toEqual([
      ['SIGTERM', false],
      ['SIGKILL', true],
    ])
    expect(await exit).toEqual([null, 'SIGKILL'])
    await until(() => marked(m).length === 0, 'no survivor', scaled(5000))
    pidfd.close()
  })

  it('kills a tree of 259 processes, three levels below its root', async () => {
    // Six subtrees of 43 under one shell: 1 + 6 * 43 = 259 processes.
    const script = `for j in 1 2 3 4 5 6; do (${forkTree(6, 1)}) & done; wait`
    const size = 1 + 6 * forkTreeSize(6, 1)
    const { exit, pidfd, mark: m } = startTree(script)
    await grown(m, size, scaled(20_000))
    const fds = openFdCount()
    {
      using nodes = pidfd.descendants()
      expect(nodes).toHaveLength(size - 1)
      expect(Math.max(...nodes.map((node) => node.depth))).toBe(3)
    }
    const started = performance.now()
    const killed = await pidfd.killTree('SIGKILL', { timeout: scaled(10_000) })
    const ms = performance.now() - started
    console.log(`killTree: ${killed.length} processes signalled and gone in ${ms.toFixed(1)} ms`)
    expect(openFdCount()).toBe(fds)
    expect(killed).toHaveLength(size)
    expect(killed.every((member) => member.exited && member.signal === 'SIGKILL')).toBe(true)
    expect(await exit).toEqual([null, 'SIGKILL'])
    expect(marked(m)).toEqual([])
    pidfd.close()
  }, scaled(60_000))

  // PIDFD_TREE_RUNS=100 for the figure; 15 keeps the suite short on a busy machine.
  const runs = Number(process.env.PIDFD_TREE_RUNS ?? 15)
  it.each(['SIGKILL', 'SIGTERM'] as const)(`leaves no survivor of a tree that forks while it is killed with %s (${runs} runs)`, async (signal) => {
    const fds = openFdCount()
    const survivors: number[] = []
    let total = 0
    for (let run = 0; run < runs; run++) {
      const { exit, pidfd, mark: m } = startTree(forkTree(4, 2))
      // Kill at a different point of the growth each run: from the first fork to nearly done.
      await grown(m, 2 + ((run * 7) % 60), scaled(10_000))
      const killed = await pidfd.killTree(signal, { timeout: scaled(5000) })
      total += killed.length
      await exit
      pidfd.close()
      // A process that escaped would still be forking or sleeping: give it time to show.
      await new Promise((resolve) => setTimeout(resolve, 50))
      survivors.push(marked(m).length)
    }
    console.log(`${signal}: ${runs} forking trees, ${total} processes signalled, survivors per run: ${survivors.join(' ')}`)
    expect(survivors.every((count) => count === 0)).toBe(true)
    expect(openFdCount()).toBe(fds)
    expect(zombieChildren()).toEqual([])
  }, scaled(runs * 6000))

  it('reports EPERM for a member of another user and signals the rest', async (context) => {
    if (!canMakeTwoUserTree()) {
      console.log('skipped: needs root and setpriv (util-linux) to make a tree of two users')
      return context.skip()
    }
    const m = mark()
    const { launcher, exit, other } = await twoUserTree(m, ["spawn('sh', ['-c', 'sleep 1000; true'])"])
    await grown(m, 5, scaled(10_000)) // the launcher (setpriv execs node), its 3 children, sh's sleep
    const pkg = worldReadablePackage()
    const killer = spawnSync(
      process.execPath,
      [
        '-e',
        `const { Pidfd } = require(${JSON.stringify(path.join(pkg, 'dist', 'index.js'))})
         const root = Pidfd.open(Number(process.argv[1]))
         root.killTree('SIGTERM', { timeout: 5000 }).then((killed) => {
           console.log(JSON.stringify(killed.map((p) => ({ pid: p.pid, signal: p.signal, exited: p.exited, error: p.error && [p.error.code, p.error.syscall] }))))
           root.close()
         })`,
        String(launcher.pid),
      ],
      { uid: 12345, gid: 12345, encoding: 'utf8', timeout: scaled(20_000) },
    )
    expect(killer.stderr).toBe('')
    const killed = JSON.parse(killer.stdout) as { pid: number; signal: string | null; exited: boolean; error?: [string, string] }[]
    expect(killed.length).toBeGreaterThanOrEqual(5)
    const denied = killed.filter((member) => member.error !== undefined)
    expect(denied).toEqual([{ pid: other, signal: null, exited: false, error: ['EPERM', 'pidfd_send_signal'] }])
    for (const member of killed) if (member.pid !== other) expect(member).toMatchObject({ signal: 'SIGTERM', exited: true })
    await exit
    // Only the other user's member is left: it was never stopped, only reported.
    expect(marked(m)).toEqual([other])
    expect(stateOf(other)).not.toBe('T')
  })

  it('returns [] for a process that has already exited, and leaves its former children alone', async () => {
    const { child, exit, pidfd, mark: m } = startTree('sleep 1000 & echo $!', 'pipe')
    const orphan = Number(await lineFrom(child, /^\d+$/))
    await exit // listened for from the start: the shell exits right after its echo
    expect(await pidfd.killTree('SIGKILL')).toEqual([])
    expect(marked(m)).toEqual([orphan])
    pidfd.close()
  })

  it('refuses bad input before anything is sent', async () => {
    const { pidfd, mark: m } = startTree('sleep 1000 & wait')
    await grown(m, 2, scaled(10_000))
    const fds = openFdCount()
    const code = errorOf
    expect(code(() => pidfd.killTree('SIGFOO' as NodeJS.Signals))).toEqual(['TypeError', 'ERR_UNKNOWN_SIGNAL'])
    expect(code(() => pidfd.killTree(99))).toEqual(['RangeError', 'ERR_OUT_OF_RANGE'])
    expect(code(() => pidfd.killTree({} as never))).toEqual(['TypeError', 'ERR_INVALID_ARG_TYPE'])
    expect(code(() => pidfd.killTree('SIGTERM', null as never))).toEqual(['TypeError', 'ERR_INVALID_ARG_TYPE'])
    expect(code(() => pidfd.killTree('SIGTERM', { timeout: -1 }))).toEqual(['RangeError', 'ERR_OUT_OF_RANGE'])
    expect(code(() => pidfd.killTree('SIGTERM', { timeout: '5' as never }))).toEqual(['TypeError', 'ERR_INVALID_ARG_TYPE'])
    expect(code(() => pidfd.killTree('SIGTERM', { killSignal: 'KILL' as never }))).toEqual(['TypeError', 'ERR_UNKNOWN_SIGNAL'])
    {
      using self = Pidfd.open(process.pid)
      expect(code(() => self.killTree())).toEqual(['TypeError', 'ERR_INVALID_ARG_VALUE'])
    }
    const closed = Pidfd.fromFd(pidfd.fd)
    closed.close()
    expect(code(() => closed.killTree())).toEqual(['Error', 'ERR_PIDFD_CLOSED'])
    // Nothing was stopped or signalled, and nothing is left open.
    expect(marked(m)).toHaveLength(2)
    // Not stopped ('T'): running or asleep (a loaded machine may catch one still starting).
    for (const pid of marked(m)) expect(stateOf(pid)).toMatch(/^[RSD]$/)
    expect(openFdCount()).toBe(fds)
    pidfd.close()
  })

  it('kills the tree of a spawn() child in a process group of its own, through child.pidfd', async () => {
    const { spawn: pidfdSpawn } = await import('../lib')
    const m = mark()
    const child = pidfdSpawn('sh', ['-c', 'sleep 1000 & sleep 1000 & wait'], {
      env: { ...process.env, PIDFD_TREE_TEST: m },
      processGroup: true,
      stdio: 'ignore',
    })
    const exited = child.exited
    await grown(m, 3, scaled(10_000))
    const killed = await child.pidfd!.killTree('SIGTERM', { timeout: scaled(5000) })
    expect(killed).toHaveLength(3)
    expect((await exited).signal).toBe('SIGTERM')
    expect(marked(m)).toEqual([])
  })
})

describe('children() and descendants()', () => {
  it('lists the children and the whole tree with parents, each checked, and closes them all with using', async () => {
    const { pidfd, mark: m } = startTree('sleep 1000 | sleep 1000 & sh -c "sleep 1000; true" & wait')
    await grown(m, 5, scaled(10_000))
    const fds = openFdCount()
    {
      using kids = pidfd.children()
      expect(kids).toHaveLength(3)
      for (const kid of kids) expect(readPpid(kid.pid!)).toBe(pidfd.pid)
      using nodes = pidfd.descendants()
      expect(nodes).toHaveLength(4)
      expect(nodes.map((node) => node.depth)).toEqual([1, 1, 1, 2])
      const deep = nodes[3]!
      expect(deep.parentPid).toBe(readPpid(deep.pid))
      expect(nodes.some((node) => node.pidfd === deep.parent)).toBe(true)
      for (const node of nodes.slice(0, 3)) expect(node.parent).toBe(pidfd)
      expect(openFdCount()).toBe(fds + 7)
    }
    expect(openFdCount()).toBe(fds)
    pidfd.close()
  })

  it('lists nothing for a process that has exited, though its former children live on', async () => {
    const { child, exit, pidfd } = startTree('sleep 1000 & echo $!', 'pipe')
    await lineFrom(child, /^\d+$/)
    await exit
    expect(pidfd.children()).toEqual([])
    expect(pidfd.descendants()).toEqual([])
    pidfd.close()
  })

  it('never reports a pid under a parent it does not belong to (the check after the open)', async () => {
    const { openChildOf } = await import('../lib/proc')
    const { child, pidfd, mark: m } = startTree('sleep 1000 & echo $!; wait', 'pipe')
    const kid = Number(await lineFrom(child, /^\d+$/))
    await grown(m, 2, scaled(10_000))
    const gone = start(process.execPath, ['-e', '0'])
    using gonePidfd = Pidfd.fromChildProcess(gone)
    await once(gone, 'exit')
    using self = Pidfd.open(process.pid)
    const fds = openFdCount()
    // A process that is not its child (this one), and its real child claimed for another parent.
    expect(openChildOf(process.pid, pidfd.pid!, pidfd.fd)).toBeNull()
    expect(openChildOf(kid, process.pid, self.fd)).toBeNull()
    // Claimed for a parent that has exited: dropped too.
    expect(openChildOf(kid, gone.pid!, gonePidfd.fd)).toBeNull()
    // Each candidate dropped was closed.
    expect(openFdCount()).toBe(fds)
    const real = openChildOf(kid, pidfd.pid!, pidfd.fd)
    expect(real?.pid).toBe(kid)
    real!.close()
    pidfd.close()
  })

  it('throws ERR_PIDFD_CLOSED on a closed Pidfd', () => {
    const pidfd = Pidfd.open(process.pid)
    pidfd.close()
    expect(() => pidfd.children()).toThrow(expect.objectContaining({ code: 'ERR_PIDFD_CLOSED' }))
    expect(() => pidfd.descendants()).toThrow(expect.objectContaining({ code: 'ERR_PIDFD_CLOSED' }))
  })
})

/** The parent pid /proc reports for pid. */
function readPpid(pid: number): number {
  const text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1')
  return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1])
}

describe('with the /proc/[0-9]+/stat scan (kernels without CONFIG_PROC_CHILDREN)', () => {
  beforeAll(() => setChildrenFiles(false))
  afterAll(() => setChildrenFiles(undefined))

  it('lists the same tree', async () => {
    const { pidfd, mark: m } = startTree('sleep 1000 | sleep 1000 & sh -c "sleep 1000; true" & wait')
    await grown(m, 5, scaled(10_000))
    using kids = pidfd.children()
    expect(kids).toHaveLength(3)
    using nodes = pidfd.descendants()
    expect(nodes.map((node) => node.depth)).toEqual([1, 1, 1, 2])
    pidfd.close()
  })

  it('leaves no survivor of a tree that forks while it is killed (5 runs)', async () => {
    const survivors: number[] = []
    for (let run = 0; run < 5; run++) {
      const { exit, pidfd, mark: m } = startTree(forkTree(4, 2))
      await grown(m, 2 + run * 12, scaled(10_000))
      await pidfd.killTree('SIGKILL', { timeout: scaled(5000) })
      await exit
      pidfd.close()
      await new Promise((resolve) => setTimeout(resolve, 50))
      survivors.push(marked(m).length)
    }
    expect(survivors).toEqual([0, 0, 0, 0, 0])
  }, scaled(60_000))
})
