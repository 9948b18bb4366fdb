// spawn()'s children from birth to reap: reaped promptly whoever listens, never a
// child_process child, no zombie and no fd left behind on any path (exit, failure, a
// Worker's end, process.exit), ref/unref, killOnParentDeath, and fd or process exhaustion
// arriving as 'error' events.
import * as childProcess from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { native } from '../lib/binding'
import { spawn } from '../lib'
import { distEntry, NOBODY, openFdCount, openPidfds, removePackageCopy, scaled, until, worldReadablePackage } from './helpers'
import { errorShape, inWorker, killAll, processState, runScript, track, zombieChildren } from './spawn-helpers'

afterEach(killAll)
afterAll(removePackageCopy)

/** True if the process is gone or a zombie: it no longer runs. */
function dead(pid: number): boolean {
  const state = processState(pid)
  return state === null || state === 'Z'
}

describe('reaping: promptly, whether or not anyone listens', () => {
  it('an exited child is no zombie, with no listener and no reference kept', async () => {
    const pids: number[] = []
    for (let i = 0; i < 20; i++) pids.push(spawn('true', [], { stdio: 'ignore' }).pid!)
    await until(() => pids.every((pid) => processState(pid) === null), 'every child reaped', scaled(10_000))
    expect(zombieChildren().filter((pid) => pids.includes(pid))).toEqual([])
  })

  it("by the time 'exit' is emitted, the child has been reaped", async () => {
    const child = spawn('sh', ['-c', 'exit 2'], { stdio: 'ignore' })
    const pid = child.pid!
    await once(child, 'exit')
    expect(processState(pid)).toBeNull()
  })

  it('a killed child is reaped too', async () => {
    const child = spawn('sleep', ['100'], { stdio: 'ignore' })
    const pid = child.pid!
    child.kill('SIGKILL')
    await child.exited
    expect(processState(pid)).toBeNull()
  })
})

describe('child_process and spawn() side by side', () => {
  it("child_process 'exit' events are unaffected by ours, and ours by child_process", async () => {
    const theirs: Array<Promise<unknown>> = []
    const mine: Array<Promise<unknown>> = []
    for (let i = 0; i < 12; i++) {
      const code = i % 4
      const script = `exit ${code}`
      const node = track(childProcess.spawn('sh', ['-c', script], { stdio: 'ignore' }))
      theirs.push(once(node, 'exit').then(([c]) => expect(c).toBe(code)))
      const ours = spawn('sh', ['-c', script], { stdio: 'ignore' })
      mine.push(once(ours, 'exit').then(([c]) => expect(c).toBe(code)))
    }
    // A long child_process child, exiting after ours have all been reaped.
    const late = track(childProcess.spawn('sh', ['-c', 'sleep 0.2; exit 9'], { stdio: 'ignore' }))
    await Promise.all([...theirs, ...mine])
    const [code] = (await once(late, 'exit')) as [number]
    expect(code).toBe(9)
  })
})

