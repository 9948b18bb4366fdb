// fstat and statx on real pidfds, checked against Node's own fstat and /proc.
import fs from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { Pidfd, PidfdStats, constants, features } from '../lib'
import { killChildren, reaped, sleeper } from './helpers'

afterEach(killChildren)

describe('stat()', () => {
  it('matches fs.fstatSync(fd, { bigint: true }) field for field', () => {
    using pidfd = Pidfd.open(process.pid)
    const ours = pidfd.stat()
    const node = fs.fstatSync(pidfd.fd, { bigint: true })
    expect(ours).toBeInstanceOf(PidfdStats)
    for (const key of ['dev', 'ino', 'mode', 'nlink', 'uid', 'gid', 'rdev', 'size', 'blksize', 'blocks'] as const) {
      expect(ours[key], key).toBe(node[key])
    }
    for (const key of ['atimeMs', 'mtimeMs', 'ctimeMs', 'atimeNs', 'mtimeNs', 'ctimeNs'] as const) {
      expect(ours[key], key).toBe(node[key])
    }
    expect(ours.mtime.getTime()).toBe(node.mtime.getTime())
    expect(typeof ours.ino).toBe('bigint')
  })

  it.skipIf(!features().pidfs)('reports a pidfs inode: no file type bits, the process inode (needs pidfs, Linux 6.9)', () => {
    const child = sleeper()
    using pidfd = Pidfd.open(child.pid)
    const stats = pidfd.stat()
    expect(stats.mode & BigInt(fs.constants.S_IFMT)).toBe(0n)
    expect(stats.isFile() || stats.isDirectory() || stats.isSocket() || stats.isFIFO()).toBe(false)
    expect(stats.ino).toBe(pidfd.id)
    expect(stats.uid).toBe(0n)
  })

  it('still works after the process was reaped', async () => {
    const child = sleeper()
    using pidfd = Pidfd.open(child.pid)
    const before = pidfd.stat()
    child.kill('SIGKILL')
    await reaped(child)
    expect(pidfd.stat().ino).toBe(before.ino)
  })
})

describe('statx()', () => {
  it('reports ino, dev, mntId and the mask the kernel filled in', () => {
    using pidfd = Pidfd.open(process.pid)
    const stx = pidfd.statx()
    const node = fs.fstatSync(pidfd.fd, { bigint: true })
    expect(stx.mask & constants.STATX_INO).toBe(constants.STATX_INO)
    expect(stx.ino).toBe(node.ino)
    expect(typeof stx.ino).toBe('bigint')
    expect(typeof stx.mntId).toBe('bigint')
    // dev_t splits into major and minor as glibc's major()/minor() do.
    const dev = Number(node.dev)
    expect(stx.dev).toEqual({ major: ((dev >> 8) & 0xfff) | ((dev >>> 32) & ~0xfff), minor: (dev & 0xff) | ((dev >> 12) & ~0xff) })
    expect(stx.mode).toBe(Number(node.mode))
    expect(stx.nlink).toBe(Number(node.nlink))
    expect(BigInt(stx.ctimeSec) * 1_000_000_000n + BigInt(stx.ctimeNsec)).toBe(node.ctimeNs)
    expect(BigInt(stx.mtimeSec) * 1_000_000_000n + BigInt(stx.mtimeNsec)).toBe(node.mtimeNs)
  })

  it('reports the mount id /proc reports', () => {
    using pidfd = Pidfd.open(process.pid)
    const stx = pidfd.statx()
    if ((stx.mask & constants.STATX_MNT_ID) === 0) return
    const mntId = fs.readFileSync(`/proc/self/fdinfo/${pidfd.fd}`, 'utf8').match(/^mnt_id:\s+(\d+)/m)![1]!
    expect(stx.mntId).toBe(BigInt(mntId))
  })

  it('asks only for the fields in mask', () => {
    using pidfd = Pidfd.open(process.pid)
    const stx = pidfd.statx(constants.STATX_INO)
    expect(stx.mask & constants.STATX_INO).toBe(constants.STATX_INO)
    expect(stx.ino).toBe(pidfd.stat().ino)
  })

  it('refuses a bad mask without a syscall', () => {
    using pidfd = Pidfd.open(process.pid)
    expect(() => pidfd.statx(-1)).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }))
    expect(() => pidfd.statx(1.5)).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }))
    expect(() => pidfd.statx('1' as unknown as number)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }))
    // STATX__RESERVED (bit 31): refused here, before the kernel would answer EINVAL.
    expect(() => pidfd.statx(0x80000000)).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }))
  })
})
