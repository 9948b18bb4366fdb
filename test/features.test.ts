// features(): probed against the running kernel, cached, and consistent with what works.
import fs from 'node:fs'
import os from 'node:os'
import { describe, expect, it } from 'vitest'
import { Pidfd, constants, featureInfo, features, type FeatureName } from '../lib'
import { unsupported } from '../lib/errors'
import { requireFeature, unsupportedReason } from '../lib/features'

/** The running kernel's version as [major, minor]. */
const [major, minor] = os.release().split('.').map(Number) as [number, number]
const atLeast = (version: string) => {
  const [wantMajor, wantMinor] = version.split('.').map(Number) as [number, number]
  return major > wantMajor || (major === wantMajor && minor >= wantMinor)
}

describe('features()', () => {
  it('is probed once and cached', () => {
    expect(features()).toBe(features())
    expect(Object.isFrozen(features())).toBe(true)
  })

  it('names every feature with the kernel that added it', () => {
    expect(Object.keys(featureInfo).sort()).toEqual(Object.keys(features()).sort())
    for (const { since } of Object.values(featureInfo)) expect(since).toMatch(/^\d+\.\d+$/)
  })

  it('matches the running kernel version (a stock kernel: features are not backported)', () => {
    for (const [name, { since }] of Object.entries(featureInfo)) {
      expect(features()[name as keyof typeof featureInfo], `${name} (Linux ${since}) on ${os.release()}`).toBe(atLeast(since))
    }
  })

  it('reports pidfs exactly when pidfds of different processes have different inodes', () => {
    using self = Pidfd.open(process.pid)
    using parent = Pidfd.open(process.ppid)
    // Measured without the library: Node's own fstat of both fds.
    const distinct = fs.fstatSync(self.fd).ino !== fs.fstatSync(parent.fd).ino
    expect(features().pidfs).toBe(distinct)
    expect(self.isPidfs).toBe(distinct)
    expect(constants.PIDFD_THREAD).toBe(fs.constants.O_EXCL)
    expect(constants.PIDFD_NONBLOCK).toBe(fs.constants.O_NONBLOCK)
  })

  it('gives a reason exactly for each unsupported feature: the kernel release, on a stock kernel', () => {
    for (const name of Object.keys(featureInfo) as FeatureName[]) {
      if (features()[name]) {
        expect(unsupportedReason(name), name).toBeUndefined()
        expect(() => requireFeature(name), name).not.toThrow()
      } else {
        expect(unsupportedReason(name), name).toBe(`needs Linux ${featureInfo[name].since}`)
        expect(() => requireFeature(name), name).toThrow(expect.objectContaining({ feature: name, reason: unsupportedReason(name) }))
      }
    }
  })
})

describe('ERR_PIDFD_UNSUPPORTED', () => {
  it('says which kernel has the feature when this one lacks it', () => {
    const error = unsupported('getfd', 'pidfd_getfd(2)', '5.6')
    expect(error).toMatchObject({ code: 'ERR_PIDFD_UNSUPPORTED', feature: 'getfd', since: '5.6', reason: 'needs Linux 5.6' })
    expect(error.message).toBe(`pidfd_getfd(2) is not supported by this kernel (Linux ${os.release()}); it needs Linux 5.6 or later`)
  })

  it('says the call was blocked, not that the kernel is too old, when a filter refused it', () => {
    const error = unsupported('getfd', 'pidfd_getfd(2)', '5.6', 'blocked (EPERM from pidfd_getfd)')
    expect(error).toMatchObject({ code: 'ERR_PIDFD_UNSUPPORTED', feature: 'getfd', since: '5.6', reason: 'blocked (EPERM from pidfd_getfd)' })
    expect(error.message).toMatch(/^pidfd_getfd\(2\) is unavailable here: blocked \(EPERM from pidfd_getfd\) by a seccomp filter or security policy/)
    expect(error.message).not.toContain('needs Linux')
    expect(error.stack).toMatch(/^Error \[ERR_PIDFD_UNSUPPORTED\]: pidfd_getfd/)
  })
})
