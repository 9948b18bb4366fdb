// Introspection and persistent ids on real processes: PIDFD_GET_INFO, pid, getfd,
// namespaces, file handles and "PID:INODE" process ids.
import { spawnSync } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { Pidfd, constants, features } from '../lib'
import { distEntry, killChildren, lineFrom, NOBODY, sleeper, start, removePackageCopy, worldReadablePackage } from './helpers'

afterEach(killChildren)
afterAll(removePackageCopy)

/** Blocks (no await: Node cannot reap meanwhile) until the process has exited. */
function blockUntilExited(pidfd: Pidfd): void {
  while (!pidfd.hasExited()) spawnSync('sleep', ['0.01'])
}

describe.skipIf(!features().getInfo)('info() (needs getInfo, Linux 6.13)', () => {
  it('describes this process', () => {
    using self = Pidfd.open(process.pid)
    const info = self.info()
    expect(info).toMatchObject({ pid: process.pid, tgid: process.pid, ppid: process.ppid, ruid: process.getuid!(), euid: process.geteuid!() })
    expect(info.mask & (constants.PIDFD_INFO_PID | constants.PIDFD_INFO_CREDS)).toBe(constants.PIDFD_INFO_PID | constants.PIDFD_INFO_CREDS)
    expect(typeof info.cgroupId).toBe('bigint')
    expect(info.exit).toBeUndefined()
  })

  it('describes a child running as another user', async () => {
    const child = start('sleep', ['30'], { uid: NOBODY, gid: NOBODY })
    using pidfd = Pidfd.fromChildProcess(child)
    expect(pidfd.info()).toMatchObject({ pid: child.pid, ppid: process.pid, ruid: NOBODY, euid: NOBODY, rgid: NOBODY, fsuid: NOBODY })
  })

  it('describes a zombie, without an exit status yet', async () => {
    const child = start('sh', ['-c', 'exit 4'])
    using pidfd = Pidfd.fromChildProcess(child)
    blockUntilExited(pidfd)
    const info = pidfd.info()
    expect(info.pid).toBe(child.pid)
    expect(info.exit).toBeUndefined()
    await once(child, 'exit')
  })

  it('answers EREMOTE for a process outside this pid namespace, and pid is null there', () => {
    // A process in a new pid namespace is handed a pidfd of ours, which it cannot see.
    using self = Pidfd.open(process.pid)
    const script = `
      const { Pidfd } = require(${JSON.stringify(distEntry)})
      const outside = Pidfd.adoptFd(3)
      let code
      try { outside.info() } catch (e) { code = e.code }
      console.log(JSON.stringify({ code, pid: outside.pid }))`
    const result = spawnSync('unshare', ['--pid', '--fork', process.execPath, '-e', script], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe', self.fd],
    })
    if (result.status !== 0 && /unshare/.test(result.stderr)) return console.log(`skipped: cannot create a pid namespace here (${result.stderr.trim()})`)
    expect(JSON.parse(result.stdout)).toEqual({ code: 'EREMOTE', pid: null })
  })

  it.skipIf(!features().infoExit)('reports the exit status, and no pid, once reaped (needs infoExit, Linux 6.15)', async () => {
    const child = start('sh', ['-c', 'exit 4'])
    using pidfd = Pidfd.fromChildProcess(child)
    await once(child, 'exit') // reaped by Node
    const info = pidfd.info()
    expect(info.exit).toEqual({ code: 4, signal: null, signalNumber: null, coreDumped: false, source: 'pidfd-info' })
    expect(info.pid).toBeUndefined()
    expect(info.ruid).toBeUndefined()
  })
})

describe('pid', () => {
  it('is the pid while alive or a zombie, and null once reaped', async () => {
    const child = sleeper()
    using pidfd = Pidfd.fromChildProcess(child)
    expect(pidfd.pid).toBe(child.pid)
    child.kill('SIGKILL')
    blockUntilExited(pidfd)
    expect(pidfd.pid).toBe(child.pid) // a zombie keeps its pid
    await once(child, 'exit')
    expect(pidfd.pid).toBeNull()
    using copy = Pidfd.fromFd(pidfd.fd)
    expect(copy.pid).toBeNull()
  })
})

