// Process identity by pidfs inode: equal for one process, different for two, stable for life.
import fs from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { Pidfd, constants, features, sameProcess } from '../lib'
import { native } from '../lib/binding'
import { killChildren, lineFrom, reaped, sleeper, start, until } from './helpers'

afterEach(killChildren)

describe.skipIf(!features().pidfs)('identity on pidfs (needs pidfs, Linux 6.9)', () => {
  it('detects pidfs by its filesystem magic', () => {
    using pidfd = Pidfd.open(process.pid)
    expect(pidfd.isPidfs).toBe(true)
    // Cross-check without the library: the pidfs inode is what /proc's fdinfo reports too.
    const ino = fs.readFileSync(`/proc/self/fdinfo/${pidfd.fd}`, 'utf8').match(/^ino:\s+(\d+)/m)![1]!
    expect(pidfd.id).toBe(BigInt(ino))
    expect(constants.PID_FS_MAGIC).toBe(0x50494446)
    expect(native.fstatfs(pidfd.fd)).toBe(constants.PID_FS_MAGIC)
    // A regular file is not on pidfs.
    const file = fs.openSync(__filename, 'r')
    expect(native.fstatfs(file)).not.toBe(constants.PID_FS_MAGIC)
    fs.closeSync(file)
  })

  it('gives two opens of one process the same id, and equals() says so', () => {
    const child = sleeper()
    using a = Pidfd.open(child.pid)
    using b = Pidfd.open(child.pid)
    expect(a.fd).not.toBe(b.fd)
    expect(a.id).toBe(b.id)
    expect(a.equals(b)).toBe(true)
    expect(b.equals(a)).toBe(true)
    expect(a.equals(a)).toBe(true)
    expect(sameProcess(a, child.pid)).toBe(true)
    expect(sameProcess(child.pid, child.pid)).toBe(true)
  })

  it('tells different processes apart', () => {
    const first = sleeper()
    const second = sleeper()
    using a = Pidfd.open(first.pid)
    using b = Pidfd.open(second.pid)
    expect(a.id).not.toBe(b.id)
    expect(a.equals(b)).toBe(false)
    expect(sameProcess(a, second.pid)).toBe(false)
    expect(sameProcess(first.pid, b)).toBe(false)
    expect(sameProcess(process.pid, a)).toBe(false)
  })

  it('keeps the id across exit and reap', async () => {
    const child = sleeper()
    using pidfd = Pidfd.open(child.pid)
    const id = pidfd.id
    child.kill('SIGKILL')
    await reaped(child)
    // A fresh fstat after the reap, not the cached value.
    expect(pidfd.stat().ino).toBe(id)
    using copy = Pidfd.fromFd(pidfd.fd)
    expect(copy.id).toBe(id)
    expect(copy.equals(pidfd)).toBe(true)
  })

  it('keeps the id across exec', async () => {
    const child = start('sh', ['-c', 'echo ready; read line; exec sleep 1000']) as ReturnType<typeof start> & { pid: number }
    await lineFrom(child, /ready/)
    using pidfd = Pidfd.open(child.pid)
    const id = pidfd.id
    child.stdin!.write('go\n')
    await until(() => fs.readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim() === 'sleep', 'the exec')
    using after = Pidfd.open(child.pid)
    expect(after.id).toBe(id)
    expect(after.equals(pidfd)).toBe(true)
  })

  it('gives a new process a new id, never an old one', () => {
    const ids = new Set<bigint>()
    for (let i = 0; i < 5; i++) {
      const child = sleeper()
      using pidfd = Pidfd.open(child.pid)
      ids.add(pidfd.id)
      child.kill('SIGKILL')
    }
    expect(ids.size).toBe(5)
  })

  it('formats processId as PID:INODE and it round-trips', () => {
    const child = sleeper()
    using pidfd = Pidfd.open(child.pid)
    const processId = pidfd.processId
    expect(processId).toMatch(/^\d+:\d+$/)
    const [pid, inode] = processId.split(':')
    expect(Number(pid)).toBe(child.pid)
    expect(BigInt(inode!)).toBe(pidfd.id)
    // Reopen from the string: same pid, same inode, same process.
    using reopened = Pidfd.open(Number(pid))
    expect(reopened.id).toBe(BigInt(inode!))
    expect(reopened.processId).toBe(processId)
    // An adopted or duplicated pidfd learns its pid from the kernel.
    using copy = Pidfd.fromFd(pidfd.fd)
    expect(copy.processId).toBe(processId)
  })

  it('keeps processId after reap, naming the process that was', async () => {
    const child = sleeper()
    using pidfd = Pidfd.open(child.pid)
    const processId = pidfd.processId
    child.kill('SIGKILL')
    await reaped(child)
    expect(pidfd.processId).toBe(processId)
    // A duplicate made after the reap cannot learn the pid any more.
    using copy = Pidfd.fromFd(pidfd.fd)
    expect(() => copy.processId).toThrow(expect.objectContaining({ code: 'ESRCH', errno: -3 }))
    expect(copy.id).toBe(pidfd.id)
  })

  it('refuses bad arguments to equals and sameProcess', () => {
    using pidfd = Pidfd.open(process.pid)
    const typeError = expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
    expect(() => pidfd.equals(process.pid as unknown as Pidfd)).toThrow(typeError)
    expect(() => pidfd.equals(null as unknown as Pidfd)).toThrow(typeError)
    expect(() => sameProcess('1' as unknown as number, pidfd)).toThrow(typeError)
    expect(() => sameProcess(pidfd, {} as Pidfd)).toThrow(typeError)
    expect(() => sameProcess(pidfd, -1)).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }))
  })

  it('opens nothing it does not close in sameProcess', () => {
    const before = fs.readdirSync('/proc/self/fd').length
    for (let i = 0; i < 100; i++) sameProcess(process.pid, process.pid)
    expect(() => sameProcess(process.pid, 2 ** 31 - 1)).toThrow(expect.objectContaining({ code: 'ESRCH' }))
    expect(fs.readdirSync('/proc/self/fd').length).toBe(before)
  })
})

describe.skipIf(features().pidfs)('identity without pidfs (kernel before 6.9)', () => {
  it('refuses identity with ERR_PIDFS_UNSUPPORTED instead of a false answer', () => {
    using a = Pidfd.open(process.pid)
    using b = Pidfd.open(process.pid)
    expect(a.isPidfs).toBe(false)
    const refused = expect.objectContaining({ code: 'ERR_PIDFS_UNSUPPORTED', feature: 'pidfs', since: '6.9' })
    expect(() => a.id).toThrow(refused)
    expect(() => a.equals(b)).toThrow(refused)
    expect(() => a.processId).toThrow(refused)
    expect(() => sameProcess(a, b)).toThrow(refused)
  })
})
