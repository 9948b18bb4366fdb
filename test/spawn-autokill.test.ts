// spawn()'s killOnClose (Linux 7.1's CLONE_PIDFD_AUTOKILL with CLONE_AUTOREAP): the child
// dies with the last reference to its clone pidfd, whichever way that goes (close(), the
// Node process killed, a Worker's end), reports its exit all the same, and is refused by
// name on older kernels. The kernel's own behaviour, on real children: nothing is mocked.
import * as childProcess from 'node:child_process'
import { once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import { features, Pidfd, spawn } from '../lib'
import { setSpawnMethod } from '../lib/spawn'
import { distEntry, NOBODY, openFdCount, openPidfds, scaled, until } from './helpers'
import { childrenOfThisProcess, inWorker, killAll, processState, runScript, track } from './spawn-helpers'

afterEach(killAll)

/** A child that runs until it is killed, with Node itself (no PATH binary needed). */
const forever = [process.execPath, ['-e', 'setInterval(() => {}, 1000)']] as const

describe('killOnClose: bad values and old kernels', () => {
  it('must be a boolean: ERR_INVALID_ARG_TYPE before anything is made', () => {
    const fds = openFdCount()
    const children = childrenOfThisProcess()
    for (const value of [1, 'yes', null, {}]) {
      expect(() => spawn(forever[0], forever[1], { killOnClose: value as never })).toThrow(
        expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('"options.killOnClose" property must be of type boolean') }),
      )
    }
    expect(openFdCount()).toBe(fds)
    expect(childrenOfThisProcess()).toEqual(children)
  })

  it('false and undefined mean a plain child', async () => {
    for (const killOnClose of [false, undefined]) {
      const child = spawn(process.execPath, ['-e', 'process.exitCode = 4'], { stdio: 'ignore', killOnClose })
      expect((await child.exited).code).toBe(4)
    }
  })

  it.skipIf(features().autoKill)('before Linux 7.1: ERR_PIDFD_UNSUPPORTED naming autoKill and 7.1, and no process, fd or pipe is made', () => {
    const fds = openFdCount()
    const children = childrenOfThisProcess()
    expect(() => spawn(forever[0], forever[1], { killOnClose: true })).toThrow(
      expect.objectContaining({ code: 'ERR_PIDFD_UNSUPPORTED', feature: 'autoKill', since: '7.1' }),
    )
    expect(openFdCount()).toBe(fds)
    expect(childrenOfThisProcess()).toEqual(children)
  })
})