describe.skipIf(!features().getfd)('getfd() (needs getfd, Linux 5.6)', () => {
  it("copies a child's pipe end and reads what the child wrote into it", async () => {
    // dash makes a here-document a pipe: fd 3 of the child is its read end, already full.
    const child = start('sh', ['-c', 'exec 3<<EOF\nwritten by the child\nEOF\necho ready; exec sleep 30'])
    await lineFrom(child, /ready/)
    using pidfd = Pidfd.fromChildProcess(child)
    const fd = pidfd.getfd(3)
    try {
      expect(fs.readFileSync(fd, 'utf8')).toBe('written by the child\n')
      const flags = parseInt(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').match(/^flags:\s+(\d+)/m)![1]!, 8)
      expect(flags & 0o2000000).not.toBe(0) // O_CLOEXEC
    } finally {
      fs.closeSync(fd)
    }
    expect(() => pidfd.getfd(1000)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'pidfd_getfd' }))
    expect(() => pidfd.getfd(-1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }))
  })

  it("fails with EPERM for an unprivileged user against root's process", () => {
    const target = sleeper()
    using pidfd = Pidfd.open(target.pid)
    const dir = worldReadablePackage()
    const script = `
      const { Pidfd } = require(${JSON.stringify(`${dir}/dist/index.js`)})
      try { Pidfd.adoptFd(3).getfd(0); console.log('copied') }
      catch (e) { console.log(JSON.stringify({ code: e.code, syscall: e.syscall })) }`
    const result = spawnSync(process.execPath, ['-e', script], { uid: NOBODY, gid: NOBODY, stdio: ['ignore', 'pipe', 'inherit', pidfd.fd], encoding: 'utf8' })
    expect(JSON.parse(result.stdout)).toEqual({ code: 'EPERM', syscall: 'pidfd_getfd' })
  })
})

describe.skipIf(!features().namespaces)('namespace() (needs namespaces, Linux 6.11)', () => {
  it('opens each namespace, the same one /proc/PID/ns shows', () => {
    const child = sleeper()
    using pidfd = Pidfd.fromChildProcess(child)
    const types = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'pid_for_children', 'time', 'time_for_children', 'user', 'uts'] as const
    for (const type of types) {
      const path = `/proc/${child.pid}/ns/${type}`
      if (!fs.existsSync(path)) continue
      const fd = pidfd.namespace(type)
      try {
        expect(fs.fstatSync(fd).ino, type).toBe(fs.statSync(path).ino)
      } finally {
        fs.closeSync(fd)
      }
    }
  })

  it('refuses unknown namespace types before any syscall', () => {
    using pidfd = Pidfd.open(process.pid)
    expect(() => pidfd.namespace('mount' as never)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' }))
    expect(() => pidfd.namespace(3 as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }))
  })
})