describe('no fd left behind', () => {
  it('a failed spawn leaks no fd (error events and throws alike)', async () => {
    // Warm up whatever opens once (feature probes, the child's stack).
    await spawn('true', [], { stdio: 'ignore' }).exited
    const before = openFdCount()
    for (const stdio of ['pipe', 'ignore', ['pipe', 'pipe', 'pipe', 'pipe']] as const) {
      // (events.once would reject at 'error'.)
      const child = spawn('does-not-exist-zz', [], { stdio: stdio as 'pipe' }).on('error', () => {})
      await new Promise((resolve) => child.on('close', resolve))
      expect(() => spawn('true', [], { stdio: ['pipe', 'pipe', 'pipe', 999] })).toThrow(expect.objectContaining({ code: 'EBADF' }))
      expect(() => spawn('true', [], { stdio: stdio as 'pipe', cgroup: '/nonexistent/cgroup' })).toThrow(expect.objectContaining({ code: 'ENOENT' }))
      const failedChdir = spawn('true', [], { stdio: stdio as 'pipe', cwd: '/nonexistent' }).on('error', () => {})
      await new Promise((resolve) => failedChdir.on('close', resolve))
    }
    await until(() => openFdCount() <= before, 'the fds to close', scaled(2_000))
  })

  it('a spawn with pipes, once closed, leaves the fd count where it was', async () => {
    await spawn('true').exited
    const before = openFdCount()
    const child = spawn('cat', [], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] })
    child.stdin!.end('x')
    await once(child, 'close')
    for (const stream of child.stdio) (stream as { destroy?: () => void } | null)?.destroy?.()
    // Sockets close their handles a loop turn later (and a previous test's may still be closing).
    await until(() => openFdCount() <= before, 'the fds to close', scaled(2_000))
  })

  it('only the requested fds reach the child', async () => {
    const leak = fs.openSync('/dev/null', 'r') // not O_CLOEXEC-less in Node, but close_range catches any
    try {
      const child = spawn('sh', ['-c', 'ls /proc/self/fd'], { stdio: ['ignore', 'pipe', 'ignore'] })
      let text = ''
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (text += chunk))
      await once(child, 'close')
      // 0-2, plus the fd ls opens to list the directory.
      expect(text.trim().split('\n').map(Number).filter((fd) => fd > 3)).toEqual([])
    } finally {
      fs.closeSync(leak)
    }
  })
})

describe('10,000 spawns', () => {
  it('leave the fd count and RSS flat', { timeout: scaled(180_000) }, () => {
    // In a process of its own, so that nothing else of vitest's moves its RSS.
    const script = `
      const fs = require('fs')
      async function run(n, stdio) {
        let i = 0
        const worker = async () => { while (i++ < n) { const c = lib.spawn('/bin/true', [], { stdio }); await new Promise((r) => c.once('close', r)) } }
        await Promise.all(Array.from({ length: 32 }, worker))
      }
      const measure = () => { global.gc(); return { fds: fs.readdirSync('/proc/self/fd').length, rss: process.memoryUsage().rss } }
      ;(async () => {
        await run(1500, 'ignore'); await run(1000, 'pipe')
        const before = measure()
        await run(4500, 'ignore'); await run(3000, 'pipe')
        const after = measure()
        console.log(JSON.stringify({ before, after }))
      })()
    `
    // The young generation pinned at 1 MB: V8 grows it (by up to 16 MB of RSS, once) when
    // allocation runs hot, which is not a leak (seen here after ~6,000 spawns, flat after).
    const result = runScript(script, { nodeArgs: ['--expose-gc', '--max-semi-space-size=1'], timeout: scaled(170_000) })
    expect(result.stderr).toBe('')
    const { before, after } = JSON.parse(result.stdout) as { before: { fds: number; rss: number }; after: { fds: number; rss: number } }
    expect(after.fds).toBe(before.fds)
    // child_process's own pipes settle within ~30 MB of the first thousands; a leak of a
    // few hundred bytes per spawn would show as several MB more.
    expect(after.rss - before.rss).toBeLessThan(16 * 1024 * 1024)
  })
})

describe('ref() and unref()', () => {
  it('a running child keeps the loop alive, like child_process; unref() lets the program exit', () => {
    for (const impl of ['lib.spawn', "require('child_process').spawn"]) {
      const start = Date.now()
      const kept = runScript(`const c = ${impl}('sleep', ['0.5'], { stdio: 'ignore' }); c.on('exit', (code) => console.log('exit', code))`)
      expect(kept.stdout).toBe('exit 0\n')
      expect(Date.now() - start).toBeGreaterThanOrEqual(450)
      const unrefd = runScript(`const c = ${impl}('sleep', ['100'], { stdio: 'ignore' }); c.unref(); console.log(c.pid)`)
      expect(unrefd.status).toBe(0)
      process.kill(Number(unrefd.stdout), 'SIGKILL') // an orphan now; not ours to reap
    }
  })

  it('ref() after unref() keeps it alive again', () => {
    const result = runScript("const c = lib.spawn('sleep', ['0.3'], { stdio: 'ignore' }); c.unref(); c.ref(); c.on('exit', () => console.log('exited'))")
    expect(result.stdout).toBe('exited\n')
  })

  it('an unref\'d child is still reaped if it exits while the program runs', async () => {
    const child = spawn('true', [], { stdio: 'ignore' })
    child.unref()
    const pid = child.pid!
    await once(child, 'exit')
    expect(processState(pid)).toBeNull()
  })
})