describe.skipIf(!features().autoKill)('killOnClose (needs autoKill, Linux 7.1)', () => {
  it('closing subprocess.pidfd SIGKILLs the child; exited and the events report it, from PIDFD_INFO_EXIT', async () => {
    const child = track(spawn(forever[0], forever[1], { stdio: 'ignore', killOnClose: true }))
    await once(child, 'spawn')
    const exit = once(child, 'exit')
    const close = once(child, 'close')
    child.pidfd!.close()
    expect(await child.exited).toEqual({ code: null, signal: 'SIGKILL', signalNumber: 9, coreDumped: false, source: 'pidfd-info' })
    expect(await exit).toEqual([null, 'SIGKILL'])
    expect(await close).toEqual([null, 'SIGKILL'])
    expect(child.signalCode).toBe('SIGKILL')
    expect(child.killed).toBe(false) // the kernel killed it, not kill()
    expect(processState(child.pid!)).toBeNull() // no zombie: the kernel reaped it
  })

  it('a child that exits by itself reports its code, from PIDFD_INFO_EXIT: the kernel reaped it (waitid found nothing to reap)', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => { process.exitCode = 3 }, 200)'], { stdio: 'ignore', killOnClose: true })
    const [code, signal] = await once(child, 'exit')
    expect([code, signal]).toEqual([3, null])
    expect(await child.exited).toMatchObject({ code: 3, signal: null, source: 'pidfd-info' })
    expect(processState(child.pid!)).toBeNull()
  })

  it('a dup of the pidfd (Pidfd.fromFd) keeps the child alive; closing the last one kills it', async () => {
    const child = track(spawn(forever[0], forever[1], { stdio: 'ignore', killOnClose: true }))
    const copy = Pidfd.fromFd(child.pidfd!.fd)
    child.pidfd!.close()
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(processState(child.pid!), 'alive while the dup is open').toMatch(/^[RS]$/)
    expect(child.exitCode).toBeNull()
    const exit = once(child, 'exit')
    copy.close()
    expect(await exit).toEqual([null, 'SIGKILL'])
  })

  it('a pidfd opened by pid (Pidfd.open) does not keep the child alive, and still sees it die', async () => {
    const child = track(spawn(forever[0], forever[1], { stdio: 'ignore', killOnClose: true }))
    using opened = Pidfd.open(child.pid!)
    const exit = once(child, 'exit')
    child.pidfd!.close()
    expect(await exit).toEqual([null, 'SIGKILL'])
    expect(await opened.exited).toMatchObject({ signal: 'SIGKILL' })
  })

  it('kill() and timeout work through the pidfd as for any child', async () => {
    const killed = spawn(forever[0], forever[1], { stdio: 'ignore', killOnClose: true })
    await once(killed, 'spawn')
    expect(killed.kill('SIGTERM')).toBe(true)
    expect(await once(killed, 'exit')).toEqual([null, 'SIGTERM'])
    expect(killed.kill()).toBe(false) // gone: no signal sent, no throw
    const timedOut = spawn(forever[0], forever[1], { stdio: 'ignore', killOnClose: true, timeout: 100, killSignal: 'SIGINT' })
    expect(await once(timedOut, 'exit')).toEqual([null, 'SIGINT'])
  })

  it('kill -9 of the Node parent takes the child along', async () => {
    // The parent prints its child's pid, then waits to be killed.
    const script = `const child = lib.spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore', killOnClose: true })
      child.on('spawn', () => console.log(child.pid)); setInterval(() => {}, 1000)`
    const parent = track(spawnNodeScript(script))
    const [line] = (await once(parent.stdout!, 'data')) as [Buffer]
    const pid = Number(line.toString().trim())
    expect(processState(pid)).toMatch(/^[RS]$/)
    parent.kill('SIGKILL')
    await until(() => processState(pid) === null, 'the child to die with its parent', scaled(5_000))
  })

  it("a Worker's end kills its killOnClose children, leaving no zombie and no fd", async () => {
    const before = openPidfds().length
    const messages = await inWorker(
      `const child = lib.spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore', killOnClose: true })
      child.on('spawn', () => parentPort.postMessage(child.pid))`,
      (worker) => void worker.terminate(),
    )
    const pid = messages[0] as number
    await until(() => processState(pid) === null, "the child to die with the Worker's fds", scaled(5_000))
    expect(openPidfds().length).toBe(before)
  })

  it.skipIf(process.getuid!() !== 0)('no_new_privs: not set where this process has CAP_SYS_ADMIN; set (CLONE_NNP) as uid 65534, where the kernel requires it', () => {
    // The package is loaded as root, then the ids are dropped: the spawn is made as uid 65534.
    const script = (drop: boolean) => `
      ${drop ? `process.setgroups([]); process.setgid(${NOBODY}); process.setuid(${NOBODY})` : ''}
      const child = lib.spawn(process.execPath, ['-e', 'console.log(/NoNewPrivs:\\\\s*(\\\\d)/.exec(require("fs").readFileSync("/proc/self/status", "latin1"))[1])'], { stdio: ['ignore', 'inherit', 'inherit'], killOnClose: true })
      child.on('exit', (code) => process.exit(code))`
    for (const [drop, expected] of [[false, '0'], [true, '1']] as const) {
      const result = runScript(script(drop))
      expect(result.stderr, `as ${drop ? 'uid 65534' : 'root'}`).toBe('')
      expect(result.stdout.trim(), `NoNewPrivs as ${drop ? 'uid 65534' : 'root'}`).toBe(expected)
    }
  })

  it.each(['clone', 'posix_spawn'] as const)('with %s forced (it has no such flag): ENOTSUP, thrown, and nothing is made', (method) => {
    const fds = openFdCount()
    const children = childrenOfThisProcess()
    setSpawnMethod(method)
    try {
      expect(() => spawn(forever[0], forever[1], { stdio: 'pipe', killOnClose: true })).toThrow(expect.objectContaining({ code: 'ENOTSUP', syscall: 'spawn' }))
    } finally {
      setSpawnMethod('auto')
    }
    expect(openFdCount()).toBe(fds)
    expect(childrenOfThisProcess()).toEqual(children)
  })

  it('leaves the pidfd count flat over many children closed early or exiting', async () => {
    const before = openPidfds().length
    for (let i = 0; i < 50; i++) {
      const child = spawn(forever[0], forever[1], { stdio: 'ignore', killOnClose: true })
      const exit = once(child, 'exit')
      if (i % 2 === 0) child.pidfd!.close()
      else child.kill('SIGKILL')
      await exit
    }
    await until(() => openPidfds().length <= before, 'every pidfd closed', scaled(2_000))
  })
})

/** A Node child (child_process) running `script` with `lib` loaded, stdout piped. */
function spawnNodeScript(script: string): childProcess.ChildProcess {
  return childProcess.spawn(process.execPath, ['-e', `const lib = require(${JSON.stringify(distEntry)});\n${script}`], { stdio: ['ignore', 'pipe', 'inherit'] })
}
