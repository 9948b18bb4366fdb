// pidfd_send_signal on real processes: delivery, probing, scopes and the kernel's errors.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { Pidfd, features } from '../lib'
import { killChildren, lineFrom, NOBODY, reaped, sleeper, start, until, removePackageCopy, worldReadablePackage } from './helpers'

afterEach(killChildren)
afterAll(removePackageCopy)

/** A node child that reports each signal it receives on stdout. */
function signalReporter(signals: string[] = ['SIGUSR1', 'SIGUSR2', 'SIGTERM']) {
  const script = `
    for (const name of ${JSON.stringify(signals)}) process.on(name, () => console.log('got ' + name))
    console.log('ready')
    setInterval(() => {}, 1000)`
  return start(process.execPath, ['-e', script]) as ReturnType<typeof start> & { pid: number }
}

describe('sendSignal', () => {
  it('delivers signals by name and by number', async () => {
    const child = signalReporter()
    await lineFrom(child, /ready/)
    using pidfd = Pidfd.open(child.pid)
    pidfd.sendSignal('SIGUSR1')
    expect(await lineFrom(child, /^got/)).toBe('got SIGUSR1')
    pidfd.sendSignal(12) // SIGUSR2 on Linux
    expect(await lineFrom(child, /^got/)).toBe('got SIGUSR2')
  })

  it('sends SIGTERM by default', async () => {
    const child = signalReporter()
    await lineFrom(child, /ready/)
    using pidfd = Pidfd.open(child.pid)
    pidfd.sendSignal()
    expect(await lineFrom(child, /^got/)).toBe('got SIGTERM')
  })

  it('kills with SIGKILL', async () => {
    const child = sleeper()
    using pidfd = Pidfd.open(child.pid)
    pidfd.sendSignal('SIGKILL')
    await reaped(child)
    expect(child.signalCode).toBe('SIGKILL')
  })

  it('probes with signal 0 and sends nothing', async () => {
    const child = signalReporter()
    await lineFrom(child, /ready/)
    using pidfd = Pidfd.open(child.pid)
    expect(pidfd.sendSignal(0)).toBeUndefined()
    pidfd.sendSignal('SIGUSR2')
    // The first signal the child saw is the real one: 0 delivered nothing.
    expect(await lineFrom(child, /^got/)).toBe('got SIGUSR2')
  })

  it('fails with ESRCH once the process was reaped, even if its pid is reused', async () => {
    const child = sleeper()
    const pidfd = Pidfd.open(child.pid)
    child.kill('SIGKILL')
    await reaped(child)
    let error: NodeJS.ErrnoException | undefined
    try {
      pidfd.sendSignal('SIGKILL')
    } catch (e) {
      error = e as NodeJS.ErrnoException
    }
    expect(error).toBeInstanceOf(Error)
    expect(error!.code).toBe('ESRCH')
    expect(error!.errno).toBe(-3)
    expect(error!.syscall).toBe('pidfd_send_signal')
    expect(error!.message).toBe('ESRCH: no such process, pidfd_send_signal')
    expect(() => pidfd.sendSignal(0)).toThrow(expect.objectContaining({ code: 'ESRCH' }))
    pidfd.close()
  })

  it('fails with EPERM when this process may not signal the target', async () => {
    const target = sleeper() // runs as root
    using pidfd = Pidfd.open(target.pid)
    const dir = worldReadablePackage()
    // The pidfd is handed down as fd 3 to a child that drops to nobody before exec.
    const script = `
      const { Pidfd } = require(${JSON.stringify(`${dir}/dist/index.js`)})
      const pidfd = Pidfd.adoptFd(3)
      try { pidfd.sendSignal('SIGKILL'); console.log('sent') }
      catch (e) { console.log(JSON.stringify({ code: e.code, errno: e.errno, syscall: e.syscall, uid: process.getuid() })) }`
    const result = spawnSync(process.execPath, ['-e', script], {
      uid: NOBODY,
      gid: NOBODY,
      stdio: ['ignore', 'pipe', 'inherit', pidfd.fd],
      encoding: 'utf8',
    })
    expect(JSON.parse(result.stdout)).toEqual({ code: 'EPERM', errno: -1, syscall: 'pidfd_send_signal', uid: NOBODY })
    pidfd.sendSignal(0) // still alive: nothing was sent
    expect(target.exitCode).toBeNull()
  })
})

describe.skipIf(!features().signalScopes)('sendSignal scopes (needs signalScopes, Linux 6.9)', () => {
  it("'thread-group' and 'thread' reach the process", async () => {
    const child = signalReporter()
    await lineFrom(child, /ready/)
    using pidfd = Pidfd.open(child.pid)
    pidfd.sendSignal('SIGUSR1', { scope: 'thread-group' })
    expect(await lineFrom(child, /^got/)).toBe('got SIGUSR1')
    pidfd.sendSignal('SIGUSR2', { scope: 'thread' })
    expect(await lineFrom(child, /^got/)).toBe('got SIGUSR2')
  })

  it("'process-group' signals a group leader's whole group, and is ESRCH for a non-leader", async () => {
    // sh leads its own process group (detached: setsid) and starts a sleeper in it.
    const leader = start('sh', ['-c', 'sleep 1000 & echo $!; wait'], { detached: true }) as ReturnType<typeof start> & { pid: number }
    const member = Number(await lineFrom(leader, /^\d+$/))
    using memberPidfd = Pidfd.open(member)
    using leaderPidfd = Pidfd.open(leader.pid)
    expect(() => memberPidfd.sendSignal(0, { scope: 'process-group' })).toThrow(expect.objectContaining({ code: 'ESRCH' }))
    leaderPidfd.sendSignal('SIGKILL', { scope: 'process-group' })
    await reaped(leader)
    expect(leader.signalCode).toBe('SIGKILL')
    // The member died too: a zombie awaiting its new parent, or already gone.
    await until(() => {
      try {
        return /\) Z /.test(fs.readFileSync(`/proc/${member}/stat`, 'utf8'))
      } catch {
        return true
      }
    }, 'the group member to die')
  })
})