describe('killOnParentDeath', () => {
  it('kill -9 of the Node parent takes the child along', async () => {
    const parent = childProcess.spawn(process.execPath, ['-e', `
      const lib = require(${JSON.stringify(distEntry)})
      const child = lib.spawn('sleep', ['100'], { stdio: 'ignore', killOnParentDeath: true })
      child.on('spawn', () => console.log(child.pid))
    `], { stdio: ['ignore', 'pipe', 'inherit'] })
    const [data] = (await once(parent.stdout!, 'data')) as [Buffer]
    const pid = Number(String(data))
    expect(processState(pid)).not.toBeNull()
    parent.kill('SIGKILL')
    await once(parent, 'exit')
    await until(() => dead(pid), 'the child to die with its parent', scaled(5_000))
  })

  it('without it, the child outlives its parent (as with child_process)', async () => {
    const parent = childProcess.spawn(process.execPath, ['-e', `
      const lib = require(${JSON.stringify(distEntry)})
      const child = lib.spawn('sleep', ['100'], { stdio: 'ignore' })
      child.on('spawn', () => console.log(child.pid))
    `], { stdio: ['ignore', 'pipe', 'inherit'] })
    const [data] = (await once(parent.stdout!, 'data')) as [Buffer]
    const pid = Number(String(data))
    parent.kill('SIGKILL')
    await once(parent, 'exit')
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(dead(pid)).toBe(false)
    process.kill(pid, 'SIGKILL')
  })

  it('takes a signal: the child gets that one', async () => {
    const parent = childProcess.spawn(process.execPath, ['-e', `
      const lib = require(${JSON.stringify(distEntry)})
      const child = lib.spawn('sh', ['-c', 'trap "echo got-term; exit 0" TERM; while :; do sleep 0.05; done'], { stdio: ['ignore', 'inherit', 'inherit'], killOnParentDeath: 'SIGTERM' })
      child.on('spawn', () => console.log('ready'))
    `], { stdio: ['ignore', 'pipe', 'inherit'] })
    parent.stdout!.setEncoding('utf8')
    let text = ''
    parent.stdout!.on('data', (chunk: string) => (text += chunk))
    await until(() => text.includes('ready'), 'the child to start', scaled(5_000))
    parent.kill('SIGKILL')
    // The child writes to the same pipe after its parent has died.
    await once(parent.stdout!, 'close')
    expect(text).toContain('got-term')
  })

  it('validates its value', () => {
    expect(() => spawn('true', { killOnParentDeath: 'SIGFOO' as never })).toThrow(expect.objectContaining({ code: 'ERR_UNKNOWN_SIGNAL' }))
    expect(() => spawn('true', { killOnParentDeath: 0 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }))
    expect(() => spawn('true', { killOnParentDeath: 65 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }))
    expect(() => spawn('true', { killOnParentDeath: {} as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }))
  })
})

