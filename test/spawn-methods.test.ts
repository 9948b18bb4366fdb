// How the child is made: clone3, clone() and posix_spawn + pidfd_open, each forced through
// the internal switch and run through the same behaviours; the automatic fallback when a
// seccomp filter refuses clone3 (as container runtimes do); and cgroup (CLONE_INTO_CGROUP).
import { spawn as spawnChild, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { native } from '../lib/binding'
import { spawn } from '../lib'
import { findCgroup2Mount, setSpawnMethod } from '../lib/spawn'
import { distEntry, scaled, until } from './helpers'
import { asleep, events, killAll, output, processState, statField } from './spawn-helpers'

afterEach(killAll)

let tmp: string
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pidfd-methods-'))
})
afterAll(() => {
  setSpawnMethod('auto')
  fs.rmSync(tmp, { recursive: true, force: true })
})

/** The method native.spawn reports for one spawn made by `make`. */
function methodOf(make: () => unknown): number {
  const spy = vi.spyOn(native, 'spawn')
  try {
    make()
    return (spy.mock.results[0]!.value as { method: number }).method
  } finally {
    spy.mockRestore()
  }
}

const methods = [
  ['clone3', 1],
  ['clone', 2],
  ['posix_spawn', 3],
] as const

describe.each(methods)('forced method %s', (name, number) => {
  beforeAll(() => setSpawnMethod(name))
  afterAll(() => setSpawnMethod('auto'))

  it('is the one used', async () => {
    let child: ReturnType<typeof spawn> | undefined
    expect(methodOf(() => (child = spawn('true', [], { stdio: 'ignore' })))).toBe(number)
    await child!.exited
  })

  it('exit codes, signals and the event order', async () => {
    expect(await events(spawn('sh', ['-c', 'exit 3']))).toEqual([['spawn'], ['exit', 3, null], ['close', 3, null]])
    const child = spawn('sleep', ['100'])
    child.kill('SIGKILL')
    expect(await events(child)).toEqual([['spawn'], ['exit', null, 'SIGKILL'], ['close', null, 'SIGKILL']])
  })

  it('pipes both ways, cwd, env and argv0', async () => {
    const cat = spawn('cat')
    cat.stdin!.end('through cat')
    expect(await output(cat)).toBe('through cat')
    expect(await output(spawn('sh', ['-c', 'pwd; echo "$A"; echo "$0"'], { cwd: tmp, env: { A: 'b', PATH: process.env.PATH }, argv0: 'zero' }))).toBe(`${fs.realpathSync(tmp)}\nb\nzero\n`)
  })

  it("stdio: 'ignore' is /dev/null on 0-2, fds past the list are closed", async () => {
    const child = spawn('sleep', ['100'], { stdio: ['ignore', 'ignore', 'ignore', 'ignore'], env: {} })
    await once(child, 'spawn')
    await asleep(child.pid!)
    const link = (fd: number) => {
      try {
        return fs.readlinkSync(`/proc/${child.pid}/fd/${fd}`)
      } catch {
        return 'closed'
      }
    }
    expect([0, 1, 2, 3, 4, 5].map(link)).toEqual(['/dev/null', '/dev/null', '/dev/null', 'closed', 'closed', 'closed'])
  })

  it('ENOENT and EACCES are error events; a script without #! runs through /bin/sh', async () => {
    const missing = await events(spawn('does-not-exist-zz'))
    expect(missing[0]).toEqual(['error', expect.objectContaining({ code: 'ENOENT', syscall: 'spawn does-not-exist-zz' })])
    const locked = path.join(tmp, `locked-${name}`)
    fs.writeFileSync(locked, '#!/bin/sh\n', { mode: 0o644 })
    expect((await events(spawn(locked)))[0]).toEqual(['error', expect.objectContaining({ code: 'EACCES' })])
    const script = path.join(tmp, `script-${name}`)
    fs.writeFileSync(script, 'echo "plain $1"\n', { mode: 0o755 })
    expect(await output(spawn(script, ['arg']))).toBe('plain arg\n')
    const missingCwd = await events(spawn('true', [], { cwd: '/nonexistent' }))
    expect(missingCwd[0]).toEqual(['error', expect.objectContaining({ code: 'ENOENT' })])
  })

  it('detached (setsid) and processGroup (setpgid)', async () => {
    const leader = spawn('sleep', ['100'], { detached: true, stdio: 'ignore' })
    await once(leader, 'spawn')
    expect([statField(leader.pid!, 2), statField(leader.pid!, 3)]).toEqual([leader.pid, leader.pid])
    const grouped = spawn('sleep', ['100'], { processGroup: true, stdio: 'ignore' })
    await once(grouped, 'spawn')
    expect(statField(grouped.pid!, 2)).toBe(grouped.pid)
    expect(statField(grouped.pid!, 3)).toBe(statField(process.pid, 3))
  })

  if (number === 3) {
    it('refuses what posix_spawn cannot do: ids, killOnParentDeath (spawn ENOTSUP, thrown)', () => {
      for (const options of [{ uid: 65534 }, { gid: 65534 }, { killOnParentDeath: true }]) {
        expect(() => spawn('true', [], { stdio: 'ignore', ...options })).toThrow(expect.objectContaining({ message: 'spawn ENOTSUP', code: 'ENOTSUP', syscall: 'spawn' }))
      }
    })
  } else {
    it.skipIf(process.getuid!() !== 0)('uid and gid reach the child', async () => {
      expect(await output(spawn('sh', ['-c', 'id -u; id -g'], { uid: 65534, gid: 65534 }))).toBe('65534\n65534\n')
    })

    it('killOnParentDeath reaches the child: it dies with a kill -9 of its parent', async () => {
      const parent = spawnChild(process.execPath, ['-e', `
        const child = require(${JSON.stringify(distEntry)}).spawn('sleep', ['100'], { stdio: 'ignore', killOnParentDeath: true })
        child.on('spawn', () => console.log(child.pid))
      `], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, PIDFD_SPAWN_METHOD: name } })
      const [data] = (await once(parent.stdout!, 'data')) as [Buffer]
      const pid = Number(String(data))
      parent.kill('SIGKILL')
      await once(parent, 'exit')
      await until(() => ['Z', null].includes(processState(pid)), 'the child to die', scaled(5_000))
    })
  }
})