describe.skipIf(!features().fileHandles)('toHandle() and fromHandle() (needs fileHandles, Linux 6.14)', () => {
  it('round-trips to a pidfd of the same process, in another program too', async () => {
    const child = sleeper()
    using pidfd = Pidfd.fromChildProcess(child)
    const handle = pidfd.toHandle()
    expect(Buffer.isBuffer(handle)).toBe(true)
    expect(handle.length).toBe(12)
    expect(handle.readUInt32LE(0)).toBe(constants.FILEID_KERNFS)
    expect(handle.readBigUInt64LE(4)).toBe(pidfd.id)
    using reopened = Pidfd.fromHandle(handle)
    expect(reopened.equals(pidfd)).toBe(true)
    expect(reopened.processId).toBe(pidfd.processId)
    // Stored as text and reopened by another program.
    const script = `
      const { Pidfd } = require(${JSON.stringify(distEntry)})
      console.log(Pidfd.fromHandle(Buffer.from(process.argv[1], 'base64')).processId)`
    const result = spawnSync(process.execPath, ['-e', script, handle.toString('base64')], { encoding: 'utf8' })
    expect(result.stdout.trim()).toBe(pidfd.processId)
  })

  it('fails with ESTALE once the process was reaped', async () => {
    const child = sleeper()
    using pidfd = Pidfd.fromChildProcess(child)
    const handle = pidfd.toHandle()
    child.kill('SIGKILL')
    await once(child, 'exit')
    expect(() => Pidfd.fromHandle(handle)).toThrow(expect.objectContaining({ code: 'ESTALE', syscall: 'open_by_handle_at', errno: -116 }))
  })

  it('refuses handles of the wrong type or length before any syscall', () => {
    using pidfd = Pidfd.open(process.pid)
    const handle = pidfd.toHandle()
    const wrongType = Buffer.from(handle)
    wrongType.writeUInt32LE(1, 0)
    expect(() => Pidfd.fromHandle(wrongType)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }))
    expect(() => Pidfd.fromHandle(handle.subarray(0, 8))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }))
    expect(() => Pidfd.fromHandle(Buffer.alloc(13))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }))
    expect(() => Pidfd.fromHandle('abc' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }))
    // A Uint8Array view into a larger buffer works as well.
    const padded = new Uint8Array(20)
    padded.set(handle, 4)
    using viaView = Pidfd.fromHandle(padded.subarray(4, 16))
    expect(viaView.equals(pidfd)).toBe(true)
  })
})

describe.skipIf(!features().pidfs)('Pidfd.openProcessId() (needs pidfs, Linux 6.9)', () => {
  it('opens the process a live process id names', () => {
    const child = sleeper()
    using pidfd = Pidfd.fromChildProcess(child)
    using reopened = Pidfd.openProcessId(pidfd.processId)
    expect(reopened.equals(pidfd)).toBe(true)
  })

  it('refuses a pid that now belongs to another process, signalling nothing, leaving no fd', () => {
    // In a new pid namespace nobody else forks, and ns_last_pid makes the next child reuse
    // the dead one's pid.
    const script = `
      const { Pidfd } = require(${JSON.stringify(distEntry)})
      const { spawn, spawnSync } = require('node:child_process')
      const fs = require('node:fs')
      const first = spawnSync('sh', ['-c', 'echo $$']) // pid P, reaped at once
      const pid = Number(String(first.stdout).trim())
      const a = spawn('sleep', ['30'])
      const id = Pidfd.open(a.pid).processId
      a.kill('SIGKILL')
      a.on('exit', () => {
        fs.writeFileSync('/proc/sys/kernel/ns_last_pid', String(a.pid - 1))
        const b = spawn('sleep', ['30'])
        const before = fs.readdirSync('/proc/self/fd').length
        let error
        try { Pidfd.openProcessId(id) } catch (e) { error = e }
        const after = fs.readdirSync('/proc/self/fd').length
        const alive = spawnSync('kill', ['-0', String(b.pid)]).status === 0
        console.log(JSON.stringify({ reused: b.pid === a.pid, code: error && error.code, errno: error && error.errno, leaked: after - before, alive }))
        b.kill('SIGKILL')
      })`
    const result = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, '-e', script], { encoding: 'utf8', timeout: 20_000 })
    if (result.status !== 0 && /unshare/.test(result.stderr)) return console.log(`skipped: cannot create a pid namespace here (${result.stderr.trim()})`)
    expect(JSON.parse(result.stdout)).toEqual({ reused: true, code: 'ESRCH', errno: -3, leaked: 0, alive: true })
  })

  it.each([['12:'], ['x:1'], [':5'], ['-1:2'], ['1:2:3'], [' 1:2'], ['1.5:2']])('refuses the malformed id %o before any syscall', (id) => {
    expect(() => Pidfd.openProcessId(id)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' }))
  })

  it.each([['0:1'], ['2147483648:1'], ['99999999999:1'], ['1:0'], ['1:18446744073709551616']])('refuses the out-of-range id %o', (id) => {
    expect(() => Pidfd.openProcessId(id)).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }))
  })

  it('refuses non-strings', () => {
    expect(() => Pidfd.openProcessId(12 as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }))
  })
})