describe('in a Worker', () => {
  it('spawn works, and the child is reaped on the Worker\'s loop', async () => {
    const messages = await inWorker(`
      const child = lib.spawn('sh', ['-c', 'exit 5'], { stdio: 'ignore' })
      child.on('exit', (code) => parentPort.postMessage({ pid: child.pid, code }))
    `)
    const [{ pid, code }] = messages as [{ pid: number; code: number }]
    expect(code).toBe(5)
    expect(processState(pid)).toBeNull()
  })

  it("killOnParentDeath follows the Worker's thread: the child dies when the Worker ends, and is reaped", async () => {
    const messages = await inWorker(`
      const child = lib.spawn('sleep', ['100'], { stdio: 'ignore', killOnParentDeath: true })
      child.on('spawn', () => { parentPort.postMessage(child.pid); child.unref() })
    `)
    const pid = messages[0] as number
    await until(() => dead(pid), 'the child to die with the Worker', scaled(5_000))
    expect(processState(pid)).toBeNull() // reaped as the Worker ended, not left a zombie
  })

  it('process.exit() in a Worker reaps a child that has exited but was not reaped yet', async () => {
    const messages = await inWorker(`
      const child = lib.spawn('true', [], { stdio: 'ignore' })
      // Exit once the child is a zombie, before the loop could reap it.
      const fs = require('fs')
      const state = () => { try { return fs.readFileSync('/proc/' + child.pid + '/stat', 'latin1').split(') ')[1][0] } catch { return null } }
      const start = Date.now()
      while (state() !== 'Z' && Date.now() - start < 5000) {}
      parentPort.postMessage({ pid: child.pid, state: state() })
      process.exit(0)
    `)
    const [{ pid, state }] = messages as [{ pid: number; state: string }]
    expect(state).toBe('Z')
    expect(processState(pid)).toBeNull()
  })

  it("the main thread's killOnParentDeath children survive a Worker's end", async () => {
    const child = spawn('sleep', ['100'], { stdio: 'ignore', killOnParentDeath: true })
    await inWorker('parentPort.postMessage(1)')
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(dead(child.pid!)).toBe(false)
    child.kill('SIGKILL')
    await child.exited
  })

  it('worker.terminate(): a child still running then is reaped when it exits, and no pidfd of it stays open', async () => {
    const before = openPidfds().length
    const messages = await inWorker(
      `
      const child = lib.spawn(process.execPath, ['-e', 'setTimeout(() => {}, 1000)'], { stdio: 'ignore' })
      child.on('spawn', () => parentPort.postMessage(child.pid))
    `,
      (worker) => void worker.terminate(),
    )
    const pid = messages[0] as number
    expect(processState(pid), 'the child outlived the Worker').not.toBeNull()
    await until(() => processState(pid) === null, 'the child to be reaped once it exits', scaled(10_000))
    await until(() => openPidfds().length <= before, 'the handed-over pidfd to be closed', scaled(2_000))
  })
})

describe('process.exit()', () => {
  it('takes killOnParentDeath children along and leaves none of its children behind running', async () => {
    const result = runScript(`
      const kept = lib.spawn('sleep', ['100'], { stdio: 'ignore', killOnParentDeath: true })
      const quick = lib.spawn('true', [], { stdio: 'ignore' })
      kept.on('spawn', () => { console.log(JSON.stringify([kept.pid, quick.pid])); process.exit(0) })
    `)
    expect(result.status).toBe(0)
    const pids = JSON.parse(result.stdout) as number[]
    await until(() => pids.every(dead), 'the children to be gone', scaled(5_000))
  })
})