/** The compiled test/fixtures/seccomp.c, or undefined where there is no compiler. */
let seccomp: string | undefined
function seccompTool(): string | undefined {
  if (seccomp !== undefined) return seccomp
  const out = path.join(tmp, 'seccomp')
  const cc = spawnSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', out, path.join(__dirname, 'fixtures', 'seccomp.c')], { encoding: 'utf8' })
  if (cc.status !== 0) return undefined
  return (seccomp = out)
}

describe('the automatic fallback under seccomp filters (containers)', () => {
  const script = `
    const binding = require(${JSON.stringify(path.join(path.dirname(distEntry), 'binding.js'))})
    const spawnNative = binding.native.spawn
    const used = []
    binding.native.spawn = (plan) => { const result = spawnNative(plan); used.push(result.method); return result }
    const { spawn } = require(${JSON.stringify(distEntry)})
    const child = spawn('sh', ['-c', 'echo ran; exit 4'], { stdio: ['ignore', 'pipe', 'inherit'] })
    let text = ''
    child.stdout.on('data', (d) => (text += d))
    child.on('close', (code) => console.log(JSON.stringify({ code, text, used })))
  `
  const clone3 = 435
  // (Under EPERM, as older profiles answer, Node itself cannot start: glibc's pthread_create
  // falls back from clone3 to clone only on ENOSYS.)
  it('clone3 refused with ENOSYS (Docker\'s default profile): clone() is used', () => {
    const tool = seccompTool()
    if (tool === undefined) return
    const result = spawnSync(tool, ['38', String(clone3), process.execPath, '-e', script], { encoding: 'utf8', timeout: scaled(20_000) })
    expect(result.stderr).toBe('')
    expect(JSON.parse(result.stdout)).toEqual({ code: 4, text: 'ran\n', used: [2] })
  })
})

