// Opening, owning and closing pidfds: every fd closed exactly once, nothing after close.
import fs from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { Pidfd, features } from '../lib'
import { distEntry, isPidfd, killChildren, lineFrom, openFdCount, openPidfds, sleeper, start } from './helpers'

afterEach(killChildren)

describe('Pidfd.open', () => {
  it('opens a real pidfd on a running process', () => {
    const child = sleeper()
    const pidfd = Pidfd.open(child.pid)
    expect(isPidfd(pidfd.fd)).toBe(true)
    expect(pidfd.closed).toBe(false)
    // O_CLOEXEC, as pidfd_open(2) always sets it.
    const flags = fs.readFileSync(`/proc/self/fdinfo/${pidfd.fd}`, 'utf8').match(/^flags:\s+(\d+)/m)![1]!
    expect(parseInt(flags, 8) & 0o2000000).not.toBe(0)
    pidfd.close()
  })

  it('sets O_NONBLOCK for { nonblock: true }', () => {
    using pidfd = Pidfd.open(process.pid, { nonblock: true })
    const flags = parseInt(fs.readFileSync(`/proc/self/fdinfo/${pidfd.fd}`, 'utf8').match(/^flags:\s+(\d+)/m)![1]!, 8)
    expect(flags & fs.constants.O_NONBLOCK).toBe(fs.constants.O_NONBLOCK)
  })

  it.skipIf(!features().threadPidfd)('opens one thread with { thread: true } (needs threadPidfd, Linux 6.9)', () => {
    // Node always runs helper threads: any of them is a thread that is not a leader.
    const tid = fs.readdirSync('/proc/self/task').map(Number).find((t) => t !== process.pid)!
    using thread = Pidfd.open(tid, { thread: true })
    const flags = parseInt(fs.readFileSync(`/proc/self/fdinfo/${thread.fd}`, 'utf8').match(/^flags:\s+(\d+)/m)![1]!, 8)
    expect(flags & fs.constants.O_EXCL).toBe(fs.constants.O_EXCL)
    thread.sendSignal(0)
    // Without PIDFD_THREAD a non-leader thread is refused: EINVAL, or ENOENT since 6.16.
    expect(() => Pidfd.open(tid)).toThrow(expect.objectContaining({ code: expect.stringMatching(/^(EINVAL|ENOENT)$/) }))
  })

  it('fails with ESRCH for a pid that names no process', async () => {
    const child = sleeper()
    const pid = child.pid
    child.kill('SIGKILL')
    await new Promise((resolve) => child.once('exit', resolve))
    // The pid could be reused in the meantime; on an idle machine it is not.
    expect(() => Pidfd.open(pid)).toThrow(expect.objectContaining({ code: 'ESRCH', errno: -3, syscall: 'pidfd_open' }))
  })
})