describe('test-child-process-emfile: out of fds is an error event', () => {
  it('EMFILE arrives as an error event without stdio, as in child_process', () => {
    const script = `
      const impl = process.argv[1] === 'node' ? require('child_process').spawn : lib.spawn
      const keep = []
      let done = false
      // Use up the fds, leaving too few for three pipes.
      for (;;) { try { keep.push(require('fs').openSync('/dev/null', 'r')) } catch { break } }
      require('fs').closeSync(keep.pop())
      const child = impl('true', [], { stdio: 'pipe' })
      const seen = []
      const shape = { stdin: child.stdin, stdout: child.stdout, stdio: child.stdio, pid: child.pid }
      child.on('error', (e) => seen.push(['error', e.message, e.code, e.errno, e.syscall, e.path, e.spawnargs]))
      child.on('spawn', () => seen.push(['spawn']))
      child.on('close', (code, signal) => { seen.push(['close', code, signal]); console.log(JSON.stringify({ seen, shape })) })
    `
    const outputs = ['node', 'pidfd'].map((which) => {
      const result = childProcess.spawnSync('/bin/sh', ['-c', 'ulimit -n 64; exec "$0" -e "$1" "$2"', process.execPath, `const lib = require(${JSON.stringify(distEntry)});\n${script}`, which], { encoding: 'utf8', timeout: scaled(20_000) })
      expect(result.stderr).toBe('')
      return JSON.parse(result.stdout) as unknown
    })
    expect(outputs[1]).toEqual(outputs[0])
    expect(outputs[1]).toMatchObject({ seen: [['error', 'spawn true EMFILE', 'EMFILE', -24, 'spawn true', 'true', []], ['close', -24, null]] })
  })
})

describe('EAGAIN (ulimit -u) is an error event', () => {
  it.skipIf(process.getuid!() !== 0)('as in child_process, the spawn that exceeds RLIMIT_NPROC gets EAGAIN', () => {
    const dir = worldReadablePackage()
    const script = `
      const impl = process.argv[1] === 'node' ? require('child_process').spawn : lib.spawn
      const children = []
      let error
      for (let i = 0; i < 64 && error === undefined; i++) {
        const child = impl('sleep', ['10'], { stdio: 'ignore' })
        child.on('error', (e) => (error = e))
        children.push(child)
      }
      setTimeout(() => {
        for (const child of children) if (child.pid) child.kill('SIGKILL')
        console.log(JSON.stringify(error && [error.message, error.code, error.errno, error.syscall, error.path]))
      }, 100)
    `
    for (const which of ['node', 'pidfd']) {
      const result = childProcess.spawnSync(
        'setpriv',
        ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', '/bin/bash', '-c', 'ulimit -u 40; exec "$0" -e "$1" "$2"', process.execPath, `const lib = require(${JSON.stringify(path.join(dir, 'dist', 'index.js'))});\n${script}`, which],
        { encoding: 'utf8', timeout: scaled(20_000), cwd: os.tmpdir() },
      )
      expect(result.stderr).toBe('')
      expect(JSON.parse(result.stdout), which).toEqual(['spawn sleep EAGAIN', 'EAGAIN', -11, 'spawn sleep', 'sleep'])
    }
  })
})

describe('EPERM from setuid is thrown, as in child_process', () => {
  it.skipIf(process.getuid!() !== 0)('an unprivileged parent asking for uid 0', () => {
    const dir = worldReadablePackage()
    const script = `
      const impl = process.argv[1] === 'node' ? require('child_process').spawn : lib.spawn
      try { impl('true', [], { uid: 0, stdio: 'ignore' }); console.log('no throw') } catch (e) { console.log(JSON.stringify([e.message, e.code, e.errno, e.syscall, Object.keys(e)])) }
    `
    const outputs = ['node', 'pidfd'].map((which) => {
      const result = childProcess.spawnSync(
        'setpriv',
        ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', process.execPath, '-e', `const lib = require(${JSON.stringify(path.join(dir, 'dist', 'index.js'))});\n${script}`, which],
        { encoding: 'utf8', timeout: scaled(20_000), cwd: os.tmpdir() },
      )
      expect(result.stderr).toBe('')
      return JSON.parse(result.stdout) as unknown
    })
    expect(outputs[1]).toEqual(outputs[0])
    expect(outputs[1]).toEqual(['spawn EPERM', 'EPERM', -1, 'spawn', ['errno', 'code', 'syscall']])
  })
})