describe('cgroup (CLONE_INTO_CGROUP)', () => {
  const mount = findCgroup2Mount()
  const name = `pidfd-spawn-test-${process.pid}`
  const usable = mount !== null && process.getuid!() === 0 && (() => {
    try {
      fs.mkdirSync(path.join(mount, name))
      return true
    } catch {
      return false
    }
  })()
  afterAll(() => {
    if (usable) fs.rmdirSync(path.join(mount!, name))
  })

  it('finds the cgroup v2 mount in /proc/self/mountinfo', () => {
    const line = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.includes(' - cgroup2 '))
    expect(mount).toBe(line === undefined ? null : line.split(' ')[4])
  })

  it.skipIf(!usable)('a relative path is taken under the v2 mount; the child starts in it', async () => {
    expect(await output(spawn('cat', ['/proc/self/cgroup'], { cgroup: name }))).toContain(`0::/${name}\n`)
  })

  it.skipIf(!usable)('an absolute path is taken as it is; cgroup.procs lists the child', async () => {
    const child = spawn('sleep', ['100'], { cgroup: path.join(mount!, name), stdio: 'ignore' })
    await once(child, 'spawn')
    expect(fs.readFileSync(path.join(mount!, name, 'cgroup.procs'), 'utf8').split('\n')).toContain(String(child.pid))
    child.kill('SIGKILL')
    await child.exited
  })

  it.skipIf(!usable)('with clone() forced (no CLONE_INTO_CGROUP) it is refused, never ignored', () => {
    setSpawnMethod('clone')
    try {
      expect(() => spawn('true', { cgroup: name, stdio: 'ignore' })).toThrow(expect.objectContaining({ message: 'spawn ENOTSUP' }))
    } finally {
      setSpawnMethod('auto')
    }
  })

  it('a directory that is not cgroup v2 is refused', () => {
    expect(() => spawn('true', { cgroup: tmp })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('not a cgroup v2 directory') }))
  })

  it('a missing one throws fs\'s ENOENT with its path', () => {
    const missing = mount === null ? '/nonexistent/cgroup' : path.join(mount, 'pidfd-no-such-cgroup')
    expect(() => spawn('true', { cgroup: missing })).toThrow(expect.objectContaining({ code: 'ENOENT', path: missing, syscall: 'open' }))
  })

  it('validates its type', () => {
    expect(() => spawn('true', { cgroup: 5 as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }))
    expect(() => spawn('true', { cgroup: '' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }))
  })
})

describe('PIDFD_SPAWN_METHOD', () => {
  it('forces the method for a whole program', () => {
    const script = `
      const binding = require(${JSON.stringify(path.join(path.dirname(distEntry), 'binding.js'))})
      const spawnNative = binding.native.spawn
      binding.native.spawn = (plan) => { const result = spawnNative(plan); console.log(plan.method, result.method); return result }
      require(${JSON.stringify(distEntry)}).spawn('true', [], { stdio: 'ignore' })
    `
    for (const [value, expected] of [['clone', '2 2'], ['posix_spawn', '3 3'], ['1', '1 1'], ['', '0 1']]) {
      const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, PIDFD_SPAWN_METHOD: value } })
      expect(result.stdout.trim(), value).toBe(expected)
    }
    const bad = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, PIDFD_SPAWN_METHOD: 'fork' } })
    expect(bad.stderr).toContain('PIDFD_SPAWN_METHOD')
    expect(bad.stdout.trim()).toBe('0 1')
  })

  it('setSpawnMethod refuses unknown names', () => {
    expect(() => setSpawnMethod('fork' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }))
  })
})