describe('close', () => {
  it('is idempotent and closes the fd exactly once', () => {
    const pidfd = Pidfd.open(process.pid)
    const fd = pidfd.fd
    pidfd.close()
    expect(pidfd.closed).toBe(true)
    expect(isPidfd(fd)).toBe(false)
    // A second close must not close whatever now has that fd number.
    const other = fs.openSync('/dev/null', 'r')
    try {
      pidfd.close()
      expect(fs.fstatSync(other).isCharacterDevice()).toBe(true)
    } finally {
      fs.closeSync(other)
    }
  })

  it('closes at the end of a using block', () => {
    let fd: number
    {
      using pidfd = Pidfd.open(process.pid)
      fd = pidfd.fd
      expect(isPidfd(fd)).toBe(true)
    }
    expect(isPidfd(fd)).toBe(false)
  })

  it('makes every use throw ERR_PIDFD_CLOSED', () => {
    const pidfd = Pidfd.open(process.pid)
    const other = Pidfd.open(process.pid)
    pidfd.close()
    const closed = expect.objectContaining({ code: 'ERR_PIDFD_CLOSED', name: 'Error' })
    expect(() => pidfd.fd).toThrow(closed)
    expect(() => pidfd.sendSignal(0)).toThrow(closed)
    expect(() => pidfd.stat()).toThrow(closed)
    expect(() => pidfd.statx()).toThrow(closed)
    expect(() => pidfd.id).toThrow(closed)
    expect(() => pidfd.isPidfs).toThrow(closed)
    expect(() => pidfd.processId).toThrow(closed)
    expect(() => pidfd.equals(other)).toThrow(closed)
    expect(() => other.equals(pidfd)).toThrow(closed)
    other.close()
  })

  it('leaves the fd count where it started after 10,000 open/close cycles', () => {
    const before = openFdCount()
    for (let i = 0; i < 10_000; i++) Pidfd.open(process.pid).close()
    for (let i = 0; i < 1_000; i++) {
      using a = Pidfd.open(process.pid)
      using b = Pidfd.fromFd(a.fd)
      // equals() needs pidfs (6.9); before it, the pid is what there is to compare.
      if (features().pidfs) expect(b.equals(a)).toBe(true)
      else expect(b.pid).toBe(a.pid)
    }
    expect(openFdCount()).toBe(before)
  })
})

describe('fromFd and adoptFd', () => {
  it('fromFd duplicates: the caller keeps its fd', () => {
    const original = Pidfd.open(process.pid)
    const copy = Pidfd.fromFd(original.fd)
    expect(copy.fd).not.toBe(original.fd)
    copy.close()
    expect(isPidfd(original.fd)).toBe(true)
    expect(original.stat().ino).toBeGreaterThan(0n)
    original.close()
  })

  it('adoptFd takes ownership of an inherited pidfd: closing the Pidfd closes that very fd', async () => {
    const target = sleeper()
    using pidfd = Pidfd.open(target.pid)
    // The real case: a parent hands a pidfd down as fd 3.
    const script = `
      const { Pidfd, features } = require(${JSON.stringify(distEntry)})
      const fs = require('node:fs')
      const adopted = Pidfd.adoptFd(3)
      let again
      try { Pidfd.adoptFd(3) } catch (error) { again = error.code }
      // processId needs pidfs (6.9); before it, the pid the kernel reports.
      const result = { fd: adopted.fd, processId: features().pidfs ? adopted.processId : adopted.pid, again }
      adopted.close()
      result.closed = !fs.existsSync('/proc/self/fd/3')
      console.log(JSON.stringify(result))`
    const child = start(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit', pidfd.fd] })
    const result = JSON.parse(await lineFrom(child, /^\{/))
    expect(result).toEqual({ fd: 3, processId: features().pidfs ? pidfd.processId : target.pid, again: 'ERR_INVALID_ARG_VALUE', closed: true })
  })

  it('adoptFd refuses an fd a Pidfd already owns', () => {
    using pidfd = Pidfd.open(process.pid)
    expect(() => Pidfd.adoptFd(pidfd.fd)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' }))
    expect(isPidfd(pidfd.fd)).toBe(true)
  })

  it('refuses fds that are not pidfds, and closed fds, without taking them', () => {
    const file = fs.openSync('/dev/null', 'r')
    try {
      expect(() => Pidfd.fromFd(file)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' }))
      expect(() => Pidfd.adoptFd(file)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' }))
      expect(fs.fstatSync(file).isCharacterDevice()).toBe(true)
    } finally {
      fs.closeSync(file)
    }
    expect(() => Pidfd.fromFd(file)).toThrow(expect.objectContaining({ code: 'EBADF', errno: -9, syscall: 'fstatfs' }))
    expect(() => Pidfd.adoptFd(file)).toThrow(expect.objectContaining({ code: 'EBADF' }))
  })

  it('leaves no pidfd open behind', () => {
    const before = openPidfds().length
    const a = Pidfd.open(process.pid)
    const b = Pidfd.fromFd(a.fd)
    a.close()
    b.close()
    expect(openPidfds().length).toBe(before)
  })
})
