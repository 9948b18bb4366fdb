// killCgroup() and cgroupOf() on a cgroup v2 made for the test, with spawn()'s cgroup option.
import { once } from 'node:events'
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { cgroupOf, killCgroup, Pidfd, spawn } from '../lib'
import { findCgroup2Mount } from '../lib/spawn'
import { distEntry, scaled, sleeper, killChildren, until } from './helpers'

/** Why cgroup tests cannot run here, or null. */
let missing: string | null = null
let mount = ''
const made: string[] = []

beforeAll(() => {
  const found = findCgroup2Mount()
  if (found === null) missing = 'no cgroup v2 mounted'
  else if (!fs.existsSync(path.join(found, 'cgroup.procs'))) missing = `cgroup v2 at ${found} has no cgroup.procs`
  else {
    mount = found
    try {
      const probe = fs.mkdtempSync(path.join(found, 'pidfd-probe-'))
      fs.rmdirSync(probe)
    } catch (error) {
      missing = `cgroup v2 at ${found} is not writable here (${(error as NodeJS.ErrnoException).code})`
    }
  }
  if (missing !== null) console.log(`cgroup tests skipped: ${missing}`)
})

afterEach(async () => {
  await killChildren()
  for (const dir of made.splice(0)) {
    if (!fs.existsSync(dir)) continue
    // What a failed test left: killed, then the directory removed once empty.
    if (fs.existsSync(path.join(dir, 'cgroup.kill'))) fs.writeFileSync(path.join(dir, 'cgroup.kill'), '1')
    await until(() => !/^populated 1$/m.test(fs.readFileSync(path.join(dir, 'cgroup.events'), 'latin1')), `${dir} to empty`, scaled(5000))
    fs.rmdirSync(dir)
  }
})

/** The pids in a cgroup. */
function procs(dir: string): number[] {
  return fs.readFileSync(path.join(dir, 'cgroup.procs'), 'latin1').split('\n').filter(Boolean).map(Number)
}

/** The command name of pid, or null if it is gone. */
function comm(pid: number): string | null {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'latin1').trim()
  } catch {
    return null
  }
}

/** A new cgroup for one test, removed after it. */
function newCgroup(): string {
  const dir = fs.mkdtempSync(path.join(mount, 'pidfd-test-'))
  made.push(dir)
  return dir
}

describe('cgroups', () => {
  it('cgroupOf() names the cgroup a spawn() child was started in, and killCgroup() kills everything in it at once', async (context) => {
    if (missing !== null) return context.skip()
    const dir = newCgroup()
    const child = spawn('sh', ['-c', 'sleep 1000 & (sleep 1000 & wait) & wait'], { cgroup: dir, stdio: 'ignore' })
    const exited = child.exited
    expect(cgroupOf(child.pidfd!)).toBe(dir)
    await until(() => fs.readFileSync(path.join(dir, 'cgroup.procs'), 'latin1').trim().split('\n').length === 4, 'the tree in the cgroup', scaled(10_000))
    const result = await killCgroup(dir)
    expect(result).toEqual({ path: dir, method: 'cgroup.kill', processes: [] })
    expect(fs.readFileSync(path.join(dir, 'cgroup.procs'), 'latin1')).toBe('')
    expect((await exited).signal).toBe('SIGKILL')
  })

  it('killCgroup() with another signal freezes, signals each member through a pidfd, and thaws', async (context) => {
    if (missing !== null) return context.skip()
    const dir = newCgroup()
    const relative = path.relative(mount, dir)
    const child = spawn('sh', ['-c', 'trap "exit 3" TERM; sleep 1000 & sleep 1000 & wait'], { cgroup: relative, stdio: 'ignore' })
    const exited = child.exited
    // Both sleeps exec'd: a forked child still running the shell would run its trap instead.
    await until(() => procs(dir).filter((pid) => comm(pid) === 'sleep').length === 2, 'the tree in the cgroup', scaled(10_000))
    const result = await killCgroup(relative, 'SIGTERM')
    expect(result.method).toBe('freeze')
    expect(result.path).toBe(dir)
    expect(result.processes.map((p) => p.pid).sort()).toHaveLength(3)
    expect(result.processes.every((p) => p.error === undefined)).toBe(true)
    // Thawed: the shell runs its trap.
    expect((await exited).code).toBe(3)
    expect(fs.readFileSync(path.join(dir, 'cgroup.freeze'), 'latin1').trim()).toBe('0')
    await until(() => fs.readFileSync(path.join(dir, 'cgroup.procs'), 'latin1') === '', 'the cgroup to empty', scaled(5000))
  })

  it('cgroupOf() of this process is its own cgroup, and refuses a closed Pidfd or a non-Pidfd', (context) => {
    if (missing !== null) return context.skip()
    using self = Pidfd.open(process.pid)
    const line = fs.readFileSync('/proc/self/cgroup', 'latin1').split('\n').find((entry) => entry.startsWith('0::'))!
    expect(cgroupOf(self)).toBe(path.resolve(mount, `.${line.slice(3)}`)) // no trailing slash for the root
    const closed = Pidfd.open(process.pid)
    closed.close()
    expect(() => cgroupOf(closed)).toThrow(expect.objectContaining({ code: 'ERR_PIDFD_CLOSED' }))
    expect(() => cgroupOf(process.pid as never)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }))
  })

  it('killCgroup() refuses the cgroup this process is in: it would kill or freeze itself', async (context) => {
    if (missing !== null) return context.skip()
    const dir = newCgroup()
    const script = `
      const { cgroupOf, killCgroup, Pidfd } = require(${JSON.stringify(distEntry)})
      const self = Pidfd.open(process.pid)
      for (const signal of ['SIGKILL', 'SIGTERM']) {
        try { killCgroup(cgroupOf(self), signal); console.log('accepted') } catch (error) { console.log(error.code, /holds this process/.test(error.message)) }
      }`
    const child = spawn(process.execPath, ['-e', script], { cgroup: dir, stdio: ['ignore', 'pipe', 'inherit'] })
    let output = ''
    child.stdout!.on('data', (data: Buffer) => (output += data.toString()))
    await once(child, 'close')
    expect(output).toBe('ERR_INVALID_ARG_VALUE true\nERR_INVALID_ARG_VALUE true\n')
  })

  it('killCgroup() refuses bad input at the call, before anything is written', (context) => {
    if (missing !== null) return context.skip()
    const child = sleeper()
    expect(() => killCgroup(1 as never)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }))
    expect(() => killCgroup('')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }))
    expect(() => killCgroup('pidfd-no-such-cgroup')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }))
    expect(() => killCgroup(mount)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }))
    expect(() => killCgroup('/tmp')).toThrow(expect.objectContaining({ code: 'ERR_CGROUP2_UNAVAILABLE' }))
    const dir = newCgroup()
    expect(() => killCgroup(dir, 'SIGNOPE' as never)).toThrow(expect.objectContaining({ code: 'ERR_UNKNOWN_SIGNAL' }))
    expect(fs.readFileSync(path.join(dir, 'cgroup.freeze'), 'latin1').trim()).toBe('0')
    expect(child.exitCode).toBeNull()
  })
})