describe("kill(): EPERM is an 'error' event, EINVAL a throw (Node's mapping)", () => {
  it('maps the errors of pidfd_send_signal as ChildProcess#kill maps kill(2)\'s', async () => {
    const child = spawn('sleep', ['100'], { stdio: 'ignore' })
    const pidfd = child.pidfd!
    const fail = (code: string, errno: number) => {
      const error = Object.assign(new Error(`${code}: x, pidfd_send_signal`), { code, errno: -errno, syscall: 'pidfd_send_signal' })
      return vi.spyOn(pidfd, 'sendSignal').mockImplementationOnce(() => {
        throw error
      })
    }
    fail('EPERM', 1)
    const errors: Error[] = []
    child.on('error', (error) => errors.push(error))
    expect(child.kill()).toBe(false)
    expect(errors.map(errorShape)).toEqual([{ constructor: 'Error', name: 'Error', message: 'kill EPERM', code: 'EPERM', errno: -1, syscall: 'kill', path: undefined, spawnargs: undefined, keys: ['errno', 'code', 'syscall'] }])
    expect(child.killed).toBe(false)
    fail('EINVAL', 22)
    expect(() => child.kill()).toThrow(expect.objectContaining({ message: 'kill EINVAL', syscall: 'kill' }))
    fail('ESRCH', 3)
    expect(child.kill()).toBe(false)
    vi.restoreAllMocks()
    child.kill('SIGKILL')
    await child.exited
  })
})

describe('timers and listeners of a failed spawn do not keep the program alive', () => {
  it('timeout and signal are disarmed at the error', () => {
    const start = Date.now()
    const result = runScript("const c = lib.spawn('does-not-exist-zz', [], { timeout: 60000, signal: new AbortController().signal }); c.on('error', (e) => console.log(e.code))")
    expect(result.stdout).toBe('ENOENT\n')
    expect(Date.now() - start).toBeLessThan(scaled(10_000))
  })
})

describe('the native plan', () => {
  it('pipes, ignore, inherit and fds map to socketpair ends, -1/-2 and fd numbers', async () => {
    const spy = vi.spyOn(native, 'spawn')
    try {
      const child = spawn('true', [], { stdio: ['pipe', 'ignore', 'inherit', 'ignore', 2, 'pipe'] })
      const plan = spy.mock.calls[0]![0]
      expect(plan.stdio[1]).toBe(-1) // /dev/null, as libuv does for 0-2
      expect(plan.stdio[2]).toBe(2)
      expect(plan.stdio[3]).toBe(-2) // closed above 2
      expect(plan.stdio[4]).toBe(2)
      expect(plan.stdio[0]).toBeGreaterThan(2)
      expect(plan.stdio[5]).toBeGreaterThan(2)
      expect(plan).toMatchObject({ argv: ['true'], uid: -1, gid: -1, setsid: false, pgid: -1, pdeathSignal: 0, cgroupFd: -1, flags: 0n })
      await once(child, 'close')
      // The child's ends were closed in this process right after spawn.
      expect(fs.existsSync(`/proc/self/fd/${plan.stdio[0]}`) && fs.readlinkSync(`/proc/self/fd/${plan.stdio[0]}`).startsWith('socket:')).toBe(false)
    } finally {
      spy.mockRestore()
    }
  })

  it('PATH is searched in TS: every candidate, in order, empty entries as the bare file', async () => {
    const spy = vi.spyOn(native, 'spawn')
    try {
      spawn('tool-zz', [], { env: { PATH: '/a::b/c:' }, stdio: 'ignore' }).on('error', () => {})
      expect(spy.mock.calls[0]![0].paths).toEqual(['/a/tool-zz', 'tool-zz', 'b/c/tool-zz', 'tool-zz'])
      spawn('./x/tool-zz', [], { env: { PATH: '/a' }, stdio: 'ignore' }).on('error', () => {})
      expect(spy.mock.calls[1]![0].paths).toEqual(['./x/tool-zz'])
      spawn('tool-zz', [], { env: { A: '1' }, stdio: 'ignore' }).on('error', () => {})
      expect(spy.mock.calls[2]![0].paths).toEqual(['/bin/tool-zz', '/usr/bin/tool-zz'])
      spawn('tool-zz', [], { env: { 'PATH=X': 'y', PATH: '/p' }, stdio: 'ignore' }).on('error', () => {})
      expect(spy.mock.calls[3]![0].paths).toEqual(['X=y/tool-zz']) // the first entry the child's getenv sees
    } finally {
      spy.mockRestore()
    }
  })

  it('options become plan fields', async () => {
    const spy = vi.spyOn(native, 'spawn')
    try {
      const child = spawn('true', ['a'], { argv0: 'zero', cwd: new URL('file:///tmp'), detached: true, killOnParentDeath: 'SIGTERM', stdio: 'ignore' })
      expect(spy.mock.calls[0]![0]).toMatchObject({ argv: ['zero', 'a'], cwd: '/tmp', setsid: true, pgid: -1, pdeathSignal: os.constants.signals.SIGTERM })
      await child.exited
      const grouped = spawn('true', [], { processGroup: true, killOnParentDeath: true, stdio: 'ignore' })
      expect(spy.mock.calls[1]![0]).toMatchObject({ setsid: false, pgid: 0, pdeathSignal: os.constants.signals.SIGKILL })
      await grouped.exited
    } finally {
      spy.mockRestore()
    }
  })
})

