// TypeScript policy against a fake binding that behaves like older kernels: what a kernel
// lacks is refused by name, before any syscall. (Integration tests use the real kernel.)
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Native } from '../lib/binding'

const ANON_INODE_FS_MAGIC = 0x09041934
const O_NONBLOCK = 0o4000

function errno(code: string, errnoValue: number, syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: fake, ${syscall}`), { code, errno: -errnoValue, syscall })
}

/** A fake native module for a kernel of the given generation, recording every call. */
function fakeKernel(kind: '5.0' | '5.4' | '6.1') {
  const calls: string[] = []
  const openFds = new Set<number>()
  const statBuffer = new ArrayBuffer(32 * 8)
  let nextFd = 100
  const native: Native = {
    pidfdOpen(pid, flags) {
      calls.push(`pidfdOpen(${pid}, ${flags})`)
      if (kind === '5.0') throw errno('ENOSYS', 38, 'pidfd_open')
      const known = kind === '6.1' ? O_NONBLOCK : 0
      if (flags & ~known) throw errno('EINVAL', 22, 'pidfd_open')
      openFds.add(nextFd)
      return nextFd++
    },
    pidfdSendSignal(fd, sig, flags) {
      calls.push(`pidfdSendSignal(${fd}, ${sig}, ${flags})`)
      if (fd < 0) throw errno('EBADF', 9, 'pidfd_send_signal') // no PIDFD_SELF_* before 6.15
      if (flags !== 0) throw errno('EINVAL', 22, 'pidfd_send_signal')
    },
    dupCloexec: (fd) => (calls.push(`dupCloexec(${fd})`), nextFd++),
    own: (fd) => (calls.push(`own(${fd})`), true),
    close: (fd) => void (calls.push(`close(${fd})`), openFds.delete(fd)),
    fstat: (fd) => void calls.push(`fstat(${fd})`),
    statx: (fd) => void calls.push(`statx(${fd})`),
    fstatfs: (fd) => (calls.push(`fstatfs(${fd})`), ANON_INODE_FS_MAGIC),
    statBuffer,
    waitid: () => {
      throw errno('ECHILD', 10, 'waitid')
    },
    poll: () => 0,
    spawn: () => {
      throw errno('ENOSYS', 38, 'clone3')
    },
    socketpair: () => [nextFd++, nextFd++],
    // 5.0 has no clone3; 5.4 has no CLONE_INTO_CGROUP (so every flag probe is EINVAL); 6.1
    // knows every flag but Linux 7.1's.
    clone3Errno: (flags, size) => {
      calls.push(`clone3Errno(${flags}, ${size})`)
      if (kind === '5.0') return 38
      if (size === 0 || kind === '5.4') return 22
      return flags >= 1n << 34n ? 22 : 9
    },
    ownChild: () => {},
    pidfdGetInfo: () => {
      throw errno('ENOTTY', 25, 'ioctl')
    },
    watch: () => 1,
    unwatch: () => {},
    refWatch: () => {},
    UV_READABLE: 1,
    UV_DISCONNECT: 8,
    pidfdGetfd: () => 200,
    pidfdGetNamespace: () => {
      throw errno('ENOTTY', 25, 'ioctl')
    },
    nameToHandleAt: () => {
      throw errno('ENOTSUP', 95, 'name_to_handle_at')
    },
    openByHandleAt: () => {
      throw errno('EBADF', 9, 'open_by_handle_at')
    },
    FD_PIDFS_ROOT: -10002,
  }
  return { native, calls, openFds }
}

async function loadWith(kind: '5.0' | '5.4' | '6.1') {
  const fake = fakeKernel(kind)
  vi.resetModules()
  vi.doMock('../lib/binding', () => ({ native: fake.native }))
  const lib = await import('../lib')
  return { ...lib, calls: fake.calls, openFds: fake.openFds }
}

afterEach(() => {
  vi.doUnmock('../lib/binding')
  vi.resetModules()
})

describe('on a kernel without pidfs (6.1)', () => {
  it('probes features once, naming what is missing', async () => {
    const { features, calls, openFds } = await loadWith('6.1')
    expect(features()).toEqual({
      pidfd: true,
      nonblock: true,
      pidfs: false,
      threadPidfd: false,
      signalScopes: false,
      statxIno: false,
      waitid: true,
      getInfo: false,
      infoExit: false,
      infoCoredump: false,
      fileHandles: false,
      pidfsRoot: false,
      namespaces: false,
      getfd: true,
      selfPidfd: false,
      clonePidfd: true,
      clone3: true,
      clearSighand: true,
      intoCgroup: true,
      autoReap: false,
      autoKill: false,
      noNewPrivs: false,
    })
    const probes = calls.length
    features()
    expect(calls.length).toBe(probes)
    expect(openFds.size).toBe(0) // every probe fd was closed
  })

  it('refuses { thread: true } before any pidfd_open with that flag', async () => {
    const { Pidfd, features, calls } = await loadWith('6.1')
    features()
    calls.length = 0
    expect(() => Pidfd.open(1234, { thread: true })).toThrow(
      expect.objectContaining({ code: 'ERR_PIDFD_UNSUPPORTED', feature: 'threadPidfd', since: '6.9' }),
    )
    expect(calls).toEqual([])
  })

  it('refuses signal scopes before any pidfd_send_signal', async () => {
    const { Pidfd, calls } = await loadWith('6.1')
    const pidfd = Pidfd.open(1234)
    calls.length = 0
    expect(() => pidfd.sendSignal('SIGTERM', { scope: 'thread' })).toThrow(
      expect.objectContaining({ code: 'ERR_PIDFD_UNSUPPORTED', feature: 'signalScopes', since: '6.9' }),
    )
    expect(calls.filter((c) => c.startsWith('pidfdSendSignal(100'))).toEqual([])
    pidfd.sendSignal('SIGTERM')
    expect(calls).toContain('pidfdSendSignal(100, 15, 0)')
  })

  it('refuses info(), namespaces and file handles by name, before any syscall', async () => {
    const { Pidfd, features, calls } = await loadWith('6.1')
    features()
    const pidfd = Pidfd.open(1)
    calls.length = 0
    const missing = (feature: string, since: string) => expect.objectContaining({ code: 'ERR_PIDFD_UNSUPPORTED', feature, since })
    expect(() => pidfd.info()).toThrow(missing('getInfo', '6.13'))
    expect(() => pidfd.namespace('net')).toThrow(missing('namespaces', '6.11'))
    expect(() => pidfd.toHandle()).toThrow(missing('fileHandles', '6.14'))
    expect(() => Pidfd.fromHandle(Buffer.from('fe000000' + '01'.repeat(8), 'hex'))).toThrow(missing('fileHandles', '6.14'))
    expect(calls).toEqual([])
  })

  it('refuses identity with ERR_PIDFS_UNSUPPORTED, never comparing the shared inode', async () => {
    const { Pidfd, sameProcess, calls } = await loadWith('6.1')
    const a = Pidfd.open(1)
    const b = Pidfd.open(2)
    calls.length = 0
    const refused = expect.objectContaining({ code: 'ERR_PIDFS_UNSUPPORTED', feature: 'pidfs', since: '6.9' })
    expect(() => a.id).toThrow(refused)
    expect(() => a.equals(b)).toThrow(refused)
    expect(() => a.processId).toThrow(refused)
    expect(() => sameProcess(1, 2)).toThrow(refused)
    expect(calls.filter((c) => c.startsWith('fstat('))).toEqual([])
    expect(a.isPidfs).toBe(false)
  })
})

describe('on a kernel without pidfds (before 5.3)', () => {
  it('reports every feature missing and refuses to open', async () => {
    const { Pidfd, features } = await loadWith('5.0')
    expect(Object.values(features()).every((supported) => supported === false)).toBe(true)
    expect(() => Pidfd.open(1)).toThrow(expect.objectContaining({ code: 'ERR_PIDFD_UNSUPPORTED', feature: 'pidfd', since: '5.3' }))
  })
})

describe('on a kernel before PIDFD_NONBLOCK (5.4)', () => {
  it('refuses { nonblock: true } by name', async () => {
    const { Pidfd } = await loadWith('5.4')
    expect(() => Pidfd.open(1, { nonblock: true })).toThrow(
      expect.objectContaining({ code: 'ERR_PIDFD_UNSUPPORTED', feature: 'nonblock', since: '5.10' }),
    )
    expect(() => Pidfd.open(1, { nonblock: true })).toThrow(/PIDFD_NONBLOCK is not supported by this kernel \(Linux .*\); it needs Linux 5\.10 or later/)
  })
})