describe('faults on the way (injected)', () => {
  afterEach(() => vi.restoreAllMocks())

  const errno = (code: string, value: number, syscall: string) => Object.assign(new Error(`${code}: injected, ${syscall}`), { code, errno: -value, syscall })

  it('EMFILE at the second pipe: the first pair is closed, and it is an error event without stdio', async () => {
    await spawn('true', [], { stdio: 'ignore' }).exited
    const before = openFdCount()
    const real = native.socketpair.bind(native)
    vi.spyOn(native, 'socketpair').mockImplementationOnce(real).mockImplementationOnce(() => {
      throw errno('EMFILE', 24, 'socketpair')
    })
    const child = spawn('true')
    expect([child.pid, child.stdin, child.stdout, child.stdio]).toEqual([undefined, undefined, undefined, undefined])
    const seen: unknown[] = []
    child.on('error', (error) => seen.push(errorShape(error)))
    await new Promise((resolve) => child.on('close', resolve))
    expect(seen).toEqual([expect.objectContaining({ message: 'spawn true EMFILE', errno: -24, syscall: 'spawn true' })])
    expect(openFdCount()).toBe(before)
  })

  it('a failure native.spawn throws (EPERM from setsid): thrown as spawn EPERM, every pipe closed', async () => {
    await spawn('true', [], { stdio: 'ignore' }).exited
    const before = openFdCount()
    vi.spyOn(native, 'spawn').mockImplementationOnce(() => {
      throw errno('EPERM', 1, 'setsid')
    })
    expect(() => spawn('true', [], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] })).toThrow(expect.objectContaining({ message: 'spawn EPERM', syscall: 'spawn', errno: -1 }))
    expect(openFdCount()).toBe(before)
  })

  it('an error without errno (a bad plan) is rethrown as it is, every pipe closed', async () => {
    await spawn('true', [], { stdio: 'ignore' }).exited
    const before = openFdCount()
    const bad = new TypeError('plan.paths must be an array of strings')
    vi.spyOn(native, 'spawn').mockImplementationOnce(() => {
      throw bad
    })
    expect(() => spawn('true', [], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] })).toThrow(bad)
    expect(openFdCount()).toBe(before)
  })

  it('the user closes the pidfd while out of fds: reopening is retried, and the child still reaped', async () => {
    const child = spawn('sh', ['-c', 'sleep 0.2; exit 6'], { stdio: 'ignore' })
    const pid = child.pid!
    vi.spyOn(native, 'pidfdOpen').mockImplementationOnce(() => {
      throw errno('EMFILE', 24, 'pidfd_open')
    })
    child.pidfd!.close()
    expect(await child.exited).toMatchObject({ code: 6 })
    expect(processState(pid)).toBeNull()
  })
})
